// Package queue is plumb serve's durable event queue. Every accepted event
// is committed to the database before the sender is answered, and every
// (event, subscription) pair becomes one River job that is worked with
// retries until it succeeds or is dead-lettered, so nothing accepted is ever
// lost by a crash or a restart.
//
// SQLite (one file in the data dir) is the default; PostgreSQL lets several
// replicas share one queue. Both go through River, and the event payloads
// live in plumb's own table (plumb_event) so a fan-out to many subscriptions
// does not copy the payload into every job.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"plumb/internal/model"
)

// Defaults for Options and RetryPolicy.
const (
	DefaultWorkers            = 10
	DefaultRetentionSucceeded = 24 * time.Hour
	DefaultRetentionDead      = 30 * 24 * time.Hour
	DefaultMaxPending         = 100_000
	// DefaultMaxAttempts is one first attempt plus one retry per step of
	// the default schedule, so every step of the schedule is used exactly once
	// and a delivery gives up after about 1h47m of retrying, the same order
	// of magnitude as Event Grid's own first retry hours.
	DefaultMaxAttempts = 8
)

// defaultSchedule mirrors Event Grid's back-off so a delivery to a briefly
// unavailable handler behaves the way cloud engineers already expect.
// Attempts beyond the schedule reuse its last step. Never modified.
var defaultSchedule = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour,
}

// DefaultRetryPolicy returns (a copy of) the policy used for subscriptions
// without one, so configuration and docs can show it.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: DefaultMaxAttempts, Schedule: append([]time.Duration(nil), defaultSchedule...)}
}

// Delivery states as the API shows them. River's finer states are folded
// into these so operators see where a delivery stands, not how River
// implements it.
const (
	StatePending   = "pending"
	StateRetry     = "retry"
	StateSucceeded = "succeeded"
	StateDead      = "dead"
	// StateFiltered is an event that matched no subscription: it is kept
	// only so a redelivery is still recognised as a duplicate.
	StateFiltered = "filtered"
)

// Errors callers branch on.
var (
	// ErrOverloaded tells intake to push back (HTTP 429/503) instead of
	// letting the backlog grow without bound.
	ErrOverloaded = errors.New("queue: too many pending deliveries")
	// ErrNotFound lets the API answer 404.
	ErrNotFound = errors.New("queue: event not found")
	// ErrInvalidState lets the API answer 400 for an unknown state filter.
	ErrInvalidState = errors.New("queue: invalid state filter")
	// ErrClosed is returned by Enqueue after Close, when nothing can be
	// committed any more.
	ErrClosed = errors.New("queue: closed")
)

// Options configures a Queue. Zero values pick the documented defaults, so
// the CLI can open an insert-only queue with just a DataDir.
type Options struct {
	// DataDir holds plumb.db when DatabaseURL is empty.
	DataDir string
	// DatabaseURL (postgres://...) selects PostgreSQL, shared by replicas.
	DatabaseURL string
	// Workers bounds concurrent handler runs (default 10).
	Workers int
	// Dispatch runs the handlers of a delivery; nil makes an insert-only
	// queue that never works deliveries (for example the CLI).
	Dispatch Dispatcher
	// RetentionSucceeded is how long succeeded deliveries, and events that
	// matched nothing, are kept (default 24h). It is also the window in
	// which a redelivered event is recognised as a duplicate.
	RetentionSucceeded time.Duration
	// RetentionDead is how long dead deliveries are kept for inspection and
	// re-runs (default 30 days).
	RetentionDead time.Duration
	// MaxPending is the intake back-pressure threshold: Enqueue returns
	// ErrOverloaded while this many deliveries wait (default 100000).
	MaxPending int
	// Logger receives River's and the queue's logs (default slog.Default).
	Logger *slog.Logger
	// RescueAfter is how long a job may run before River's rescuer takes
	// it for one whose replica died: it is then retried, by any replica,
	// after its retry delay (default DefaultRescueAfter). River knows no
	// heartbeat, so it is also how long a delivery may run: its handlers
	// are cancelled then, unless DeliveryTimeout gives it longer. The
	// rescuer looks every 30 seconds.
	RescueAfter time.Duration
	// DeliveryTimeout, when set, gives the deliveries of a subscription
	// longer than RescueAfter (a runbook with a longer timeout); they are
	// rescued only once it has passed.
	DeliveryTimeout func(subscription string) time.Duration
}

// DefaultRescueAfter is Options.RescueAfter's default: a delivery of a
// replica killed mid-run is retried elsewhere within about 2.5 minutes,
// not River's 30-minute default.
const DefaultRescueAfter = 2 * time.Minute

// Delivery is one (event, subscription) pair handed to a Dispatcher.
type Delivery struct {
	// ID is the River job id, stable across attempts.
	ID           int64
	Event        model.Event
	Subscription string
	// Attempt is 1 on the first run; handlers can use it to log retries.
	Attempt     int
	MaxAttempts int
}

// Dispatcher runs the handlers of one delivery. A nil error marks the
// delivery succeeded; Permanent(err) dead-letters it at once; any other
// error (or a panic) schedules a retry per the subscription's policy.
type Dispatcher interface {
	Dispatch(ctx context.Context, d Delivery) error
}

// permanentError marks an error retrying cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks an error that retrying cannot fix (a malformed event, a
// handler misconfiguration), so the delivery goes straight to dead-letter
// instead of burning its retries. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent, so callers
// wrapping dispatchers can preserve the marking.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryPolicy is a subscription's retry budget. A zero value means the
// default (DefaultRetryPolicy).
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too; 0 means default.
	MaxAttempts int
	// Schedule is the delay before retry n (n from 1); attempts beyond its
	// length reuse the last step. Empty means the default schedule.
	Schedule []time.Duration
}

// Item is one accepted event and the subscriptions it matched; each
// subscription becomes one delivery.
type Item struct {
	Event         model.Event
	Subscriptions []string
	// Retry holds per-subscription policies; a missing entry is the default.
	Retry map[string]RetryPolicy
}

// EnqueueResult tells intake how many events were new and how many were
// redeliveries, both of which are answered with success.
type EnqueueResult struct {
	Accepted   int
	Duplicates int
}

// EventRecord is an event as the API shows it.
type EventRecord struct {
	ID         int64
	Key        string
	Event      model.Event
	ReceivedAt time.Time
	// State is the worst state of its deliveries (dead > retry > pending >
	// succeeded), or "filtered" when it has none.
	State      string
	Deliveries []DeliveryRecord
}

// DeliveryRecord is one delivery as the API shows it.
type DeliveryRecord struct {
	ID           int64
	Subscription string
	State        string
	Attempt      int
	MaxAttempts  int
	// LastError is the error of the latest failed attempt, kept after the
	// delivery is dead so operators can see why.
	LastError   string
	ScheduledAt time.Time
	FinalizedAt *time.Time
}

// Queue is an open event queue. Its methods are safe for concurrent use.
type Queue struct {
	opts    Options
	log     *slog.Logger
	dialect string
	db      *sql.DB
	be      backend
	closeDB func() error

	reqs      chan *enqueueRequest
	closing   chan struct{}
	committed chan struct{} // closed when the committer has exited
	closeOnce sync.Once
	// sendMu orders Enqueue's hand-off against Close: once Close holds it,
	// no request can slip into reqs after the committer's final drain.
	sendMu    sync.RWMutex
	sendClose bool
	linger    time.Duration
	maxBatch  int

	// Pending-estimate for back-pressure, owned by the committer goroutine.
	pendingEstimate  int
	pendingCheckedAt time.Time

	// Group-commit counters; tests assert batching with them.
	commits      atomic.Int64
	commitsItems atomic.Int64

	// mu guards started; Stop holds it while River drains, so nothing a
	// running job calls may take it.
	mu      sync.Mutex
	started bool
	// periodicMu guards periodics and periodicWarned, which running jobs
	// read and write (taken after mu when both are needed).
	periodicMu sync.Mutex
	periodics  map[string]func(ctx context.Context) error
	// periodicWarned holds the periodic jobs whose current run of
	// failures this process has logged at WARN already.
	periodicWarned map[string]bool
	// periodicTimeouts holds the periodic jobs with a bound of their own.
	periodicTimeouts map[string]time.Duration
	// tasks holds the registered task handlers (guarded by periodicMu).
	tasks map[string]taskEntry
}

// Internal tuning. A batch of up to maxBatchItems events is one transaction
// (one fsync on SQLite); the committer waits at most batchLinger for more
// callers once it has some, which trades a millisecond of latency for far
// fewer transactions under load.
const (
	maxBatchItems  = 1000
	batchLinger    = time.Millisecond
	pendingRecheck = time.Second
	overloadRetest = 100 * time.Millisecond
)

// River queue names: deliveries and periodic jobs are separated so an
// insert-only queue with periodic jobs never picks up deliveries.
const (
	riverQueueDelivery = "plumb_delivery"
	riverQueuePeriodic = "plumb_periodic"
)

// Open opens (and creates or migrates) the database and starts the
// committer, so Enqueue works as soon as Open returns. Workers start with
// Start.
func Open(ctx context.Context, o Options) (*Queue, error) {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.RetentionSucceeded <= 0 {
		o.RetentionSucceeded = DefaultRetentionSucceeded
	}
	if o.RetentionDead <= 0 {
		o.RetentionDead = DefaultRetentionDead
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = DefaultRescueAfter
	}
	q := &Queue{
		opts:      o,
		log:       o.Logger,
		reqs:      make(chan *enqueueRequest, 1024),
		closing:   make(chan struct{}),
		committed: make(chan struct{}),
		linger:    batchLinger,
		maxBatch:  maxBatchItems,
		periodics: map[string]func(ctx context.Context) error{},

		periodicWarned:   map[string]bool{},
		periodicTimeouts: map[string]time.Duration{},
		tasks:            map[string]taskEntry{},
	}
	var err error
	if o.DatabaseURL != "" {
		err = q.openPostgres(ctx)
	} else {
		err = q.openSQLite(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := q.addCleanup(); err != nil {
		_ = q.closeDB()
		return nil, err
	}
	go q.committer()
	return q, nil
}

// Start starts the workers and, on the elected leader, the periodic jobs
// and River's maintenance (retention, retry scheduling). It detaches from
// ctx's cancellation: only Stop stops the workers, so a cancelled server
// context cannot turn a graceful shutdown into a hard one.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return nil
	}
	if err := q.be.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue workers: %w", err)
	}
	q.started = true
	return nil
}

// Stop stops fetching new deliveries and waits for running ones to finish.
// When ctx ends first, running handlers are cancelled; their deliveries are
// recorded as failed attempts and retried later (by this or another
// replica), so nothing is lost either way.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		return nil
	}
	err := q.be.stop(ctx)
	if err != nil && ctx.Err() != nil {
		hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if hardErr := q.be.stopAndCancel(hardCtx); hardErr != nil {
			return fmt.Errorf("stop queue: graceful stop timed out (%v), hard stop: %w", err, hardErr)
		}
		q.started = false
		return fmt.Errorf("stop queue: running deliveries were cancelled and will be retried: %w", err)
	}
	if err != nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	q.started = false
	return nil
}

// Close finishes the pending Enqueue batches, then closes the database. Call
// Stop first when workers were started.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.sendMu.Lock()
		q.sendClose = true
		close(q.closing)
		q.sendMu.Unlock()
	})
	<-q.committed
	q.mu.Lock()
	started := q.started
	q.mu.Unlock()
	if started {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	}
	if err := q.closeDB(); err != nil {
		return fmt.Errorf("close queue database: %w", err)
	}
	return nil
}

// DB exposes the database so other stores (findings) live in the same
// SQLite file or PostgreSQL database and need no configuration of their own.
func (q *Queue) DB() *sql.DB { return q.db }

// Dialect tells stores sharing DB which SQL to speak: "sqlite" or "postgres".
func (q *Queue) Dialect() string { return q.dialect }

// deliveryTimeout is how long a delivery of a subscription may run, and
// so how long after its start a dead replica's delivery is rescued.
func (q *Queue) deliveryTimeout(subscription string) time.Duration {
	d := q.opts.RescueAfter
	if q.opts.DeliveryTimeout != nil {
		d = max(d, q.opts.DeliveryTimeout(subscription))
	}
	return d
}
