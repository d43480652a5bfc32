package receivers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"plumb/internal/model"
)

// slackPath is the secret part of an incoming-webhook URL in these tests.
const slackPath = "/services/T0TEST/B0TEST/xoxSECRETxyz"

func newTestSlack(t *testing.T, base string) *Slack {
	t.Helper()
	rc := receiverConfig(t, "slack:\n  url: {env: SLACK_URL}\n", map[string]string{"SLACK_URL": base + slackPath})
	s, err := NewSlack("chatops", *rc.Slack, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decoded is the incoming-webhook payload as Slack reads it.
type decoded struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"elements"`
	} `json:"blocks"`
}

func TestSlackPayload(t *testing.T) {
	now := time.Date(2025, 11, 22, 8, 0, 0, 0, time.UTC)
	sample := loadNotification(t)
	tests := []struct {
		name        string
		n           Notification
		wantHeaders int
		wantSummary string // a section that summarises the rest, when set
		wantText    []string
	}{
		{name: "two findings", n: sample, wantHeaders: 2, wantText: []string{"plumb: 2 findings (1 open, 1 resolved)", "[RESOLVED] [DRIFT DETECTED] Resource changed outside code (web &lt;ingress&gt; &amp; more)"}},
		{name: "one finding", n: Notification{Receiver: "chatops", GroupKey: "g", Findings: sample.Findings[:1]}, wantHeaders: 1, wantText: []string{"[DRIFT DETECTED] Undefined resource exists (logs-tmp)"}},
		{name: "120 findings", n: Notification{Receiver: "chatops", GroupKey: "g", Findings: manyFindings(120, now)}, wantHeaders: 24, wantSummary: "…and 96 more findings (", wantText: []string{"plumb: 120 findings (96 open, 24 resolved)"}},
		{name: "24 findings fit exactly", n: Notification{Receiver: "chatops", GroupKey: "g", Findings: manyFindings(24, now)}, wantHeaders: 24},
		{name: "25 findings", n: Notification{Receiver: "chatops", GroupKey: "g", Findings: manyFindings(25, now)}, wantHeaders: 24, wantSummary: "…and 1 more finding ("},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bodies := make(chan []byte, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != slackPath || r.Method != http.MethodPost {
					t.Errorf("%s %s", r.Method, r.URL.Path)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				b, _ := io.ReadAll(r.Body)
				bodies <- b
				_, _ = io.WriteString(w, "ok")
			}))
			defer srv.Close()
			if err := newTestSlack(t, srv.URL).Deliver(context.Background(), tc.n); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			var m decoded
			if err := json.Unmarshal(<-bodies, &m); err != nil {
				t.Fatal(err)
			}
			if m.Text == "" {
				t.Error("no text fallback")
			}
			for _, w := range tc.wantText {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text %q lacks %q", m.Text, w)
				}
			}
			if len(m.Blocks) > 50 {
				t.Fatalf("%d blocks, Slack allows 50", len(m.Blocks))
			}
			headers, summary := 0, ""
			for i, b := range m.Blocks {
				switch b.Type {
				case "header":
					headers++
					if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 150 {
						t.Errorf("block %d: bad header %+v", i, b.Text)
					}
					next := m.Blocks[i+1]
					if next.Type != "section" || len(next.Fields) != 4 {
						t.Fatalf("block %d: header not followed by a section with 4 fields: %+v", i, next)
					}
					for j, want := range []string{"*Environment*", "*Severity*", "*Resource*", "*Status*"} {
						if f := next.Fields[j]; f.Type != "mrkdwn" || !strings.HasPrefix(f.Text, want+"\n") {
							t.Errorf("block %d field %d = %+v, want %s", i+1, j, f, want)
						}
					}
				case "section":
					if len(b.Fields) == 0 && b.Text != nil {
						summary = b.Text.Text
					}
				case "context":
					if i != len(m.Blocks)-1 {
						t.Errorf("context block at %d, want last", i)
					}
					if len(b.Elements) == 0 || len(b.Elements) > 10 {
						t.Errorf("context has %d elements", len(b.Elements))
					}
				default:
					t.Errorf("block %d: unexpected type %q", i, b.Type)
				}
			}
			if last := m.Blocks[len(m.Blocks)-1]; last.Type != "context" {
				t.Errorf("last block is %q, want context", last.Type)
			}
			if headers != tc.wantHeaders {
				t.Errorf("%d header blocks, want %d", headers, tc.wantHeaders)
			}
			if tc.wantSummary == "" && summary != "" {
				t.Errorf("unexpected summary %q", summary)
			}
			if tc.wantSummary != "" && !strings.HasPrefix(summary, tc.wantSummary) {
				t.Errorf("summary %q, want prefix %q", summary, tc.wantSummary)
			}
		})
	}
}

func TestSlackOrdersAndEscapes(t *testing.T) {
	m := slackMessageOf(loadNotification(t))
	// The open finding comes first; the resolved one shows escaped markup.
	if got := m.Blocks[0].Text.Text; !strings.Contains(got, "logs-tmp") {
		t.Errorf("first header %q, want the open finding", got)
	}
	res := m.Blocks[3].Fields[2].Text
	if !strings.Contains(res, "aws_security_group sg-0123456789abcdef0 (us-east-1)") {
		t.Errorf("resource field %q", res)
	}
	status := m.Blocks[3].Fields[3].Text
	if !strings.Contains(status, "resolved at 2025-11-22T07:00:00Z") {
		t.Errorf("status field %q", status)
	}
	ctx := m.Blocks[len(m.Blocks)-1]
	if len(ctx.Elements) != 2 || ctx.Elements[1].Text != "<https://plumb.example.com/findings|Open in plumb>" {
		t.Errorf("context %+v", ctx.Elements)
	}
	long := loadNotification(t)
	long.Findings[0].Resource.ID = strings.Repeat("x", 400)
	if h := slackMessageOf(long).Blocks[0].Text.Text; utf8.RuneCountInString(h) != 150 || !strings.HasSuffix(h, "…") {
		t.Errorf("long header not cut to 150: %d runes", utf8.RuneCountInString(h))
	}
}

func TestSlackErrors(t *testing.T) {
	n := loadNotification(t)
	tests := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		permanent  bool
		retryAfter time.Duration
		wantInErr  string
	}{
		{name: "rate limited", status: 429, body: "rate_limited", header: map[string]string{"Retry-After": "30"}, retryAfter: 30 * time.Second, wantInErr: "429"},
		{name: "no_service", status: 404, body: "no_service", permanent: true, wantInErr: "no_service"},
		{name: "channel_not_found", status: 404, body: "channel_not_found", permanent: true, wantInErr: "channel_not_found"},
		{name: "invalid_payload", status: 400, body: "invalid_payload", permanent: true, wantInErr: "invalid_payload"},
		{name: "action_prohibited", status: 403, body: "action_prohibited", permanent: true},
		{name: "channel_is_archived", status: 410, body: "channel_is_archived", permanent: true},
		{name: "rollup_error", status: 500, body: "rollup_error", wantInErr: "rollup_error"},
		// A body that echoes the request path must not leak it either.
		{name: "echoing proxy", status: 502, body: "bad gateway for " + slackPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			err := newTestSlack(t, srv.URL).Deliver(context.Background(), n)
			if err == nil {
				t.Fatal("no error")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			var ra *RetryAfterError
			if errors.As(err, &ra) != (tc.retryAfter > 0) || (ra != nil && ra.After != tc.retryAfter) {
				t.Errorf("RetryAfterError %+v, want After %s", ra, tc.retryAfter)
			}
			if tc.wantInErr != "" && !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q lacks %q", err, tc.wantInErr)
			}
			assertNoSlackSecret(t, err, srv.URL)
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		s := newTestSlack(t, srv.URL)
		srv.Close()
		err := s.Deliver(context.Background(), n)
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want retryable", err)
		}
		assertNoSlackSecret(t, err, srv.URL)
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := newTestSlack(t, srv.URL).Deliver(ctx, n)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a deadline", err)
		}
		assertNoSlackSecret(t, err, srv.URL)
	})

	t.Run("bad URL in config", func(t *testing.T) {
		rc := receiverConfig(t, "slack:\n  url: {env: SLACK_URL}\n", map[string]string{"SLACK_URL": "https://hooks.slack.com" + slackPath + "\x7f%zz"})
		_, err := NewSlack("chatops", *rc.Slack, nil)
		if err == nil {
			t.Fatal("accepted a malformed URL")
		}
		assertNoSlackSecret(t, err, "https://hooks.slack.com")
	})
}

func assertNoSlackSecret(t *testing.T, err error, base string) {
	t.Helper()
	for _, leak := range []string{slackPath, "xoxSECRETxyz", base + slackPath} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error leaks the webhook URL (%q): %v", leak, err)
		}
	}
}

// TestSlackShowsEnforcement: a finding's status says what plumb did.
func TestSlackShowsEnforcement(t *testing.T) {
	sample := loadNotification(t)
	f := sample.Findings[0]
	f.Enforcement = &model.Enforcement{Verb: "delete", Result: "deleted after snapshot snap-1", ActionID: "a1"}
	b := findingSection(f)
	found := false
	for _, fl := range b.Fields {
		if strings.Contains(fl.Text, "*Status*") && strings.Contains(fl.Text, "plumb delete: deleted after snapshot snap-1") {
			found = true
		}
	}
	if !found {
		t.Errorf("status field lacks the enforcement: %+v", b.Fields)
	}
}
