package findings

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

// openStore opens the store the way plumb serve does: on the queue's
// database.
func openStore(t *testing.T, backend string) *Store {
	t.Helper()
	o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o.DatabaseURL = testenv.StartPostgres(t)
	} else {
		o.DataDir = t.TempDir()
	}
	q, err := queue.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open queue: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	s, err := NewStore(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	// A second NewStore on an existing table must work (restart).
	if _, err := NewStore(context.Background(), q.DB(), q.Dialect()); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return s
}

func finding(kind model.Kind, env, id, msg string) model.Finding {
	return model.Finding{
		Kind:        kind,
		Severity:    "high",
		Fingerprint: model.Fingerprint(kind, env, "aws", "aws_s3_bucket", "us-east-1", id, ""),
		Environment: env,
		Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"},
		Message:     msg,
	}
}

func TestStore(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			a := finding("drift.changed", "prod", "bucket-a", "first")
			b := finding("drift.unmanaged", "prod", "bucket-b", "b")
			c := finding("drift.changed", "dev", "bucket-c", "c")

			if err := s.Upsert(ctx, t0, []model.Finding{a, b, c, a}); err != nil {
				t.Fatal(err)
			}
			a2 := a
			a2.Message = "second"
			if err := s.Upsert(ctx, t0.Add(time.Hour), []model.Finding{a2}); err != nil {
				t.Fatal(err)
			}
			r, err := s.Get(ctx, a.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if r.Count != 2 || !r.FirstSeen.Equal(t0) || !r.LastSeen.Equal(t0.Add(time.Hour)) || r.Status != StatusOpen || r.Finding.Message != "second" || r.ResolvedAt != nil {
				t.Errorf("after two upserts: %+v", r)
			}
			if !r.Finding.FirstSeen.Equal(t0) || r.Finding.Resource.ID != "bucket-a" {
				t.Errorf("finding fields: %+v", r.Finding)
			}

			if err := s.Resolve(ctx, t0.Add(2*time.Hour), []string{a.Fingerprint, "unknown"}); err != nil {
				t.Fatal(err)
			}
			r, _ = s.Get(ctx, a.Fingerprint)
			if r.Status != StatusResolved || r.ResolvedAt == nil || !r.ResolvedAt.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("after resolve: %+v", r)
			}

			cases := []struct {
				name string
				q    Query
				want []string
			}{
				{"all", Query{}, []string{a.Fingerprint, b.Fingerprint, c.Fingerprint}},
				{"resolved", Query{Status: StatusResolved}, []string{a.Fingerprint}},
				{"open prod", Query{Status: StatusOpen, Environment: "prod"}, []string{b.Fingerprint}},
				{"kind", Query{Kind: "drift.changed"}, []string{a.Fingerprint, c.Fingerprint}},
				// First seen at the same time: the highest fingerprint first.
				{"limit", Query{Limit: 1}, []string{maxString(a.Fingerprint, b.Fingerprint, c.Fingerprint)}},
			}
			for _, tc := range cases {
				got, err := s.List(ctx, tc.q)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !sameSet(fingerprints(got.Records), tc.want) {
					t.Errorf("%s: got %v, want %v", tc.name, fingerprints(got.Records), tc.want)
				}
			}

			// Seen again after resolving: reopened, same first_seen.
			if err := s.Upsert(ctx, t0.Add(3*time.Hour), []model.Finding{a}); err != nil {
				t.Fatal(err)
			}
			r, _ = s.Get(ctx, a.Fingerprint)
			if r.Status != StatusOpen || r.ResolvedAt != nil || r.Count != 3 || !r.FirstSeen.Equal(t0) {
				t.Errorf("after reopen: %+v", r)
			}

			if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get unknown: %v", err)
			}
			if err := s.Upsert(ctx, t0, []model.Finding{{Message: "no fingerprint"}}); err == nil {
				t.Error("finding without fingerprint accepted")
			}
		})
	}
}

func maxString(s ...string) string {
	m := s[0]
	for _, x := range s[1:] {
		m = max(m, x)
	}
	return m
}

func fingerprints(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Finding.Fingerprint
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestUpsertOccurrence: the same occurrence (a delivery re-run after a
// crash) counts once; a new occurrence counts again; pruning forgets old
// occurrences.
func TestUpsertOccurrence(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			a := finding("audit.unexpected_write", "prod", "nsg-1", "write")
			steps := []struct {
				at         time.Time
				occurrence string
				wantCount  int
			}{
				{t0, "delivery-1", 1},
				{t0.Add(time.Minute), "delivery-1", 1},
				{t0.Add(2 * time.Minute), "delivery-2", 2},
				{t0.Add(3 * time.Minute), "delivery-2", 2},
				{t0.Add(OccurrenceRetention + time.Hour), "delivery-3", 3},
				{t0.Add(OccurrenceRetention + 2*time.Hour), "delivery-1", 4},
			}
			for i, st := range steps {
				if err := s.UpsertOccurrence(ctx, st.at, st.occurrence, []model.Finding{a}); err != nil {
					t.Fatal(err)
				}
				r, err := s.Get(ctx, a.Fingerprint)
				if err != nil {
					t.Fatal(err)
				}
				if r.Count != st.wantCount {
					t.Errorf("step %d (%s): count %d, want %d", i, st.occurrence, r.Count, st.wantCount)
				}
			}
			if err := s.UpsertOccurrence(ctx, t0, "", []model.Finding{a}); err == nil {
				t.Error("empty occurrence accepted")
			}
		})
	}
}
