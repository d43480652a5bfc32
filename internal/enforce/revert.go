package enforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Revert methods: how a revert is carried out.
const (
	// MethodTerraform is a targeted plan and apply of exactly that saved
	// plan in the environment's terraform_dir.
	MethodTerraform = "terraform"
	// MethodBuiltin is plumb's own write of the values the code declares
	// (tags, security group rules, log retention), without Terraform.
	MethodBuiltin = "builtin"
)

// RevertPlan is what a revert or recreate will change, made before the
// action runs and attached to it. It is what an approver is shown and
// what an approval is bound to (Hash): when the drift changes, the plan
// changes and a new approval is needed.
type RevertPlan struct {
	Method string `json:"method"`
	// Address is the Terraform address targeted (Terraform method).
	Address string `json:"address,omitempty"`
	// Hash identifies the plan's content: the resource changes of a
	// Terraform plan, or the changes a built-in revert writes.
	Hash string `json:"hash"`
	// Summary is the plan in a few lines, for the approver.
	Summary string `json:"summary"`
	// Changes are the attributes put back: from the live value the scan
	// saw to the value the code declares.
	Changes []RevertChange `json:"changes"`
	// Resources are the resource changes of a Terraform plan (address and
	// actions), exactly as the plan lists them.
	Resources []PlannedChange `json:"resources,omitempty"`
}

// RevertChange is one attribute a revert puts back.
type RevertChange struct {
	Path string `json:"path"`
	// From is the live value the scan saw (nil: absent); To is what the
	// code declares (nil: absent, so the revert removes it).
	From any `json:"from"`
	To   any `json:"to"`
}

// PlannedChange is one resource change of a Terraform plan.
type PlannedChange struct {
	Address string   `json:"address"`
	Actions []string `json:"actions"`
}

// Reverter puts resources back as the code declares them. The Terraform
// reverter serves environments with a terraform_dir; a provider executor
// that also implements Reverter serves the others (built-in revert).
type Reverter interface {
	// Prepare plans the revert (or recreate) of an action's resource from
	// its finding. It only reads. A refusal (the plan would touch another
	// resource, would replace one, a change plumb cannot write) is
	// returned as a sentence with a nil plan; a plan with no change means
	// nothing is left to do.
	Prepare(ctx context.Context, env config.Environment, a *Action, f model.Finding) (*RevertPlan, string, error)
	// Apply carries out a.Revert. Right before writing it checks that what
	// it would do still equals the plan (the live value is still what the
	// scan saw; a fresh Terraform plan has the same hash) and returns a
	// *StaleError without writing when not.
	Apply(ctx context.Context, env config.Environment, a *Action, rec Recorder) (string, error)
}

// StaleError says a revert was not written because the resource or the
// plan changed since the action was planned (and approved): writing now
// would overwrite a change nobody saw (a lost update).
type StaleError struct {
	Reason string
	// Changes are the finding's changes as they are live now, when the
	// reverter could tell (nil otherwise); the runner writes them into
	// the finding, so it shows what is really there.
	Changes []model.Change
}

func (e *StaleError) Error() string { return e.Reason }

// IsRevert reports whether a verb puts a resource back as the code
// declares it (revert, recreate): those need a plan (RevertPlan).
func IsRevert(v Verb) bool { return v == VerbRevert || v == VerbRecreate }

// GuardRevertPlan names the stage that plans reverts.
const GuardRevertPlan = "revert-plan"

// reverterFor picks how an action's revert is carried out, or says why
// none can.
func reverterFor(env config.Environment, execs map[string]Executor, tf Reverter, a *Action) (Reverter, string) {
	if env.TerraformDir != "" {
		if tf == nil {
			return nil, "this plumb has no Terraform reverter set up"
		}
		return tf, ""
	}
	if a.Verb == VerbRecreate {
		return nil, "recreate needs the environment's terraform_dir"
	}
	ex := execs[a.Resource.Provider]
	if rv, ok := ex.(Reverter); ok && ex.Supports(a.Verb, a.Resource.Type) {
		return rv, ""
	}
	return nil, fmt.Sprintf("plumb cannot revert %s without Terraform (set terraform_dir on environment %s)", a.Resource.Type, env.Name)
}

// revertSupported is the supported guard's judgement of a revert: through
// Terraform any resource with an address, without it the types the
// executor writes itself.
func revertSupported(run *Run, c *Candidate) (string, bool) {
	a := c.Action
	if run.Environment.TerraformDir != "" {
		if c.Finding.Finding.Address == nil || *c.Finding.Finding.Address == "" {
			return fmt.Sprintf("the finding has no Terraform address to target, so plumb cannot %s it through Terraform", a.Verb), false
		}
		if run.Terraform == nil {
			return "this plumb has no Terraform reverter set up", false
		}
		return "", true
	}
	if _, why := reverterFor(run.Environment, run.Executors, run.Terraform, a); why != "" {
		return why, false
	}
	return "", true
}

// RevertPlanner is the guard stage that plans every revert and recreate
// (a targeted Terraform plan, or the built-in writes) and attaches the
// plan to the action. A plan plumb must refuse (another resource
// touched, a replacement without allow_replace) stops the action; a plan
// with nothing to change finishes it.
type RevertPlanner struct{}

// Name implements Guard.
func (RevertPlanner) Name() string { return GuardRevertPlan }

// Check implements Guard.
func (RevertPlanner) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	for _, c := range cands {
		a := c.Action
		if !IsRevert(a.Verb) {
			continue
		}
		rv, why := reverterFor(run.Environment, run.Executors, run.Terraform, a)
		if rv == nil {
			c.Block(GuardRevertPlan, why)
			continue
		}
		p, refusal, err := rv.Prepare(ctx, run.Environment, a, c.Finding.Finding)
		switch {
		case err != nil:
			c.Block(GuardRevertPlan, "could not plan: "+err.Error())
		case refusal != "":
			a.Revert = p
			c.Block(GuardRevertPlan, refusal)
		case p == nil || len(p.Changes)+len(p.Resources) == 0:
			c.Finish(GuardRevertPlan, "nothing to revert: the resource is as the code declares it")
		default:
			a.Revert = p
		}
	}
	return nil
}

// HashJSON hashes a value's canonical JSON (encoding/json sorts map
// keys), the content hash of plans and change sets.
func HashJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hash plan: %w", err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// BuiltinPlan makes the plan of a built-in revert from a finding's
// changes: each path back to the value the code declares. The hash
// covers the resource and every change, so a different drift is a
// different plan.
func BuiltinPlan(r model.Resource, changes []model.Change) (*RevertPlan, error) {
	p := &RevertPlan{Method: MethodBuiltin, Changes: []RevertChange{}}
	sorted := append([]model.Change(nil), changes...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var lines []string
	for _, c := range sorted {
		p.Changes = append(p.Changes, RevertChange{Path: c.Path, From: c.After, To: c.Before})
		lines = append(lines, fmt.Sprintf("%s: %s -> %s", c.Path, shownValue(c.After), shownValue(c.Before)))
	}
	h, err := HashJSON(struct {
		Type, Region, ID string
		Changes          []RevertChange
	}{r.Type, r.Region, r.ID, p.Changes})
	if err != nil {
		return nil, err
	}
	p.Hash = h
	p.Summary = fmt.Sprintf("put %s %s back as the code declares it:\n  %s", r.Type, r.ID, strings.Join(lines, "\n  "))
	return p, nil
}

// shownValue renders a value for a plan summary: absent, a string
// quoted, anything else as JSON.
func shownValue(v any) string {
	if v == nil {
		return "(absent)"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// errStopped tells execute that a revert stopped its action itself (a
// stale plan) and stored it: nothing to retry.
var errStopped = errors.New("action stopped")

// executeRevert carries out a revert or recreate through its reverter.
// A stale plan stops the action (blocked, not failed: nothing went wrong,
// the estate moved) and updates the finding with what is live now.
func (r *Runner) executeRevert(ctx context.Context, env config.Environment, a *Action, rec Recorder) (string, error) {
	rv, why := reverterFor(env, r.Executors, r.Terraform, a)
	if rv == nil {
		return "", Permanent(errors.New(why))
	}
	if a.Revert == nil {
		return "", Permanent(fmt.Errorf("the %s action has no plan", a.Verb))
	}
	result, err := rv.Apply(ctx, env, a, rec)
	var stale *StaleError
	if !errors.As(err, &stale) {
		return result, err
	}
	now := r.now()
	a.State, a.Guard, a.Reason, a.UpdatedAt = StateBlocked, GuardRevertPlan, "not written: "+stale.Reason, now
	if err := r.Actions.Put(ctx, a); err != nil {
		return "", err
	}
	if stale.Changes != nil && r.Findings != nil {
		if err := r.updateFinding(ctx, now, a.Fingerprint, stale.Changes); err != nil {
			return "", err
		}
	}
	r.logger().Info("revert not written: the resource changed since it was planned", "action", a.ID, "reason", stale.Reason)
	return "", errStopped
}

// updateFinding writes a finding's changes as they are live now (a
// sighting, recorded in its history as seen-changed).
func (r *Runner) updateFinding(ctx context.Context, now time.Time, fp string, changes []model.Change) error {
	rec, err := r.Findings.Get(ctx, fp)
	if errors.Is(err, findings.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update finding %s: %w", fp, err)
	}
	f := rec.Finding
	f.Changes = changes
	if err := r.Findings.Upsert(ctx, now, []model.Finding{f}); err != nil {
		return fmt.Errorf("update finding %s: %w", fp, err)
	}
	return nil
}
