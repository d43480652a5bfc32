package breakglass_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/audit"
	"plumb/internal/breakglass"
	"plumb/internal/eventformat"
	"plumb/internal/findings"
	"plumb/internal/handler"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

const (
	roleBG   = "arn:aws:iam::123456789012:role/BreakGlass"
	userEve  = "arn:aws:iam::123456789012:user/eve"
	pipeline = "arn:aws:iam::123456789012:role/github-actions-deploy"
)

// open opens the break-glass and findings stores on the queue's database,
// as plumb serve does.
func open(t *testing.T, backend string) (*breakglass.Store, *findings.Store) {
	t.Helper()
	ctx := context.Background()
	o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o.DatabaseURL = testenv.StartPostgres(t)
	} else {
		o.DataDir = t.TempDir()
	}
	q, err := queue.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	fs, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	s, err := breakglass.NewStore(ctx, q.DB(), q.Dialect(), fs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := breakglass.NewStore(ctx, q.DB(), q.Dialect(), fs); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return s, fs
}

// sgEvent is a real-format EventBridge delivery of CloudTrail's
// AuthorizeSecurityGroupIngress by the BreakGlass role (event time
// 2026-03-14T12:30:04Z), normalised as the intake does.
func sgEvent(t *testing.T) model.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "eb_authorize_sg_ingress.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := eventformat.ParseEventBridge(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestValidate(t *testing.T) {
	ok := breakglass.OpenRequest{Environment: "prod", Principal: roleBG, Reason: "INC-1234", For: 2 * time.Hour, OpenedBy: "alice"}
	tests := []struct {
		name string
		edit func(*breakglass.OpenRequest)
		want string // "" valid
	}{
		{"valid", func(*breakglass.OpenRequest) {}, ""},
		{"no env", func(r *breakglass.OpenRequest) { r.Environment = "" }, "--env is required"},
		{"no principal", func(r *breakglass.OpenRequest) { r.Principal = " " }, "--principal is required"},
		{"wildcard principal", func(r *breakglass.OpenRequest) { r.Principal = "arn:aws:iam::123456789012:role/*" }, "without wildcards"},
		{"not a principal", func(r *breakglass.OpenRequest) { r.Principal = "dana" }, `--principal "dana": want an IAM user or role ARN`},
		{"short ARN", func(r *breakglass.OpenRequest) { r.Principal = "arn:aws:iam::1" }, "not an ARN"},
		{"object id", func(r *breakglass.OpenRequest) { r.Principal = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b" }, ""},
		{"no reason", func(r *breakglass.OpenRequest) { r.Reason = "" }, "--reason is required"},
		{"zero duration", func(r *breakglass.OpenRequest) { r.For = 0 }, "--for 0s: want a positive duration"},
		{"too long", func(r *breakglass.OpenRequest) { r.For = 25 * time.Hour }, "--for 25h0m0s: at most 24h0m0s"},
		{"no opener", func(r *breakglass.OpenRequest) { r.OpenedBy = "" }, "no identity for who opens the window"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted %+v", r)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestStore: open, overlap refused (same principal, same environment),
// list, covering by event time, close early, expiry by sweep, on SQLite
// and PostgreSQL.
func TestStore(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s, _ := open(t, backend)
			t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
			w, err := s.Open(ctx, t0, breakglass.OpenRequest{Environment: "prod", Principal: roleBG, Reason: "INC-1234", For: 2 * time.Hour, OpenedBy: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(w.ID, "bg-") || !w.ExpiresAt.Equal(t0.Add(2*time.Hour)) || w.OpenedBy != "alice" {
				t.Fatalf("window %+v", w)
			}
			// The same principal again, written in another case, while open.
			_, err = s.Open(ctx, t0.Add(time.Hour), breakglass.OpenRequest{Environment: "prod", Principal: strings.ToUpper(roleBG[:12]) + roleBG[12:], Reason: "INC-1235", For: time.Hour, OpenedBy: "bob"})
			var ov *breakglass.OverlapError
			if !errors.As(err, &ov) || ov.Other.ID != w.ID || !strings.Contains(err.Error(), "plumb breakglass close "+w.ID) {
				t.Fatalf("want overlap with %s, got %v", w.ID, err)
			}
			// Another principal, or another environment, does not overlap.
			other, err := s.Open(ctx, t0.Add(time.Hour), breakglass.OpenRequest{Environment: "prod", Principal: userEve, Reason: "INC-1236", For: time.Hour, OpenedBy: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Open(ctx, t0.Add(time.Hour), breakglass.OpenRequest{Environment: "staging", Principal: roleBG, Reason: "INC-1237", For: time.Hour, OpenedBy: "bob"}); err != nil {
				t.Fatal(err)
			}

			got, err := s.List(ctx, t0.Add(90*time.Minute), "prod", true)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ID != other.ID || got[1].ID != w.ID {
				t.Fatalf("open windows of prod: %+v", got)
			}
			all, err := s.List(ctx, t0, "", false)
			if err != nil || len(all) != 3 {
				t.Fatalf("all windows: %v %+v", err, all)
			}

			c, err := s.Close(ctx, t0.Add(30*time.Minute), w.ID, "carol")
			if err != nil {
				t.Fatal(err)
			}
			if c.ClosedAt == nil || c.ClosedBy != "carol" || !c.End().Equal(t0.Add(30*time.Minute)) || c.Ended == nil || c.State(t0.Add(time.Hour)) != "closed" {
				t.Fatalf("closed window %+v", c)
			}
			if _, err := s.Close(ctx, t0.Add(40*time.Minute), w.ID, "carol"); err == nil || !strings.Contains(err.Error(), "already ended at 2026-03-14T12:30:00Z") {
				t.Fatalf("closing twice: %v", err)
			}
			if _, err := s.Close(ctx, t0, "bg-nope", "carol"); !errors.Is(err, breakglass.ErrNotFound) {
				t.Fatalf("unknown window: %v", err)
			}
			// Closed early, the principal may open a new window at once.
			if _, err := s.Open(ctx, t0.Add(31*time.Minute), breakglass.OpenRequest{Environment: "prod", Principal: roleBG, Reason: "INC-1234 again", For: time.Minute, OpenedBy: "alice"}); err != nil {
				t.Fatalf("reopen after close: %v", err)
			}
			// Sweep at 13:05 ends the one-minute window and Eve's is still open.
			ended, err := s.Sweep(ctx, t0.Add(65*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(ended) != 1 || ended[0].Reason != "INC-1234 again" {
				t.Fatalf("swept %+v", ended)
			}
			if again, _ := s.Sweep(ctx, t0.Add(65*time.Minute)); len(again) != 0 {
				t.Fatalf("swept twice: %+v", again)
			}
			ows, err := s.OpenWindows(ctx, "prod", t0.Add(65*time.Minute))
			if err != nil || len(ows) != 1 || ows[0].ID != other.ID || !ows[0].Until.Equal(t0.Add(2*time.Hour)) {
				t.Fatalf("open windows for enforcement: %v %+v", err, ows)
			}
		})
	}
}

// TestCovering: an event counts under a window by its own time, not its
// arrival, and only for the window's principal (a role's sessions count
// as the role).
func TestCovering(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, "sqlite")
	ev := sgEvent(t) // 2026-03-14T12:30:04Z
	at := ev.Time
	tests := []struct {
		name      string
		principal string
		opened    time.Time
		dur       time.Duration
		closeAt   time.Duration // > 0: closed this long after opening
		now       time.Time
		want      bool
	}{
		{"inside", roleBG, at.Add(-time.Hour), 2 * time.Hour, 0, at, true},
		{"arrives after the window closed", roleBG, at.Add(-time.Hour), 61 * time.Minute, 0, at.Add(time.Hour), true},
		{"before the window", roleBG, at.Add(time.Minute), time.Hour, 0, at.Add(2 * time.Minute), false},
		{"after it expired", roleBG, at.Add(-2 * time.Hour), time.Hour, 0, at, false},
		{"after it was closed early", roleBG, at.Add(-time.Hour), 2 * time.Hour, 30 * time.Minute, at, false},
		{"another principal's window", userEve, at.Add(-time.Hour), 2 * time.Hour, 0, at, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := "env" + string(rune('a'+i))
			w, err := s.Open(ctx, tc.opened, breakglass.OpenRequest{Environment: env, Principal: tc.principal, Reason: "INC-1", For: tc.dur, OpenedBy: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.closeAt > 0 {
				if _, err := s.Close(ctx, tc.opened.Add(tc.closeAt), w.ID, "alice"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Covering(ctx, env, ev, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if (got != nil) != tc.want {
				t.Fatalf("covering = %+v, want %v", got, tc.want)
			}
			if got != nil && got.ID != w.ID {
				t.Fatalf("covering window %s, want %s", got.ID, w.ID)
			}
		})
	}
}

// TestAuditUnderBreakGlass: the audit handler, given the store, turns the
// BreakGlass role's write inside its window into audit.break_glass (info)
// and a drift.reconcile finding; the same write outside any window, or by
// someone else, is audit.unexpected_write. Closing the window resolves the
// reconcile finding so the drift is handled as usual again.
func TestAuditUnderBreakGlass(t *testing.T) {
	ctx := context.Background()
	s, fs := open(t, "sqlite")
	checker, err := audit.NewChecker([]string{pipeline})
	if err != nil {
		t.Fatal(err)
	}
	h := handler.Audit{Checker: checker, Windows: s}
	ev := sgEvent(t)
	deliver := func() []model.Finding {
		t.Helper()
		out, err := h.Handle(ctx, handler.Delivery{Event: ev, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// No window: the alarm.
	out := deliver()
	if len(out) != 1 || out[0].Kind != model.KindUnexpectedWrite {
		t.Fatalf("without a window: %+v", out)
	}

	w, err := s.Open(ctx, ev.Time.Add(-10*time.Minute), breakglass.OpenRequest{Environment: "prod", Principal: roleBG, Reason: "INC-1234", For: time.Hour, OpenedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	out = deliver()
	if len(out) != 2 {
		t.Fatalf("inside the window: %+v", out)
	}
	bg, rc := out[0], out[1]
	if bg.Kind != model.KindBreakGlass || bg.Severity != model.SeverityInfo || !strings.Contains(bg.Message, "INC-1234") || !strings.Contains(bg.Message, "AuthorizeSecurityGroupIngress") {
		t.Errorf("break-glass record: %+v", bg)
	}
	if rc.Kind != model.KindReconcile || rc.Rule != w.ID || !strings.HasSuffix(rc.Resource.ARN, "security-group/sg-0a1b2c3d4e5f60718") || !strings.Contains(rc.Message, "Put the break-glass change into code") {
		t.Errorf("reconcile finding: %+v", rc)
	}
	for _, f := range out {
		if f.Kind == model.KindUnexpectedWrite {
			t.Errorf("alarm inside the window: %+v", f)
		}
	}
	// The same window does not cover another principal's write.
	other := ev
	other.Principal = userEve
	other.Raw = []byte(strings.Replace(string(ev.Raw), "assumed-role/BreakGlass/dana@example.com", "user/eve", 1))
	other.Raw = []byte(strings.Replace(string(other.Raw), roleBG, userEve, 1))
	if got, err := h.Handle(ctx, handler.Delivery{Event: other, Environment: "prod"}); err != nil || len(got) != 1 || got[0].Kind != model.KindUnexpectedWrite {
		t.Errorf("another principal inside the window: %v %+v", err, got)
	}
	// Nor a write in another environment.
	if got, err := h.Handle(ctx, handler.Delivery{Event: ev, Environment: "staging"}); err != nil || len(got) != 1 || got[0].Kind != model.KindUnexpectedWrite {
		t.Errorf("another environment: %v %+v", err, got)
	}

	// The reconcile finding is stored; closing the window resolves it.
	if err := fs.Upsert(ctx, ev.Time, []model.Finding{rc}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Close(ctx, ev.Time.Add(5*time.Minute), w.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	rec, err := fs.Get(ctx, rc.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != findings.StatusResolved {
		t.Errorf("reconcile finding after the window closed: %s", rec.Status)
	}

	// The same write after the window: the alarm again.
	late := ev
	late.Time = ev.Time.Add(2 * time.Hour)
	if got, err := h.Handle(ctx, handler.Delivery{Event: late, Environment: "prod"}); err != nil || len(got) != 1 || got[0].Kind != model.KindUnexpectedWrite {
		t.Errorf("after the window: %v %+v", err, got)
	}
}
