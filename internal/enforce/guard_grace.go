package enforce

import (
	"context"
	"fmt"
	"time"
)

// Grace acts only on findings open for at least the grace period, counted
// from the first notification delivered to a receiver since the finding
// (re)opened: the owning team got its issue first and had the grace
// period to claim the resource. A grace of 0 (quarantine only) acts at
// once, without waiting for a notification.
type Grace struct {
	Evidence EvidenceSource
}

// Name implements Guard.
func (Grace) Name() string { return GuardGrace }

// Check implements Guard.
func (g Grace) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	grace := run.Settings().Grace
	if grace == 0 {
		return nil
	}
	ev, err := run.evidenceFor(ctx, g.Evidence, cands)
	if err != nil {
		return err
	}
	for _, c := range cands {
		e := ev[c.Action.Fingerprint]
		switch {
		case e.Status == "":
			c.Block(GuardGrace, "the finding is not in the store")
		case e.FirstNotified.IsZero():
			c.Block(GuardGrace, "no notification of this finding was delivered yet (configure a route and receivers)")
		case run.Now.Sub(e.FirstNotified) < grace:
			left := grace - run.Now.Sub(e.FirstNotified)
			c.Block(GuardGrace, fmt.Sprintf("notified %s, grace %s: %s left", e.FirstNotified.Format(time.RFC3339), grace, left.Round(time.Second)))
		}
	}
	return nil
}
