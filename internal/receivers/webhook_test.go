package receivers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"plumb/internal/config"
)

const testWebhookSecret = "s3cr3t-signing-key"

func newTestWebhook(t *testing.T, url string, extra string) *Webhook {
	t.Helper()
	rc := receiverConfig(t, "webhook:\n  url: "+url+"\n  secret: {env: HOOK_SECRET}\n"+extra, map[string]string{"HOOK_SECRET": testWebhookSecret})
	w, err := NewWebhook("ops", *rc.Webhook, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookDeliverySignedAndShaped(t *testing.T) {
	n := loadNotification(t)
	type got struct {
		header http.Header
		body   []byte
		err    error
	}
	gotc := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := VerifyWebhookSignature([]byte(testWebhookSecret), r.Header, body, time.Now(), time.Minute)
		gotc <- got{r.Header.Clone(), body, err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	w := newTestWebhook(t, srv.URL+"/hook", "")
	if err := w.Deliver(context.Background(), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	g := <-gotc
	if g.err != nil {
		t.Fatalf("signature rejected: %v", g.err)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "plumb",
		HeaderDelivery: DeliveryID(n),
	} {
		if v := g.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if !strings.HasPrefix(g.header.Get(HeaderSignature), "sha256=") {
		t.Errorf("signature header %q lacks sha256=", g.header.Get(HeaderSignature))
	}

	// The documented shape, read as a consumer in another language would.
	var doc map[string]any
	if err := json.Unmarshal(g.body, &doc); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path string
		got  any
		want any
	}{
		{"version", doc["version"], float64(1)},
		{"delivery_id", doc["delivery_id"], DeliveryID(n)},
		{"receiver", doc["receiver"], "ops"},
		{"group_key", doc["group_key"], "route-0/environment=prod"},
		{"group_labels.environment", doc["group_labels"].(map[string]any)["environment"], "prod"},
		{"external_url", doc["external_url"], "https://plumb.example.com/findings"},
	}
	fs := doc["findings"].([]any)
	if len(fs) != 2 {
		t.Fatalf("findings: %d, want 2", len(fs))
	}
	f0, f1 := fs[0].(map[string]any), fs[1].(map[string]any)
	checks = append(checks, []struct {
		path string
		got  any
		want any
	}{
		{"findings[0].kind", f0["kind"], "drift.unmanaged"},
		{"findings[0].status", f0["status"], "open"},
		{"findings[0].fingerprint", f0["fingerprint"], "0b1c4f3a9d2e7b6a5c4d3e2f1a0b9c8d"},
		{"findings[0].first_seen", f0["first_seen"], "2025-11-20T08:00:00Z"},
		{"findings[0].count", f0["count"], float64(3)},
		{"findings[0].principal", f0["principal"], "arn:aws:iam::123456789012:user/alice"},
		{"findings[0].resource.id", f0["resource"].(map[string]any)["id"], "logs-tmp"},
		{"findings[0].resolved_at absent", f0["resolved_at"], nil},
		{"findings[1].status", f1["status"], "resolved"},
		{"findings[1].resolved_at", f1["resolved_at"], "2025-11-22T07:00:00Z"},
		{"findings[1].address", f1["address"], "module.net.aws_security_group.web"},
	}...)
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.path, c.got, c.want)
		}
	}

	// And it decodes back into a Notification.
	var back WebhookPayload
	if err := json.Unmarshal(g.body, &back); err != nil {
		t.Fatal(err)
	}
	if back.GroupKey != n.GroupKey || len(back.Findings) != 2 || back.Findings[1].ResolvedAt == nil {
		t.Errorf("round trip lost data: %+v", back.Notification)
	}
}

// TestWebhookOutage drives Deliver the way the queue does (retry until it
// succeeds) against an endpoint that fails its first requests, and once
// processes a request whose answer never arrives. The endpoint dedupes by
// X-Plumb-Delivery as the docs ask; every notification must be processed
// exactly once.
func TestWebhookOutage(t *testing.T) {
	const failFirst = 3
	var (
		mu        sync.Mutex
		requests  int
		processed = map[string]int{}
		lostOnce  bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := VerifyWebhookSignature([]byte(testWebhookSecret), r.Header, body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(HeaderDelivery)
		mu.Lock()
		requests++
		if requests <= failFirst {
			mu.Unlock()
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		dup := processed[id] > 0
		if !dup {
			processed[id]++
		}
		lose := !dup && !lostOnce
		if lose {
			lostOnce = true
		}
		mu.Unlock()
		if lose {
			// Processed, but the answer is lost: the client times out.
			time.Sleep(600 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	w := newTestWebhook(t, srv.URL, "  timeout: 200ms\n")
	base := loadNotification(t)
	second := base
	second.Findings = append([]Finding(nil), base.Findings...)
	second.Findings[0].LastSeen = second.Findings[0].LastSeen.Add(time.Hour)
	notifications := []Notification{base, second}
	if DeliveryID(base) == DeliveryID(second) {
		t.Fatal("a new sighting must get a new delivery id")
	}

	for i, n := range notifications {
		var err error
		attempts := 0
		for attempts < 10 {
			attempts++
			err = w.Deliver(context.Background(), n)
			if err == nil || IsPermanent(err) {
				break
			}
		}
		if err != nil {
			t.Fatalf("notification %d: after %d attempts: %v", i, attempts, err)
		}
		// A crash after the success but before the queue recorded it runs
		// the delivery once more.
		if err := w.Deliver(context.Background(), n); err != nil {
			t.Fatalf("notification %d: redelivery: %v", i, err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if !lostOnce {
		t.Error("the lost-answer case did not happen")
	}
	if len(processed) != len(notifications) {
		t.Errorf("processed %d distinct deliveries, want %d: %v", len(processed), len(notifications), processed)
	}
	for _, n := range notifications {
		if c := processed[DeliveryID(n)]; c != 1 {
			t.Errorf("delivery %s processed %d times, want 1", DeliveryID(n), c)
		}
	}
}

func TestWebhookResponseClassification(t *testing.T) {
	n := loadNotification(t)
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		wantErr    bool
		permanent  bool
		retryAfter time.Duration // > 0: want a RetryAfterError
	}{
		{name: "200", status: 200},
		{name: "204", status: 204},
		{name: "429 with seconds", status: 429, header: map[string]string{"Retry-After": "7"}, wantErr: true, retryAfter: 7 * time.Second},
		{name: "503 with seconds", status: 503, header: map[string]string{"Retry-After": "120"}, wantErr: true, retryAfter: 2 * time.Minute},
		{name: "429 without Retry-After", status: 429, wantErr: true},
		{name: "503 without Retry-After", status: 503, wantErr: true},
		{name: "500", status: 500, wantErr: true},
		{name: "502", status: 502, wantErr: true},
		{name: "408", status: 408, wantErr: true},
		{name: "409", status: 409, wantErr: true},
		{name: "400", status: 400, wantErr: true, permanent: true},
		{name: "401", status: 401, wantErr: true, permanent: true},
		{name: "404", status: 404, wantErr: true, permanent: true},
		{name: "410", status: 410, wantErr: true, permanent: true},
		{name: "302 redirect is not followed", status: 302, header: map[string]string{"Location": "/elsewhere"}, wantErr: true, permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					t.Error("redirect was followed")
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"error":"because"}`)
			}))
			defer srv.Close()
			err := newTestWebhook(t, srv.URL+"/hook", "").Deliver(context.Background(), n)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", IsPermanent(err), tc.permanent, err)
			}
			var ra *RetryAfterError
			if isRA := errors.As(err, &ra); isRA != (tc.retryAfter > 0) {
				t.Errorf("RetryAfterError = %v, want %v (%v)", isRA, tc.retryAfter > 0, err)
			} else if isRA && ra.After != tc.retryAfter {
				t.Errorf("After = %s, want %s", ra.After, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), "HTTP ") {
				t.Errorf("error lacks the status: %v", err)
			}
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2025, 11, 22, 8, 0, 0, 0, time.UTC)
	d, ok := retryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now)
	if !ok || d != 90*time.Second {
		t.Errorf("retryAfter(date) = %s, %v; want 1m30s", d, ok)
	}
	if _, ok := retryAfter("soon", now); ok {
		t.Error("retryAfter accepted garbage")
	}
}

func TestVerifyWebhookSignature(t *testing.T) {
	secret := []byte(testWebhookSecret)
	body := []byte(`{"version":1,"findings":[]}`)
	signedAt := time.Date(2025, 11, 22, 8, 0, 0, 0, time.UTC)
	signed := func(key []byte, at time.Time, b []byte) http.Header {
		h := http.Header{}
		ts := strconvUnix(at)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, "sha256="+sign(key, ts, b))
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", signed(secret, signedAt, body), body, signedAt.Add(30 * time.Second), nil},
		{"wrong secret", signed([]byte("other"), signedAt, body), body, signedAt, ErrSignatureMismatch},
		{"tampered body", signed(secret, signedAt, body), []byte(`{"version":1,"findings":[{}]}`), signedAt, ErrSignatureMismatch},
		{"old timestamp", signed(secret, signedAt, body), body, signedAt.Add(6 * time.Minute), ErrTimestampExpired},
		{"timestamp from the future", signed(secret, signedAt.Add(10*time.Minute), body), body, signedAt, ErrTimestampExpired},
		{"missing headers", http.Header{}, body, signedAt, ErrSignatureMissing},
		{"timestamp swapped", func() http.Header {
			h := signed(secret, signedAt, body)
			h.Set(HeaderTimestamp, strconvUnix(signedAt.Add(time.Second)))
			return h
		}(), body, signedAt, ErrSignatureMismatch},
		{"no sha256 prefix", func() http.Header {
			h := signed(secret, signedAt, body)
			h.Set(HeaderSignature, strings.TrimPrefix(h.Get(HeaderSignature), "sha256="))
			return h
		}(), body, signedAt, ErrSignatureMismatch},
		{"not hex", func() http.Header {
			h := signed(secret, signedAt, body)
			h.Set(HeaderSignature, "sha256=zz")
			return h
		}(), body, signedAt, ErrSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhookSignature(secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected a valid signature: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A webhook signed in the past (a queue retry hours later) is signed
// anew: the timestamp is the time of the attempt, not of the finding.
func TestWebhookSignsEachAttemptAtItsTime(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get(HeaderTimestamp))
	}))
	defer srv.Close()
	w := newTestWebhook(t, srv.URL, "")
	at := time.Date(2025, 11, 22, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		w.now = func() time.Time { return at.Add(time.Duration(i) * time.Hour) }
		if err := w.Deliver(context.Background(), loadNotification(t)); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 2 || seen[0] == seen[1] || seen[0] != strconvUnix(at) {
		t.Errorf("timestamps %v", seen)
	}
}

func TestWebhookErrorsHideCredentials(t *testing.T) {
	// A listener that is closed: the connection is refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	w := newTestWebhook(t, url+"/hook?token=tok-123456", "")
	err := w.Deliver(context.Background(), loadNotification(t))
	if err == nil || IsPermanent(err) {
		t.Fatalf("connection refused: err = %v, want retryable", err)
	}
	for _, leak := range []string{"tok-123456", testWebhookSecret} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error leaks %q: %v", leak, err)
		}
	}
	if !strings.Contains(err.Error(), "/hook") {
		t.Errorf("error should name the endpoint path: %v", err)
	}
}

func TestNewWebhookRejects(t *testing.T) {
	good := receiverConfig(t, "webhook:\n  url: https://hooks.example.com/x\n  secret: {env: S}\n", map[string]string{"S": "k"}).Webhook
	tests := []struct {
		name string
		cfg  config.WebhookReceiverConfig
		want string
	}{
		{"relative url", config.WebhookReceiverConfig{URL: "/hook", Secret: good.Secret}, "want http(s)"},
		{"other scheme", config.WebhookReceiverConfig{URL: "ftp://example.com/x", Secret: good.Secret}, "want http(s)"},
		{"no secret", config.WebhookReceiverConfig{URL: good.URL}, "secret is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWebhook("x", tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func strconvUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
