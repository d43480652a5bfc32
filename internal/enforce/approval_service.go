package enforce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"plumb/internal/config"
)

// DecisionError is a decision plumb refuses: Forbidden when the identity
// may not decide (not an approver, approving their own request),
// otherwise a conflict with the action's state. The API answers 403 and
// 409.
type DecisionError struct {
	Forbidden bool
	Msg       string
}

func (e *DecisionError) Error() string { return e.Msg }

// Approvals records approvers' decisions on actions waiting for them and
// releases what is approved to the runner. The CLI, the API, the console
// and the GitHub comment poller all decide through it, with the
// approver's identity as a plain string (an API token's name, a console
// user, github:LOGIN).
type Approvals struct {
	Config  *config.Config
	Actions *Store
	// Runner queues approved actions at once; nil leaves them for the
	// next plumb enforce --apply, which finds the approval.
	Runner *Runner
	Now    func() time.Time
}

func (s *Approvals) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// DecideRequest is one decision.
type DecideRequest struct {
	ActionID string
	// Approver is who decides, as authenticated by the caller.
	Approver string
	Decision string
	Via      string
	Comment  string
	// DecisionID makes a decision idempotent (a GitHub comment id); empty
	// picks a new one.
	DecisionID string
}

// Decided is what a decision led to.
type Decided struct {
	Action *Action `json:"action"`
	// Released is true when the action was queued to run now.
	Released bool `json:"released"`
	// Note says what happens next.
	Note string `json:"note,omitempty"`
}

// Decide records an approval or rejection of an action awaiting
// approval. The approver must be one of the environment's approvers and,
// to approve, not one of the action's requesters. An approval that
// completes the requirement releases the action to the runner; a
// rejection stops it.
func (s *Approvals) Decide(ctx context.Context, req DecideRequest) (*Decided, error) {
	if req.Decision != DecisionApprove && req.Decision != DecisionReject {
		return nil, fmt.Errorf("decision %q: want approve or reject", req.Decision)
	}
	if strings.TrimSpace(req.Approver) == "" {
		return nil, &DecisionError{Forbidden: true, Msg: "no approver identity: decisions are recorded with who took them"}
	}
	a, err := s.findAction(ctx, req.ActionID)
	if err != nil {
		return nil, err
	}
	if a.State != StateAwaiting {
		why := ""
		if a.Reason != "" {
			why = " (" + a.Reason + ")"
		}
		return nil, &DecisionError{Msg: fmt.Sprintf("action %s is %s%s: only an action awaiting approval can be approved or rejected", a.ID, a.State, why)}
	}
	env, ok := s.Config.Environment(a.Environment)
	if !ok {
		return nil, &DecisionError{Msg: fmt.Sprintf("environment %q of action %s is no longer configured", a.Environment, a.ID)}
	}
	if !env.NeedsApproval() {
		return nil, &DecisionError{Msg: fmt.Sprintf("environment %s needs no approval (approval: none): run plumb enforce --apply", env.Name)}
	}
	requesters := []string{a.Actor}
	if a.Approval != nil {
		requesters = mergeNames(a.Approval.Requesters, a.Actor)
	}
	isRequester := false
	for _, r := range requesters {
		if r == req.Approver || (strings.HasPrefix(r, config.GitHubApproverPrefix) && strings.EqualFold(r, req.Approver)) {
			isRequester = true
		}
	}
	switch {
	case req.Decision == DecisionReject && isRequester:
		// A requester may withdraw their own request.
	case !env.MayApprove(req.Approver):
		return nil, &DecisionError{Forbidden: true, Msg: fmt.Sprintf("%s is not an approver of environment %s (approvers: %s)",
			req.Approver, env.Name, strings.Join(env.Approvers, ", "))}
	case req.Decision == DecisionApprove && isRequester:
		return nil, &DecisionError{Forbidden: true, Msg: fmt.Sprintf("%s requested action %s and cannot approve it: approval: %s needs another approver (%s)",
			req.Approver, a.ID, env.Approval, strings.Join(otherApprovers(env, requesters), ", "))}
	}
	now := s.now()
	hash := PlanHash(a)
	if _, err := s.Actions.RecordDecision(ctx, Decision{ID: req.DecisionID, Subject: a.ID, Environment: env.Name, PlanHash: hash,
		Approver: req.Approver, Decision: req.Decision, Via: req.Via, Comment: req.Comment, At: now}); err != nil {
		return nil, err
	}
	ds, err := s.Actions.Decisions(ctx, a.ID, hash)
	if err != nil {
		return nil, err
	}
	valid, expired, approved, rejected := Verdict(env, requesters, ds, now)
	a.Approval = &ApprovalStatus{Required: env.Approval, Approvers: env.Approvers, Requesters: requesters, PlanHash: hash,
		Decisions: valid, Approved: approved, Rejected: rejected}
	a.UpdatedAt = now
	out := &Decided{Action: a}
	switch {
	case rejected:
		a.State, a.Guard, a.Reason = StateBlocked, GuardApproval, "rejected: "+describeDecisions(valid, DecisionReject)
		out.Note = "rejected: the action will not run; a new plan (the drift changed) makes a new request"
	case !approved:
		a.Reason = waitingReason(env, requesters, expired)
		out.Note = "recorded; the action still " + a.Reason
	default:
		if verbs := Verbs(env.Enforcement); verbs[a.Kind] != a.Verb {
			out.Note = fmt.Sprintf("approved, but environment %s no longer has %s for %s: the action stays waiting", env.Name, a.Verb, a.Kind)
			break
		}
		if env.Enforcement.DryRun || s.Runner == nil {
			a.Reason = "approved: runs at the next plumb enforce --apply"
			if env.Enforcement.DryRun {
				a.Reason = fmt.Sprintf("approved, but environment %s has dry_run: true: runs at the next plumb enforce --apply once it is armed", env.Name)
			}
			out.Note = a.Reason
			break
		}
		if err := s.Runner.Release(ctx, env.Name, []*Action{a}); err != nil {
			return nil, err
		}
		out.Released = true
		out.Note = "approved: queued to run now (run " + a.RunID + ")"
		return out, nil
	}
	if err := s.Actions.Put(ctx, a); err != nil {
		return nil, err
	}
	return out, nil
}

// findAction reads an action by its id or an unambiguous prefix of at
// least 8 characters (what plumb enforce prints).
func (s *Approvals) findAction(ctx context.Context, id string) (*Action, error) {
	a, err := s.Actions.Get(ctx, id)
	if err == nil || !errors.Is(err, ErrNotFound) || len(id) < 8 {
		return a, err
	}
	as, err := s.Actions.Awaiting(ctx, "")
	if err != nil {
		return nil, err
	}
	var match []*Action
	for _, x := range as {
		if strings.HasPrefix(x.ID, id) {
			match = append(match, x)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("action %s: %w", id, ErrNotFound)
	case 1:
		return match[0], nil
	}
	return nil, &DecisionError{Msg: fmt.Sprintf("action id %s is ambiguous: %d actions awaiting approval start with it; give more of it", id, len(match))}
}

// otherApprovers lists who may approve a request of requesters.
func otherApprovers(env config.Environment, requesters []string) []string {
	var out []string
	for _, a := range env.Approvers {
		mine := false
		for _, r := range requesters {
			if r == a {
				mine = true
			}
		}
		if !mine {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []string{"none listed"}
	}
	return out
}
