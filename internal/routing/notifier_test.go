package routing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/receivers"
	"plumb/internal/testenv"
)

// backends returns store openers for SQLite and PostgreSQL. PostgreSQL
// runs once per test; each store gets its own schema, so scenarios are
// isolated without paying a server start each.
func backends(t *testing.T) []struct {
	name string
	open func(t *testing.T) *findings.Store
} {
	t.Helper()
	ctx := context.Background()
	sqlite := func(t *testing.T) *findings.Store {
		db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/plumb.db?_pragma=busy_timeout(10000)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { _ = db.Close() })
		s, err := findings.NewStore(ctx, db, "sqlite")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var dsn string
	schemas := 0
	postgres := func(t *testing.T) *findings.Store {
		schemas++
		schema := fmt.Sprintf("notifier_%d", schemas)
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("pgx", dsn+"&search_path="+schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		s, err := findings.NewStore(ctx, db, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	out := []struct {
		name string
		open func(t *testing.T) *findings.Store
	}{{"sqlite", sqlite}}
	// Without PostgreSQL installed, SQLite still runs (testenv fails the
	// test instead under CI=true).
	if _, err := exec.LookPath("initdb"); err != nil && os.Getenv("CI") != "true" {
		t.Logf("PostgreSQL not installed, testing SQLite only: %v", err)
		return out
	}
	dsn = testenv.StartPostgres(t)
	return append(out, struct {
		name string
		open func(t *testing.T) *findings.Store
	}{"postgres", postgres})
}

func fnd(env, id string) model.Finding {
	return model.Finding{
		Kind:        model.KindChanged,
		Severity:    model.SeverityHigh,
		Fingerprint: model.Fingerprint(model.KindChanged, env, "aws", "aws_s3_bucket", "us-east-1", id, ""),
		Environment: env,
		Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"},
		Message:     id + " changed",
	}
}

// Fixture findings: a and b in prod, c in dev, s a security finding in prod.
var (
	fa = fnd("prod", "a")
	fb = fnd("prod", "b")
	fc = fnd("dev", "c")
)

func secFinding() model.Finding {
	f := fnd("prod", "s")
	f.Security = true
	return f
}

type action func(ctx context.Context, s *findings.Store, now time.Time) error

func upsert(fs ...model.Finding) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error { return s.Upsert(ctx, now, fs) }
}

func resolve(fs ...model.Finding) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error {
		var fps []string
		for _, f := range fs {
			fps = append(fps, f.Fingerprint)
		}
		return s.Resolve(ctx, now, fps)
	}
}

func silence(matcher string, d time.Duration) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error {
		_, err := s.AddSilence(ctx, now, findings.Silence{Matchers: []string{matcher}, EndsAt: now.Add(d), CreatedBy: "test"})
		return err
	}
}

func expireSilences(ctx context.Context, s *findings.Store, now time.Time) error {
	sls, err := s.ListSilences(ctx, now, true)
	if err != nil {
		return err
	}
	for _, sl := range sls {
		if err := s.ExpireSilence(ctx, now, sl.ID); err != nil {
			return err
		}
	}
	return nil
}

func suppress(f model.Finding) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error {
		return s.Suppress(ctx, now, f.Fingerprint, "accepted")
	}
}

func unsuppress(f model.Finding) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error {
		return s.Unsuppress(ctx, now, f.Fingerprint)
	}
}

func all(as ...action) action {
	return func(ctx context.Context, s *findings.Store, now time.Time) error {
		for _, a := range as {
			if err := a(ctx, s, now); err != nil {
				return err
			}
		}
		return nil
	}
}

// summary renders a notification as "receiver id:status id:status",
// findings sorted by id.
func summary(n receivers.Notification) string {
	var parts []string
	for _, f := range n.Findings {
		parts = append(parts, f.Resource.ID+":"+f.Status)
	}
	sort.Strings(parts)
	return strings.Join(append([]string{n.Receiver}, parts...), " ")
}

func dur(d time.Duration) *time.Duration { return &d }

// defaultRoute: one receiver, grouped per environment, 30s/5m/4h.
func defaultRoute() *config.Route {
	return &config.Route{Receiver: "default", GroupBy: []string{"environment"},
		GroupWait: dur(30 * time.Second), GroupInterval: dur(5 * time.Minute), RepeatInterval: dur(4 * time.Hour)}
}

type step struct {
	at        time.Duration // since t0
	do        action
	immediate bool
	fail      bool // Send fails this pass
	want      []string
	check     func(t *testing.T, s *findings.Store, ns []receivers.Notification)
}

func TestNotifier(t *testing.T) {
	const m, s, h = time.Minute, time.Second, time.Hour
	aChanged := fa
	aChanged.Message = "a changed again"
	scenarios := []struct {
		name  string
		route *config.Route
		steps []step
	}{
		{"group_wait delays the first send and batches", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 10 * s, do: upsert(fb)},
			{at: 29 * s},
			{at: 30 * s, want: []string{"default a:open b:open"}},
			{at: 31 * s},
		}},
		{"a change after the first send waits group_interval", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 30 * s, want: []string{"default a:open"}},
			{at: m, do: upsert(fb)},
			{at: 5*m + 29*s},
			{at: 5*m + 30*s, want: []string{"default a:open b:open"}},
			{at: 6 * m, do: upsert(aChanged)},
			{at: 10*m + 29*s},
			{at: 10*m + 30*s, want: []string{"default a:open b:open"}},
		}},
		{"unchanged group repeats after repeat_interval only", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 30 * s, want: []string{"default a:open"}},
			{at: h, do: upsert(fa)}, // seen again, same content: not a change
			{at: 2 * h},
			{at: 4*h + 29*s},
			{at: 4*h + 30*s, want: []string{"default a:open"}},
			{at: 4*h + 31*s},
		}},
		{"resolved finding is sent once as resolved, then dropped", nil, []step{
			{at: 0, do: upsert(fa, fb)},
			{at: 30 * s, want: []string{"default a:open b:open"}},
			{at: m, do: resolve(fa)},
			{at: 5*m + 30*s, want: []string{"default a:resolved b:open"}, check: func(t *testing.T, _ *findings.Store, ns []receivers.Notification) {
				a, b := ns[0].Findings[0], ns[0].Findings[1]
				if a.Resource.ID != "a" {
					a, b = b, a
				}
				if a.ResolvedAt == nil || b.ResolvedAt != nil || b.Count != 1 || b.FirstSeen.IsZero() || b.LastSeen.IsZero() {
					t.Errorf("finding fields: a=%+v b=%+v", a, b)
				}
				if ns[0].ExternalURL != "https://plumb.example" || ns[0].GroupKey == "" || ns[0].GroupLabels["environment"] != "prod" {
					t.Errorf("notification fields: %+v", ns[0])
				}
			}},
			{at: 10*m + 30*s},
			{at: 4*h + 5*m + 30*s, want: []string{"default b:open"}},
		}},
		{"a finding resolved within group_wait is never sent", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 10 * s, do: resolve(fa)},
			{at: 30 * s, check: noStates},
			{at: h},
		}},
		{"all resolved: the group is closed and forgotten", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 30 * s, want: []string{"default a:open"}},
			{at: m, do: resolve(fa)},
			{at: 5*m + 30*s, want: []string{"default a:resolved"}, check: noStates},
			{at: 10 * h},
			{at: 11 * h, do: upsert(fa)}, // reopened: a new group again
			{at: 11*h + 30*s, want: []string{"default a:open"}},
		}},
		{"silenced finding is not sent, and is sent when the silence is expired", nil, []step{
			{at: 0, do: all(silence(`id="a"`, h), upsert(fa, fb))},
			{at: 30 * s, want: []string{"default b:open"}},
			{at: 6 * m},
			{at: 10 * m, do: expireSilences, want: []string{"default a:open b:open"}},
		}},
		{"silence ending by itself: sent group_wait later", nil, []step{
			{at: 0, do: all(silence(`environment="prod"`, h), upsert(fa))},
			{at: 30 * s},
			{at: 59 * m},
			{at: h},
			{at: h + 30*s, want: []string{"default a:open"}},
		}},
		{"resolved while silenced: closed once the silence ends", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 30 * s, want: []string{"default a:open"}},
			{at: m, do: silence(`id="a"`, h)},
			{at: 2 * m, do: resolve(fa)},
			{at: 10 * m},
			{at: h}, // the receiver's state is kept through the silence
			{at: h + m, want: []string{"default a:resolved"}, check: noStates},
		}},
		{"suppressed finding is closed once, unsuppressed is sent again", nil, []step{
			{at: 0, do: upsert(fa, fb)},
			{at: 30 * s, want: []string{"default a:open b:open"}},
			{at: m, do: suppress(fa)},
			{at: 5*m + 30*s, want: []string{"default a:suppressed b:open"}},
			{at: 11 * m, do: upsert(fa)},
			{at: 20 * m},
			{at: 21 * m, do: unsuppress(fa), want: []string{"default a:open b:open"}},
		}},
		{"immediate skips group_wait and group_interval, not repeat_interval", nil, []step{
			{at: 0, do: upsert(fa), immediate: true, want: []string{"default a:open"}},
			{at: s, immediate: true},
			{at: 2 * s, do: upsert(fb), immediate: true, want: []string{"default a:open b:open"}},
			{at: 3 * s},
			{at: 4*h + s, immediate: true},
			{at: 4*h + 2*s, immediate: true, want: []string{"default a:open b:open"}},
		}},
		{"failing send saves nothing and is sent again", nil, []step{
			{at: 0, do: upsert(fa)},
			{at: 30 * s, fail: true},
			{at: 31 * s, want: []string{"default a:open"}},
			{at: 32 * s},
			{at: m, do: upsert(fb)},
			{at: 6 * m, fail: true},
			{at: 6*m + s, want: []string{"default a:open b:open"}},
			{at: 7 * m},
		}},
		{"group_by ... makes one group per finding", &config.Route{Receiver: "default", GroupBy: []string{"..."}}, []step{
			{at: 0, do: upsert(fa, fb, fc)},
			{at: 30 * s, want: []string{"default a:open", "default b:open", "default c:open"}, check: func(t *testing.T, _ *findings.Store, ns []receivers.Notification) {
				keys := map[string]bool{}
				for _, n := range ns {
					keys[n.GroupKey] = true
					if n.GroupLabels["id"] != n.Findings[0].Resource.ID || n.GroupLabels["status"] != "" {
						t.Errorf("group labels: %v", n.GroupLabels)
					}
				}
				if len(keys) != 3 {
					t.Errorf("group keys not distinct: %v", keys)
				}
			}},
			{at: m, do: resolve(fa)},
			{at: 5*m + 30*s, want: []string{"default a:resolved"}},
		}},
		{"group_by environment", nil, []step{
			{at: 0, do: upsert(fa, fb, fc)},
			{at: 30 * s, want: []string{"default a:open b:open", "default c:open"}},
		}},
		{"no group_by: one group per route", &config.Route{Receiver: "default"}, []step{
			{at: 0, do: upsert(fa, fb, fc)},
			{at: 30 * s, want: []string{"default a:open b:open c:open"}},
		}},
		{"continue: two receivers with their own timing", &config.Route{
			Receiver: "default", GroupBy: []string{"environment"},
			Routes: []config.Route{
				{Matchers: []string{`security="true"`}, Receiver: "security", Continue: true, GroupWait: dur(0)},
				{Matchers: []string{`environment="prod"`}, Receiver: "prod-team"},
			},
		}, []step{
			{at: 0, do: upsert(secFinding(), fc), want: []string{"security s:open"}},
			{at: 30 * s, want: []string{"default c:open", "prod-team s:open"}},
		}},
	}
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					runScenario(t, be.open(t), sc.route, sc.steps)
				})
			}
		})
	}
}

func noStates(t *testing.T, s *findings.Store, _ []receivers.Notification) {
	t.Helper()
	sts, err := s.NotifyStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 0 {
		t.Errorf("notify log not empty: %+v", sts)
	}
}

func runScenario(t *testing.T, store *findings.Store, route *config.Route, steps []step) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if route == nil {
		route = defaultRoute()
	}
	var now time.Time
	var got []receivers.Notification
	fail := false
	n := &Notifier{
		Store:  store,
		Router: NewRouter(route),
		Now:    func() time.Time { return now },
		Send: func(_ context.Context, nt receivers.Notification) error {
			if fail {
				return errors.New("queue down")
			}
			got = append(got, nt)
			return nil
		},
		ExternalURL: "https://plumb.example",
	}
	for _, st := range steps {
		now = t0.Add(st.at)
		if st.do != nil {
			if err := st.do(ctx, store, now); err != nil {
				t.Fatalf("at %s: %v", st.at, err)
			}
		}
		got, fail = nil, st.fail
		count, err := n.Flush(ctx, FlushOptions{Immediate: st.immediate})
		if st.fail {
			if err == nil || count != 0 {
				t.Errorf("at %s: failing send: count %d err %v", st.at, count, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("at %s: %v", st.at, err)
		}
		var sums []string
		for _, nt := range got {
			sums = append(sums, summary(nt))
		}
		sort.Strings(sums)
		if strings.Join(sums, "\n") != strings.Join(st.want, "\n") || count != len(got) {
			t.Errorf("at %s: sent %d %q, want %q", st.at, count, sums, st.want)
		}
		if st.check != nil {
			sort.Slice(got, func(i, j int) bool { return summary(got[i]) < summary(got[j]) })
			st.check(t, store, got)
		}
	}
}
