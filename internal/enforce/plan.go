package enforce

import (
	"context"
	"fmt"
	"sort"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Request asks for one plan (and, with Apply, its execution).
type Request struct {
	Environment config.Environment
	// Apply executes what passes every guard; without it the run plans.
	Apply bool
	// Actor is who asks: a user name, a rule, or "schedule".
	Actor string
	// Kind and Fingerprint narrow the findings considered.
	Kind        model.Kind
	Fingerprint string
	// RunID names the run; empty picks a new one.
	RunID string
}

// Plan is the outcome of planning: every candidate action with the guard
// that stopped it, or planned when none did.
type Plan struct {
	RunID       string    `json:"run_id"`
	Environment string    `json:"environment"`
	Apply       bool      `json:"apply"`
	DryRun      bool      `json:"dry_run"`
	At          time.Time `json:"at"`
	// Actions are every candidate, in execution order.
	Actions []*Action `json:"actions"`
	// Notes say what the plan leaves out and why (kinds set to report,
	// verbs not available yet).
	Notes []string `json:"notes"`
	// Circuit is set when the circuit breaker stopped the run.
	Circuit *Trip `json:"circuit,omitempty"`
	// Errors are guards that could not judge (their candidates are
	// blocked).
	Errors []string `json:"errors,omitempty"`

	candidates []*Candidate
}

// Counts tallies a plan's actions by state.
func (p *Plan) Counts() map[State]int {
	out := map[State]int{}
	for _, a := range p.Actions {
		out[a.State]++
	}
	return out
}

// Runnable returns the actions that passed every guard.
func (p *Plan) Runnable() []*Action {
	var out []*Action
	for _, a := range p.Actions {
		if a.State == StatePlanned {
			out = append(out, a)
		}
	}
	return out
}

// Planner turns findings into a plan.
type Planner struct {
	Executors map[string]Executor
	Guards    []Guard
	// Terraform reverts in environments with a terraform_dir (nil: none).
	Terraform Reverter
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Plan builds a candidate for every open finding of recs that belongs to
// the request's environment and whose kind the settings give a verb, and
// passes the candidates through the guards.
func (p *Planner) Plan(ctx context.Context, req Request, recs []findings.Record) (*Plan, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	now = now.UTC()
	env := req.Environment
	runID := req.RunID
	if runID == "" {
		runID = newID()
	}
	verbs := Verbs(env.Enforcement)
	plan := &Plan{RunID: runID, Environment: env.Name, Apply: req.Apply, DryRun: env.Enforcement.DryRun, At: now,
		Actions: []*Action{}, Notes: notes(env.Enforcement, recs)}
	actor := req.Actor
	if actor == "" {
		actor = "unknown"
	}
	for _, r := range recs {
		f := r.Finding
		if r.Status != findings.StatusOpen || f.Environment != env.Name {
			continue
		}
		if req.Kind != "" && f.Kind != req.Kind {
			continue
		}
		if req.Fingerprint != "" && f.Fingerprint != req.Fingerprint {
			continue
		}
		verb, ok := verbs[f.Kind]
		if !ok {
			continue
		}
		a := &Action{
			ID: actionID(runID, f.Fingerprint, verb), RunID: runID, Fingerprint: f.Fingerprint,
			Environment: env.Name, Verb: verb, Resource: f.Resource, Kind: f.Kind, Why: f.Message,
			Actor: actor, State: StatePlanned, CreatedAt: now, UpdatedAt: now,
		}
		plan.candidates = append(plan.candidates, &Candidate{Action: a, Finding: r})
	}
	run := &Run{Environment: env, Now: now, Apply: req.Apply, Executors: p.Executors, Terraform: p.Terraform}
	RunGuards(ctx, run, p.Guards, plan.candidates)
	plan.Circuit = run.Trip
	plan.Errors = run.Errors
	sort.SliceStable(plan.candidates, func(i, j int) bool { return lessAction(plan.candidates[i].Action, plan.candidates[j].Action) })
	for _, c := range plan.candidates {
		plan.Actions = append(plan.Actions, c.Action)
	}
	return plan, nil
}

// lessAction is execution order: by rank (dependents first), then by
// resource, so plans read the same every time.
func lessAction(a, b *Action) bool {
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	if a.Resource.Type != b.Resource.Type {
		return a.Resource.Type < b.Resource.Type
	}
	if a.Resource.Region != b.Resource.Region {
		return a.Resource.Region < b.Resource.Region
	}
	return a.Resource.ID < b.Resource.ID
}

func sortActions(as []*Action) {
	sort.SliceStable(as, func(i, j int) bool { return lessAction(as[i], as[j]) })
}

// notes explains the findings a plan does not act on by configuration.
func notes(e config.Enforcement, recs []findings.Record) []string {
	var out []string
	count := func(k model.Kind) int {
		n := 0
		for _, r := range recs {
			if r.Status == findings.StatusOpen && r.Finding.Kind == k {
				n++
			}
		}
		return n
	}
	if e.Unmanaged == config.ActionReport {
		if n := count(model.KindUnmanaged); n > 0 {
			out = append(out, fmt.Sprintf("%d unmanaged resource(s) are reported only (unmanaged: report)", n))
		}
	}
	if e.Changed == config.ActionReport {
		if n := count(model.KindChanged); n > 0 {
			out = append(out, fmt.Sprintf("%d changed resource(s) are reported only (changed: report)", n))
		}
	}
	return out
}
