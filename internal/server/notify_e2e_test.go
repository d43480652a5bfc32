package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"plumb/internal/receivers"
	"plumb/internal/receivers/github/githubtest"
)

const notifyHookSecret = "notify-hook-secret"

// notifyAPI calls the API with the bearer token and decodes the answer
// into out (when not nil); it returns the status.
func notifyAPI(t *testing.T, base, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(mustJSON(t, in))
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: status %d, decode %v: %s", method, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// postGrid posts Event Grid events and wants them accepted.
func postGrid(t *testing.T, base string, events ...map[string]any) {
	t.Helper()
	resp, err := http.Post(base+keyed("/v1/events/eventgrid"), "application/json", bytes.NewReader(mustJSON(t, events)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post events: status %d: %s", resp.StatusCode, b)
	}
}

// notificationEvents lists the queue's notification events in state.
func notificationEvents(t *testing.T, base, state string) []eventView {
	t.Helper()
	var out struct {
		Events []eventView `json:"events"`
	}
	if code := notifyAPI(t, base, "GET", "/v1/events?limit=1000&state="+state, nil, &out); code != 200 {
		t.Fatalf("list %s events: status %d", state, code)
	}
	var n []eventView
	for _, e := range out.Events {
		if e.Event.Source == notificationSource {
			n = append(n, e)
		}
	}
	return n
}

// hookRecorder is a webhook endpoint that fails the first failFirst
// requests with 500 and records the signed deliveries it accepts.
type hookRecorder struct {
	t         *testing.T
	failFirst int

	mu       sync.Mutex
	requests int
	failed   int
	accepted []receivers.WebhookPayload
}

func newHookRecorder(t *testing.T, failFirst int) (*hookRecorder, string) {
	h := &hookRecorder{t: t, failFirst: failFirst}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/plumb-hook"
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if h.requests <= h.failFirst {
		h.failed++
		http.Error(w, `{"error":"backend down"}`, http.StatusInternalServerError)
		return
	}
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/plumb-hook" {
		h.t.Errorf("webhook: %s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := receivers.VerifyWebhookSignature([]byte(notifyHookSecret), r.Header, body, time.Now(), time.Minute); err != nil {
		h.t.Errorf("webhook signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p receivers.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		h.t.Errorf("webhook body: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if p.DeliveryID != r.Header.Get(receivers.HeaderDelivery) {
		h.t.Errorf("delivery id %q, header %q", p.DeliveryID, r.Header.Get(receivers.HeaderDelivery))
	}
	h.accepted = append(h.accepted, p)
	w.WriteHeader(http.StatusOK)
}

// fingerprints counts, per fingerprint, the accepted deliveries naming it
// with status.
func (h *hookRecorder) fingerprints(status string) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, p := range h.accepted {
		for _, f := range p.Findings {
			if f.Status == status {
				out[f.Fingerprint]++
			}
		}
	}
	return out
}

func (h *hookRecorder) counts() (requests, failed, accepted int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, h.failed, len(h.accepted)
}

// notifyServeConfig is plumb serve with Event Grid intake, audit
// subscriptions for prod and staging NSG writes, fast routing passes and a
// fast notification retry; route and receivers are appended.
const notifyServeConfig = `
server:
  api_token: {env: TOKEN}
  notify_interval: 200ms
  notify_retry: {max_attempts: 10, schedule: [200ms]}
environments:
  - name: prod
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
  - name: staging
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: KEY}}
subscriptions:
  - name: prod-writes
    environment: prod
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
      subject_begins_with: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-prod
    handlers: [{type: audit}]
  - name: staging-writes
    environment: staging
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
      subject_begins_with: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-stg
    handlers: [{type: audit}]
`

// hookRoute sends every finding on its own, at once, to one webhook.
const hookRoute = `
route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 0s
receivers:
  - name: hook
    webhook: {url: %s, secret: {env: HOOK_SECRET}}
`

const intruderID = "99999999-9999-9999-9999-999999999999"

// TestNotifyWebhookOutage: the webhook answers 500 to its first requests.
// Notifications wait in the durable queue and are retried on
// server.notify_retry until accepted: every finding reaches the webhook,
// signed, exactly once, and every notification event ends succeeded, none
// dead.
func TestNotifyWebhookOutage(t *testing.T) {
	const failFirst = 4
	hook, hookURL := newHookRecorder(t, failFirst)
	base := runE2E(t, notifyServeConfig+fmt.Sprintf(hookRoute, hookURL), nil, nil).url

	postGrid(t, base, eventGridEvent("prod-1", "Microsoft.Resources.ResourceWriteSuccess", intruderID),
		eventGridEvent("prod-2", "Microsoft.Resources.ResourceWriteSuccess", intruderID),
		eventGridEvent("prod-3", "Microsoft.Resources.ResourceWriteSuccess", intruderID))
	// More findings once the outage has begun.
	waitForDeadline(t, 30*time.Second, "the webhook's first failed request", func() bool { _, failed, _ := hook.counts(); return failed >= 1 })
	postGrid(t, base, eventGridEvent("prod-4", "Microsoft.Resources.ResourceWriteSuccess", intruderID),
		eventGridEvent("stg-5", "Microsoft.Resources.ResourceWriteSuccess", intruderID))

	const want = 5
	var stored []findingView
	waitForDeadline(t, 30*time.Second, "5 audit findings", func() bool {
		stored = apiServer(t, base).findings("kind=audit.unexpected_write&status=open")
		return len(stored) == want
	})
	waitForDeadline(t, 60*time.Second, "every finding delivered", func() bool { return len(hook.fingerprints("open")) == want })
	waitForDeadline(t, 30*time.Second, "no notification pending or retrying", func() bool {
		return len(notificationEvents(t, base, "pending"))+len(notificationEvents(t, base, "retry")) == 0
	})

	got := hook.fingerprints("open")
	for _, f := range stored {
		if got[f.Finding.Fingerprint] != 1 {
			t.Errorf("finding %s (%s) delivered %d times, want 1", f.Finding.Fingerprint, f.Finding.Resource.ID, got[f.Finding.Fingerprint])
		}
	}
	requests, failed, accepted := hook.counts()
	if failed != failFirst || accepted != want || requests != failFirst+want {
		t.Errorf("webhook requests %d: failed %d (want %d), accepted %d (want %d)", requests, failed, failFirst, accepted, want)
	}
	succeeded := notificationEvents(t, base, "succeeded")
	if len(succeeded) != want {
		t.Errorf("succeeded notification events %d, want %d", len(succeeded), want)
	}
	if dead := notificationEvents(t, base, "dead"); len(dead) != 0 {
		t.Errorf("dead notification events: %+v", dead)
	}
	// The failures were retried by the queue: the attempts of all
	// notification deliveries add up to the webhook's requests.
	attempts := 0
	for _, e := range succeeded {
		var ev eventView
		if code := notifyAPI(t, base, "GET", fmt.Sprintf("/v1/events/%d", e.ID), nil, &ev); code != 200 {
			t.Fatalf("get event %d: %d", e.ID, code)
		}
		for _, d := range ev.Deliveries {
			if d.Subscription != "receiver:hook" || d.State != "succeeded" {
				t.Errorf("event %d delivery %+v", e.ID, d)
			}
			attempts += d.Attempt
		}
	}
	if attempts != requests {
		t.Errorf("delivery attempts %d, webhook requests %d", attempts, requests)
	}
}

// TestNotifySilence: while a silence matching environment="prod" is
// active, new prod findings are stored but not sent (a staging finding
// sent meanwhile proves routing passes ran); once the silence is expired
// they are sent, once.
func TestNotifySilence(t *testing.T) {
	hook, hookURL := newHookRecorder(t, 0)
	base := runE2E(t, notifyServeConfig+fmt.Sprintf(hookRoute, hookURL), nil, nil).url

	var sl silenceView
	if code := notifyAPI(t, base, "POST", "/v1/silences", map[string]any{
		"matchers": []string{`environment="prod"`}, "duration": "1h", "created_by": "test", "comment": "maintenance",
	}, &sl); code != http.StatusCreated || sl.ID == "" || !sl.Active {
		t.Fatalf("add silence: status %d %+v", code, sl)
	}

	postGrid(t, base, eventGridEvent("prod-1", "Microsoft.Resources.ResourceWriteSuccess", intruderID))
	waitForDeadline(t, 30*time.Second, "the prod finding", func() bool { return len(apiServer(t, base).findings("environment=prod&status=open")) == 1 })
	prodFP := apiServer(t, base).findings("environment=prod")[0].Finding.Fingerprint
	postGrid(t, base, eventGridEvent("stg-1", "Microsoft.Resources.ResourceWriteSuccess", intruderID))
	waitForDeadline(t, 30*time.Second, "the staging finding to be sent", func() bool { return len(hook.fingerprints("open")) >= 1 })
	// Two more routing passes after the staging finding went out.
	time.Sleep(500 * time.Millisecond)
	sent := hook.fingerprints("open")
	if len(sent) != 1 || sent[prodFP] != 0 {
		t.Fatalf("while silenced: sent %v, want only the staging finding", sent)
	}

	if code := notifyAPI(t, base, "POST", "/v1/silences/"+sl.ID+"/expire", nil, nil); code != http.StatusOK {
		t.Fatalf("expire silence: status %d", code)
	}
	waitForDeadline(t, 30*time.Second, "the prod finding to be sent after the silence", func() bool { return hook.fingerprints("open")[prodFP] == 1 })
	time.Sleep(500 * time.Millisecond)
	if got := hook.fingerprints("open"); len(got) != 2 || got[prodFP] != 1 {
		t.Errorf("after the silence: sent %v, want each finding once", got)
	}
	var list struct {
		Silences []silenceView `json:"silences"`
	}
	if notifyAPI(t, base, "GET", "/v1/silences", nil, &list); len(list.Silences) != 0 {
		t.Errorf("active silences after expire: %+v", list.Silences)
	}
}

// TestNotifyAdvisoryAppAuth: an audit.unexpected_write finding of
// severity high is routed by its kind to a github_advisory receiver that
// authenticates as a GitHub App (key from a PEM file): plumb exchanges a
// signed JWT for an installation token and drafts one advisory with the
// "other" ecosystem. The catch-all webhook gets nothing.
func TestNotifyAdvisoryAppAuth(t *testing.T) {
	const appID, installationID = 31337, 4242
	fake, pemKey := githubtest.NewApp(t, "acme", "infra", appID, installationID)
	keyPath := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyPath, []byte(pemKey), 0o600); err != nil {
		t.Fatal(err)
	}
	hook, hookURL := newHookRecorder(t, 0)
	base := runE2E(t, notifyServeConfig+fmt.Sprintf(`
route:
  receiver: hook
  group_wait: 0s
  group_interval: 0s
  routes:
    - matchers: ['kind="audit.unexpected_write"']
      receiver: gh-advisories
      group_by: ['...']
receivers:
  - name: hook
    webhook: {url: %s, secret: {env: HOOK_SECRET}}
  - name: gh-advisories
    github_advisory:
      repository: acme/infra
      base_url: %s
      min_severity: high
      auth:
        app_id: %d
        installation_id: %d
        private_key: {file: %s}
`, hookURL, fake.BaseURL(), appID, installationID, keyPath), nil, nil).url

	postGrid(t, base, eventGridEvent("prod-adv", "Microsoft.Resources.ResourceWriteSuccess", intruderID))
	waitForDeadline(t, 30*time.Second, "a draft advisory", func() bool { return len(fake.Advisories()) >= 1 })
	waitForDeadline(t, 30*time.Second, "the notification to succeed", func() bool { return len(notificationEvents(t, base, "succeeded")) == 1 })

	fs := apiServer(t, base).findings("kind=audit.unexpected_write")
	if len(fs) != 1 || fs[0].Finding.Severity != "high" {
		t.Fatalf("findings %+v", fs)
	}
	advs := fake.Advisories()
	if len(advs) != 1 {
		t.Fatalf("advisories %d, want 1", len(advs))
	}
	a := advs[0]
	if a.State != "draft" || a.Severity != "high" || !strings.HasPrefix(a.Summary, "[UNEXPECTED WRITE]") {
		t.Errorf("advisory state %s severity %s summary %q", a.State, a.Severity, a.Summary)
	}
	if !strings.Contains(a.Description, "<!-- plumb:fingerprint="+fs[0].Finding.Fingerprint+" -->") || !strings.Contains(a.Description, intruderID) {
		t.Errorf("advisory description:\n%s", a.Description)
	}
	if len(a.Vulns) != 1 {
		t.Fatalf("vulnerabilities %v", a.Vulns)
	}
	if pkg, _ := a.Vulns[0]["package"].(map[string]any); pkg["ecosystem"] != "other" {
		t.Errorf("package %v, want ecosystem other", pkg)
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("installation token requests %d, want 1", n)
	}
	if _, issues := fake.Counts(); issues != 0 {
		t.Errorf("issues %d", issues)
	}
	if requests, _, _ := hook.counts(); requests != 0 {
		t.Errorf("the catch-all webhook got %d requests for a finding routed to advisories", requests)
	}
	if dead := notificationEvents(t, base, "dead"); len(dead) != 0 {
		t.Errorf("dead notifications: %+v", dead)
	}
}
