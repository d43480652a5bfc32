package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"plumb/internal/model"
)

const (
	kindDelivery = "plumb_delivery"
	kindPeriodic = "plumb_periodic"
)

// deliveryArgs is what a River job holds: a reference to the event row, the
// subscription and, when not the default, the retry schedule, so the retry
// policy in force when the event arrived stays with the delivery.
type deliveryArgs struct {
	EventID      int64   `json:"event_id"`
	Subscription string  `json:"subscription"`
	RetryMS      []int64 `json:"retry_ms,omitempty"`
}

func (deliveryArgs) Kind() string { return kindDelivery }

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	q *Queue
}

// Timeout bounds one attempt of a delivery, and so when the rescuer
// retries the delivery of a replica that died (Options.RescueAfter).
func (w *deliveryWorker) Timeout(job *river.Job[deliveryArgs]) time.Duration {
	return w.q.deliveryTimeout(job.Args.Subscription)
}

// NextRetry applies the subscription's schedule: delay n follows failed
// attempt n, and attempts past the schedule reuse its last step.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	sched := defaultSchedule
	if len(job.Args.RetryMS) > 0 {
		sched = make([]time.Duration, len(job.Args.RetryMS))
		for i, ms := range job.Args.RetryMS {
			sched[i] = time.Duration(ms) * time.Millisecond
		}
	}
	i := max(job.Attempt-1, 0)
	if i >= len(sched) {
		i = len(sched) - 1
	}
	return time.Now().Add(sched[i])
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	ev, err := w.q.loadEvent(ctx, job.Args.EventID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("event %d of delivery %d no longer exists", job.Args.EventID, job.ID))
	}
	if err != nil {
		return err
	}
	d := Delivery{
		ID:           job.ID,
		Event:        ev,
		Subscription: job.Args.Subscription,
		Attempt:      job.Attempt,
		MaxAttempts:  job.MaxAttempts,
	}
	err = safeDispatch(ctx, w.q.opts.Dispatch, d)
	if err == nil {
		return nil
	}
	if IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}

// safeDispatch turns a handler panic into an ordinary failed attempt (with
// the stack in the error, so it is visible in LastError) instead of taking
// the server down.
func safeDispatch(ctx context.Context, disp Dispatcher, d Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v\n%s", r, debug.Stack())
		}
	}()
	if disp == nil {
		return errors.New("no dispatcher configured")
	}
	return disp.Dispatch(ctx, d)
}

func (q *Queue) loadEvent(ctx context.Context, id int64) (model.Event, error) {
	var body string
	err := q.db.QueryRowContext(ctx, q.rebind(`SELECT body FROM plumb_event WHERE id = ?`), id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Event{}, ErrNotFound
	}
	if err != nil {
		return model.Event{}, fmt.Errorf("load event %d: %w", id, err)
	}
	var ev model.Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return model.Event{}, fmt.Errorf("decode event %d: %w", id, err)
	}
	return ev, nil
}

// periodicArgs names the registered function a periodic job runs.
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return kindPeriodic }

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	q *Queue
}

// Timeout frees the periodic worker of a run that ignores its context;
// see periodicJobTimeout.
func (w *periodicWorker) Timeout(job *river.Job[periodicArgs]) time.Duration {
	w.q.periodicMu.Lock()
	defer w.q.periodicMu.Unlock()
	if d, ok := w.q.periodicTimeouts[job.Args.Name]; ok {
		return d
	}
	return periodicJobTimeout
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	w.q.periodicMu.Lock()
	run := w.q.periodics[job.Args.Name]
	w.q.periodicMu.Unlock()
	if run == nil {
		return fmt.Errorf("periodic job %q is not registered on this replica", job.Args.Name)
	}
	w.q.periodicStarted(ctx, job.Args.Name, time.Now())
	err := safePeriodic(ctx, run)
	if errors.Is(err, ErrOutcomeLater) {
		return nil
	}
	w.q.periodicFinished(ctx, job.Args.Name, time.Now(), err)
	if err != nil {
		return fmt.Errorf("periodic job %s: %w", job.Args.Name, err)
	}
	return nil
}

// safePeriodic turns a panic of a periodic job into a failed run (with the
// stack in the error), so it is recorded and reported like any failure
// instead of passing for a success or taking the server down.
func safePeriodic(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return run(ctx)
}

// periodicUnique skips a tick while the job's previous run waits or runs:
// a scan that takes longer than its interval (a slow estate, a cloud that
// times out) must not pile up runs behind it or run twice at once.
func periodicUnique() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}
}

// Periodic registers run to be called on a cron schedule once across all
// replicas: only River's elected leader enqueues the run, and exactly one
// worker of any replica picks it up. schedule is a 5-field cron expression
// or a descriptor such as "@hourly" or "@every 30s". A failed run is not
// retried (the next tick is the retry); a tick that comes while the
// previous run still waits or runs is skipped. Every run is recorded (see
// PeriodicRuns) and a failing job is logged once, not on every tick.
// Call before Start.
func (q *Queue) Periodic(name string, schedule string, run func(ctx context.Context) error) error {
	return q.PeriodicWithin(name, schedule, periodicJobTimeout, run)
}

// PeriodicWithin is Periodic with a bound of its own on one run instead of
// the one-hour default: a run still going after timeout is cancelled, and
// a run whose replica died blocks the schedule only that long.
func (q *Queue) PeriodicWithin(name string, schedule string, timeout time.Duration, run func(ctx context.Context) error) error {
	if name == "" || run == nil {
		return errors.New("periodic job: name and run function are required")
	}
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return fmt.Errorf("periodic job %s: schedule %q: %w", name, schedule, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return fmt.Errorf("periodic job %s: register before Start", name)
	}
	q.periodicMu.Lock()
	defer q.periodicMu.Unlock()
	if _, dup := q.periodics[name]; dup {
		return fmt.Errorf("periodic job %s: already registered", name)
	}
	q.periodics[name] = run
	if timeout > 0 && timeout != periodicJobTimeout {
		q.periodicTimeouts[name] = timeout
	}
	job := river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
		return periodicArgs{Name: name}, &river.InsertOpts{Queue: riverQueuePeriodic, MaxAttempts: 1, UniqueOpts: periodicUnique()}
	}, &river.PeriodicJobOpts{ID: name})
	if err := q.be.addPeriodic(job); err != nil {
		delete(q.periodics, name)
		return fmt.Errorf("periodic job %s: %w", name, err)
	}
	return nil
}

// cleanupName is the internal periodic job that removes plumb's own rows
// once River's retention has removed the jobs they describe.
const cleanupName = "plumb-queue-cleanup"

func (q *Queue) addCleanup() error {
	return q.Periodic(cleanupName, "@every 10m", q.cleanup)
}

// cleanup drops delivery rows whose River job is gone (retention), then
// events with no delivery left that are older than RetentionSucceeded. An
// event therefore lives as long as any of its deliveries and at least as
// long as the duplicate window.
func (q *Queue) cleanup(ctx context.Context) error {
	_, err := q.cleanupCount(ctx)
	return err
}

// cleanupCount is cleanup returning how many event rows it removed.
func (q *Queue) cleanupCount(ctx context.Context) (int64, error) {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM plumb_delivery WHERE NOT EXISTS (SELECT 1 FROM river_job j WHERE j.id = plumb_delivery.job_id)`); err != nil {
		return 0, fmt.Errorf("clean delivery rows: %w", err)
	}
	cutoff := time.Now().Add(-q.opts.RetentionSucceeded).UnixNano()
	res, err := q.db.ExecContext(ctx, q.rebind(`DELETE FROM plumb_event WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM plumb_delivery d WHERE d.event_id = plumb_event.id)`), cutoff)
	if err != nil {
		return 0, fmt.Errorf("clean events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clean events: %w", err)
	}
	return n, nil
}
