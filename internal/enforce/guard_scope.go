package enforce

import (
	"context"

	"plumb/internal/findings"
)

// CompleteScope acts only on findings that the environment's latest scan
// saw in a scope (type and region) it read completely. A finding from an
// event, from a scan that could not read its scope, or last seen by an
// older scan than the latest is not acted on: a partial view of the
// estate never triggers an action in the part it could not see.
type CompleteScope struct {
	Evidence interface {
		Evidence(ctx context.Context, fps []string) (map[string]findings.Evidence, error)
	}
}

// Name implements Guard.
func (CompleteScope) Name() string { return GuardScope }

// Check implements Guard.
func (g CompleteScope) Check(ctx context.Context, _ *Run, cands []*Candidate) error {
	ev, err := g.Evidence.Evidence(ctx, fingerprints(cands))
	if err != nil {
		return err
	}
	for _, c := range cands {
		e, ok := ev[c.Action.Fingerprint]
		switch {
		case !ok:
			c.Block(GuardScope, "the finding is not in the store")
		case e.ScanAt.IsZero():
			c.Block(GuardScope, "no scan of the environment is recorded (findings from events are confirmed by a scan first)")
		case e.CoveredAt.IsZero():
			c.Block(GuardScope, "no scan that saw this finding read its type and region completely")
		case !e.CoveredAt.Equal(e.ScanAt):
			c.Block(GuardScope, "the latest scan ("+e.ScanAt.Format("2006-01-02T15:04:05Z")+") did not read this finding's type and region completely")
		}
	}
	return nil
}
