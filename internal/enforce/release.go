package enforce

import (
	"context"
	"fmt"
	"time"
)

// ReleaseRequest asks to undo the quarantine of one finding's resource.
type ReleaseRequest struct {
	Fingerprint string
	// Actor is who releases; Reason is recorded with the release.
	Actor  string
	Reason string
	// RunID names the run; empty picks a new one.
	RunID string
}

// ReleaseGuards are the stages a release passes: the executor can do it,
// nothing else runs on the finding, plumb acts in an allowed account, and
// the resource is still there. A release undoes plumb's own change, so
// the protections against touching other people's resources (declared,
// protect tags, grace, circuit breaker, dry run) do not apply: a protect
// tag added to a quarantined resource must not keep it quarantined.
func ReleaseGuards(src Sources) []Guard {
	return []Guard{Supported{}, InFlight{Store: src.InFlight}, Live{}, Account{}}
}

// Release undoes the active quarantine of a finding's resource: it plans
// one release action that restores the quarantine's saved before-state and
// hands it to the runner (the durable queue). The returned plan holds that
// action, planned or blocked. ErrNothingToRelease when the finding's
// resource is not held in quarantine, ErrBusy while an action on it runs.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (*Plan, error) {
	q, err := s.Actions.ActiveQuarantine(ctx, req.Fingerprint)
	if err != nil {
		return nil, err
	}
	env, ok := s.Config.Environment(q.Environment)
	if !ok {
		return nil, fmt.Errorf("release %s: environment %q is no longer in %s", req.Fingerprint, q.Environment, s.Config.Path)
	}
	now := s.now()
	runID := req.RunID
	if runID == "" {
		runID = newID()
	}
	actor := req.Actor
	if actor == "" {
		actor = "unknown"
	}
	why := "release of quarantine " + q.ID
	if req.Reason != "" {
		why += ": " + req.Reason
	}
	a := &Action{ID: actionID(runID, req.Fingerprint, VerbRelease), RunID: runID, Fingerprint: req.Fingerprint,
		Environment: env.Name, Verb: VerbRelease, Resource: q.Resource, Kind: q.Kind, Why: why, Actor: actor,
		State: StatePlanned, Undoes: q.ID, Restore: q.Before, CreatedAt: now, UpdatedAt: now}
	plan := &Plan{RunID: runID, Environment: env.Name, Apply: true, DryRun: env.Enforcement.DryRun, At: now, Notes: []string{}}
	c := &Candidate{Action: a}
	run := &Run{Environment: env, Now: now, Apply: true, Executors: s.Executors}
	RunGuards(ctx, run, ReleaseGuards(Sources{InFlight: s.Actions}), []*Candidate{c})
	plan.Errors = run.Errors
	plan.Actions = []*Action{a}
	if c.Done() {
		// The resource is gone: there is nothing left to restore.
		a.Result = "the resource is gone: nothing to restore"
		if err := s.Actions.Insert(ctx, []*Action{a}); err != nil {
			return plan, err
		}
		return plan, markReleased(ctx, s.Actions, a, now)
	}
	if s.Runner != nil {
		if err := s.Runner.Submit(ctx, plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
