package enforce

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/model"
)

// ActorEventPrefix starts the actor of actions taken at event time:
// "event:SUBSCRIPTION".
const ActorEventPrefix = "event:"

// EventWindow is the window the event-time circuit breaker counts actions
// in.
const EventWindow = time.Hour

// EventCircuit is the circuit breaker of event-time enforcement. A run
// there acts on the few resources one event created, so the whole-run
// fraction test means nothing; what must not happen is a storm of events
// (a script creating hundreds of instances, or a wrong state path making
// every creation look unmanaged) turning into a storm of actions. It
// counts the quarantines and deletes of the environment taken in the last
// EventWindow: when they would exceed max_actions, it stops the run's
// candidates and trips, which opens the environment's enforce.circuit_open
// finding like a scheduled run's breaker.
type EventCircuit struct {
	Count func(ctx context.Context, environment string, since time.Time) (int, error)
}

// Name implements Guard.
func (EventCircuit) Name() string { return GuardCircuit }

// Check implements Guard.
func (g EventCircuit) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	n, err := g.Count(ctx, run.Environment.Name, run.Now.Add(-EventWindow))
	if err != nil {
		return err
	}
	// A retried delivery counts its own recorded actions again: the
	// breaker errs on the side of tripping.
	total := n + len(cands)
	max := run.Settings().MaxActions
	if total <= max {
		return nil
	}
	reason := fmt.Sprintf("%d actions in the last %s with this event's %d, more than max_actions %d", total, EventWindow, len(cands), max)
	run.Trip = &Trip{Actions: total, Resources: total, Fraction: 1, Reason: reason}
	for _, c := range cands {
		c.Block(GuardCircuit, reason+": acting on none")
	}
	return nil
}

// EventGuards are the stages of event-time enforcement. They are
// DefaultGuards with three differences: the complete-scope guard is left
// out, because the finding is not a scan's but the event's own evidence
// (a creation by a principal that is not a pipeline, of a resource no
// state declares, read back live before acting); the circuit breaker
// counts the environment's recent actions (EventCircuit); and the live
// stage (LiveGuards: read back, AWS defaults, protect tag on the live
// resource, precondition) is not run here but once, by the runner, right
// before the write, as for every action. Reading the resource at planning
// as well would double the cloud reads on the path from event to
// quarantine, for a verdict the runner makes again a moment later on a
// fresher read. Grace still holds: with a grace period, nothing happens at
// event time, and the scheduled run acts once the owners were told and
// the grace passed.
func EventGuards(src Sources, count func(ctx context.Context, environment string, since time.Time) (int, error)) []Guard {
	return []Guard{
		Supported{},
		InFlight{Store: src.InFlight},
		Quarantined{Store: src.Quarantines, Evidence: src.Evidence},
		Account{},
		DeclaredAnywhere{Set: src.Declared},
		ProtectPattern{},
		ProtectTag{},
		Grace{Evidence: src.Evidence},
		EventCircuit{Count: count},
		DryRun{},
	}
}

// EventRequest asks for event-time enforcement of findings an event
// raised and that are stored already.
type EventRequest struct {
	Environment string
	// Fingerprints are the event's findings.
	Fingerprints []string
	// RunID is derived from the delivery, so a retried delivery plans the
	// same actions and nothing is done twice.
	RunID string
	Actor string
}

// EnforceEvent plans the environment's enforcement for an event's
// findings with EventGuards, applies it, and hands what passes to the
// runner: the quarantine of a resource created by hand in production runs
// seconds after its creation event.
func (s *Service) EnforceEvent(ctx context.Context, req EventRequest) (*Plan, error) {
	env, ok := s.Config.Environment(req.Environment)
	if !ok {
		return nil, fmt.Errorf("environment %q is not in %s", req.Environment, s.Config.Path)
	}
	recs, err := s.Findings.GetMany(ctx, req.Fingerprints)
	if err != nil {
		return nil, fmt.Errorf("read the event's findings: %w", err)
	}
	declared, declErr := s.loadDeclared(ctx)
	src := Sources{Evidence: s.Findings, InFlight: s.Actions, Declared: declared, Quarantines: s.Actions}
	guards := EventGuards(src, s.Actions.CountSince)
	if declErr != nil {
		guards = append([]Guard{failing{name: GuardDeclared, err: declErr}}, guards...)
	}
	p := &Planner{Executors: s.Executors, Guards: guards, Now: s.Now}
	plan, err := p.Plan(ctx, Request{Environment: env, Apply: true, Actor: req.Actor, RunID: req.RunID}, recs)
	if err != nil {
		return nil, err
	}
	if s.Runner != nil {
		if err := s.Runner.Submit(ctx, plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// ActGuards are the stages of a resource-event action (tag, grant): the
// executor can do it, plumb acts in an allowed account, and the resource
// exists. They add to a resource and take nothing away, so the
// protections around deleting and isolating do not apply.
func ActGuards() []Guard {
	return []Guard{Supported{}, Account{}, Live{}}
}

// ActRequest asks for resource-event actions on an event's resources.
type ActRequest struct {
	Environment string
	// Actions are built by the handler (verb, resource, params); the
	// service completes their ids and records.
	Actions []*Action
	RunID   string
	Actor   string
	// Why says which event asked.
	Why string
}

// ActFingerprint is the fingerprint an action that answers no finding
// (tag, grant) is recorded under: its verb, environment and resource.
func ActFingerprint(verb Verb, environment string, r model.Resource) string {
	return model.Fingerprint(model.Kind("enforce."+string(verb)), environment, r.Provider, r.Type, r.Region, r.ID, "")
}

// Act passes resource-event actions through ActGuards and hands what
// passes to the runner.
func (s *Service) Act(ctx context.Context, req ActRequest) (*Plan, error) {
	env, ok := s.Config.Environment(req.Environment)
	if !ok {
		return nil, fmt.Errorf("environment %q is not in %s", req.Environment, s.Config.Path)
	}
	now := s.now()
	plan := &Plan{RunID: req.RunID, Environment: env.Name, Apply: true, DryRun: env.Enforcement.DryRun, At: now, Actions: []*Action{}, Notes: []string{}}
	var cands []*Candidate
	for _, a := range req.Actions {
		a.Fingerprint = ActFingerprint(a.Verb, env.Name, a.Resource)
		a.ID = actionID(req.RunID, a.Fingerprint, a.Verb)
		a.RunID, a.Environment, a.Actor, a.Why, a.State = req.RunID, env.Name, req.Actor, req.Why, StatePlanned
		a.Kind = model.Kind("enforce." + string(a.Verb))
		a.CreatedAt, a.UpdatedAt = now, now
		cands = append(cands, &Candidate{Action: a})
	}
	run := &Run{Environment: env, Now: now, Apply: true, Executors: s.Executors}
	RunGuards(ctx, run, ActGuards(), cands)
	plan.Errors = run.Errors
	for _, c := range cands {
		plan.Actions = append(plan.Actions, c.Action)
	}
	sortActions(plan.Actions)
	if len(run.Errors) > 0 {
		// A guard could not judge (a read failed): the delivery retries.
		return plan, fmt.Errorf("%v", run.Errors)
	}
	if s.Runner != nil {
		if err := s.Runner.Submit(ctx, plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// recordsOnFinding reports whether a finished action is noted on a
// finding: tag and grant answer an event, not a finding.
func recordsOnFinding(a *Action) bool {
	return a.Fingerprint != "" && a.Verb != VerbTag && a.Verb != VerbGrant
}
