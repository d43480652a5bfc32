package enforce

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"plumb/internal/config"
)

// Decisions an approver can take.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// Where a decision came from.
const (
	ViaCLI     = "cli"
	ViaAPI     = "api"
	ViaGitHub  = "github"
	ViaConsole = "console"
)

// GuardApproval names the approval stage.
const GuardApproval = "approval"

// ApprovalStatus is an action's approval: what the environment requires,
// who asked, who may decide and what was decided about this exact plan.
type ApprovalStatus struct {
	// Required is the environment's approval: peer or management.
	Required  string   `json:"required"`
	Approvers []string `json:"approvers"`
	// Requesters are who asked for the action (the actors of the runs
	// that planned it); none of them may approve it.
	Requesters []string `json:"requesters"`
	// PlanHash is the plan the decisions are bound to.
	PlanHash string `json:"plan_hash"`
	// Decisions are the valid decisions on this plan, oldest first.
	Decisions []Decision `json:"decisions,omitempty"`
	// Approved and Rejected summarise them.
	Approved bool `json:"approved"`
	Rejected bool `json:"rejected"`
}

// Decision is one approver's decision on one plan: an action's plan
// (Subject is the action id) or a change set promoted into an environment
// (Subject is "changeset:HASH"). It is bound to PlanHash and valid for the
// environment's approval_ttl after At.
type Decision struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	Environment string    `json:"environment"`
	PlanHash    string    `json:"plan_hash"`
	Approver    string    `json:"approver"`
	Decision    string    `json:"decision"`
	Via         string    `json:"via"`
	Comment     string    `json:"comment,omitempty"`
	At          time.Time `json:"at"`
	// ExpiresAt is At plus the approval_ttl in force when it was read.
	ExpiresAt time.Time `json:"expires_at"`
}

// Verdict judges decisions on one plan under an environment's settings
// at now: only approvers still listed count, never a requester's
// approval, never an expired one; an approver's latest decision replaces
// their earlier ones. Any standing rejection rejects; otherwise one
// approval approves. Expired lists the decisions that no longer count
// because of their age, so the action can say why it waits again.
func Verdict(env config.Environment, requesters []string, ds []Decision, now time.Time) (valid []Decision, expired []Decision, approved, rejected bool) {
	latest := map[string]Decision{}
	for _, d := range ds {
		d.ExpiresAt = d.At.Add(env.ApprovalTTL)
		if !env.MayApprove(d.Approver) && !(d.Decision == DecisionReject && slices.Contains(requesters, d.Approver)) {
			continue
		}
		if d.Decision == DecisionApprove && slices.Contains(requesters, d.Approver) {
			continue
		}
		if !now.Before(d.ExpiresAt) {
			expired = append(expired, d)
			continue
		}
		if prev, ok := latest[d.Approver]; !ok || !d.At.Before(prev.At) {
			latest[d.Approver] = d
		}
	}
	for _, d := range latest {
		valid = append(valid, d)
		switch d.Decision {
		case DecisionReject:
			rejected = true
		case DecisionApprove:
			approved = true
		}
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].At.Before(valid[j].At) })
	return valid, expired, approved && !rejected, rejected
}

// PlanHash is what an action's approval is bound to: its revert plan's
// hash, or for other verbs the verb and the resource.
func PlanHash(a *Action) string {
	if a.Revert != nil && a.Revert.Hash != "" {
		return a.Revert.Hash
	}
	h, _ := HashJSON([]string{string(a.Verb), a.Resource.Provider, a.Resource.Type, a.Resource.Region, a.Resource.ID})
	return h
}

// awaitingID names the one record of a request for approval: the same
// finding, verb and plan since the finding last opened is the same
// request, whatever run planned it, so an approval given to it holds
// across runs; a different plan is a different request.
func awaitingID(fingerprint string, verb Verb, planHash string, openSince time.Time) string {
	return actionID("approval", fingerprint+"\x00"+planHash+"\x00"+openSince.UTC().Format(time.RFC3339Nano), verb)
}

// DecisionSource is where the approval guard reads decisions: the
// action store.
type DecisionSource interface {
	Decisions(ctx context.Context, subject, planHash string) ([]Decision, error)
}

// Approval is the guard stage of environments with approval: peer or
// management. At planning it parks an action that has no approval of its
// exact plan in awaiting_approval (with the plan attached) instead of
// blocking it, stops one an approver rejected, and lets an approved one
// run. At execution (Execution: true) it checks again, so an approval
// that expired while the action waited stops it.
type Approval struct {
	Store    DecisionSource
	Evidence EvidenceSource
	// Execution is set on the runner's copy: the action keeps its id and
	// is blocked, not parked, without a valid approval.
	Execution bool
}

// Name implements Guard.
func (Approval) Name() string { return GuardApproval }

// Check implements Guard.
func (g Approval) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	env := run.Environment
	if !env.NeedsApproval() {
		return nil
	}
	openSince := map[string]time.Time{}
	if !g.Execution && g.Evidence != nil {
		got, err := run.evidenceFor(ctx, g.Evidence, cands)
		if err != nil {
			return err
		}
		for fp, e := range got {
			openSince[fp] = e.OpenSince
		}
	}
	for _, c := range cands {
		a := c.Action
		hash := PlanHash(a)
		if !g.Execution {
			a.ID = awaitingID(a.Fingerprint, a.Verb, hash, openSince[a.Fingerprint])
		}
		requesters := []string{a.Actor}
		if a.Approval != nil {
			requesters = mergeNames(a.Approval.Requesters, a.Actor)
		}
		ds, err := g.Store.Decisions(ctx, a.ID, hash)
		if err != nil {
			return err
		}
		valid, expired, approved, rejected := Verdict(env, requesters, ds, run.Now)
		a.Approval = &ApprovalStatus{Required: env.Approval, Approvers: env.Approvers, Requesters: requesters,
			PlanHash: hash, Decisions: valid, Approved: approved, Rejected: rejected}
		switch {
		case rejected:
			c.Block(GuardApproval, "rejected: "+describeDecisions(valid, DecisionReject))
		case approved:
			// Passes.
		case g.Execution:
			c.Block(GuardApproval, waitingReason(env, requesters, expired)+" (no valid approval at execution)")
		default:
			c.Await(GuardApproval, waitingReason(env, requesters, expired))
		}
	}
	return nil
}

// waitingReason says who may approve, and why an earlier approval no
// longer counts.
func waitingReason(env config.Environment, requesters []string, expired []Decision) string {
	var who []string
	for _, a := range env.Approvers {
		if !slices.Contains(requesters, a) {
			who = append(who, a)
		}
	}
	msg := fmt.Sprintf("waits for %s approval by one of %s (requested by %s)", env.Approval, strings.Join(who, ", "), strings.Join(requesters, ", "))
	for _, d := range expired {
		if d.Decision == DecisionApprove {
			msg += fmt.Sprintf("; the approval by %s at %s expired (approval_ttl %s)", d.Approver, d.At.UTC().Format(time.RFC3339), env.ApprovalTTL)
		}
	}
	return msg
}

func describeDecisions(ds []Decision, decision string) string {
	var parts []string
	for _, d := range ds {
		if d.Decision != decision {
			continue
		}
		s := fmt.Sprintf("by %s at %s", d.Approver, d.At.UTC().Format(time.RFC3339))
		if d.Comment != "" {
			s += ": " + d.Comment
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// mergeNames adds name to a list once.
func mergeNames(list []string, names ...string) []string {
	out := append([]string(nil), list...)
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
