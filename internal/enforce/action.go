package enforce

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Verb is what an action does to a resource. The values are stored and
// shown in the API; they never change.
type Verb string

// Verbs.
const (
	// VerbDelete removes an unmanaged resource (drift kill).
	VerbDelete Verb = "delete"
	// VerbQuarantine isolates a resource reversibly.
	VerbQuarantine Verb = "quarantine"
	// VerbRevert puts a changed resource back as the code declares it.
	VerbRevert Verb = "revert"
	// VerbRelease undoes a quarantine from its saved before-state.
	VerbRelease Verb = "release"
	// VerbRecreate creates a missing resource again from the code.
	VerbRecreate Verb = "recreate"
)

// State is where an action stands.
type State string

// States of an action record.
const (
	// StatePlanned: passed every guard and handed to the queue.
	StatePlanned State = "planned"
	// StateBlocked: a guard stopped it (Guard and Reason say which, why).
	StateBlocked State = "blocked"
	// StateRunning: being executed, or waiting for a retry after a
	// failed attempt (Error holds the last failure).
	StateRunning State = "running"
	// StateSucceeded: done (or nothing was left to do).
	StateSucceeded State = "succeeded"
	// StateFailed: every attempt failed, or the failure is one no retry
	// can fix; Error says why.
	StateFailed State = "failed"
	// StateReleased: a quarantine undone.
	StateReleased State = "released"
	// StateAwaiting: passed every guard and waits for an approver (the
	// environment's approval setting); Revert holds the plan shown to
	// them, Approval who may decide.
	StateAwaiting State = "awaiting_approval"
)

// Actors that are not a person.
const (
	// ActorSchedule is plumb serve acting after a scheduled scan.
	ActorSchedule = "schedule"
)

// Action is one planned or executed change to one resource: the record
// the audit trail is made of.
type Action struct {
	ID          string         `json:"id"`
	RunID       string         `json:"run_id"`
	Fingerprint string         `json:"fingerprint"`
	Environment string         `json:"environment"`
	Verb        Verb           `json:"verb"`
	Resource    model.Resource `json:"resource"`
	// Kind and Why are the finding that asked for the action.
	Kind model.Kind `json:"kind"`
	Why  string     `json:"why"`
	// Actor is who or what started the run: a user name, a rule, or
	// "schedule".
	Actor string `json:"actor"`
	State State  `json:"state"`
	// Guard and Reason say what stopped a blocked action, or why a
	// finished one needed nothing done.
	Guard  string `json:"guard,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Before is the resource's state read right before the first write,
	// saved once so a resumed run never overwrites it.
	Before json.RawMessage `json:"before,omitempty"`
	// Calls are the API calls the execution made, reads and writes.
	Calls []Call `json:"calls,omitempty"`
	// Undoes names the quarantine a release undoes; Restore is that
	// quarantine's before-state, copied when the release is planned so the
	// queued job carries everything it needs.
	Undoes  string          `json:"undoes,omitempty"`
	Restore json.RawMessage `json:"restore,omitempty"`
	// Keep are the security group rules the code declares ("ingress",
	// "egress" -> canonical rules), which a quarantine leaves in place.
	Keep map[string][]string `json:"keep,omitempty"`
	// Params are what a tag or grant action applies: the tags to stamp
	// (key -> value), or the policy to attach ("policy" -> ARN).
	Params map[string]string `json:"params,omitempty"`
	// Revert is the plan of a revert or recreate: what will change, and
	// the hash an approval is bound to.
	Revert *RevertPlan `json:"revert,omitempty"`
	// Approval says who must approve and who did, where the environment
	// requires it.
	Approval *ApprovalStatus `json:"approval,omitempty"`
	// Result says what was done; Error why it failed.
	Result    string    `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	Attempts  int       `json:"attempts"`
	Rank      int       `json:"rank"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Call is one API call an execution made.
type Call struct {
	At        time.Time `json:"at"`
	Service   string    `json:"service"`
	Operation string    `json:"operation"`
	Region    string    `json:"region,omitempty"`
	// Write is false for calls that only read (Describe, List, Get, Head).
	Write bool   `json:"write"`
	Error string `json:"error,omitempty"`
}

// Candidate is an action being planned: the action, the finding that
// asked for it and, once read, the live resource. Guards look at it and
// block it or let it through.
type Candidate struct {
	Action  *Action
	Finding findings.Record
	// Live is the resource as read right before the live guards; nil
	// until the live stage ran (or when it is gone).
	Live *model.Resource
	// done is set when nothing is left to do (the resource is gone).
	done bool
}

// Block stops the candidate: the first guard to block it is the one
// named; later calls change nothing.
func (c *Candidate) Block(guard, reason string) {
	if c.Stopped() {
		return
	}
	c.Action.State = StateBlocked
	c.Action.Guard = guard
	c.Action.Reason = reason
}

// Finish ends the candidate without an action: there is nothing to do.
func (c *Candidate) Finish(guard, result string) {
	if c.Stopped() {
		return
	}
	c.done = true
	c.Action.State = StateSucceeded
	c.Action.Guard = guard
	c.Action.Result = result
}

// Await parks the candidate until an approver decides (the approval
// guard); it is not executed by this run.
func (c *Candidate) Await(guard, reason string) {
	if c.Stopped() {
		return
	}
	c.Action.State = StateAwaiting
	c.Action.Guard = guard
	c.Action.Reason = reason
}

// Blocked reports whether a guard stopped the candidate.
func (c *Candidate) Blocked() bool { return c.Action.State == StateBlocked }

// Awaiting reports whether the candidate waits for an approval.
func (c *Candidate) Awaiting() bool { return c.Action.State == StateAwaiting }

// Stopped reports whether the candidate will not be executed by this
// run: blocked, finished or waiting for an approval.
func (c *Candidate) Stopped() bool { return c.Blocked() || c.done || c.Awaiting() }

// Done reports whether the candidate needed nothing done.
func (c *Candidate) Done() bool { return c.done }

// Verbs maps finding kinds to the verb an environment's settings give
// them. Kinds without an entry, and kinds set to report, get no action.
func Verbs(e config.Enforcement) map[model.Kind]Verb {
	out := map[model.Kind]Verb{}
	switch e.Unmanaged {
	case config.ActionDelete:
		out[model.KindUnmanaged] = VerbDelete
	case config.ActionQuarantine:
		out[model.KindUnmanaged] = VerbQuarantine
	}
	if e.Changed == config.ActionRevert {
		out[model.KindChanged] = VerbRevert
	}
	if e.Missing == config.ActionRecreate {
		out[model.KindMissing] = VerbRecreate
	}
	return out
}

// ResourceKey identifies a resource across findings, live reads and
// executors: provider, type, region (empty for global types) and id.
func ResourceKey(r model.Resource) string {
	return r.Provider + "\x00" + r.Type + "\x00" + r.Region + "\x00" + r.ID
}

// newID returns a random id for a run.
func newID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// actionID derives an action's id from its run, finding and verb, so
// planning the same run again (a retried API call, a resumed job) names
// the same action and the store keeps one record.
func actionID(runID, fingerprint string, verb Verb) string {
	h := sha256.Sum256([]byte(strings.Join([]string{runID, fingerprint, string(verb)}, "\x00")))
	return hex.EncodeToString(h[:10])
}

// blockedID is the one record kept per (finding, verb) while it is
// blocked: each apply run updates it rather than adding a row, so a
// finding waiting out its grace period does not grow the log.
func blockedID(fingerprint string, verb Verb) string {
	return actionID("blocked", fingerprint, verb)
}
