package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

// openStores opens the action and findings stores on the queue's
// database, as plumb does.
func openStores(t testing.TB, backend string) (*Store, *findings.Store) {
	t.Helper()
	o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o.DatabaseURL = testenv.StartPostgres(t)
	} else {
		o.DataDir = t.TempDir()
	}
	q, err := queue.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	s, err := NewStore(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(context.Background(), q.DB(), q.Dialect()); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	fs, err := findings.NewStore(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return s, fs
}

func testAction(id, fp string, at time.Time, state State) *Action {
	return &Action{ID: id, RunID: "run-" + id, Fingerprint: fp, Environment: "prod", Verb: VerbDelete, State: state,
		Resource: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "b-" + id, Region: "us-east-1"},
		Actor:    "alice", CreatedAt: at, UpdatedAt: at}
}

func TestStore(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s, _ := openStores(t, backend)
			t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			var all []*Action
			for i := 0; i < 7; i++ {
				state := StateSucceeded
				if i == 3 {
					state = StatePlanned
				}
				all = append(all, testAction(fmt.Sprintf("a%d", i), fmt.Sprintf("fp%d", i%3), t0.Add(time.Duration(i)*time.Minute), state))
			}
			if err := s.Insert(ctx, all); err != nil {
				t.Fatal(err)
			}
			// Inserting again (a resumed job) keeps the stored record.
			again := *all[0]
			again.State = StateFailed
			if err := s.Insert(ctx, []*Action{&again}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "a0")
			if err != nil || got.State != StateSucceeded || got.Actor != "alice" || !got.CreatedAt.Equal(t0) {
				t.Errorf("get a0 after a second insert: %+v %v", got, err)
			}
			if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown id: %v", err)
			}

			// Pages of 3, newest first, with a total and a cursor.
			var seen []string
			cursor := ""
			for page := 0; ; page++ {
				p, err := s.List(ctx, Query{Environment: "prod", Limit: 3, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != 7 {
					t.Errorf("total %d", p.Total)
				}
				for _, a := range p.Actions {
					seen = append(seen, a.ID)
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
				if page > 5 {
					t.Fatal("cursor does not advance")
				}
			}
			if fmt.Sprint(seen) != "[a6 a5 a4 a3 a2 a1 a0]" {
				t.Errorf("pages: %v", seen)
			}
			p, err := s.List(ctx, Query{Fingerprint: "fp0"})
			if err != nil || p.Total != 3 || len(p.Actions) != 3 || p.NextCursor != "" {
				t.Errorf("by fingerprint: %d/%d %v", len(p.Actions), p.Total, err)
			}
			if _, err := s.List(ctx, Query{Fingerprint: "fp1", Cursor: cursor}); !errors.Is(err, ErrCursor) {
				t.Errorf("cursor reused with other filters: %v", err)
			}
			if _, err := s.List(ctx, Query{Cursor: "garbage"}); !errors.Is(err, ErrCursor) {
				t.Errorf("garbage cursor: %v", err)
			}
			if _, err := s.List(ctx, Query{Limit: 1001}); err == nil {
				t.Error("limit above 1000 accepted")
			}

			busy, err := s.InFlight(ctx, []string{"fp0", "fp1", "fp2"})
			if err != nil || len(busy) != 1 || busy["fp0"] == nil || busy["fp0"].ID != "a3" {
				t.Errorf("in flight: %v %v", busy, err)
			}

			// The first before-state saved wins.
			first, err := s.SaveBefore(ctx, "a3", json.RawMessage(`{"n":1}`))
			if err != nil || string(first) != `{"n":1}` {
				t.Fatalf("save before: %s %v", first, err)
			}
			second, err := s.SaveBefore(ctx, "a3", json.RawMessage(`{"n":2}`))
			if err != nil || string(second) != `{"n":1}` {
				t.Errorf("second save returned %s %v, want the first", second, err)
			}
			got, _ = s.Get(ctx, "a3")
			got.State, got.Result = StateSucceeded, "deleted"
			got.Calls = []Call{{Service: "S3", Operation: "DeleteBucket", Write: true}}
			if err := s.Put(ctx, got); err != nil {
				t.Fatal(err)
			}
			got, _ = s.Get(ctx, "a3")
			if got.State != StateSucceeded || string(got.Before) != `{"n":1}` || len(got.Calls) != 1 {
				t.Errorf("after put: %+v", got)
			}
			if busy, _ := s.InFlight(ctx, []string{"fp0"}); len(busy) != 0 {
				t.Errorf("still in flight after success: %v", busy)
			}
			run, err := s.Run(ctx, "run-a3")
			if err != nil || len(run) != 1 || run[0].ID != "a3" {
				t.Errorf("run: %v %v", run, err)
			}
		})
	}
}
