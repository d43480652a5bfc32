package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Tasks are jobs plumb itself splits work into (the parts of a scheduled
// scan and their join), as opposed to event deliveries: any replica works
// any task, a task whose replica died is rescued after its timeout, and a
// task can be inserted in the same transaction as the rows describing it.

const (
	kindTask       = "plumb_task"
	riverQueueTask = "plumb_task"
)

// taskArgs names the registered handler and carries its arguments.
type taskArgs struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

func (taskArgs) Kind() string { return kindTask }

// Task is one run of a task handed to its handler.
type Task struct {
	// ID is the River job id, stable across attempts.
	ID int64
	// Attempt is 1 on the first run (a rescued or retried task runs
	// again with the next attempt).
	Attempt     int
	MaxAttempts int
	// Args is the JSON the task was added with.
	Args json.RawMessage
}

// TaskOptions describe how the tasks of one name run.
type TaskOptions struct {
	// Timeout bounds one attempt; a task still running after it is taken
	// for one whose replica died and is run again by any replica (River's
	// rescuer looks every 30 seconds). Default: Options.RescueAfter.
	Timeout time.Duration
	// MaxAttempts counts the first attempt too (default 3).
	MaxAttempts int
	// RetryDelay is the delay before a retry (default 1s).
	RetryDelay time.Duration
}

// TaskHandler runs one task. A nil error completes it; an error is a
// failed attempt, retried until MaxAttempts; Snooze(d) runs it again after
// d without using up an attempt.
type TaskHandler func(ctx context.Context, t Task) error

type taskEntry struct {
	opts TaskOptions
	run  TaskHandler
}

// HandleTask registers the handler of the tasks named name. Call before
// Start. Every replica must register the same names: a replica picks up
// any task.
func (q *Queue) HandleTask(name string, opts TaskOptions, run TaskHandler) error {
	if name == "" || run == nil {
		return errors.New("task: name and handler are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = q.opts.RescueAfter
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return fmt.Errorf("task %s: register before Start", name)
	}
	q.periodicMu.Lock()
	defer q.periodicMu.Unlock()
	if _, dup := q.tasks[name]; dup {
		return fmt.Errorf("task %s: already registered", name)
	}
	q.tasks[name] = taskEntry{opts: opts, run: run}
	return nil
}

func (q *Queue) task(name string) (taskEntry, bool) {
	q.periodicMu.Lock()
	defer q.periodicMu.Unlock()
	t, ok := q.tasks[name]
	return t, ok
}

// Snooze makes a task run again after d without counting an attempt: it
// waits for something (a free slot of a concurrency limit) rather than
// failing.
func Snooze(d time.Duration) error { return river.JobSnooze(d) }

type taskWorker struct {
	river.WorkerDefaults[taskArgs]
	q *Queue
}

// Timeout is the task's own bound, and so when a dead replica's task is
// rescued.
func (w *taskWorker) Timeout(job *river.Job[taskArgs]) time.Duration {
	if t, ok := w.q.task(job.Args.Name); ok {
		return t.opts.Timeout
	}
	return w.q.opts.RescueAfter
}

func (w *taskWorker) NextRetry(job *river.Job[taskArgs]) time.Time {
	d := time.Second
	if t, ok := w.q.task(job.Args.Name); ok {
		d = t.opts.RetryDelay
	}
	return time.Now().Add(d)
}

func (w *taskWorker) Work(ctx context.Context, job *river.Job[taskArgs]) error {
	t, ok := w.q.task(job.Args.Name)
	if !ok {
		return fmt.Errorf("task %q is not registered on this replica", job.Args.Name)
	}
	return safeTask(ctx, t.run, Task{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Args: job.Args.Args})
}

func safeTask(ctx context.Context, run TaskHandler, t Task) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("task panic: %v\n%s", r, debug.Stack())
		}
	}()
	return run(ctx, t)
}

// Tx is a transaction of the queue's database in which plumb's own rows
// and the tasks describing work on them commit together.
type Tx interface {
	// Exec runs a statement written with "?" placeholders and returns
	// how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow scans the single row of a query into dest; it returns
	// sql.ErrNoRows-like ErrNotFound when there is none.
	QueryRow(ctx context.Context, query string, dest []any, args ...any) error
	// AddTask inserts a task of a registered name. With unique set, a
	// task of the same name and arguments that has not finished yet makes
	// this one a no-op (a join added twice runs once).
	// It returns the task's job id (for a unique task already waiting,
	// that task's).
	AddTask(ctx context.Context, name string, args any, unique bool) (int64, error)
}

type queueTx struct {
	q   *Queue
	ops txOps
	ins jobInserter
}

func (t queueTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return t.ops.execN(ctx, query, args...)
}

func (t queueTx) QueryRow(ctx context.Context, query string, dest []any, args ...any) error {
	rows, err := t.ops.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}

func (t queueTx) AddTask(ctx context.Context, name string, args any, unique bool) (int64, error) {
	entry, ok := t.q.task(name)
	if !ok {
		return 0, fmt.Errorf("add task: %q is not registered", name)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return 0, fmt.Errorf("add task %s: %w", name, err)
	}
	opts := &river.InsertOpts{Queue: riverQueueTask, MaxAttempts: entry.opts.MaxAttempts}
	if unique {
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}}
	}
	ids, err := t.ins(ctx, []river.InsertManyParams{{Args: taskArgs{Name: name, Args: raw}, InsertOpts: opts}})
	if err != nil {
		return 0, fmt.Errorf("add task %s: %w", name, err)
	}
	return ids[0], nil
}

// InTx runs fn in one transaction of the queue's database: its
// statements and the tasks it adds commit together or not at all.
func (q *Queue) InTx(ctx context.Context, fn func(tx Tx) error) error {
	return q.be.inTx(ctx, func(ops txOps, ins jobInserter) error {
		return fn(queueTx{q: q, ops: ops, ins: ins})
	})
}

// ErrOutcomeLater, returned by a periodic job, says the run goes on
// elsewhere (a scheduled scan whose parts and join are tasks): the run is
// left recorded as started, and PeriodicOutcome records how it ended.
var ErrOutcomeLater = errors.New("queue: the run's outcome is recorded later")

// PeriodicOutcome records the end of a periodic run whose job returned
// ErrOutcomeLater, as the job's own return would have: /readyz, the
// metrics and the once-per-failure log see it.
func (q *Queue) PeriodicOutcome(ctx context.Context, name string, at time.Time, runErr error) {
	q.periodicFinished(ctx, name, at, runErr)
}
