package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// Actions travel through the durable event queue, like notifications:
// one queue event of this source per run, with one delivery to the
// subscription "enforce:ENV". Retries, dead-letter, `plumb events retry`
// and the crash guarantees are the queue's.
const (
	EventSource        model.EventSource = "enforcement"
	SubscriptionPrefix string            = "enforce:"
)

// job is what a run's queue event carries: the whole actions, so a
// crash between queueing and storing them loses nothing.
type job struct {
	RunID       string    `json:"run_id"`
	Environment string    `json:"environment"`
	Actions     []*Action `json:"actions"`
}

// decodeJob reads a run's queue payload; a run with an action missing
// its id, verb or resource is refused whole rather than half-run.
func decodeJob(raw []byte) (job, error) {
	var j job
	if err := json.Unmarshal(raw, &j); err != nil {
		return job{}, fmt.Errorf("decode enforcement run: %w", err)
	}
	if j.RunID == "" || j.Environment == "" {
		return job{}, errors.New("decode enforcement run: run_id and environment are required")
	}
	for i, a := range j.Actions {
		if a == nil || a.ID == "" || a.Verb == "" || a.Resource.Type == "" || a.Resource.ID == "" {
			return job{}, fmt.Errorf("decode enforcement run %s: action %d lacks its id, verb or resource", j.RunID, i)
		}
	}
	return j, nil
}

// Runner executes plans: Submit queues the runnable actions of a plan as
// one job, and Dispatch (called by the queue) executes it, resumable and
// without acting twice.
type Runner struct {
	Actions   *Store
	Findings  *findings.Store
	Executors map[string]Executor
	// Environment returns an environment's current settings; the job runs
	// with the settings in force when it runs.
	Environment func(name string) (config.Environment, bool)
	// Enqueue hands items to the durable queue.
	Enqueue func(ctx context.Context, items []queue.Item) (queue.EnqueueResult, error)
	// Guards are re-applied right before each write; nil is LiveGuards()
	// followed by the break-glass and approval checks.
	Guards []Guard
	// Terraform reverts and recreates in environments with a
	// terraform_dir (nil: those are refused).
	Terraform Reverter
	// BreakGlass says which break-glass windows are open (nil: none).
	BreakGlass WindowSource
	// OnAwaiting is told about each new request for approval (the server
	// posts it on the finding's GitHub issue); nil does nothing.
	OnAwaiting func(ctx context.Context, a *Action)
	Now        func() time.Time
	Logger     *slog.Logger
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Submit records an applied plan and queues what passed its guards.
// Blocked actions are recorded once per finding and verb (updated by each
// run, so a finding waiting out its grace period does not grow the log);
// resources found already gone are recorded as succeeded; the circuit
// breaker's verdict opens or resolves the environment's
// enforce.circuit_open finding. A plan that does not apply changes
// nothing.
func (r *Runner) Submit(ctx context.Context, p *Plan) error {
	if !p.Apply {
		return nil
	}
	now := r.now()
	if err := r.circuitFinding(ctx, now, p); err != nil {
		return err
	}
	var runnable []*Action
	for _, a := range p.Actions {
		switch {
		case a.State == StateBlocked:
			rec := *a
			rec.ID = blockedID(a.Fingerprint, a.Verb)
			if err := r.Actions.Put(ctx, &rec); err != nil {
				return err
			}
		case a.State == StateAwaiting:
			if err := r.park(ctx, a); err != nil {
				return err
			}
		case a.State == StateSucceeded:
			if err := r.Actions.Insert(ctx, []*Action{a}); err != nil {
				return err
			}
		case a.State == StatePlanned:
			runnable = append(runnable, a)
		}
	}
	if len(runnable) == 0 {
		return nil
	}
	raw, err := json.Marshal(job{RunID: p.RunID, Environment: p.Environment, Actions: runnable})
	if err != nil {
		return fmt.Errorf("encode run %s: %w", p.RunID, err)
	}
	item := queue.Item{
		Event: model.Event{Source: EventSource, ID: p.RunID, Type: "plumb.enforce.run", Subject: p.Environment,
			Time: now, Raw: raw},
		Subscriptions: []string{SubscriptionPrefix + p.Environment},
	}
	// Queue first, then store: a crash in between leaves a job that
	// stores its actions itself when it runs.
	if _, err := r.Enqueue(ctx, []queue.Item{item}); err != nil {
		return fmt.Errorf("queue run %s: %w", p.RunID, err)
	}
	var fresh []*Action
	for _, a := range runnable {
		if a.Approval == nil {
			fresh = append(fresh, a)
			continue
		}
		// An approved request keeps its record (awaitingID): this run
		// takes it over.
		if err := r.Actions.Put(ctx, a); err != nil {
			return err
		}
	}
	return r.Actions.Insert(ctx, fresh)
}

// circuitFinding opens the environment's enforce.circuit_open finding
// when the breaker tripped, and resolves it when a run passed it.
func (r *Runner) circuitFinding(ctx context.Context, now time.Time, p *Plan) error {
	if r.Findings == nil {
		return nil
	}
	f := CircuitFinding(p.Environment, "")
	if p.Circuit == nil {
		return r.Findings.Resolve(ctx, now, []string{f.Fingerprint})
	}
	f = CircuitFinding(p.Environment, p.Circuit.Reason)
	return r.Findings.Upsert(ctx, now, []model.Finding{f})
}

// CircuitFinding is the one finding per environment that says its
// enforcement stopped at the circuit breaker, and why.
func CircuitFinding(environment, reason string) model.Finding {
	return model.Finding{
		Kind:        model.KindCircuitOpen,
		Severity:    model.SeverityHigh,
		Fingerprint: model.Fingerprint(model.KindCircuitOpen, environment, "plumb", "plumb_enforcement", "", environment, ""),
		Environment: environment,
		Resource:    model.Resource{Provider: "plumb", Type: "plumb_enforcement", ID: environment, Name: "enforcement of " + environment, Tags: map[string]string{}},
		Changes:     []model.Change{},
		Message:     "Enforcement stopped by the circuit breaker: " + reason + ". Check the environment's states before raising max_actions or max_fraction.",
	}
}

// Dispatch executes a run's queue delivery. Actions run in order; each
// is re-read live and re-checked by the live guards right before it is
// executed. An action already finished is skipped, so a resumed or
// retried job acts only on what is left (a failed action is tried again
// when an operator re-runs the dead delivery). An action whose earlier-ranked
// dependency failed in this attempt waits for the next one. Failures are
// retried on the queue's schedule; on the last attempt (or when no retry
// can help) the action is failed and the delivery ends dead with the
// errors.
func (r *Runner) Dispatch(ctx context.Context, d queue.Delivery) error {
	j, err := decodeJob(d.Event.Raw)
	if err != nil {
		return queue.Permanent(err)
	}
	if err := r.Actions.Insert(ctx, j.Actions); err != nil {
		return err
	}
	env, ok := r.Environment(j.Environment)
	if !ok {
		return queue.Permanent(fmt.Errorf("environment %q is no longer configured", j.Environment))
	}
	last := d.MaxAttempts > 0 && d.Attempt >= d.MaxAttempts
	sortActions(j.Actions)
	inRun := map[string]bool{}
	for _, a := range j.Actions {
		inRun[a.Resource.Type+"\x00"+a.Resource.ID] = true
	}
	acting := func(typ, id string) bool { return inRun[typ+"\x00"+id] }
	var errs []string
	permanent := true
	failedRank := -1
	for _, planned := range j.Actions {
		a, err := r.Actions.Get(ctx, planned.ID)
		if err != nil {
			return err
		}
		switch a.State {
		case StateSucceeded, StateBlocked, StateReleased:
			continue
		}
		// A failed action runs again only when its dead delivery is re-run
		// (plumb events retry): that is the operator asking for it.
		if failedRank >= 0 && a.Rank > failedRank {
			errs = append(errs, fmt.Sprintf("%s %s %s: waits for an earlier action of the run", a.Verb, a.Resource.Type, a.Resource.ID))
			permanent = false
			if last {
				a.State, a.Error, a.UpdatedAt = StateFailed, "not run: an action it depends on failed", r.now()
				if err := r.Actions.Put(ctx, a); err != nil {
					return err
				}
			}
			continue
		}
		err = r.execute(ctx, env, a, acting)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("%s %s %s: %v", a.Verb, a.Resource.Type, a.Resource.ID, err))
		if !IsPermanent(err) {
			permanent = false
		}
		if failedRank < 0 || a.Rank < failedRank {
			failedRank = a.Rank
		}
		a.Error, a.UpdatedAt = err.Error(), r.now()
		if IsPermanent(err) || last {
			a.State = StateFailed
		}
		if perr := r.Actions.Put(ctx, a); perr != nil {
			return perr
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err = errors.New(strings.Join(errs, "; "))
	if permanent {
		return queue.Permanent(err)
	}
	return err
}

// execute runs one action: live guards, then the executor.
func (r *Runner) execute(ctx context.Context, env config.Environment, a *Action, acting func(typ, id string) bool) error {
	now := r.now()
	a.State, a.Attempts, a.UpdatedAt, a.Error = StateRunning, a.Attempts+1, now, ""
	if err := r.Actions.Put(ctx, a); err != nil {
		return err
	}
	ex := r.Executors[a.Resource.Provider]
	if ex == nil {
		return Permanent(fmt.Errorf("no executor for %s", providerName(a.Resource.Provider)))
	}
	guards := r.Guards
	if guards == nil {
		switch a.Verb {
		case VerbRelease, VerbTag, VerbGrant:
			guards = LiveGuardsFor(a.Verb)
		default:
			guards = r.executionGuards()
		}
	}
	run := &Run{Environment: env, Now: now, Apply: true, Executors: r.Executors, Acting: acting, Terraform: r.Terraform}
	c := &Candidate{Action: a}
	a.State = StatePlanned
	RunGuards(ctx, run, guards, []*Candidate{c})
	switch {
	case c.Done():
		result := "already gone"
		if len(a.Before) > 0 {
			// Gone after plumb saved its before-state: an earlier attempt
			// acted and stopped before it could record it.
			result = "done by an earlier attempt (the resource is gone)"
		}
		return r.finish(ctx, a, result)
	case c.Blocked():
		if len(run.Errors) > 0 {
			// A guard that could not judge (a read failed): retry later.
			a.State = StateRunning
			return fmt.Errorf("%s: %s", a.Guard, a.Reason)
		}
		a.UpdatedAt = r.now()
		r.logger().Info("enforcement action stopped by a guard at execution", "action", a.ID, "guard", a.Guard, "reason", a.Reason)
		return r.Actions.Put(ctx, a)
	}
	a.State = StateRunning
	rec := &recorder{store: r.Actions, action: a, now: r.now}
	// Calls of earlier attempts stay on the record; this attempt adds its own.
	var result string
	var err error
	if IsRevert(a.Verb) {
		result, err = r.executeRevert(ctx, env, a, rec)
		if errors.Is(err, errStopped) {
			return nil
		}
	} else {
		result, err = ex.Execute(ctx, a, env.Enforcement, rec)
	}
	if err != nil {
		return err
	}
	return r.finish(ctx, a, result)
}

// finish records a succeeded action and tells the finding.
func (r *Runner) finish(ctx context.Context, a *Action, result string) error {
	now := r.now()
	a.State, a.Result, a.Error, a.UpdatedAt = StateSucceeded, result, "", now
	if err := r.Actions.Put(ctx, a); err != nil {
		return err
	}
	if err := markReleased(ctx, r.Actions, a, now); err != nil {
		return err
	}
	if r.Findings == nil || !recordsOnFinding(a) {
		return nil
	}
	note := model.Enforcement{Verb: string(a.Verb), Result: result, ActionID: a.ID, At: now}
	// A delete removes the problem; so does a revert or recreate (the
	// resource is as the code declares it again); releasing an isolation
	// ends its incident.
	err := r.Findings.RecordEnforcement(ctx, now, a.Fingerprint, note, resolves(a) || IsRevert(a.Verb))
	if errors.Is(err, findings.ErrNotFound) {
		r.logger().Warn("enforcement action done, but its finding is no longer stored", "action", a.ID, "fingerprint", a.Fingerprint)
		return nil
	}
	return err
}

// recorder saves an execution's before-state and calls on its action.
type recorder struct {
	store  *Store
	action *Action
	now    func() time.Time
	mu     sync.Mutex
}

func (rc *recorder) SaveBefore(ctx context.Context, before any) (json.RawMessage, error) {
	b, err := json.Marshal(before)
	if err != nil {
		return nil, fmt.Errorf("encode before-state: %w", err)
	}
	stored, err := rc.store.SaveBefore(ctx, rc.action.ID, b)
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.action.Before = stored
	rc.mu.Unlock()
	return stored, nil
}

func (rc *recorder) Call(c Call) {
	if c.At.IsZero() {
		c.At = rc.now()
	}
	rc.mu.Lock()
	rc.action.Calls = append(rc.action.Calls, c)
	rc.mu.Unlock()
}
