package enforce

import (
	"context"
	"fmt"
)

// InFlight stops a second action on a finding while an earlier one is
// still queued or running, so two runs (a scheduled one and an operator's)
// never act on the same resource at once.
type InFlight struct {
	Store interface {
		InFlight(ctx context.Context, fps []string) (map[string]*Action, error)
	}
}

// Name implements Guard.
func (InFlight) Name() string { return GuardInFlight }

// Check implements Guard.
func (g InFlight) Check(ctx context.Context, _ *Run, cands []*Candidate) error {
	if g.Store == nil {
		return nil
	}
	busy, err := g.Store.InFlight(ctx, fingerprints(cands))
	if err != nil {
		return err
	}
	for _, c := range cands {
		if a, ok := busy[c.Action.Fingerprint]; ok && a.ID != c.Action.ID {
			c.Block(GuardInFlight, fmt.Sprintf("action %s (run %s) on this finding is still %s", a.ID, a.RunID, a.State))
		}
	}
	return nil
}
