package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/queue"
)

const (
	testKey   = "hook-secret"
	testToken = "api-secret"
)

// baseConfig has every receiver, an audit subscription for Azure writes
// and one for EventBridge, and a runbook subscription whose script fails
// until a marker file exists.
const baseConfig = `
server:
  api_token: {env: TOKEN}
  max_body_bytes: 4096
environments:
  - name: prod
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: KEY}}
  cloudevents: {key: {env: KEY}, allowed_origins: [eventgrid.azure.net]}
  azure_monitor: {key: {env: KEY}, environment: prod}
  alertmanager: {key: {env: KEY}, environment: prod}
subscriptions:
  - name: azure-writes
    environment: prod
    sources: [eventgrid, cloudevents]
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers: [{type: audit}]
  - name: runbook
    environment: prod
    event_grid:
      included_event_types: [Test.Runbook]
    handlers:
      - type: runbook
        command: [sh, -c, 'test -f "$MARKER"']
    retry: {max_attempts: 1}
`

type testServer struct {
	t      *testing.T
	url    string
	logs   *lockedBuffer // runE2E's server log
	srv    *Server
	queue  *queue.Queue
	store  *findings.Store
	marker string
}

func startServer(t *testing.T, yaml string, tweak func(*config.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	yaml = strings.ReplaceAll(yaml, "$MARKER", marker)
	cfg, err := config.Parse("plumb.yaml", []byte(yaml), func(k string) string {
		return map[string]string{"TOKEN": testToken, "KEY": testKey}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	var q *queue.Queue
	m := NewMetrics(reg, func(ctx context.Context) (map[string]int, error) { return q.Depth(ctx) })
	p, err := NewPipeline(cfg, nil, logger, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err = queue.Open(ctx, queue.Options{DataDir: dir, Dispatch: p, Workers: 4, MaxPending: cfg.Server.MaxPending, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	p.SetStore(store)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, q, store, p, m, reg, logger)
	srv.ready.Store(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
		_ = q.Close()
	})
	return &testServer{t: t, url: hs.URL, srv: srv, queue: q, store: store, marker: marker}
}

func (ts *testServer) do(method, path string, header map[string]string, body []byte) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// eventGridEvent is an Event Grid schema resource write by principal.
func eventGridEvent(id, eventType, principal string) map[string]any {
	rid := "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-" + id
	return map[string]any{
		"id": id, "eventType": eventType, "subject": rid,
		"eventTime": "2026-11-22T10:00:00Z", "dataVersion": "2", "metadataVersion": "1",
		"topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
		"data": map[string]any{
			"operationName":  "Microsoft.Network/networkSecurityGroups/write",
			"resourceUri":    rid,
			"subscriptionId": "00000000-0000-0000-0000-000000000001",
			"status":         "Succeeded",
			"authorization": map[string]any{
				"action":   "Microsoft.Network/networkSecurityGroups/write",
				"scope":    rid,
				"evidence": map[string]any{"role": "Contributor", "principalId": principal, "principalType": "User"},
			},
			"claims": map[string]any{"http://schemas.microsoft.com/identity/claims/objectidentifier": principal},
		},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyed(path string) string { return path + "?key=" + testKey }

func TestEventGridValidationHandshake(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	body := mustJSON(t, []map[string]any{{
		"id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66", "topic": "/subscriptions/x", "subject": "",
		"data":      map[string]any{"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://rp-eastus2.eventgrid.azure.net/x"},
		"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "eventTime": "2026-11-22T10:00:00Z",
		"metadataVersion": "1", "dataVersion": "1",
	}})
	hdr := map[string]string{"aeg-event-type": "SubscriptionValidation", "Content-Type": "application/json"}
	resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), hdr, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["validationResponse"] != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" || len(got) != 1 {
		t.Errorf("answer = %s, want exactly {\"validationResponse\": code}", b)
	}
	// The handshake is authenticated like every delivery.
	resp, _ = ts.do("POST", "/v1/events/eventgrid", hdr, body)
	if resp.StatusCode != 401 {
		t.Errorf("handshake without key: status %d, want 401", resp.StatusCode)
	}
}

func TestWebhookAuthentication(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	body := mustJSON(t, []any{eventGridEvent("auth-1", "Other.Type", "p")})
	tests := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"no key", "/v1/events/eventgrid", nil, 401},
		{"wrong key", "/v1/events/eventgrid?key=guess", nil, 401},
		{"key prefix only", "/v1/events/eventgrid?key=hook", nil, 401},
		{"query key", keyed("/v1/events/eventgrid"), nil, 200},
		{"header key", "/v1/events/eventgrid", map[string]string{"X-Plumb-Key": testKey}, 200},
		{"bearer key", "/v1/events/eventgrid", map[string]string{"Authorization": "Bearer " + testKey}, 200},
		{"api token is not a webhook key", "/v1/events/eventgrid", map[string]string{"Authorization": "Bearer " + testToken}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do("POST", tc.path, tc.header, body)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
		})
	}
}

func TestIntakeRejections(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	big := mustJSON(t, []any{eventGridEvent("big", "Other.Type", strings.Repeat("x", 5000))})
	tests := []struct {
		name, path string
		header     map[string]string
		body       []byte
		want       int
		wantBody   string
	}{
		{"oversized", keyed("/v1/events/eventgrid"), nil, big, 413, "larger than 4096"},
		{"not json", keyed("/v1/events/eventgrid"), nil, []byte("{oops"), 400, ""},
		{"object not array", keyed("/v1/events/eventgrid"), nil, []byte(`{"id":"1"}`), 400, ""},
		{"missing id", keyed("/v1/events/eventgrid"), nil, []byte(`[{"eventType":"a","subject":"s","eventTime":"2026-11-22T10:00:00Z","dataVersion":"1"}]`), 400, "id"},
		{"cloudevent bad specversion", keyed("/v1/events/cloudevents"), map[string]string{"Content-Type": "application/cloudevents+json"},
			[]byte(`{"specversion":"0.3","id":"1","source":"s","type":"t"}`), 400, "specversion"},
		{"alertmanager garbage", keyed("/v1/alerts/alertmanager"), nil, []byte(`{"version":"4","alerts":"no"}`), 400, ""},
		{"unknown receiver", keyed("/v1/events/sns"), nil, []byte(`{}`), 405, ""},
		{"unknown path", keyed("/v1/hooks"), nil, []byte(`{}`), 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do("POST", tc.path, tc.header, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.wantBody != "" && !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("body %s lacks %q", b, tc.wantBody)
			}
		})
	}
	depth, err := ts.queue.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range depth {
		if n != 0 {
			t.Errorf("rejected requests left %d deliveries in %s", n, state)
		}
	}
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (ts *testServer) apiGet(path string, out any) int {
	ts.t.Helper()
	resp, b := ts.do("GET", path, map[string]string{"Authorization": "Bearer " + testToken}, nil)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatalf("decode %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

type eventsAnswer struct {
	Events []eventView `json:"events"`
}

func TestEventGridToAuditFinding(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	const pipeline = "11111111-1111-1111-1111-111111111111"
	batch := []any{
		eventGridEvent("e1", "Microsoft.Resources.ResourceWriteSuccess", "99999999-9999-9999-9999-999999999999"),
		eventGridEvent("e2", "Microsoft.Resources.ResourceWriteSuccess", pipeline),
		eventGridEvent("e3", "Microsoft.Resources.ResourceActionSuccess", "99999999-9999-9999-9999-999999999999"),
	}
	resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), map[string]string{"aeg-event-type": "Notification"}, mustJSON(t, batch))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var acc acceptResponse
	_ = json.Unmarshal(b, &acc)
	if acc.Accepted != 3 || acc.Duplicates != 0 {
		t.Errorf("first delivery: %+v, want 3 accepted", acc)
	}
	// Event Grid redelivers when it misses an answer: same ids, no new work.
	resp, b = ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, batch))
	_ = json.Unmarshal(b, &acc)
	if resp.StatusCode != 200 || acc.Accepted != 0 || acc.Duplicates != 3 {
		t.Errorf("redelivery: status %d %+v, want 3 duplicates", resp.StatusCode, acc)
	}

	var succeeded eventsAnswer
	waitFor(t, "two succeeded events", func() bool {
		ts.apiGet("/v1/events?state=succeeded", &succeeded)
		return len(succeeded.Events) == 2
	})
	var filtered eventsAnswer
	ts.apiGet("/v1/events?state=filtered", &filtered)
	if len(filtered.Events) != 1 || filtered.Events[0].Event.ID != "e3" {
		t.Errorf("filtered events = %+v, want e3 (an action, not a write success)", filtered.Events)
	}
	var fs struct {
		Findings []findingView `json:"findings"`
	}
	if code := ts.apiGet("/v1/findings?kind=audit.unexpected_write", &fs); code != 200 {
		t.Fatalf("findings: %d", code)
	}
	if len(fs.Findings) != 1 {
		t.Fatalf("findings = %+v, want exactly one (the non-pipeline write)", fs.Findings)
	}
	f := fs.Findings[0]
	if f.Status != "open" || f.Count != 1 || !strings.Contains(f.Finding.Message, "99999999-9999-9999-9999-999999999999") {
		t.Errorf("finding = %+v", f)
	}
}

func TestCloudEventsModesAndHandshake(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	resp, _ := ts.do("OPTIONS", keyed("/v1/events/cloudevents"), map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net"}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" {
		t.Errorf("handshake: status %d, allowed origin %q", resp.StatusCode, resp.Header.Get("WebHook-Allowed-Origin"))
	}
	resp, _ = ts.do("OPTIONS", keyed("/v1/events/cloudevents"), map[string]string{"WebHook-Request-Origin": "evil.example"}, nil)
	if resp.StatusCode != 403 {
		t.Errorf("handshake from a foreign origin: status %d, want 403", resp.StatusCode)
	}
	resp, _ = ts.do("OPTIONS", "/v1/events/cloudevents", map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net"}, nil)
	if resp.StatusCode != 401 {
		t.Errorf("handshake without key: status %d, want 401", resp.StatusCode)
	}

	ce := func(id string) map[string]any {
		eg := eventGridEvent(id, "", "99999999-9999-9999-9999-999999999999")
		return map[string]any{"specversion": "1.0", "id": id, "source": "/subscriptions/00000000-0000-0000-0000-000000000001",
			"type": "Microsoft.Resources.ResourceWriteSuccess", "subject": eg["subject"], "time": "2026-11-22T10:00:00Z", "data": eg["data"]}
	}
	structured := mustJSON(t, ce("ce-1"))
	batch := mustJSON(t, []any{ce("ce-2"), ce("ce-3")})
	binaryData := mustJSON(t, ce("ce-4")["data"])
	cases := []struct {
		name   string
		header map[string]string
		body   []byte
		want   int
	}{
		{"structured", map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}, structured, 1},
		{"batch", map[string]string{"Content-Type": "application/cloudevents-batch+json"}, batch, 2},
		{"binary", map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "ce-4",
			"ce-source": "/subscriptions/00000000-0000-0000-0000-000000000001", "ce-type": "Microsoft.Resources.ResourceWriteSuccess",
			"ce-subject": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"}, binaryData, 1},
	}
	for _, tc := range cases {
		resp, b := ts.do("POST", keyed("/v1/events/cloudevents"), tc.header, tc.body)
		var acc acceptResponse
		_ = json.Unmarshal(b, &acc)
		if resp.StatusCode != 200 || acc.Accepted != tc.want {
			t.Errorf("%s: status %d %s, want %d accepted", tc.name, resp.StatusCode, b, tc.want)
		}
	}
	var fs struct {
		Findings []findingView `json:"findings"`
	}
	waitFor(t, "four audit findings", func() bool {
		ts.apiGet("/v1/findings?kind=audit.unexpected_write", &fs)
		return len(fs.Findings) == 4
	})
}

func TestAlertsOpenAndResolve(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	am := func(status string) []byte {
		return mustJSON(t, map[string]any{
			"version": "4", "status": status, "receiver": "plumb", "groupKey": "{}:{alertname=\"HighErrorRate\"}",
			"groupLabels": map[string]string{"alertname": "HighErrorRate"}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
			"externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
			"alerts": []any{map[string]any{
				"status": status, "labels": map[string]string{"alertname": "HighErrorRate", "severity": "critical", "instance": "api-1"},
				"annotations": map[string]string{"summary": "5xx above 5%"}, "startsAt": "2026-11-22T10:00:00Z",
				"endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "c4a1f0e2b3d4a5b6",
			}},
		})
	}
	resp, b := ts.do("POST", "/v1/alerts/alertmanager", map[string]string{"Authorization": "Bearer " + testKey}, am("firing"))
	if resp.StatusCode != 200 {
		t.Fatalf("firing: %d %s", resp.StatusCode, b)
	}
	var fs struct {
		Findings []findingView `json:"findings"`
	}
	ts.apiGet("/v1/findings?kind=event.alert", &fs)
	if len(fs.Findings) != 1 || fs.Findings[0].Status != "open" || fs.Findings[0].Finding.Severity != "critical" {
		t.Fatalf("after firing: %+v", fs.Findings)
	}
	resp, _ = ts.do("POST", "/v1/alerts/alertmanager", map[string]string{"Authorization": "Bearer " + testKey}, am("resolved"))
	if resp.StatusCode != 200 {
		t.Fatalf("resolved: %d", resp.StatusCode)
	}
	ts.apiGet("/v1/findings?kind=event.alert", &fs)
	if len(fs.Findings) != 1 || fs.Findings[0].Status != "resolved" {
		t.Errorf("after resolved: %+v", fs.Findings)
	}

	azure := func(cond string) []byte {
		return mustJSON(t, map[string]any{"schemaId": "azureMonitorCommonAlertSchema", "data": map[string]any{
			"essentials": map[string]any{
				"alertId":   "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
				"alertRule": "cpu-high", "severity": "Sev0", "signalType": "Metric", "monitorCondition": cond,
				"monitoringService": "Platform", "alertTargetIDs": []string{"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"},
				"firedDateTime": "2026-11-22T10:00:00.000Z", "resolvedDateTime": "2026-11-22T10:10:00.000Z", "essentialsVersion": "1.0", "alertContextVersion": "1.0",
			},
			"alertContext": map[string]any{},
		}})
	}
	resp, b = ts.do("POST", keyed("/v1/alerts/azure-monitor"), nil, azure("Fired"))
	if resp.StatusCode != 200 {
		t.Fatalf("azure fired: %d %s", resp.StatusCode, b)
	}
	ts.apiGet("/v1/findings?kind=event.alert&status=open", &fs)
	if len(fs.Findings) != 1 || fs.Findings[0].Finding.Severity != "critical" {
		t.Fatalf("azure Sev0 open: %+v", fs.Findings)
	}
	ts.do("POST", keyed("/v1/alerts/azure-monitor"), nil, azure("Resolved"))
	ts.apiGet("/v1/findings?kind=event.alert&status=open", &fs)
	if len(fs.Findings) != 0 {
		t.Errorf("azure alert still open after Resolved: %+v", fs.Findings)
	}
}

// TestDeadLetterAndRetryTrigger: a runbook that fails is dead-lettered
// with its error kept; once the cause is fixed, the HTTP re-run trigger
// runs it again to success.
func TestDeadLetterAndRetryTrigger(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent("rb-1", "Test.Runbook", "p")}))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var dead eventsAnswer
	waitFor(t, "dead event", func() bool {
		ts.apiGet("/v1/events?state=dead", &dead)
		return len(dead.Events) == 1
	})
	ev := dead.Events[0]
	if len(ev.Deliveries) != 1 || ev.Deliveries[0].LastError == "" || ev.Deliveries[0].Subscription != "runbook" {
		t.Fatalf("dead event deliveries = %+v, want the runbook delivery with its error", ev.Deliveries)
	}
	var one eventView
	if code := ts.apiGet(fmt.Sprintf("/v1/events/%d", ev.ID), &one); code != 200 || !strings.HasPrefix(one.Key, "eventgrid/rb-1@") {
		t.Fatalf("get event: %d %+v", code, one)
	}
	if code := ts.apiGet("/v1/events/999999", nil); code != 404 {
		t.Errorf("unknown event: %d, want 404", code)
	}
	if err := os.WriteFile(ts.marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	resp, b = ts.do("POST", fmt.Sprintf("/v1/events/%d/retry", ev.ID), map[string]string{"Authorization": "Bearer " + testToken}, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"retried":1`) {
		t.Fatalf("retry: %d %s", resp.StatusCode, b)
	}
	waitFor(t, "retried event to succeed", func() bool {
		ts.apiGet(fmt.Sprintf("/v1/events/%d", ev.ID), &one)
		return one.State == "succeeded"
	})
}

func TestAPIAuthAndValidation(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"no token", "GET", "/v1/events", nil, 401},
		{"webhook key is not an api token", "GET", "/v1/events", map[string]string{"Authorization": "Bearer " + testKey}, 401},
		{"token", "GET", "/v1/events", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"bad state", "GET", "/v1/events?state=exploded", map[string]string{"Authorization": "Bearer " + testToken}, 400},
		{"bad limit", "GET", "/v1/events?limit=0", map[string]string{"Authorization": "Bearer " + testToken}, 400},
		{"bad id", "GET", "/v1/events/abc", map[string]string{"Authorization": "Bearer " + testToken}, 400},
		{"retry unknown", "POST", "/v1/events/4242/retry", map[string]string{"Authorization": "Bearer " + testToken}, 404},
		{"findings bad status", "GET", "/v1/findings?status=maybe", map[string]string{"Authorization": "Bearer " + testToken}, 400},
		{"healthz open", "GET", "/healthz", nil, 200},
		{"readyz", "GET", "/readyz", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do(tc.method, tc.path, tc.header, nil)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
		})
	}
	// Without a configured token the API stays closed.
	closed := startServer(t, strings.Replace(baseConfig, "api_token: {env: TOKEN}", "max_inflight: 8", 1), nil)
	resp, b := closed.do("GET", "/v1/events", map[string]string{"Authorization": "Bearer "}, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "disabled") {
		t.Errorf("API without token config: %d %s", resp.StatusCode, b)
	}
}

func TestMetrics(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent("m1", "Microsoft.Resources.ResourceWriteSuccess", "x")}))
	ts.do("POST", "/v1/events/eventgrid", nil, []byte("[]"))
	waitFor(t, "delivery to finish", func() bool {
		d, _ := ts.queue.Depth(context.Background())
		return d["succeeded"] == 1
	})
	_, b := ts.do("GET", "/metrics", nil, nil)
	for _, want := range []string{
		`plumb_queue_depth{state="succeeded"} 1`,
		`plumb_queue_depth{state="dead"} 0`,
		`plumb_receiver_requests_total{receiver="eventgrid",status="200"} 1`,
		`plumb_receiver_requests_total{receiver="eventgrid",status="401"} 1`,
		`plumb_events_received_total{source="eventgrid"} 1`,
		`plumb_handler_duration_seconds_count{handler="audit",result="ok"} 1`,
		`plumb_deliveries_total{outcome="succeeded",subscription="azure-writes"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestOverload: above its limits the server pushes back with 429/503 and
// Retry-After, and everything it answered 200 to is processed.
func TestOverload(t *testing.T) {
	ts := startServer(t, baseConfig, func(c *config.Config) { c.Server.MaxInflight = 1 })

	// Hold the only intake slot with a request whose body is still coming.
	pr, pw := io.Pipe()
	held := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts.url+keyed("/v1/events/eventgrid"), pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte("[")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slot to be held", func() bool { return len(ts.srv.inflight) == 1 })
	resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent("o1", "Other", "p")}))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second request while full: %d (Retry-After %q) %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	rest := mustJSON(t, eventGridEvent("o2", "Microsoft.Resources.ResourceWriteSuccess", "p"))
	if _, err := pw.Write(append(rest, ']')); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-held; code != 200 {
		t.Fatalf("held request: %d", code)
	}
	var one eventsAnswer
	waitFor(t, "the accepted event to be processed", func() bool {
		ts.apiGet("/v1/events?state=succeeded", &one)
		return len(one.Events) == 1 && one.Events[0].Event.ID == "o2"
	})

	// Draining: intake refuses with 503 and Retry-After.
	ts.srv.draining.Store(true)
	resp, _ = ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent("o3", "Other", "p")}))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("while draining: %d, want 503 with Retry-After", resp.StatusCode)
	}
	if resp, _ := ts.do("GET", "/readyz", nil, nil); resp.StatusCode != 503 {
		t.Errorf("readyz while draining: %d, want 503", resp.StatusCode)
	}
}

// TestQueueFullAnswers503 fills the queue to MaxPending: intake answers
// 503 and nothing answered 503 is stored.
func TestQueueFullAnswers503(t *testing.T) {
	ts := startServer(t, baseConfig+"\n", func(c *config.Config) { c.Server.MaxPending = 1 })
	// Stop the workers so deliveries stay pending.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.queue.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		resp, _ := ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent(fmt.Sprintf("f%d", i), "Microsoft.Resources.ResourceWriteSuccess", "p")}))
		codes[resp.StatusCode]++
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	if codes[200] < 1 || codes[503] < 1 || codes[200]+codes[503] != 5 {
		t.Errorf("answers = %v, want some 200 then 503", codes)
	}
	var all eventsAnswer
	ts.apiGet("/v1/events", &all)
	if len(all.Events) != codes[200] {
		t.Errorf("%d events stored, %d answered 200: a 503 must not store", len(all.Events), codes[200])
	}
}
