package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/console"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Names of the console's enforcement actions: approve and reject carry
// the action's id after the prefix.
const (
	consoleApprove = "approve-"
	consoleReject  = "reject-"
	consoleRelease = "release"
)

// consoleActions puts enforcement on the console's finding page: actions
// of the finding awaiting approval (approve, reject) and an active
// quarantine (release). Decisions go through the same enforce.Approvals as
// POST /v1/actions/{id}/approve, with the console user's name as the
// approver's identity, and releases through the same service as POST
// /v1/enforce/release with the API role: an isolation needs the security
// operator's credential, which a console login never is.
type consoleActions struct {
	cfg *config.Config
	enf *enforcement
}

// Offer implements console.ActionProvider.
func (p *consoleActions) Offer(ctx context.Context, rec findings.Record) (console.Offer, error) {
	var o console.Offer
	fp := rec.Finding.Fingerprint
	waiting, err := p.enf.actions.Awaiting(ctx, fp)
	if err != nil {
		return o, err
	}
	for _, a := range waiting {
		what := describeAction(a)
		approved := a.Approval != nil && a.Approval.Approved
		note := fmt.Sprintf("Action %s (%s) is awaiting approval: %s.", a.ID, what, a.Reason)
		if approved {
			// Approved, yet held (a dry run, or the enforcement setting
			// changed): the reason says why it has not run.
			note = fmt.Sprintf("Action %s (%s) is approved and has not run: %s.", a.ID, what, strings.TrimPrefix(a.Reason, "approved, but "))
		}
		if a.Revert != nil && a.Revert.Summary != "" {
			note += " Plan: " + a.Revert.Summary
		}
		o.Notes = append(o.Notes, note)
		approvers, approval := "none listed", "none"
		if env, ok := p.cfg.Environment(a.Environment); ok {
			approval = env.Approval
			if len(env.Approvers) > 0 {
				approvers = strings.Join(env.Approvers, ", ")
			}
		}
		if !approved {
			o.Actions = append(o.Actions, console.Action{Name: consoleApprove + a.ID, Label: "Approve " + a.ID,
				Description: fmt.Sprintf("Approve %s in your name. Environment %s needs %s approval by one of: %s; whoever requested the action cannot approve it.",
					what, a.Environment, approval, approvers)})
		}
		o.Actions = append(o.Actions,
			console.Action{Name: consoleReject + a.ID, Label: "Reject " + a.ID, NeedsReason: true, Danger: true,
				Description: fmt.Sprintf("Reject %s in your name: it will not run (an approver or its requester may reject).", what)})
	}
	q, err := p.enf.actions.ActiveQuarantine(ctx, fp)
	switch {
	case errors.Is(err, enforce.ErrNothingToRelease):
	case errors.Is(err, enforce.ErrBusy):
		// Say so only where there is a quarantine to release.
		qs, qerr := p.enf.actions.Quarantines(ctx, []string{fp})
		if qerr != nil {
			return o, qerr
		}
		if q, ok := qs[fp]; ok && q.State == enforce.StateSucceeded {
			o.Notes = append(o.Notes, fmt.Sprintf("The resource is quarantined by action %s since %s (%s). Its release is not offered while enforcement acts on the finding (%v).",
				q.ID, q.UpdatedAt.UTC().Format(time.RFC3339), q.Why, err))
		}
	case err != nil:
		return o, err
	case q.Kind == model.KindIsolated:
		o.Notes = append(o.Notes, fmt.Sprintf("The resource is held in isolation by action %s since %s (%s). Release is not offered here: releasing an isolation needs the security operator's credential (server.operator_token), which no console login has; the security operator runs plumb enforce release %s --server URL with it.",
			q.ID, q.UpdatedAt.UTC().Format(time.RFC3339), q.Why, fp))
	default:
		o.Notes = append(o.Notes, fmt.Sprintf("The resource is quarantined by action %s since %s (%s).", q.ID, q.UpdatedAt.UTC().Format(time.RFC3339), q.Why))
		o.Actions = append(o.Actions, console.Action{Name: consoleRelease, Label: "Release the quarantine", NeedsReason: true,
			Description: fmt.Sprintf("Undo quarantine %s: the resource gets back the state saved before it; the release is recorded in your name with the reason, and the next runs do not quarantine it again while the finding stays open.", q.ID)})
	}
	return o, nil
}

// describeAction names what an action does, for the page.
func describeAction(a *enforce.Action) string {
	return fmt.Sprintf("%s of %s %s", a.Verb, a.Resource.Type, a.Resource.DisplayName())
}

// Do implements console.ActionProvider.
func (p *consoleActions) Do(ctx context.Context, rec findings.Record, action, user string, form url.Values) error {
	reason := strings.TrimSpace(form.Get("reason"))
	switch {
	case strings.HasPrefix(action, consoleApprove):
		return p.decide(ctx, strings.TrimPrefix(action, consoleApprove), user, enforce.DecisionApprove, reason)
	case strings.HasPrefix(action, consoleReject):
		return p.decide(ctx, strings.TrimPrefix(action, consoleReject), user, enforce.DecisionReject, reason)
	case action == consoleRelease:
		return p.release(ctx, rec.Finding.Fingerprint, user, reason)
	}
	return fmt.Errorf("unknown action %q", action)
}

// decide records user's decision as the API does for a named token.
func (p *consoleActions) decide(ctx context.Context, id, user, decision, comment string) error {
	_, err := p.enf.approvals.Decide(ctx, enforce.DecideRequest{ActionID: id, Approver: user, Decision: decision,
		Via: enforce.ViaConsole, Comment: comment})
	var de *enforce.DecisionError
	switch {
	case errors.As(err, &de) && de.Forbidden:
		return &console.RefusedError{Msg: de.Msg}
	case errors.As(err, &de), errors.Is(err, enforce.ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("record the decision: %w", err)
	}
	return nil
}

// release undoes the finding's active quarantine, as POST
// /v1/enforce/release with the API token does: an isolation is refused.
func (p *consoleActions) release(ctx context.Context, fp, user, reason string) error {
	q, err := p.enf.actions.ActiveQuarantine(ctx, fp)
	if err != nil {
		return err
	}
	if q.Kind == model.KindIsolated {
		return &console.RefusedError{Msg: "releasing an isolation needs the security operator's credential (server.operator_token)"}
	}
	plan, err := p.enf.service.Release(ctx, enforce.ReleaseRequest{Fingerprint: fp, Actor: user, Reason: reason})
	if err != nil {
		return err
	}
	if len(plan.Errors) > 0 {
		return fmt.Errorf("the release could not be planned: %s", strings.Join(plan.Errors, "; "))
	}
	if a := plan.Actions[0]; a.State == enforce.StateBlocked {
		return fmt.Errorf("the release was stopped by the %s guard: %s", a.Guard, a.Reason)
	}
	return nil
}
