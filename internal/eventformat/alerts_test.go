package eventformat

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
)

func assertAlert(t *testing.T, got, want Alert) {
	t.Helper()
	if got.Source != want.Source || got.ID != want.ID || got.Name != want.Name || got.Firing != want.Firing ||
		got.Severity != want.Severity || !slices.Equal(got.Targets, want.Targets) ||
		!got.StartsAt.Equal(want.StartsAt) || !got.EndsAt.Equal(want.EndsAt) ||
		!maps.Equal(got.Labels, want.Labels) || !maps.Equal(got.Annotations, want.Annotations) ||
		got.Description != want.Description {
		g, w := got, want
		g.Raw, w.Raw = nil, nil
		t.Errorf("alert mismatch\n got: %+v\nwant: %+v", g, w)
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		t.Errorf("Raw = %s\nwant %s", got.Raw, want.Raw)
	}
}

const azAlertID = "/subscriptions/" + testSub + "/providers/Microsoft.AlertsManagement/alerts/4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
const azTarget = "/subscriptions/" + testSub + "/resourcegroups/rg-web/providers/microsoft.web/sites/app-api"
const azOrigin = testSub + "_rg-web_microsoft.insights_metricAlerts_api-5xx-rate_1234567"

func TestParseAzureMonitorAlert(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Alert
	}{
		{
			name: "fired Sev0",
			file: "azuremonitor_fired_sev0.json",
			want: Alert{
				Source: AlertSourceAzureMonitor, ID: azAlertID, Name: "api-5xx-rate", Firing: true,
				Severity: model.SeverityCritical, Targets: []string{azTarget},
				StartsAt: mustTime(t, "2026-03-14T13:00:05.1234567Z"),
				Labels: map[string]string{"alertRule": "api-5xx-rate", "severity": "Sev0", "signalType": "Metric",
					"monitorCondition": "Fired", "monitoringService": "Platform", "originAlertId": azOrigin},
				Annotations: map[string]string{"team": "payments", "runbook": "https://runbooks.contoso.example/api-5xx"},
				Description: "HTTP 5xx above 5% for 5 minutes",
			},
		},
		{
			name: "resolved Sev3",
			file: "azuremonitor_resolved_sev3.json",
			want: Alert{
				Source: AlertSourceAzureMonitor, ID: azAlertID, Name: "api-5xx-rate", Firing: false,
				Severity: model.SeverityLow, Targets: []string{azTarget},
				StartsAt: mustTime(t, "2026-03-14T13:00:05.1234567Z"), EndsAt: mustTime(t, "2026-03-14T13:20:41.7654321Z"),
				Labels: map[string]string{"alertRule": "api-5xx-rate", "severity": "Sev3", "signalType": "Metric",
					"monitorCondition": "Resolved", "monitoringService": "Platform", "originAlertId": azOrigin},
				Annotations: map[string]string{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			tt.want.Raw = bytes.TrimSpace(body)
			got, err := ParseAzureMonitorAlert(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d alerts", len(got))
			}
			assertAlert(t, got[0], tt.want)
		})
	}
}

func TestAzureSeverities(t *testing.T) {
	body := string(readTestdata(t, "azuremonitor_fired_sev0.json"))
	for sev, want := range map[string]model.Severity{
		"Sev0": model.SeverityCritical, "Sev1": model.SeverityHigh, "Sev2": model.SeverityMedium,
		"Sev3": model.SeverityLow, "Sev4": model.SeverityLow,
	} {
		got, err := ParseAzureMonitorAlert([]byte(strings.Replace(body, `"Sev0"`, `"`+sev+`"`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Severity != want {
			t.Errorf("%s -> %s, want %s", sev, got[0].Severity, want)
		}
	}
}

func TestParseAzureMonitorAlertErrors(t *testing.T) {
	body := string(readTestdata(t, "azuremonitor_fired_sev0.json"))
	const p = "data.essentials."
	tests := []struct {
		name, body, field, msg string
	}{
		{"truncated", body[:100], "", "invalid JSON"},
		{"array", "[" + body + "]", "", "object"},
		{"legacy metric schema", `{"schemaId":"AzureMonitorMetricAlert","data":{"status":"Activated"}}`, "schemaId", "common"},
		{"no schemaId", `{"data":{"essentials":{}}}`, "schemaId", "common"},
		{"schemaId number", `{"schemaId":1}`, "schemaId", "string"},
		{"no data", `{"schemaId":"azureMonitorCommonAlertSchema"}`, "data", "missing"},
		{"data array", `{"schemaId":"azureMonitorCommonAlertSchema","data":[]}`, "data", "object"},
		{"no essentials", `{"schemaId":"azureMonitorCommonAlertSchema","data":{}}`, "data.essentials", "missing"},
		{"missing alertId", strings.Replace(body, `"alertId"`, `"alertID"`, 1), p + "alertId", "missing"},
		{"bad severity", strings.Replace(body, `"Sev0"`, `"Sev5"`, 1), p + "severity", "Sev0..Sev4"},
		{"bad condition", strings.Replace(body, `"Fired"`, `"Firing"`, 1), p + "monitorCondition", "Fired"},
		{"bad firedDateTime", strings.Replace(body, `2026-03-14T13:00:05.1234567Z`, `14/03/2026`, 1), p + "firedDateTime", "RFC 3339"},
		{"targets wrong type", strings.Replace(body, `"alertTargetIDs": [`, `"alertTargetIDs": [1,`, 1), p + "alertTargetIDs", "array of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAzureMonitorAlert([]byte(tt.body))
			assertParseError(t, err, -1, tt.field)
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestParseAlertmanager(t *testing.T) {
	body := readTestdata(t, "alertmanager_batch.json")
	got, err := ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	resolvedLabels := map[string]string{"alertname": "HighLatency", "instance": "web-2.contoso.internal:9100", "job": "node", "severity": "warning"}
	want := []Alert{
		{
			Source: AlertSourceAlertmanager, ID: "8f2a1c3d4e5b6a79", Name: "DiskFillingUp", Firing: true,
			Severity: model.SeverityCritical,
			// resource_id beats instance.
			Targets:  []string{"arn:aws:ec2:eu-west-1:210987654321:instance/i-0123456789abcdef0"},
			StartsAt: mustTime(t, "2026-03-14T14:00:00.5Z"),
			Labels: map[string]string{"alertname": "DiskFillingUp", "instance": "db-1.contoso.internal:9100", "job": "node",
				"severity": "critical", "resource_id": "arn:aws:ec2:eu-west-1:210987654321:instance/i-0123456789abcdef0"},
			Annotations: map[string]string{"description": "Filesystem / on db-1 will be full within 4 hours", "summary": "Disk filling up"},
			Description: "Filesystem / on db-1 will be full within 4 hours",
		},
		{
			// no fingerprint: hash of the labels; summary as description.
			Source: AlertSourceAlertmanager, ID: labelsHash(resolvedLabels), Name: "HighLatency", Firing: false,
			Severity: model.SeverityMedium, Targets: []string{"web-2.contoso.internal:9100"},
			StartsAt: mustTime(t, "2026-03-14T13:10:00Z"), EndsAt: mustTime(t, "2026-03-14T13:55:00Z"),
			Labels: resolvedLabels, Annotations: map[string]string{"summary": "p99 latency above 2s"},
			Description: "p99 latency above 2s",
		},
	}
	elems := amAlertElements(t, body)
	if len(got) != len(want) {
		t.Fatalf("got %d alerts, want %d", len(got), len(want))
	}
	for i := range want {
		want[i].Raw = elems[i]
		assertAlert(t, got[i], want[i])
	}
	if got[0].EndsAt != (time.Time{}) {
		t.Errorf("zero endsAt should be the zero time, got %v", got[0].EndsAt)
	}
}

func amAlertElements(t *testing.T, body []byte) [][]byte {
	t.Helper()
	o, err := decodeObject(body, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range elements(t, o["alerts"]) {
		out = append(out, []byte(e))
	}
	return out
}

func TestLabelsHashStable(t *testing.T) {
	a := labelsHash(map[string]string{"a": "1", "b": "2"})
	b := labelsHash(map[string]string{"b": "2", "a": "1"})
	c := labelsHash(map[string]string{"a": "12"})
	if a != b || a == c || len(a) != 16 {
		t.Errorf("labelsHash: %s %s %s", a, b, c)
	}
}

func TestAlertmanagerSeverity(t *testing.T) {
	for label, want := range map[string]model.Severity{
		"critical": model.SeverityCritical, "CRITICAL": model.SeverityCritical,
		"high": model.SeverityHigh, "error": model.SeverityHigh,
		"warning": model.SeverityMedium, "warn": model.SeverityMedium,
		"info": model.SeverityLow, "none": model.SeverityLow,
		"": model.SeverityMedium, "page": model.SeverityMedium,
	} {
		if got := alertmanagerSeverity(label); got != want {
			t.Errorf("%q -> %s, want %s", label, got, want)
		}
	}
}

func TestParseAlertmanagerErrors(t *testing.T) {
	alert := `{"status":"firing","labels":{"alertname":"A"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f"}`
	wrap := func(alerts string) string { return `{"version":"4","status":"firing","alerts":[` + alerts + `]}` }
	tests := []struct {
		name, body string
		index      int
		field      string
	}{
		{"truncated", wrap(alert)[:40], -1, ""},
		{"not object", `[]`, -1, ""},
		{"no version", `{"alerts":[` + alert + `]}`, -1, "version"},
		{"version 3", `{"version":"3","alerts":[` + alert + `]}`, -1, "version"},
		{"version number", `{"version":4,"alerts":[` + alert + `]}`, -1, "version"},
		{"no alerts", `{"version":"4"}`, -1, "alerts"},
		{"empty alerts", wrap(``), -1, "alerts"},
		{"alerts object", `{"version":"4","alerts":{}}`, -1, "alerts"},
		{"alert not object", wrap(alert + `,1`), 1, ""},
		{"bad status", wrap(alert + `,` + strings.Replace(alert, `"firing"`, `"pending"`, 1)), 1, "status"},
		{"missing status", wrap(strings.Replace(alert, `"status":"firing",`, ``, 1)), 0, "status"},
		{"label not string", wrap(strings.Replace(alert, `"alertname":"A"`, `"alertname":1`, 1)), 0, "labels.alertname"},
		{"labels array", wrap(strings.Replace(alert, `{"alertname":"A"}`, `[]`, 1)), 0, "labels"},
		{"missing startsAt", wrap(strings.Replace(alert, `,"startsAt":"2026-01-01T00:00:00Z"`, ``, 1)), 0, "startsAt"},
		{"bad endsAt", wrap(strings.Replace(alert, `"fingerprint"`, `"endsAt":"soon","fingerprint"`, 1)), 0, "endsAt"},
		{"fingerprint number", wrap(strings.Replace(alert, `"fingerprint":"f"`, `"fingerprint":7`, 1)), 0, "fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAlertmanager([]byte(tt.body))
			assertParseError(t, err, tt.index, tt.field)
		})
	}
}

// The firing and the resolved delivery of one alert must land on the same
// finding, and different alerts or environments on different ones.
func TestAlertFinding(t *testing.T) {
	fired, err := ParseAzureMonitorAlert(readTestdata(t, "azuremonitor_fired_sev0.json"))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := ParseAzureMonitorAlert(readTestdata(t, "azuremonitor_resolved_sev3.json"))
	if err != nil {
		t.Fatal(err)
	}
	am, err := ParseAlertmanager(readTestdata(t, "alertmanager_batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	ff := AlertFinding(fired[0], "prod")
	rf := AlertFinding(resolved[0], "prod")
	if ff.Fingerprint != rf.Fingerprint {
		t.Error("fired and resolved deliveries have different fingerprints")
	}
	if AlertFinding(fired[0], "staging").Fingerprint == ff.Fingerprint {
		t.Error("environment is not part of the fingerprint")
	}
	amFiring := am[0]
	amResolved := am[0]
	amResolved.Firing, amResolved.Severity = false, model.SeverityLow
	amResolved.EndsAt = amResolved.StartsAt.Add(time.Hour)
	if AlertFinding(amFiring, "prod").Fingerprint != AlertFinding(amResolved, "prod").Fingerprint {
		t.Error("alertmanager firing/resolved fingerprints differ")
	}
	if AlertFinding(am[0], "prod").Fingerprint == AlertFinding(am[1], "prod").Fingerprint {
		t.Error("different alerts share a fingerprint")
	}
	// Same ID from another source is another alert.
	other := fired[0]
	other.Source = AlertSourceAlertmanager
	if AlertFinding(other, "prod").Fingerprint == ff.Fingerprint {
		t.Error("source is not part of the fingerprint")
	}

	if ff.Kind != model.KindAlert || ff.Severity != model.SeverityCritical || ff.Environment != "prod" ||
		ff.Source != AlertSourceAzureMonitor || ff.Changes == nil || ff.Address != nil {
		t.Errorf("finding fields: %+v", ff)
	}
	if ff.Resource.ID != azTarget || ff.Resource.Provider != "azure" || ff.Resource.Account != testSub || ff.Resource.Name != "app-api" {
		t.Errorf("azure resource: %+v", ff.Resource)
	}
	if !strings.Contains(ff.Message, "firing") || !strings.Contains(ff.Message, "api-5xx-rate") ||
		!strings.Contains(rf.Message, "resolved") {
		t.Errorf("messages: %q / %q", ff.Message, rf.Message)
	}
	amf := AlertFinding(am[0], "prod")
	if amf.Resource.Provider != "aws" || amf.Resource.Region != "eu-west-1" || amf.Resource.Account != "210987654321" ||
		amf.Resource.ARN != amf.Resource.ID {
		t.Errorf("aws resource: %+v", amf.Resource)
	}
	if r := AlertFinding(am[1], "prod").Resource; r.Provider != "" || r.ID != "web-2.contoso.internal:9100" {
		t.Errorf("instance resource: %+v", r)
	}
	// No ID: the name identifies the alert; no targets: empty resource.
	bare := AlertFinding(Alert{Source: AlertSourceAlertmanager, Name: "Watchdog", Firing: true}, "prod")
	if bare.Fingerprint == "" || bare.Severity != model.SeverityMedium || bare.Resource.ID != "" {
		t.Errorf("bare finding: %+v", bare)
	}
}
