package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PeriodicRun is what the queue knows about the runs of one periodic job
// (a scheduled scan, the routing pass). It lives in the shared database,
// so every replica reports the same record whichever replica ran the job,
// and a restart does not forget a failing schedule.
type PeriodicRun struct {
	Name string
	// LastStart and LastFinish bracket the latest run; LastStart after
	// LastFinish means a run is in progress (or its replica died in it).
	LastStart, LastFinish time.Time
	// LastSuccess is the end of the latest successful run; zero if none.
	LastSuccess time.Time
	// LastFailure is the end of the latest failed run; zero if none.
	LastFailure time.Time
	// LastError is the error of the latest run, empty when it succeeded.
	LastError string
	// Failures counts failed runs since the last success, and
	// FailingSince is when the first of them ended (zero when none).
	Failures     int
	FailingSince time.Time
	// FailuresTotal counts every failed run.
	FailuresTotal int64
}

// Running reports whether a run has started and not finished.
func (r PeriodicRun) Running() bool { return r.LastStart.After(r.LastFinish) }

// periodicJobTimeout bounds one run of a periodic job. It is longer than
// the delivery timeout because a scheduled scan of a large estate takes
// long; the job's own function is expected to bound itself more tightly
// (scheduled scans do) and this is only the backstop that frees the
// worker of a job that ignores its context.
const periodicJobTimeout = time.Hour

// recordTimeout bounds the bookkeeping writes around a periodic run. They
// use a context detached from the job's, so a run that timed out is still
// recorded as failed.
const recordTimeout = 10 * time.Second

// periodicStarted records the start of a run.
func (q *Queue) periodicStarted(ctx context.Context, name string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	_, err := q.db.ExecContext(ctx, q.rebind(`INSERT INTO plumb_periodic_run (name, started_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at`), name, at.UnixNano())
	if err != nil {
		q.log.Warn("queue: could not record the start of a periodic job", "job", name, "error", err)
	}
}

// periodicFinished records the outcome of a run and logs it the way an
// operator wants to read a failing schedule: the first failure at WARN
// with its error, repeats at DEBUG (they are in /readyz and the metrics),
// and the first success after failures at INFO. "First" is per process
// as well as per database, so a server restarted while a schedule fails
// says so once.
func (q *Queue) periodicFinished(ctx context.Context, name string, at time.Time, runErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var before int
	err := q.db.QueryRowContext(ctx, q.rebind(`SELECT failures FROM plumb_periodic_run WHERE name = ?`), name).Scan(&before)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		q.log.Warn("queue: could not read the record of a periodic job", "job", name, "error", err)
	}
	if runErr == nil {
		_, err = q.db.ExecContext(ctx, q.rebind(`INSERT INTO plumb_periodic_run (name, finished_at, succeeded_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET finished_at = excluded.finished_at, succeeded_at = excluded.succeeded_at,
			error = '', failures = 0, failing_since = 0`), name, at.UnixNano(), at.UnixNano())
	} else {
		_, err = q.db.ExecContext(ctx, q.rebind(`INSERT INTO plumb_periodic_run (name, finished_at, failed_at, failing_since, error, failures, failures_total)
			VALUES (?, ?, ?, ?, ?, 1, 1)
			ON CONFLICT (name) DO UPDATE SET finished_at = excluded.finished_at, failed_at = excluded.failed_at,
			failing_since = CASE WHEN plumb_periodic_run.failures = 0 THEN excluded.failing_since ELSE plumb_periodic_run.failing_since END,
			error = excluded.error, failures = plumb_periodic_run.failures + 1,
			failures_total = plumb_periodic_run.failures_total + 1`), name, at.UnixNano(), at.UnixNano(), at.UnixNano(), runErr.Error())
	}
	if err != nil {
		q.log.Warn("queue: could not record the outcome of a periodic job", "job", name, "error", err)
	}

	q.periodicMu.Lock()
	warned := q.periodicWarned[name]
	if runErr != nil {
		q.periodicWarned[name] = true
	} else {
		delete(q.periodicWarned, name)
	}
	q.periodicMu.Unlock()
	switch {
	case runErr != nil && (before == 0 || !warned):
		q.log.Warn("periodic job failed; it runs again on its schedule, and its recovery will be logged",
			"job", name, "error", runErr)
	case runErr != nil:
		q.log.Debug("periodic job failed again", "job", name, "failures", before+1, "error", runErr)
	case before > 0:
		q.log.Info("periodic job succeeded again", "job", name, "failed_runs", before)
	default:
		q.log.Debug("periodic job succeeded", "job", name)
	}
}

// PeriodicRuns returns the run records of every periodic job that has run
// at least once, by name. It reads the shared database, so it also
// reports runs made by other replicas.
func (q *Queue) PeriodicRuns(ctx context.Context) (map[string]PeriodicRun, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT name, started_at, finished_at, succeeded_at, failed_at, failing_since, error, failures, failures_total FROM plumb_periodic_run`)
	if err != nil {
		return nil, fmt.Errorf("periodic job records: %w", err)
	}
	defer rows.Close()
	out := map[string]PeriodicRun{}
	for rows.Next() {
		var (
			r                                          PeriodicRun
			started, finished, succeeded, fld, failing int64
		)
		if err := rows.Scan(&r.Name, &started, &finished, &succeeded, &fld, &failing, &r.LastError, &r.Failures, &r.FailuresTotal); err != nil {
			return nil, fmt.Errorf("periodic job records: %w", err)
		}
		r.LastStart, r.LastFinish, r.LastSuccess, r.LastFailure = unixTime(started), unixTime(finished), unixTime(succeeded), unixTime(fld)
		r.FailingSince = unixTime(failing)
		out[r.Name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("periodic job records: %w", err)
	}
	return out, nil
}

// unixTime turns stored nanoseconds into a time, 0 into the zero time.
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
