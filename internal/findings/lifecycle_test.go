package findings

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"plumb/internal/model"
)

var driftKinds = []model.Kind{model.KindUnmanaged, model.KindMissing, model.KindChanged}

func coverAll(model.Finding) bool { return true }

// wantState checks a finding's status and count.
func wantState(t *testing.T, s *Store, step, fp, status string, count int) Record {
	t.Helper()
	r, err := s.Get(context.Background(), fp)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if r.Status != status || (count > 0 && r.Count != count) {
		t.Errorf("%s: status %s count %d, want %s count %d", step, r.Status, r.Count, status, count)
	}
	return r
}

func actions(hs []HistoryEntry) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Action
	}
	return out
}

// TestReconcile walks findings through scans: a complete scan resolves
// what it no longer finds, a partial one keeps what it could not see, a
// finding found again reopens under the same fingerprint, other kinds and
// environments are left alone.
func TestReconcile(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			a := finding(model.KindChanged, "prod", "bucket-a", "a")
			b := finding(model.KindUnmanaged, "prod", "bucket-b", "b")
			d := finding(model.KindMissing, "prod", "bucket-d", "d")
			d.Resource.Region = "eu-west-1"
			d.Fingerprint = model.Fingerprint(d.Kind, "prod", "aws", "aws_s3_bucket", "eu-west-1", "bucket-d", "")
			alert := finding(model.KindAlert, "prod", "alert-1", "cpu high")
			other := finding(model.KindChanged, "dev", "bucket-c", "c")
			if err := s.Upsert(ctx, t0, []model.Finding{alert, other}); err != nil {
				t.Fatal(err)
			}
			noEU := func(f model.Finding) bool { return f.Resource.Region != "eu-west-1" }

			steps := []struct {
				name    string
				found   []model.Finding
				covered func(model.Finding) bool
				want    ReconcileResult
				status  map[string]string
			}{
				{"first scan", []model.Finding{a, b, d, a}, coverAll, ReconcileResult{Opened: 3},
					map[string]string{a.Fingerprint: StatusOpen, b.Fingerprint: StatusOpen, d.Fingerprint: StatusOpen}},
				{"complete scan misses b", []model.Finding{a, d}, coverAll, ReconcileResult{Updated: 2, Resolved: 1},
					map[string]string{b.Fingerprint: StatusResolved, alert.Fingerprint: StatusOpen, other.Fingerprint: StatusOpen}},
				{"eu-west-1 unreadable", []model.Finding{a}, noEU, ReconcileResult{Updated: 1, Kept: 1},
					map[string]string{d.Fingerprint: StatusOpen}},
				{"nil covered resolves nothing", []model.Finding{a}, nil, ReconcileResult{Updated: 1, Kept: 1},
					map[string]string{d.Fingerprint: StatusOpen}},
				{"b back", []model.Finding{a, b, d}, coverAll, ReconcileResult{Reopened: 1, Updated: 2},
					map[string]string{b.Fingerprint: StatusOpen}},
				{"empty complete scan", nil, coverAll, ReconcileResult{Resolved: 3},
					map[string]string{a.Fingerprint: StatusResolved, b.Fingerprint: StatusResolved, d.Fingerprint: StatusResolved,
						alert.Fingerprint: StatusOpen, other.Fingerprint: StatusOpen}},
			}
			for i, st := range steps {
				got, err := s.Reconcile(ctx, t0.Add(time.Duration(i+1)*time.Hour), "prod", driftKinds, st.found, st.covered)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got != st.want {
					t.Errorf("%s: %+v, want %+v", st.name, got, st.want)
				}
				for fp, status := range st.status {
					wantState(t, s, st.name, fp, status, 0)
				}
			}
			r := wantState(t, s, "end", b.Fingerprint, StatusResolved, 2)
			if !r.FirstSeen.Equal(t0.Add(time.Hour)) || r.ResolvedAt == nil || !r.ResolvedAt.Equal(t0.Add(6*time.Hour)) {
				t.Errorf("b times: %+v", r)
			}
			hs, err := s.History(ctx, b.Fingerprint, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{ActionOpened, ActionResolved, ActionReopened, ActionResolved}; !reflect.DeepEqual(actions(hs), want) {
				t.Errorf("history of b: %v, want %v", actions(hs), want)
			}
			if len(hs) == 4 && (!hs[0].At.Equal(t0.Add(time.Hour)) || !hs[2].At.Equal(t0.Add(5*time.Hour)) || hs[1].Detail != "not found by a complete scan") {
				t.Errorf("history entries: %+v", hs)
			}
			// The alert is not the drift scan's to resolve: it has one entry.
			if hs, _ := s.History(ctx, alert.Fingerprint, 0); !reflect.DeepEqual(actions(hs), []string{ActionOpened}) {
				t.Errorf("alert history: %v", actions(hs))
			}
			if _, err := s.Reconcile(ctx, t0, "prod", driftKinds, []model.Finding{{Message: "x"}}, coverAll); err == nil {
				t.Error("finding without fingerprint accepted")
			}
		})
	}
}

// TestManualTransitions: suppress survives being seen again and complete
// scans, unsuppress reopens, ResolveOne records the reason, history keeps
// every transition in order.
func TestManualTransitions(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
			a := finding(model.KindChanged, "prod", "bucket-a", "a")
			a2 := a
			a2.Message = "a, differently"

			steps := []struct {
				name   string
				do     func() error
				status string
				count  int
			}{
				{"open", func() error { return s.Upsert(ctx, at(0), []model.Finding{a}) }, StatusOpen, 1},
				{"seen unchanged", func() error { return s.Upsert(ctx, at(1), []model.Finding{a}) }, StatusOpen, 2},
				{"seen changed", func() error { return s.Upsert(ctx, at(2), []model.Finding{a2}) }, StatusOpen, 3},
				{"suppress", func() error { return s.Suppress(ctx, at(3), a.Fingerprint, "accepted risk") }, StatusSuppressed, 3},
				{"suppress again", func() error { return s.Suppress(ctx, at(4), a.Fingerprint, "again") }, StatusSuppressed, 3},
				{"seen while suppressed", func() error { return s.Upsert(ctx, at(5), []model.Finding{a2}) }, StatusSuppressed, 4},
				{"occurrence while suppressed", func() error { return s.UpsertOccurrence(ctx, at(6), "d1", []model.Finding{a2}) }, StatusSuppressed, 5},
				{"complete scan does not resolve suppressed", func() error {
					_, err := s.Reconcile(ctx, at(7), "prod", driftKinds, nil, coverAll)
					return err
				}, StatusSuppressed, 5},
				{"alert resolve leaves suppressed", func() error { return s.Resolve(ctx, at(8), []string{a.Fingerprint}) }, StatusSuppressed, 5},
				{"unsuppress", func() error { return s.Unsuppress(ctx, at(9), a.Fingerprint) }, StatusOpen, 5},
				{"unsuppress open is a no-op", func() error { return s.Unsuppress(ctx, at(10), a.Fingerprint) }, StatusOpen, 5},
				{"manual resolve", func() error { return s.ResolveOne(ctx, at(11), a.Fingerprint, "fixed by hand") }, StatusResolved, 5},
				{"manual resolve again", func() error { return s.ResolveOne(ctx, at(12), a.Fingerprint, "again") }, StatusResolved, 5},
				{"reopen", func() error { return s.Upsert(ctx, at(13), []model.Finding{a2}) }, StatusOpen, 6},
				{"resolve", func() error { return s.Resolve(ctx, at(14), []string{a.Fingerprint}) }, StatusResolved, 6},
				{"suppress resolved", func() error { return s.Suppress(ctx, at(15), a.Fingerprint, "") }, StatusSuppressed, 6},
				{"resolve suppressed by hand", func() error { return s.ResolveOne(ctx, at(16), a.Fingerprint, "") }, StatusResolved, 6},
			}
			for _, st := range steps {
				if err := st.do(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				r := wantState(t, s, st.name, a.Fingerprint, st.status, st.count)
				if (r.ResolvedAt != nil) != (st.status == StatusResolved) {
					t.Errorf("%s: resolved_at %v with status %s", st.name, r.ResolvedAt, r.Status)
				}
			}
			r := wantState(t, s, "end", a.Fingerprint, StatusResolved, 6)
			if !r.LastSeen.Equal(at(13)) || !r.ResolvedAt.Equal(at(16)) || r.Finding.Message != a2.Message {
				t.Errorf("record: %+v", r)
			}

			want := []HistoryEntry{
				{at(0), ActionOpened, "a"},
				{at(2), ActionSeenChanged, "changed: message"},
				{at(3), ActionSuppressed, "accepted risk"},
				{at(9), ActionUnsuppressed, ""},
				{at(11), ActionResolved, "manual: fixed by hand"},
				{at(13), ActionReopened, a2.Message},
				{at(14), ActionResolved, ""},
				{at(15), ActionSuppressed, ""},
				{at(16), ActionResolved, "manual"},
			}
			hs, err := s.History(ctx, a.Fingerprint, 100)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(hs, want) {
				t.Errorf("history:\n got %+v\nwant %+v", hs, want)
			}
			hs, err = s.History(ctx, a.Fingerprint, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(hs, want[len(want)-2:]) {
				t.Errorf("history limit 2: %+v", hs)
			}

			for name, err := range map[string]error{
				"suppress":   s.Suppress(ctx, t0, "nope", ""),
				"unsuppress": s.Unsuppress(ctx, t0, "nope"),
				"resolveOne": s.ResolveOne(ctx, t0, "nope", ""),
				"history": func() error {
					_, err := s.History(ctx, "nope", 0)
					return err
				}(),
			} {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%s unknown: %v, want ErrNotFound", name, err)
				}
			}
		})
	}
}

// TestRoutable: open findings always, resolved and suppressed ones only
// since the given time; GetMany finds any state.
func TestRoutable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite")
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	open := finding(model.KindChanged, "prod", "open", "")
	oldRes := finding(model.KindChanged, "prod", "old-resolved", "")
	newRes := finding(model.KindChanged, "prod", "new-resolved", "")
	oldSup := finding(model.KindChanged, "prod", "old-suppressed", "")
	newSup := finding(model.KindChanged, "prod", "new-suppressed", "")
	if err := s.Upsert(ctx, t0, []model.Finding{open, oldRes, newRes, oldSup, newSup}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Resolve(ctx, t0.Add(time.Minute), []string{oldRes.Fingerprint}))
	must(s.Suppress(ctx, t0.Add(time.Minute), oldSup.Fingerprint, ""))
	must(s.Resolve(ctx, t0.Add(time.Hour), []string{newRes.Fingerprint}))
	must(s.Suppress(ctx, t0.Add(time.Hour), newSup.Fingerprint, ""))

	cases := []struct {
		since time.Time
		want  []string
	}{
		{t0.Add(time.Hour), []string{open.Fingerprint, newRes.Fingerprint, newSup.Fingerprint}},
		{t0, []string{open.Fingerprint, oldRes.Fingerprint, newRes.Fingerprint, oldSup.Fingerprint, newSup.Fingerprint}},
		{t0.Add(2 * time.Hour), []string{open.Fingerprint}},
	}
	for _, tc := range cases {
		rs, err := s.Routable(ctx, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(fingerprints(rs), tc.want) {
			t.Errorf("since %s: %v, want %v", tc.since, fingerprints(rs), tc.want)
		}
	}
	rs, err := s.GetMany(ctx, []string{oldSup.Fingerprint, "nope", oldRes.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(fingerprints(rs), []string{oldSup.Fingerprint, oldRes.Fingerprint}) {
		t.Errorf("GetMany: %v", fingerprints(rs))
	}
}
