package enforce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Quarantines returns, for the fingerprints given, the latest quarantine
// that took effect (succeeded, whether or not released since), by
// fingerprint. A quarantine that succeeded without a before-state found
// its resource gone and changed nothing; it is left out.
func (s *Store) Quarantines(ctx context.Context, fps []string) (map[string]*Action, error) {
	out := map[string]*Action{}
	const chunk = 500
	for start := 0; start < len(fps); start += chunk {
		part := fps[start:min(start+chunk, len(fps))]
		args := []any{string(VerbQuarantine)}
		ph := make([]string, len(part))
		for i, fp := range part {
			ph[i] = "?"
			args = append(args, fp)
		}
		rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT body FROM plumb_action WHERE verb = ? AND state IN ('succeeded', 'released')
			AND fingerprint IN (`+strings.Join(ph, ", ")+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("quarantines: %w", err)
		}
		as, err := collect(rows)
		if err != nil {
			return nil, fmt.Errorf("quarantines: %w", err)
		}
		for _, a := range as {
			if len(a.Before) == 0 {
				continue
			}
			if old, ok := out[a.Fingerprint]; !ok || a.CreatedAt.After(old.CreatedAt) {
				out[a.Fingerprint] = a
			}
		}
	}
	return out, nil
}

// ErrNothingToRelease is a release asked for a finding whose resource
// plumb does not hold in quarantine (never quarantined, already
// released, or the quarantine changed nothing).
var ErrNothingToRelease = errors.New("no quarantine to release")

// ErrBusy is a release asked while an action on the finding is still
// queued or running.
var ErrBusy = errors.New("an action on this finding is still running")

// ActiveQuarantine returns the quarantine a release of fp would undo: the
// latest quarantine of the finding, which must have succeeded and not
// been released yet.
func (s *Store) ActiveQuarantine(ctx context.Context, fp string) (*Action, error) {
	busy, err := s.InFlight(ctx, []string{fp})
	if err != nil {
		return nil, err
	}
	if a, ok := busy[fp]; ok {
		return nil, fmt.Errorf("finding %s: %w: %s %s (action %s)", fp, ErrBusy, a.Verb, a.State, a.ID)
	}
	qs, err := s.Quarantines(ctx, []string{fp})
	if err != nil {
		return nil, err
	}
	q, ok := qs[fp]
	switch {
	case !ok:
		return nil, fmt.Errorf("finding %s: %w: plumb never quarantined its resource", fp, ErrNothingToRelease)
	case q.State == StateReleased:
		return nil, fmt.Errorf("finding %s: %w: action %s was released already (%s)", fp, ErrNothingToRelease, q.ID, q.Reason)
	}
	return q, nil
}

// CountSince counts the actions of an environment created since a time
// that took or may still take effect (planned, running, succeeded,
// released), releases left out: the event-time circuit breaker's window.
func (s *Store) CountSince(ctx context.Context, environment string, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM plumb_action WHERE environment = ? AND created_at >= ?
		AND state IN ('planned', 'running', 'succeeded', 'released') AND verb IN ('quarantine', 'delete')`),
		environment, since.UnixNano()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count actions of %s: %w", environment, err)
	}
	return n, nil
}
