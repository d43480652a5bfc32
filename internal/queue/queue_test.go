package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

var backends = []string{"sqlite", "postgres"}

// store is one empty database for a test case; open may be called more
// than once to get several Queues (replicas) on it, or to reopen it.
type store struct {
	t       *testing.T
	options Options
}

func (s store) open(o Options) *Queue {
	s.t.Helper()
	o.DataDir, o.DatabaseURL = s.options.DataDir, s.options.DatabaseURL
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	q, err := Open(context.Background(), o)
	if err != nil {
		s.t.Fatalf("Open: %v", err)
	}
	s.t.Cleanup(func() { _ = q.Close() })
	return q
}

// forEachBackend runs fn once per backend, each with a fresh database.
// PostgreSQL is one server per backend run, one database per case.
func forEachBackend(t *testing.T, cases map[string]func(t *testing.T, s store)) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			var serverDSN string
			if backend == "postgres" {
				serverDSN = testenv.StartPostgres(t)
			}
			n := 0
			for name, fn := range cases {
				n++
				t.Run(name, func(t *testing.T) {
					s := store{t: t}
					if backend == "postgres" {
						s.options.DatabaseURL = createDB(t, serverDSN, fmt.Sprintf("case%d", n))
					} else {
						s.options.DataDir = t.TempDir()
					}
					fn(t, s)
				})
			}
		})
	}
}

func createDB(t *testing.T, dsn, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

type dispatchFunc func(ctx context.Context, d Delivery) error

func (f dispatchFunc) Dispatch(ctx context.Context, d Delivery) error { return f(ctx, d) }

func ev(id string) model.Event {
	return model.Event{Source: model.SourceCloudEvents, ID: id, Type: "test.event", Time: time.Unix(1700000000, 0).UTC(), Raw: []byte(`{"id":"` + id + `"}`)}
}

func item(id string, subs ...string) Item { return Item{Event: ev(id), Subscriptions: subs} }

func fast(max int, subs ...string) map[string]RetryPolicy {
	m := map[string]RetryPolicy{}
	for _, s := range subs {
		m[s] = RetryPolicy{MaxAttempts: max, Schedule: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}}
	}
	return m
}

func start(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
}

func mustEnqueue(t *testing.T, q *Queue, items ...Item) EnqueueResult {
	t.Helper()
	res, err := q.Enqueue(context.Background(), items)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return res
}

// eventID finds an event's row id by key through the public listing.
func eventID(t *testing.T, q *Queue, key string) int64 {
	t.Helper()
	var after int64
	for {
		page, err := q.ListEvents(context.Background(), "", 1000, after)
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, r := range page {
			if r.Key == key {
				return r.ID
			}
			after = r.ID
		}
		if len(page) == 0 {
			t.Fatalf("event %s not found", key)
		}
	}
}

// waitState polls an event until it reaches state, failing after 15s.
func waitState(t *testing.T, q *Queue, id int64, state string) EventRecord {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var rec EventRecord
	for time.Now().Before(deadline) {
		var err error
		rec, err = q.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if rec.State == state {
			return rec
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("event %d: state %q, want %q; deliveries %+v", id, rec.State, state, rec.Deliveries)
	return rec
}

func TestQueue(t *testing.T) {
	forEachBackend(t, map[string]func(t *testing.T, s store){
		"dedupe":               testDedupe,
		"success":              testSuccess,
		"retry_then_success":   testRetryThenSuccess,
		"exhausted_dead":       testExhausted,
		"permanent_dead":       testPermanent,
		"panic_retry":          testPanic,
		"retry_event":          testRetryEvent,
		"list_states_depth":    testListStates,
		"graceful_stop":        testGracefulStop,
		"stop_timeout_reopen":  testStopTimeoutReopen,
		"periodic":             testPeriodic,
		"periodic_records":     testPeriodicRecords,
		"periodic_no_overlap":  testPeriodicNoOverlap,
		"overloaded":           testOverloaded,
		"concurrent_enqueue":   testConcurrentEnqueue,
		"two_replicas_deliver": testTwoReplicas,
		"two_replicas_cron":    testTwoReplicasPeriodic,
		"rescue_dead_replica":  testRescueDeadReplica,
		"cleanup_closed":       testCleanupAndClosed,
	})
}

func testDedupe(t *testing.T, s store) {
	q := s.open(Options{})
	ctx := context.Background()
	cases := []struct {
		name  string
		items []Item
		want  EnqueueResult
	}{
		{"new", []Item{item("a", "s1")}, EnqueueResult{Accepted: 1}},
		{"again", []Item{item("a", "s1")}, EnqueueResult{Duplicates: 1}},
		{"within one call", []Item{item("b", "s1", "s2"), item("b", "s1")}, EnqueueResult{Accepted: 1, Duplicates: 1}},
		{"filtered", []Item{item("c")}, EnqueueResult{Accepted: 1}},
		{"filtered again", []Item{item("c", "s1")}, EnqueueResult{Duplicates: 1}},
		{"mixed", []Item{item("a", "s1"), item("d", "s1", "s1")}, EnqueueResult{Accepted: 1, Duplicates: 1}},
	}
	for _, c := range cases {
		got, err := q.Enqueue(ctx, c.items)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	// Concurrent callers with the same event: exactly one wins.
	var wg sync.WaitGroup
	var acc, dup atomic.Int64
	for range 20 {
		wg.Go(func() {
			r, err := q.Enqueue(ctx, []Item{item("e", "s1")})
			if err != nil {
				t.Error(err)
				return
			}
			acc.Add(int64(r.Accepted))
			dup.Add(int64(r.Duplicates))
		})
	}
	wg.Wait()
	if acc.Load() != 1 || dup.Load() != 19 {
		t.Errorf("concurrent same key: accepted %d duplicates %d, want 1 and 19", acc.Load(), dup.Load())
	}
	// a:1 b:2 d:1 (s1 listed twice) e:1 deliveries.
	depth, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if depth[StatePending] != 5 {
		t.Errorf("depth %v, want 5 pending", depth)
	}
	rec, err := q.GetEvent(ctx, eventID(t, q, "cloudevents/c"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateFiltered || len(rec.Deliveries) != 0 {
		t.Errorf("filtered event: %+v", rec)
	}
}

func testSuccess(t *testing.T, s store) {
	var mu sync.Mutex
	got := map[string]Delivery{}
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[d.Subscription]; dup {
			t.Errorf("subscription %s dispatched twice", d.Subscription)
		}
		got[d.Subscription] = d
		return nil
	})})
	start(t, q)
	mustEnqueue(t, q, item("ok", "s1", "s2"))
	id := eventID(t, q, "cloudevents/ok")
	rec := waitState(t, q, id, StateSucceeded)
	if len(rec.Deliveries) != 2 {
		t.Fatalf("deliveries: %+v", rec.Deliveries)
	}
	for _, d := range rec.Deliveries {
		if d.State != StateSucceeded || d.Attempt != 1 || d.MaxAttempts != DefaultMaxAttempts || d.FinalizedAt == nil || d.LastError != "" {
			t.Errorf("delivery %+v", d)
		}
	}
	if rec.Event.ID != "ok" || string(rec.Event.Raw) != `{"id":"ok"}` || rec.ReceivedAt.IsZero() {
		t.Errorf("event record %+v", rec)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := got["s1"]; d.Event.ID != "ok" || d.Attempt != 1 || d.ID == 0 {
		t.Errorf("dispatched %+v", d)
	}
	if _, err := q.GetEvent(context.Background(), id+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing event: %v, want ErrNotFound", err)
	}
}

func testRetryThenSuccess(t *testing.T, s store) {
	var calls atomic.Int32
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		if calls.Add(1) < 3 {
			return fmt.Errorf("transient %d", d.Attempt)
		}
		return nil
	})})
	start(t, q)
	it := item("r", "s1")
	it.Retry = fast(5, "s1")
	mustEnqueue(t, q, it)
	rec := waitState(t, q, eventID(t, q, "cloudevents/r"), StateSucceeded)
	d := rec.Deliveries[0]
	if d.Attempt != 3 || d.MaxAttempts != 5 || !strings.Contains(d.LastError, "transient 2") {
		t.Errorf("delivery %+v", d)
	}
}

func testExhausted(t *testing.T, s store) {
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		return fmt.Errorf("boom %d", d.Attempt)
	})})
	start(t, q)
	it := item("x", "s1")
	it.Retry = fast(2, "s1")
	mustEnqueue(t, q, it)
	rec := waitState(t, q, eventID(t, q, "cloudevents/x"), StateDead)
	d := rec.Deliveries[0]
	if d.Attempt != 2 || d.LastError != "boom 2" || d.FinalizedAt == nil {
		t.Errorf("delivery %+v", d)
	}
}

func testPermanent(t *testing.T, s store) {
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		return Permanent(errors.New("bad payload"))
	})})
	start(t, q)
	mustEnqueue(t, q, item("p", "s1"))
	rec := waitState(t, q, eventID(t, q, "cloudevents/p"), StateDead)
	d := rec.Deliveries[0]
	if d.Attempt != 1 || d.LastError != "bad payload" {
		t.Errorf("delivery %+v", d)
	}
}

func testPanic(t *testing.T, s store) {
	var calls atomic.Int32
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		if calls.Add(1) == 1 {
			panic("handler bug")
		}
		return nil
	})})
	start(t, q)
	it := item("pn", "s1")
	it.Retry = fast(3, "s1")
	mustEnqueue(t, q, it)
	rec := waitState(t, q, eventID(t, q, "cloudevents/pn"), StateSucceeded)
	d := rec.Deliveries[0]
	if d.Attempt != 2 || !strings.Contains(d.LastError, "handler panic: handler bug") {
		t.Errorf("delivery %+v", d)
	}
}

func testRetryEvent(t *testing.T, s store) {
	var fixed atomic.Bool
	var okRuns atomic.Int32
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		if d.Subscription == "ok" {
			okRuns.Add(1)
			return nil
		}
		if !fixed.Load() {
			return Permanent(errors.New("handler misconfigured"))
		}
		return nil
	})})
	start(t, q)
	mustEnqueue(t, q, item("re", "ok", "broken"))
	id := eventID(t, q, "cloudevents/re")
	waitState(t, q, id, StateDead)
	fixed.Store(true)
	n, err := q.RetryEvent(context.Background(), id)
	if err != nil || n != 1 {
		t.Fatalf("RetryEvent: %d, %v; want 1 rescheduled", n, err)
	}
	rec := waitState(t, q, id, StateSucceeded)
	if okRuns.Load() != 1 {
		t.Errorf("succeeded delivery re-run: %d runs", okRuns.Load())
	}
	for _, d := range rec.Deliveries {
		if d.Subscription == "broken" && d.Attempt != 2 {
			t.Errorf("re-run delivery %+v", d)
		}
	}
	if _, err := q.RetryEvent(context.Background(), id+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryEvent missing: %v", err)
	}
}

func testListStates(t *testing.T, s store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := s.open(Options{Dispatch: dispatchFunc(func(dctx context.Context, d Delivery) error {
		switch d.Subscription {
		case "ok":
			return nil
		case "hold":
			select {
			case <-ctx.Done():
			case <-dctx.Done():
			}
			return errors.New("released")
		case "later":
			return errors.New("try again in an hour")
		default:
			return Permanent(errors.New("no"))
		}
	})})
	start(t, q)
	it := item("retry", "ok", "later")
	it.Retry = map[string]RetryPolicy{"later": {MaxAttempts: 3, Schedule: []time.Duration{time.Hour}}}
	mustEnqueue(t, q, item("succeeded", "ok"), item("pending", "ok", "hold"), it, item("dead", "later", "perm"), item("filtered"))
	waitState(t, q, eventID(t, q, "cloudevents/dead"), StateDead)
	waitState(t, q, eventID(t, q, "cloudevents/retry"), StateRetry)
	waitState(t, q, eventID(t, q, "cloudevents/succeeded"), StateSucceeded)

	for _, state := range []string{StateSucceeded, StatePending, StateRetry, StateDead, StateFiltered} {
		recs, err := q.ListEvents(context.Background(), state, 10, 0)
		if err != nil {
			t.Fatalf("ListEvents %s: %v", state, err)
		}
		if len(recs) != 1 || recs[0].Event.ID != state || recs[0].State != state {
			t.Errorf("ListEvents(%s) = %+v", state, recs)
		}
	}
	all, err := q.ListEvents(context.Background(), "", 3, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("page 1: %d, %v", len(all), err)
	}
	rest, err := q.ListEvents(context.Background(), "", 3, all[2].ID)
	if err != nil || len(rest) != 2 || rest[0].ID <= all[2].ID {
		t.Fatalf("page 2: %+v, %v", rest, err)
	}
	for _, r := range append(all, rest...) {
		if r.Event.ID == "pending" && len(r.Deliveries) != 2 {
			t.Errorf("listed deliveries: %+v", r.Deliveries)
		}
	}
	if _, err := q.ListEvents(context.Background(), "bogus", 0, 0); !errors.Is(err, ErrInvalidState) {
		t.Errorf("bogus state: %v", err)
	}
	// ok x3 succeeded, hold pending, later(retry) x2: one in "retry" event
	// and one in "dead" event, perm dead. The events' states above are
	// settled, but the "dead" event's "later" delivery may not have had
	// its first attempt yet (its "perm" one decided the event's state), so
	// wait for the deliveries to settle too.
	want := map[string]int{StateSucceeded: 3, StatePending: 1, StateRetry: 2, StateDead: 1}
	var depth map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		depth, err = q.Depth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(depth) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fmt.Sprint(depth) != fmt.Sprint(want) {
		t.Errorf("Depth = %v, want %v", depth, want)
	}
}

func testGracefulStop(t *testing.T, s store) {
	started := make(chan struct{})
	release := make(chan struct{})
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		close(started)
		<-release // deliberately ignores ctx: a handler finishing its work
		return nil
	})})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, item("g", "s1"))
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("delivery never started")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		stopped <- q.Stop(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned while a delivery was running: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	rec, err := q.GetEvent(context.Background(), eventID(t, q, "cloudevents/g"))
	if err != nil || rec.State != StateSucceeded {
		t.Fatalf("after graceful stop: %+v, %v", rec, err)
	}
}

func testStopTimeoutReopen(t *testing.T, s store) {
	started := make(chan struct{}, 1)
	q := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	it := item("st", "s1")
	it.Retry = fast(5, "s1")
	mustEnqueue(t, q, it)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := q.Stop(ctx); err == nil {
		t.Fatal("Stop with an expired context should report the cancelled deliveries")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// River hands a delivery cancelled by shutdown back without spending an
	// attempt; a new process (same database) finishes it.
	q2 := s.open(Options{Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error { return nil })})
	start(t, q2)
	rec := waitState(t, q2, eventID(t, q2, "cloudevents/st"), StateSucceeded)
	if d := rec.Deliveries[0]; d.Attempt > 2 {
		t.Errorf("delivery after reopen %+v", d)
	}
}

func testPeriodic(t *testing.T, s store) {
	var runs atomic.Int32
	q := s.open(Options{})
	if err := q.Periodic("tick", "@every 1s", func(ctx context.Context) error { runs.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := q.Periodic("bad", "not a schedule", func(ctx context.Context) error { return nil }); err == nil {
		t.Error("bad schedule accepted")
	}
	start(t, q)
	if err := q.Periodic("late", "@every 1s", func(ctx context.Context) error { return nil }); err == nil {
		t.Error("Periodic after Start accepted")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if runs.Load() < 2 {
		t.Fatalf("periodic ran %d times", runs.Load())
	}
}

// lockedLog is a log destination safe for the queue's goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines hold every one of subs.
func (l *lockedLog) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testPeriodicRecords: every run of a periodic job is recorded in the
// shared database. A failing job is logged at WARN once however often it
// fails, its recovery once at INFO; a panic is a failed run, not a
// success. Another Queue on the same database reads the same record.
func testPeriodicRecords(t *testing.T, s store) {
	logs := &lockedLog{}
	q := s.open(Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	var (
		mode atomic.Value // "fail", "ok" or "panic"
		runs atomic.Int32
	)
	mode.Store("fail")
	err := q.Periodic("scan-prod", "@every 1s", func(ctx context.Context) error {
		defer runs.Add(1)
		switch mode.Load() {
		case "fail":
			return errors.New("cannot reach AWS at http://127.0.0.1:1: connection refused")
		case "panic":
			panic("scanner bug")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	other := s.open(Options{}) // a replica that only reads
	records := func(q *Queue) PeriodicRun {
		t.Helper()
		rs, err := q.PeriodicRuns(context.Background())
		if err != nil {
			t.Fatalf("PeriodicRuns: %v", err)
		}
		return rs["scan-prod"]
	}
	waitRecord := func(what string, cond func(r PeriodicRun) bool) PeriodicRun {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := records(q)
			if cond(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; record %+v\nlog:\n%s", what, r, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r, err := q.PeriodicRuns(context.Background()); err != nil || len(r) != 0 {
		t.Fatalf("records before any run = %+v, %v; want none", r, err)
	}
	start(t, q)

	r := waitRecord("three failed runs", func(r PeriodicRun) bool { return r.Failures >= 3 })
	if r.LastError != "cannot reach AWS at http://127.0.0.1:1: connection refused" || r.LastFailure.IsZero() ||
		!r.LastSuccess.IsZero() || r.FailuresTotal < 3 || r.LastStart.IsZero() ||
		r.FailingSince.IsZero() || !r.FailingSince.Before(r.LastFailure) {
		t.Errorf("record after failures = %+v", r)
	}
	if o := records(other); o.Failures < 3 || o.LastError != r.LastError {
		t.Errorf("the other replica reads %+v, want the same failures", o)
	}
	if n := logs.count("level=WARN", "periodic job failed", "scan-prod", "connection refused"); n != 1 {
		t.Errorf("%d failed runs logged %d warnings, want 1:\n%s", r.Failures, n, logs)
	}

	mode.Store("ok")
	r = waitRecord("a success", func(r PeriodicRun) bool { return !r.LastSuccess.IsZero() })
	if r.Failures != 0 || r.LastError != "" || r.FailuresTotal < 3 || !r.FailingSince.IsZero() {
		t.Errorf("record after success = %+v", r)
	}
	if n := logs.count("level=INFO", "periodic job succeeded again", "scan-prod"); n != 1 {
		t.Errorf("recovery logged %d times, want 1:\n%s", n, logs)
	}

	total := r.FailuresTotal
	mode.Store("panic")
	r = waitRecord("a panic recorded as a failure", func(r PeriodicRun) bool { return r.Failures >= 1 })
	if !strings.Contains(r.LastError, "panic: scanner bug") || r.FailuresTotal != total+int64(r.Failures) {
		t.Errorf("record after a panic = %+v (failures before %d)", r, total)
	}
	if n := logs.count("level=WARN", "periodic job failed", "scanner bug"); n != 1 {
		t.Errorf("panic logged %d times at WARN, want 1:\n%s", n, logs)
	}
}

// testPeriodicNoOverlap: a job slower than its interval is never run
// twice at once and does not pile up runs; ticks during a run are skipped.
func testPeriodicNoOverlap(t *testing.T, s store) {
	q := s.open(Options{})
	var running, most, runs atomic.Int32
	err := q.Periodic("slow", "@every 1s", func(ctx context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		runs.Add(1)
		select {
		case <-time.After(2500 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q)
	time.Sleep(7 * time.Second)
	if m := most.Load(); m != 1 {
		t.Errorf("%d runs at once, want 1", m)
	}
	// 7s of 2.5s runs, each started at the first tick after the last
	// ended: at most 3; a pile-up would be 6 or 7.
	if n := runs.Load(); n < 1 || n > 3 {
		t.Errorf("%d runs in 7s of a 2.5s job ticking every second, want 1 to 3", n)
	}
}

func testOverloaded(t *testing.T, s store) {
	q := s.open(Options{MaxPending: 3})
	for i := range 3 {
		mustEnqueue(t, q, item(fmt.Sprint("o", i), "s1"))
	}
	if _, err := q.Enqueue(context.Background(), []Item{item("o3", "s1")}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("4th enqueue: %v, want ErrOverloaded", err)
	}
	// Events that create no delivery add no load either, but the check is
	// per call: intake is told to back off.
	if _, err := q.Enqueue(context.Background(), []Item{item("o4")}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("filtered enqueue while overloaded: %v", err)
	}
}

func testConcurrentEnqueue(t *testing.T, s store) {
	q := s.open(Options{})
	const goroutines, calls = 50, 100
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for c := range calls {
				r, err := q.Enqueue(context.Background(), []Item{item(fmt.Sprintf("c-%d-%d", g, c), "s1")})
				if err != nil {
					t.Error(err)
					return
				}
				accepted.Add(int64(r.Accepted))
			}
		})
	}
	wg.Wait()
	if accepted.Load() != goroutines*calls {
		t.Fatalf("accepted %d, want %d", accepted.Load(), goroutines*calls)
	}
	depth, err := q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if depth[StatePending] != goroutines*calls {
		t.Errorf("pending deliveries %d, want %d", depth[StatePending], goroutines*calls)
	}
	var events int
	if err := q.DB().QueryRow("SELECT COUNT(*) FROM plumb_event").Scan(&events); err != nil || events != goroutines*calls {
		t.Errorf("events stored %d (%v), want %d", events, err, goroutines*calls)
	}
	commits := q.commits.Load()
	t.Logf("%d Enqueue calls in %d transactions", goroutines*calls, commits)
	if commits >= goroutines*calls/2 {
		t.Errorf("group commit did not batch: %d transactions for %d calls", commits, goroutines*calls)
	}
}

func testTwoReplicas(t *testing.T, s store) {
	if s.options.DatabaseURL == "" {
		t.Skip("replicas share a queue through PostgreSQL only")
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	byReplica := map[string]int{}
	disp := func(name string) Dispatcher {
		return dispatchFunc(func(ctx context.Context, d Delivery) error {
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			seen[d.ID]++
			byReplica[name]++
			return nil
		})
	}
	q1 := s.open(Options{Dispatch: disp("a"), Workers: 4})
	q2 := s.open(Options{Dispatch: disp("b"), Workers: 4})
	start(t, q1)
	start(t, q2)
	var items []Item
	for i := range 200 {
		items = append(items, item(fmt.Sprint("rep", i), "s1", "s2"))
	}
	if r := mustEnqueue(t, q1, items[:100]...); r.Accepted != 100 {
		t.Fatalf("q1: %+v", r)
	}
	if r := mustEnqueue(t, q2, items...); r.Accepted != 100 || r.Duplicates != 100 {
		t.Fatalf("q2: %+v", r)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		depth, err := q1.Depth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if depth[StateSucceeded] == 400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("depth %v", depth)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 400 {
		t.Errorf("%d distinct deliveries processed, want 400", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %d processed %d times", id, n)
		}
	}
	t.Logf("processed per replica: %v", byReplica)
}

func testTwoReplicasPeriodic(t *testing.T, s store) {
	if s.options.DatabaseURL == "" {
		t.Skip("replicas share a queue through PostgreSQL only")
	}
	var mu sync.Mutex
	var runs []time.Time
	tick := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		runs = append(runs, time.Now())
		return nil
	}
	q1 := s.open(Options{})
	q2 := s.open(Options{})
	for _, q := range []*Queue{q1, q2} {
		if err := q.Periodic("tick", "@every 1s", tick); err != nil {
			t.Fatal(err)
		}
		start(t, q)
	}
	// Wait for the first run (leader election), then count over a window.
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("periodic job never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	before := len(runs)
	mu.Unlock()
	time.Sleep(4 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	n := len(runs) - before
	t.Logf("%d runs in 4s with two replicas", n)
	if n < 2 || n > 5 {
		t.Errorf("periodic ran %d times in 4s across two replicas; want about 4 (once per tick)", n)
	}
}

func testCleanupAndClosed(t *testing.T, s store) {
	q := s.open(Options{RetentionSucceeded: time.Millisecond})
	ctx := context.Background()
	mustEnqueue(t, q, item("filtered"), item("kept", "s1"))
	time.Sleep(5 * time.Millisecond)
	if err := q.cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := q.ListEvents(ctx, "", 10, 0)
	if err != nil || len(recs) != 1 || recs[0].Event.ID != "kept" {
		t.Fatalf("after cleanup: %+v, %v", recs, err)
	}
	// Once River's retention removed the job, the event goes too.
	if _, err := q.DB().ExecContext(ctx, "DELETE FROM river_job"); err != nil {
		t.Fatal(err)
	}
	if err := q.cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if recs, err := q.ListEvents(ctx, "", 10, 0); err != nil || len(recs) != 0 {
		t.Fatalf("after job removal: %+v, %v", recs, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, []Item{item("late", "s1")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
	}
}

// testRescueDeadReplica: a replica that stops mid-delivery (its handler
// never returns, as when the process is killed) leaves the delivery
// running; another replica runs it once RescueAfter has passed and River's
// rescuer (every 30 s) has looked, not after River's 30-minute default. A
// subscription given a longer DeliveryTimeout is not rescued meanwhile.
func testRescueDeadReplica(t *testing.T, s store) {
	if s.options.DatabaseURL == "" {
		t.Skip("replicas share a queue through PostgreSQL only")
	}
	const rescueAfter = 2 * time.Second
	release := make(chan struct{})
	stuck := make(chan string, 2)
	timeouts := func(sub string) time.Duration {
		if sub == "long" {
			return time.Hour
		}
		return 0
	}
	dead := s.open(Options{Workers: 2, RescueAfter: rescueAfter, DeliveryTimeout: timeouts,
		Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
			stuck <- d.Subscription
			<-release // ignores ctx: the replica is gone
			return nil
		})})
	start(t, dead)
	// Runs before dead's Stop (cleanups run last first).
	t.Cleanup(func() { close(release) })
	retry := fast(5, "s1", "long")
	if r := mustEnqueue(t, dead, Item{Event: ev("rescue"), Subscriptions: []string{"s1", "long"}, Retry: retry}); r.Accepted != 1 {
		t.Fatalf("enqueue: %+v", r)
	}
	for range 2 {
		select {
		case <-stuck:
		case <-time.After(20 * time.Second):
			t.Fatal("the first replica never started the deliveries")
		}
	}
	began := time.Now()
	var mu sync.Mutex
	var rescued []string
	got := make(chan struct{}, 2)
	alive := s.open(Options{Workers: 2, RescueAfter: rescueAfter, DeliveryTimeout: timeouts,
		Dispatch: dispatchFunc(func(ctx context.Context, d Delivery) error {
			mu.Lock()
			rescued = append(rescued, d.Subscription)
			mu.Unlock()
			got <- struct{}{}
			return nil
		})})
	start(t, alive)
	select {
	case <-got:
	case <-time.After(rescueAfter + 45*time.Second):
		t.Fatalf("the delivery of the dead replica was not rescued within %s", rescueAfter+45*time.Second)
	}
	took := time.Since(began)
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(rescued) != 1 || rescued[0] != "s1" {
		t.Errorf("rescued %v, want [s1] (long may run an hour)", rescued)
	}
	if took > rescueAfter+40*time.Second {
		t.Errorf("rescued after %s, want within rescue_after (%s) and one 30 s rescuer pass", took, rescueAfter)
	}
	t.Logf("rescued after %s", took.Round(100*time.Millisecond))
}
