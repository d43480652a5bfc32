package receivers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

func newTestAlertmanager(t *testing.T, base string) *Alertmanager {
	t.Helper()
	rc := receiverConfig(t, "alertmanager:\n  url: "+base+"\n", nil)
	a, err := NewAlertmanager("am", *rc.Alertmanager, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// gettableAlert is what GET /api/v2/alerts returns, as far as the tests
// read it.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
	GeneratorURL string `json:"generatorURL"`
}

// alertsWith lists Alertmanager's alerts carrying plumb's fingerprint
// label; active=false includes every state the API still returns.
func alertsWith(t *testing.T, base, fingerprint string, activeOnly bool) []gettableAlert {
	t.Helper()
	q := url.Values{}
	q.Set("filter", `fingerprint="`+fingerprint+`"`)
	if activeOnly {
		q.Set("active", "true")
		q.Set("silenced", "false")
		q.Set("inhibited", "false")
		q.Set("unprocessed", "false")
	}
	resp, err := http.Get(base + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		t.Fatalf("list alerts: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list alerts: HTTP %d: %s", resp.StatusCode, b)
	}
	var as []gettableAlert
	if err := json.Unmarshal(b, &as); err != nil {
		t.Fatalf("decode alerts: %v: %s", err, b)
	}
	return as
}

// eventually polls cond for a few seconds: Alertmanager processes posted
// alerts asynchronously (they are "unprocessed" for a moment).
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last state: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAlertmanagerReal(t *testing.T) {
	base := testenv.StartAlertmanager(t)
	am := newTestAlertmanager(t, base)
	ctx := context.Background()

	now := time.Now().UTC().Truncate(time.Second)
	f := manyFindings(1, now)[0]
	f.Rule = ""
	f.Resource.Account = "123456789012"
	open := Notification{Receiver: "am", GroupKey: "g1", Findings: []Finding{f}, ExternalURL: "https://plumb.example.com/f/1"}

	describe := func(as []gettableAlert) string {
		b, _ := json.Marshal(as)
		return string(b)
	}

	// Open: one active alert with plumb's labels.
	if err := am.Deliver(ctx, open); err != nil {
		t.Fatalf("deliver open: %v", err)
	}
	eventually(t, "alert becomes active", func() (bool, string) {
		as := alertsWith(t, base, f.Fingerprint, false)
		return len(as) == 1 && as[0].Status.State == "active", describe(as)
	})
	got := alertsWith(t, base, f.Fingerprint, false)[0]
	if want := AlertLabels(f); !reflect.DeepEqual(got.Labels, want) {
		t.Errorf("labels\n got %v\nwant %v", got.Labels, want)
	}
	for k, want := range map[string]string{
		"alertname":   "plumb_drift_unmanaged",
		"kind":        "drift.unmanaged",
		"environment": "prod",
		"severity":    "medium",
		"provider":    "aws",
		"type":        "aws_s3_bucket",
		"id":          "bucket-000",
		"region":      "us-east-1",
		"account":     "123456789012",
	} {
		if got.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, got.Labels[k], want)
		}
	}
	if got.Annotations["summary"] != Title(f) || got.Annotations["description"] != f.Message {
		t.Errorf("annotations %v", got.Annotations)
	}
	if !got.StartsAt.Equal(f.FirstSeen) {
		t.Errorf("startsAt %s, want first seen %s", got.StartsAt, f.FirstSeen)
	}
	if !got.EndsAt.After(now.Add(DefaultAlertValidity - time.Minute)) {
		t.Errorf("endsAt %s: an open finding must stay firing for the validity window", got.EndsAt)
	}
	if got.GeneratorURL != open.ExternalURL {
		t.Errorf("generatorURL %q", got.GeneratorURL)
	}

	// Redelivery (a queue retry, a reminder with a newer last-seen) keeps
	// one alert.
	again := open
	again.Findings = []Finding{f}
	again.Findings[0].LastSeen = now.Add(time.Minute)
	again.Findings[0].Count = 2
	for _, n := range []Notification{open, again, open} {
		if err := am.Deliver(ctx, n); err != nil {
			t.Fatalf("redeliver: %v", err)
		}
	}
	if as := alertsWith(t, base, f.Fingerprint, false); len(as) != 1 {
		t.Fatalf("after redelivery %d alerts, want 1: %s", len(as), describe(as))
	}
	// The whole Alertmanager holds exactly one alert.
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var all []gettableAlert
	_ = json.NewDecoder(resp.Body).Decode(&all)
	resp.Body.Close()
	if len(all) != 1 {
		t.Errorf("Alertmanager holds %d alerts, want 1: %s", len(all), describe(all))
	}

	// Resolved: no longer active.
	resolvedAt := now.Add(2 * time.Minute)
	if resolvedAt.After(time.Now()) {
		resolvedAt = time.Now().UTC()
	}
	res := f
	res.Status = "resolved"
	res.ResolvedAt = &resolvedAt
	if err := am.Deliver(ctx, Notification{Receiver: "am", GroupKey: "g1", Findings: []Finding{res}}); err != nil {
		t.Fatalf("deliver resolved: %v", err)
	}
	eventually(t, "alert resolves", func() (bool, string) {
		active := alertsWith(t, base, f.Fingerprint, true)
		if len(active) != 0 {
			return false, describe(active)
		}
		// Whatever the API still lists for it has ended.
		for _, a := range alertsWith(t, base, f.Fingerprint, false) {
			if a.EndsAt.After(time.Now()) || a.Status.State == "active" {
				return false, describe([]gettableAlert{a})
			}
		}
		return true, ""
	})

	// Re-delivering the resolution (a retry) is harmless, and the finding
	// opening again fires again as the same single alert.
	if err := am.Deliver(ctx, Notification{Receiver: "am", GroupKey: "g1", Findings: []Finding{res}}); err != nil {
		t.Fatalf("redeliver resolved: %v", err)
	}
	if err := am.Deliver(ctx, open); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	eventually(t, "reopened alert is active again", func() (bool, string) {
		as := alertsWith(t, base, f.Fingerprint, true)
		return len(as) == 1, describe(as)
	})
}

func TestAlertmanagerPayload(t *testing.T) {
	now := time.Date(2025, 11, 22, 8, 0, 0, 0, time.UTC)
	var posted []postableAlert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/api/v2/alerts" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		posted = nil
		if err := json.NewDecoder(r.Body).Decode(&posted); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	am := newTestAlertmanager(t, srv.URL+"/prefix/")
	am.now = func() time.Time { return now }

	n := loadNotification(t)
	sup := n.Findings[0]
	sup.Status = "suppressed"
	sup.Fingerprint = "suppressed-one"
	noResolvedAt := n.Findings[1]
	noResolvedAt.ResolvedAt = nil
	noResolvedAt.Fingerprint = "resolved-without-time"
	skewed := n.Findings[1]
	skewed.FirstSeen = skewed.ResolvedAt.Add(time.Hour)
	skewed.Fingerprint = "skewed"
	n.Findings = append(n.Findings, sup, noResolvedAt, skewed)
	n.ExternalURL = "not a url"

	if err := am.Deliver(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(posted) != 5 {
		t.Fatalf("posted %d alerts, want 5", len(posted))
	}
	resolvedAt := *n.Findings[1].ResolvedAt
	tests := []struct {
		name      string
		got       postableAlert
		wantStart time.Time
		wantEnd   time.Time
	}{
		{"open ends after the validity window", posted[0], n.Findings[0].FirstSeen, now.Add(DefaultAlertValidity)},
		{"resolved ends when resolved", posted[1], n.Findings[1].FirstSeen, resolvedAt},
		{"suppressed ends now", posted[2], n.Findings[0].FirstSeen, now},
		{"resolved without a time ends now", posted[3], n.Findings[1].FirstSeen, now},
		{"start after end is clamped", posted[4], resolvedAt, resolvedAt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.StartsAt == nil || !tc.got.StartsAt.Equal(tc.wantStart) {
				t.Errorf("startsAt %v, want %s", tc.got.StartsAt, tc.wantStart)
			}
			if tc.got.EndsAt == nil || !tc.got.EndsAt.Equal(tc.wantEnd) {
				t.Errorf("endsAt %v, want %s", tc.got.EndsAt, tc.wantEnd)
			}
			if tc.got.GeneratorURL != "" {
				t.Errorf("generatorURL %q from an invalid external URL", tc.got.GeneratorURL)
			}
		})
	}
	if l := posted[1].Labels; l["alertname"] != "plumb_drift_changed" || l["fingerprint"] != "9f8e7d6c5b4a39281706f5e4d3c2b1a0" || l["id"] != "sg-0123456789abcdef0" {
		t.Errorf("labels %v", l)
	}
	if _, ok := posted[1].Labels["account"]; ok {
		t.Error("empty account became a label")
	}
	if a := posted[1].Annotations; a["address"] != "module.net.aws_security_group.web" || a["status"] != "resolved" {
		t.Errorf("annotations %v", a)
	}
	if a := posted[0].Annotations; a["principal"] != "arn:aws:iam::123456789012:user/alice" {
		t.Errorf("annotations %v", a)
	}

	// No findings, no request.
	posted = nil
	if err := am.Deliver(context.Background(), Notification{GroupKey: "g"}); err != nil || posted != nil {
		t.Errorf("empty notification: err %v, posted %v", err, posted)
	}
}

func TestAlertLabelsAlertname(t *testing.T) {
	tests := []struct {
		kind model.Kind
		want string
	}{
		{model.KindUnmanaged, "plumb_drift_unmanaged"},
		{model.KindMissing, "plumb_drift_missing"},
		{model.KindPolicyViolation, "plumb_policy_violation"},
		{model.KindUnexpectedWrite, "plumb_audit_unexpected_write"},
		{model.KindAlert, "plumb_event_alert"},
		{"custom-kind.x/y", "plumb_custom_kind_x_y"},
	}
	for _, tc := range tests {
		if got := AlertLabels(Finding{Finding: model.Finding{Kind: tc.kind}})["alertname"]; got != tc.want {
			t.Errorf("%s: alertname %q, want %q", tc.kind, got, tc.want)
		}
	}
}

func TestAlertmanagerRejectsBadRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"code":400,"message":"start time must be before end time"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	err := newTestAlertmanager(t, srv.URL).Deliver(context.Background(), loadNotification(t))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "start time must be before end time") {
		t.Errorf("err = %v, want permanent with the reason", err)
	}
}
