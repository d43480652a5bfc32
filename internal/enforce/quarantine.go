package enforce

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
)

// Verbs of resource-event actions (handlers tag and grant): additive
// changes plumb makes when a resource appears, recorded like every other
// action.
const (
	// VerbTag stamps tags on a resource (created-by, created-at).
	VerbTag Verb = "tag"
	// VerbGrant attaches a configured policy to a configured group.
	VerbGrant Verb = "grant"
)

// GuardQuarantined is the guard that keeps a resource from being
// quarantined twice, or again right after a person released it.
const GuardQuarantined = "quarantined"

// QuarantineSource is the action store as the quarantined guard reads it.
type QuarantineSource interface {
	Quarantines(ctx context.Context, fps []string) (map[string]*Action, error)
}

// Quarantined stops a quarantine of a finding whose resource plumb holds
// in quarantine already (a second one would save the quarantined state as
// its before-state, and its release would restore the quarantine), and
// one whose quarantine a person released since the finding last opened:
// the release is that person's decision, which the next scheduled run
// must not overturn. The finding reopening (it was resolved, then seen
// again) ends that.
type Quarantined struct {
	Store    QuarantineSource
	Evidence EvidenceSource
}

// Name implements Guard.
func (Quarantined) Name() string { return GuardQuarantined }

// Check implements Guard.
func (g Quarantined) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	var qs []*Candidate
	for _, c := range cands {
		if c.Action.Verb == VerbQuarantine {
			qs = append(qs, c)
		}
	}
	if len(qs) == 0 || g.Store == nil {
		return nil
	}
	latest, err := g.Store.Quarantines(ctx, fingerprints(qs))
	if err != nil {
		return err
	}
	var released []*Candidate
	for _, c := range qs {
		q, ok := latest[c.Action.Fingerprint]
		switch {
		case !ok || q.ID == c.Action.ID:
		case q.State == StateSucceeded:
			c.Block(GuardQuarantined, fmt.Sprintf("already quarantined by action %s at %s (plumb enforce release %s undoes it)",
				q.ID, q.UpdatedAt.UTC().Format(time.RFC3339), c.Action.Fingerprint))
		case q.State == StateReleased:
			released = append(released, c)
		}
	}
	if len(released) == 0 {
		return nil
	}
	var ev map[string]findings.Evidence
	if g.Evidence != nil {
		if ev, err = run.evidenceFor(ctx, g.Evidence, released); err != nil {
			return err
		}
	}
	for _, c := range released {
		q := latest[c.Action.Fingerprint]
		if e := ev[c.Action.Fingerprint]; !e.OpenSince.IsZero() && e.OpenSince.After(q.UpdatedAt) {
			continue // the finding reopened after the release: a new problem
		}
		c.Block(GuardQuarantined, fmt.Sprintf("its quarantine (action %s) was %s at %s; not quarantined again while the finding stays open: codify the resource, tag it plumb:protect or suppress the finding",
			q.ID, q.Reason, q.UpdatedAt.UTC().Format(time.RFC3339)))
	}
	return nil
}

// LiveGuardsFor are the guards the runner re-applies right before it
// executes an action of a verb. A release undoes plumb's own change and
// only needs the resource to exist in an allowed account; a tag or grant
// adds to a resource and needs the same. Everything else (delete,
// quarantine) gets LiveGuards.
func LiveGuardsFor(v Verb) []Guard {
	switch v {
	case VerbRelease, VerbTag, VerbGrant:
		return []Guard{Live{}}
	}
	return LiveGuards()
}

// resolves reports whether a finished action resolves its finding: a
// delete removed the problem; releasing an isolation ends the incident
// the isolation finding reported.
func resolves(a *Action) bool {
	switch {
	case a.Verb == VerbDelete:
		return true
	case a.Verb == VerbRelease && a.Kind == model.KindIsolated:
		return true
	}
	return false
}

// markReleased records on a quarantine that a finished release undid it.
func markReleased(ctx context.Context, actions *Store, rel *Action, now time.Time) error {
	if rel.Verb != VerbRelease || rel.Undoes == "" {
		return nil
	}
	q, err := actions.Get(ctx, rel.Undoes)
	if err != nil {
		return fmt.Errorf("mark quarantine released: %w", err)
	}
	if q.State == StateReleased {
		return nil
	}
	q.State, q.Reason, q.UpdatedAt = StateReleased, fmt.Sprintf("released by %s (action %s)", rel.Actor, rel.ID), now
	return actions.Put(ctx, q)
}
