package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPrune: succeeded and dead deliveries finalized before the cut-off
// are deleted with their events; later ones, pending ones and their
// events stay. Real SQLite and PostgreSQL.
func TestPrune(t *testing.T) {
	forEachBackend(t, map[string]func(t *testing.T, s store){
		"succeeded_and_dead": testPrune,
	})
}

func testPrune(t *testing.T, s store) {
	ctx := context.Background()
	block := make(chan struct{})
	q := s.open(Options{
		// Long enough that River's own cleaner (which also honours it)
		// leaves the succeeded job to this test.
		RetentionSucceeded: time.Hour,
		Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
			switch d.Subscription {
			case "bad":
				return Permanent(errors.New("malformed"))
			case "slow":
				select {
				case <-block:
				case <-ctx.Done():
				}
				return ctx.Err()
			}
			return nil
		}),
	})
	defer close(block)
	start(t, q)
	mustEnqueue(t, q, item("ok", "good"), item("dead", "bad"), item("running", "slow"))
	okID, deadID, runID := eventID(t, q, ev("ok").Key()), eventID(t, q, ev("dead").Key()), eventID(t, q, ev("running").Key())
	waitState(t, q, okID, StateSucceeded)
	waitState(t, q, deadID, StateDead)

	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	jobs := func(id int64) int {
		rec, err := q.GetEvent(ctx, id)
		if err != nil {
			t.Fatalf("event %d: %v", id, err)
		}
		return len(rec.Deliveries)
	}
	steps := []struct {
		name   string
		prune  func(context.Context, time.Time) (int64, error)
		before time.Time
		wantN  int64
		// deliveries left of ok, dead and running
		want [3]int
	}{
		{"succeeded, cut-off before they finished", q.PruneSucceeded, past, 0, [3]int{1, 1, 1}},
		{"dead, cut-off before they finished", q.PruneDead, past, 0, [3]int{1, 1, 1}},
		{"succeeded past retention", q.PruneSucceeded, future, 1, [3]int{0, 1, 1}},
		{"dead past retention", q.PruneDead, future, 1, [3]int{0, 0, 1}},
		{"again: nothing left to prune", q.PruneDead, future, 0, [3]int{0, 0, 1}},
	}
	for _, st := range steps {
		n, err := st.prune(ctx, st.before)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if n != st.wantN {
			t.Errorf("%s: pruned %d rows, want %d", st.name, n, st.wantN)
		}
		// Events stay for the duplicate window (an hour here) after
		// their deliveries are gone.
		got := [3]int{jobs(okID), jobs(deadID), jobs(runID)}
		if got != st.want {
			t.Errorf("%s: deliveries left %v, want %v", st.name, got, st.want)
		}
	}
	// Within the duplicate window a redelivery is still recognised, even
	// with its delivery pruned.
	if res := mustEnqueue(t, q, item("ok", "good")); res.Duplicates != 1 {
		t.Errorf("redelivery within the window: %+v, want a duplicate", res)
	}
}
