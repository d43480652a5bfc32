package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"plumb/internal/model"
	"plumb/internal/queue"
)

// executionGuards are the checks right before each write: the live
// guards, an open break-glass window, and (in environments that need it)
// a valid approval of the exact plan.
func (r *Runner) executionGuards() []Guard {
	gs := LiveGuards()
	gs = append(gs, BreakGlass{Windows: r.BreakGlass})
	return append(gs, Approval{Store: r.Actions, Execution: true})
}

// park stores a request for approval: one record per finding, verb and
// plan (awaitingID), kept across runs. A run planning the same request
// again adds its actor to the requesters and keeps the record's age; a
// request with a different plan for the same finding supersedes the older
// ones, whose approvals no longer apply.
func (r *Runner) park(ctx context.Context, a *Action) error {
	prev, err := r.Actions.Get(ctx, a.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		prev = nil
	case err != nil:
		return err
	}
	isNew := prev == nil || prev.State != StateAwaiting
	if prev != nil {
		a.CreatedAt = prev.CreatedAt
		if prev.Approval != nil && a.Approval != nil {
			a.Approval.Requesters = mergeNames(prev.Approval.Requesters, a.Approval.Requesters...)
		}
	}
	if err := r.Actions.Put(ctx, a); err != nil {
		return err
	}
	others, err := r.Actions.Awaiting(ctx, a.Fingerprint)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID == a.ID || o.Verb != a.Verb {
			continue
		}
		o.State, o.Guard, o.UpdatedAt = StateBlocked, GuardApproval, r.now()
		o.Reason = fmt.Sprintf("superseded by action %s: the plan changed since this one was requested, so it needs its own approval", a.ID)
		if err := r.Actions.Put(ctx, o); err != nil {
			return err
		}
	}
	if isNew && r.OnAwaiting != nil {
		r.OnAwaiting(ctx, a)
	}
	return nil
}

// Release queues approved actions as one new run, as Submit queues a
// plan's runnable actions.
func (r *Runner) Release(ctx context.Context, environment string, as []*Action) error {
	if len(as) == 0 {
		return nil
	}
	runID := newID()
	now := r.now()
	for _, a := range as {
		a.RunID, a.State, a.Guard, a.Reason, a.UpdatedAt = runID, StatePlanned, "", "", now
	}
	raw, err := json.Marshal(job{RunID: runID, Environment: environment, Actions: as})
	if err != nil {
		return fmt.Errorf("encode run %s: %w", runID, err)
	}
	item := queue.Item{
		Event:         model.Event{Source: EventSource, ID: runID, Type: "plumb.enforce.run", Subject: environment, Time: now, Raw: raw},
		Subscriptions: []string{SubscriptionPrefix + environment},
	}
	// Queue first, then store, as Submit does: a crash in between leaves
	// a job that runs the actions; the other way round would leave them
	// planned with no job.
	if _, err := r.Enqueue(ctx, []queue.Item{item}); err != nil {
		return fmt.Errorf("queue run %s: %w", runID, err)
	}
	for _, a := range as {
		if err := r.Actions.Put(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
