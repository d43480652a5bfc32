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
		// Event rows outlive their deliveries by the duplicate window;
		// a short one lets this test see them go.
		RetentionSucceeded: 50 * time.Millisecond,
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
	time.Sleep(100 * time.Millisecond) // past the duplicate window

	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	steps := []struct {
		name      string
		prune     func(context.Context, time.Time) (int64, error)
		before    time.Time
		wantN     int64
		wantGone  []int64
		wantStays []int64
	}{
		{"succeeded, cut-off before they finished", q.PruneSucceeded, past, 0, nil, []int64{okID, deadID, runID}},
		{"dead, cut-off before they finished", q.PruneDead, past, 0, nil, []int64{okID, deadID, runID}},
		// One job and its event row.
		{"succeeded past retention", q.PruneSucceeded, future, 2, []int64{okID}, []int64{deadID, runID}},
		{"dead past retention", q.PruneDead, future, 2, []int64{okID, deadID}, []int64{runID}},
		{"again: nothing left to prune", q.PruneDead, future, 0, []int64{okID, deadID}, []int64{runID}},
	}
	for _, st := range steps {
		n, err := st.prune(ctx, st.before)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if n != st.wantN {
			t.Errorf("%s: pruned %d rows, want %d", st.name, n, st.wantN)
		}
		for _, id := range st.wantGone {
			if _, err := q.GetEvent(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: event %d: %v, want not found", st.name, id, err)
			}
		}
		for _, id := range st.wantStays {
			if _, err := q.GetEvent(ctx, id); err != nil {
				t.Errorf("%s: event %d should stay: %v", st.name, id, err)
			}
		}
	}
	// A redelivery of a pruned event is new again, as documented: the
	// duplicate window is the succeeded retention.
	if res := mustEnqueue(t, q, item("ok", "good")); res.Accepted != 1 {
		t.Errorf("redelivery after prune: %+v, want accepted", res)
	}
}
