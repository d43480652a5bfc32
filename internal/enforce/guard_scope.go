package enforce

import (
	"context"
)

// CompleteScope acts only on findings that the environment's latest scan
// saw in a scope (type and region) it read completely. A finding from an
// event, from a scan that could not read its scope, or last seen by an
// older scan than the latest is not acted on: a partial view of the
// estate never triggers an action in the part it could not see.
type CompleteScope struct {
	Evidence EvidenceSource
}

// Name implements Guard.
func (CompleteScope) Name() string { return GuardScope }

// Check implements Guard.
func (g CompleteScope) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	ev, err := run.evidenceFor(ctx, g.Evidence, cands)
	if err != nil {
		return err
	}
	for _, c := range cands {
		e := ev[c.Action.Fingerprint]
		switch {
		case e.Status == "":
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
