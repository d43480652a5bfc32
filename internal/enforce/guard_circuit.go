package enforce

import (
	"context"
	"fmt"
)

// CircuitBreaker judges the run as a whole: if more actions passed the
// guards before it than max_actions allows, or they would touch more
// than max_fraction of the environment's resources, it blocks all of
// them and records a Trip (the caller opens one enforce.circuit_open
// finding). A state file that went missing makes everything look
// unmanaged; this is what keeps that from becoming a mass delete.
type CircuitBreaker struct {
	// Size counts the environment's resources: declared ones plus open
	// unmanaged findings.
	Size func(ctx context.Context, environment string) (int, error)
}

// Name implements Guard.
func (CircuitBreaker) Name() string { return GuardCircuit }

// Check implements Guard.
func (g CircuitBreaker) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	s := run.Settings()
	n := len(cands)
	total := 0
	if g.Size != nil {
		var err error
		if total, err = g.Size(ctx, run.Environment.Name); err != nil {
			return err
		}
	}
	if total < n {
		// Never divide by a whole smaller than the part.
		total = n
	}
	frac := float64(n) / float64(total)
	var reason string
	switch {
	case n > s.MaxActions:
		reason = fmt.Sprintf("%d actions would run, more than max_actions %d", n, s.MaxActions)
	case frac > s.MaxFraction:
		reason = fmt.Sprintf("%d actions would touch %.1f%% of the environment's %d resources, more than max_fraction %g", n, 100*frac, total, s.MaxFraction)
	default:
		return nil
	}
	run.Trip = &Trip{Actions: n, Resources: total, Fraction: frac, Reason: reason}
	for _, c := range cands {
		c.Block(GuardCircuit, reason+": acting on none")
	}
	return nil
}
