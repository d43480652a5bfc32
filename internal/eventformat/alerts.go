package eventformat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"plumb/internal/model"
)

// Alert sources, as they appear in Alert.Source and in finding fingerprints.
const (
	AlertSourceAzureMonitor = "azure-monitor"
	AlertSourceAlertmanager = "alertmanager"
)

// azureCommonSchemaID is the schemaId of the Azure Monitor common alert
// schema; the older per-signal webhook schemas have other shapes that this
// package does not read.
const azureCommonSchemaID = "azureMonitorCommonAlertSchema"

// Alert is one alert from a monitoring system, reduced to what plumb routes
// on. It exists so that Azure Monitor and Alertmanager deliveries become the
// same kind of finding, and so that the firing and the resolved delivery of
// one alert are recognised as the same alert (ID).
type Alert struct {
	// Source is AlertSourceAzureMonitor or AlertSourceAlertmanager.
	Source string
	// ID is stable for one alert across its firing and resolved
	// deliveries: the Azure alertId, the Alertmanager fingerprint (or a
	// hash of the sorted labels when the sender left it out).
	ID string
	// Name is the alert rule (Azure alertRule, Alertmanager alertname).
	Name string
	// Firing is false once the monitoring system says the alert resolved.
	Firing bool
	// Severity maps Sev0..Sev4 and the Alertmanager severity label onto
	// plumb's scale (see ParseAzureMonitorAlert and ParseAlertmanager).
	Severity model.Severity
	// Targets are the resources the alert is about (ARM ids for Azure; the
	// resource_id, resource or instance label for Alertmanager).
	Targets []string
	// StartsAt and EndsAt are when the alert fired and resolved; EndsAt is
	// zero while firing for Azure and whatever Alertmanager sent otherwise
	// (it sends a future expiry for firing alerts).
	StartsAt, EndsAt time.Time
	// Labels and Annotations are the sender's key/value pairs; for Azure,
	// Labels hold the essentials used for routing and Annotations the
	// alert rule's custom properties.
	Labels, Annotations map[string]string
	Description         string
	// Raw is the single alert as received.
	Raw json.RawMessage
}

// ParseAzureMonitorAlert reads one Azure Monitor webhook payload in the
// common alert schema. Payloads in the older per-signal schemas are
// rejected with a ParseError on schemaId, so the operator learns to enable
// the common schema on the action group instead of seeing alerts silently
// dropped.
//
// Severity: Sev0 critical, Sev1 high, Sev2 medium, Sev3 and Sev4 low.
func ParseAzureMonitorAlert(body []byte) ([]Alert, error) {
	a, err := azureMonitorAlert(body)
	if err != nil {
		return nil, fmt.Errorf("azure monitor alert: %w", err)
	}
	return []Alert{a}, nil
}

func azureMonitorAlert(body []byte) (Alert, error) {
	o, err := decodeObject(body, -1, "")
	if err != nil {
		return Alert{}, err
	}
	schema, err := o.str("schemaId", -1, "")
	if err != nil {
		return Alert{}, err
	}
	if schema != azureCommonSchemaID {
		msg := "missing; only the common alert schema (" + azureCommonSchemaID + ") is accepted: enable it on the action group"
		if schema != "" {
			msg = fmt.Sprintf("%q is not the common alert schema (%s): enable the common schema on the action group", schema, azureCommonSchemaID)
		}
		return Alert{}, perr(-1, "schemaId", msg)
	}
	if isNull(o["data"]) {
		return Alert{}, perr(-1, "data", "required field is missing")
	}
	data, err := decodeObject(o["data"], -1, "data")
	if err != nil {
		return Alert{}, err
	}
	if isNull(data["essentials"]) {
		return Alert{}, perr(-1, "data.essentials", "required field is missing")
	}
	ess, err := decodeObject(data["essentials"], -1, "data.essentials")
	if err != nil {
		return Alert{}, err
	}
	const p = "data.essentials."
	a := Alert{Source: AlertSourceAzureMonitor, Raw: rawCopy(body), Labels: map[string]string{}, Annotations: map[string]string{}}
	if a.ID, err = ess.required("alertId", -1, p); err != nil {
		return Alert{}, err
	}
	if a.Name, err = ess.required("alertRule", -1, p); err != nil {
		return Alert{}, err
	}
	sev, err := ess.required("severity", -1, p)
	if err != nil {
		return Alert{}, err
	}
	var ok bool
	if a.Severity, ok = azureSeverity(sev); !ok {
		return Alert{}, perr(-1, p+"severity", fmt.Sprintf("%q is not one of Sev0..Sev4", sev))
	}
	cond, err := ess.required("monitorCondition", -1, p)
	if err != nil {
		return Alert{}, err
	}
	switch cond {
	case "Fired":
		a.Firing = true
	case "Resolved":
	default:
		return Alert{}, perr(-1, p+"monitorCondition", fmt.Sprintf("%q is neither Fired nor Resolved", cond))
	}
	fired, err := ess.required("firedDateTime", -1, p)
	if err != nil {
		return Alert{}, err
	}
	if a.StartsAt, err = parseTime(fired, -1, p+"firedDateTime"); err != nil {
		return Alert{}, err
	}
	resolved, err := ess.str("resolvedDateTime", -1, p)
	if err != nil {
		return Alert{}, err
	}
	if resolved != "" {
		if a.EndsAt, err = parseTime(resolved, -1, p+"resolvedDateTime"); err != nil {
			return Alert{}, err
		}
	}
	if a.Description, err = ess.str("description", -1, p); err != nil {
		return Alert{}, err
	}
	if raw, ok := ess["alertTargetIDs"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &a.Targets); err != nil {
			return Alert{}, perr(-1, p+"alertTargetIDs", "must be an array of strings")
		}
	}
	for _, k := range []string{"alertRule", "severity", "signalType", "monitorCondition", "monitoringService", "originAlertId"} {
		if v := ess.lenientStr(k); v != "" {
			a.Labels[k] = v
		}
	}
	for k, v := range data.lenientObject("customProperties") {
		var s string
		if json.Unmarshal(v, &s) == nil {
			a.Annotations[k] = s
		}
	}
	return a, nil
}

func azureSeverity(s string) (model.Severity, bool) {
	switch s {
	case "Sev0":
		return model.SeverityCritical, true
	case "Sev1":
		return model.SeverityHigh, true
	case "Sev2":
		return model.SeverityMedium, true
	case "Sev3", "Sev4":
		return model.SeverityLow, true
	}
	return "", false
}

// ParseAlertmanager reads an Alertmanager webhook payload (format version
// "4"), one Alert per entry of alerts. Other versions are rejected because
// the version exists precisely to signal an incompatible shape.
//
// Severity comes from the `severity` label, case-insensitively: critical
// -> critical; high, error -> high; warning, warn, medium -> medium; info,
// none, low -> low; absent or anything else -> medium.
func ParseAlertmanager(body []byte) ([]Alert, error) {
	alerts, err := alertmanager(body)
	if err != nil {
		return nil, fmt.Errorf("alertmanager webhook: %w", err)
	}
	return alerts, nil
}

func alertmanager(body []byte) ([]Alert, error) {
	o, err := decodeObject(body, -1, "")
	if err != nil {
		return nil, err
	}
	ver, err := o.required("version", -1, "")
	if err != nil {
		return nil, err
	}
	if ver != "4" {
		return nil, perr(-1, "version", fmt.Sprintf("unsupported webhook payload version %q; want \"4\"", ver))
	}
	if isNull(o["alerts"]) {
		return nil, perr(-1, "alerts", "required field is missing")
	}
	elems, err := decodeArray(o["alerts"], -1, "alerts", "alerts")
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, perr(-1, "alerts", "no alerts in the payload")
	}
	out := make([]Alert, 0, len(elems))
	for i, raw := range elems {
		a, err := alertmanagerAlert(raw, i)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func alertmanagerAlert(raw json.RawMessage, i int) (Alert, error) {
	o, err := decodeObject(raw, i, "")
	if err != nil {
		return Alert{}, err
	}
	a := Alert{Source: AlertSourceAlertmanager, Raw: raw}
	status, err := o.required("status", i, "")
	if err != nil {
		return Alert{}, err
	}
	switch status {
	case "firing":
		a.Firing = true
	case "resolved":
	default:
		return Alert{}, perr(i, "status", fmt.Sprintf("%q is neither firing nor resolved", status))
	}
	if a.Labels, err = stringMap(o["labels"], i, "labels"); err != nil {
		return Alert{}, err
	}
	if a.Annotations, err = stringMap(o["annotations"], i, "annotations"); err != nil {
		return Alert{}, err
	}
	starts, err := o.required("startsAt", i, "")
	if err != nil {
		return Alert{}, err
	}
	if a.StartsAt, err = parseTime(starts, i, "startsAt"); err != nil {
		return Alert{}, err
	}
	ends, err := o.str("endsAt", i, "")
	if err != nil {
		return Alert{}, err
	}
	// Alertmanager writes Go's zero time ("0001-01-01T00:00:00Z") for "no
	// end", which parses to the zero time.Time.
	if ends != "" {
		if a.EndsAt, err = parseTime(ends, i, "endsAt"); err != nil {
			return Alert{}, err
		}
	}
	if a.ID, err = o.str("fingerprint", i, ""); err != nil {
		return Alert{}, err
	}
	if a.ID == "" {
		a.ID = labelsHash(a.Labels)
	}
	a.Name = a.Labels["alertname"]
	a.Severity = alertmanagerSeverity(a.Labels["severity"])
	for _, k := range []string{"resource_id", "resource", "instance"} {
		if v := a.Labels[k]; v != "" {
			a.Targets = []string{v}
			break
		}
	}
	a.Description = a.Annotations["description"]
	if a.Description == "" {
		a.Description = a.Annotations["summary"]
	}
	return a, nil
}

func alertmanagerSeverity(label string) model.Severity {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical":
		return model.SeverityCritical
	case "high", "error":
		return model.SeverityHigh
	case "warning", "warn", "medium":
		return model.SeverityMedium
	case "info", "none", "low":
		return model.SeverityLow
	}
	return model.SeverityMedium
}

// stringMap reads a JSON object of string values; absent or null gives an
// empty map so callers can index it freely.
func stringMap(raw json.RawMessage, i int, field string) (map[string]string, error) {
	m := map[string]string{}
	if isNull(raw) {
		return m, nil
	}
	o, err := decodeObject(raw, i, field)
	if err != nil {
		return nil, err
	}
	for k := range o {
		s, err := o.str(k, i, field+".")
		if err != nil {
			return nil, err
		}
		m[k] = s
	}
	return m, nil
}

// labelsHash identifies an alert by its label set when the sender gave no
// fingerprint, as Alertmanager itself does: same labels, same alert.
func labelsHash(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// AlertFinding turns an alert into an event.alert finding. The fingerprint
// depends only on the environment, the alert source and the alert's
// identity (ID, else Name), never on its status or times, so the firing and
// the resolved delivery of one alert update the same finding.
func AlertFinding(a Alert, environment string) model.Finding {
	identity := a.ID
	if identity == "" {
		identity = a.Name
	}
	f := model.Finding{
		Kind:        model.KindAlert,
		Severity:    a.Severity,
		Fingerprint: model.Fingerprint(model.KindAlert, environment, a.Source, "alert", "", identity, a.Name),
		Environment: environment,
		Source:      a.Source,
		Changes:     []model.Change{},
		Rule:        a.Name,
	}
	if f.Severity == "" {
		f.Severity = model.SeverityMedium
	}
	if len(a.Targets) > 0 {
		f.Resource = targetResource(a.Targets[0])
	}
	state := "resolved"
	if a.Firing {
		state = "firing"
	}
	name := a.Name
	if name == "" {
		name = identity
	}
	f.Message = fmt.Sprintf("Alert %s (%s)", state, name)
	if a.Description != "" {
		f.Message += ": " + a.Description
	}
	return f
}

// targetResource describes the alerted resource as far as its id tells:
// ARM ids are Azure, ARNs are AWS; anything else (a host:port instance
// label) is kept as an id with no provider.
func targetResource(id string) model.Resource {
	r := model.Resource{ID: id}
	switch {
	case hasSubscriptionsPrefix(id):
		r.Provider = "azure"
		r.Account = subscriptionFromID(id)
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			r.Name = id[i+1:]
		}
	case strings.HasPrefix(id, "arn:"):
		r.Provider = "aws"
		r.ARN = id
		if parts := strings.SplitN(id, ":", 6); len(parts) == 6 {
			r.Region, r.Account = parts[3], parts[4]
		}
	}
	return r
}
