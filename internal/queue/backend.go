package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite"

	"plumb/internal/sqlbind"
)

// backend hides River's transaction type (*sql.Tx for SQLite, pgx.Tx for
// PostgreSQL) from the rest of the package.
type backend interface {
	// inTx runs fn in one transaction; ins inserts River jobs in it.
	inTx(ctx context.Context, fn func(tx txOps, ins jobInserter) error) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	jobRetry(ctx context.Context, id int64) error
	jobList(ctx context.Context, ids []int64) ([]*rivertype.JobRow, error)
	addPeriodic(job *river.PeriodicJob) error
	// deleteFinalized deletes finalized jobs per River's own cleaner query.
	deleteFinalized(ctx context.Context, p *riverdriver.JobDeleteBeforeParams) (int, error)
}

type jobInserter func(ctx context.Context, params []river.InsertManyParams) ([]int64, error)

// txOps is the part of a transaction plumb's own SQL needs. Queries are
// written with "?" placeholders; the PostgreSQL adapter rebinds them.
type txOps interface {
	exec(ctx context.Context, query string, args ...any) error
	// execN is exec returning how many rows the statement changed.
	execN(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args ...any) (rowIter, error)
}

type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type riverBackend[TTx any] struct {
	client *river.Client[TTx]
	begin  func(ctx context.Context) (TTx, txOps, func(context.Context) error, func(context.Context) error, error)
}

func (b *riverBackend[TTx]) inTx(ctx context.Context, fn func(tx txOps, ins jobInserter) error) error {
	tx, ops, commit, rollback, err := b.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	ins := func(ctx context.Context, params []river.InsertManyParams) ([]int64, error) {
		res, err := b.client.InsertManyTx(ctx, tx, params)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(res))
		for i, r := range res {
			ids[i] = r.Job.ID
		}
		return ids, nil
	}
	if err := fn(ops, ins); err != nil {
		_ = rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := commit(ctx); err != nil {
		_ = rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (b *riverBackend[TTx]) start(ctx context.Context) error { return b.client.Start(ctx) }
func (b *riverBackend[TTx]) stop(ctx context.Context) error  { return b.client.Stop(ctx) }
func (b *riverBackend[TTx]) stopAndCancel(ctx context.Context) error {
	return b.client.StopAndCancel(ctx)
}

func (b *riverBackend[TTx]) jobRetry(ctx context.Context, id int64) error {
	_, err := b.client.JobRetry(ctx, id)
	return err
}

func (b *riverBackend[TTx]) jobList(ctx context.Context, ids []int64) ([]*rivertype.JobRow, error) {
	var out []*rivertype.JobRow
	const chunk = 1000
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		res, err := b.client.JobList(ctx, river.NewJobListParams().IDs(ids[:n]...).First(n))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Jobs...)
		ids = ids[n:]
	}
	return out, nil
}

func (b *riverBackend[TTx]) addPeriodic(job *river.PeriodicJob) error {
	_, err := b.client.PeriodicJobs().AddSafely(job)
	return err
}

func (b *riverBackend[TTx]) deleteFinalized(ctx context.Context, p *riverdriver.JobDeleteBeforeParams) (int, error) {
	return b.client.Driver().GetExecutor().JobDeleteBefore(ctx, p)
}

// riverConfig is shared by both dialects.
func (q *Queue) riverConfig() *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{q: q})
	river.AddWorker(workers, &periodicWorker{q: q})
	river.AddWorker(workers, &taskWorker{q: q})
	queues := map[string]river.QueueConfig{
		riverQueuePeriodic: {MaxWorkers: 2},
	}
	if q.opts.Dispatch != nil {
		queues[riverQueueDelivery] = river.QueueConfig{MaxWorkers: q.opts.Workers}
		queues[riverQueueTask] = river.QueueConfig{MaxWorkers: q.opts.Workers}
	}
	return &river.Config{
		ID:                          clientID(),
		Logger:                      q.riverLogger(),
		Queues:                      queues,
		Workers:                     workers,
		MaxAttempts:                 DefaultMaxAttempts,
		CompletedJobRetentionPeriod: q.opts.RetentionSucceeded,
		DiscardedJobRetentionPeriod: q.opts.RetentionDead,
		CancelledJobRetentionPeriod: q.opts.RetentionDead,
		// River has no heartbeat: a job running longer than its timeout
		// is taken for one whose replica died and is rescued. Deliveries
		// run up to RescueAfter (longer for subscriptions whose runbooks
		// need it: deliveryWorker.Timeout); periodic jobs have their own
		// timeout (periodicWorker.Timeout).
		JobTimeout:           q.opts.RescueAfter,
		RescueStuckJobsAfter: q.opts.RescueAfter,
		// PostgreSQL wakes the producers with LISTEN/NOTIFY; the poll
		// is its fallback. SQLite polls (sqlitePollInterval).
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
	}
}

// sqlitePollInterval is how often a SQLite queue looks for work. SQLite
// has no LISTEN/NOTIFY, and deliveries are inserted inside the intake's
// own transaction, which River cannot see to wake its producer: every
// hop through the queue (event to delivery, event-time enforcement to
// its run) waits for a poll, so the interval is added to the latency of
// each. A poll that finds nothing changes no page and costs no fsync.
const sqlitePollInterval = 50 * time.Millisecond

// clientID is unique per Queue so two Queues in one process (tests, or a
// CLI next to a server) never share a River identity in leader election.
func clientID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", strings.ReplaceAll(host, ".", "_"), os.Getpid(), hex.EncodeToString(b[:]))
}

func (q *Queue) openSQLite(ctx context.Context) error {
	if q.opts.DataDir == "" {
		return errors.New("open queue: DataDir or DatabaseURL is required")
	}
	if err := os.MkdirAll(q.opts.DataDir, 0o750); err != nil {
		return fmt.Errorf("open queue: create data dir: %w", err)
	}
	path := filepath.Join(q.opts.DataDir, "plumb.db")
	// WAL lets a CLI read while the server writes; synchronous(FULL) makes a
	// commit survive power loss, which is what a 200 to the sender promises.
	// River's SQLite driver wants a single connection: SQLite allows one
	// writer, and one connection turns lock contention into queueing inside
	// database/sql instead of SQLITE_BUSY errors.
	base := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)"
	// Checkpoints run beside the writer, on a connection of their own
	// (checkpoint.go); the writer checkpoints itself only past 4,000 pages
	// (default 1,000), by then mostly copied already (see checkpoint.go).
	dsn := base + "&_pragma=wal_autocheckpoint(4000)&_txlock=immediate"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return fmt.Errorf("open queue: %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{base: connector})
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	q.db, q.dialect, q.closeDB = db, "sqlite", db.Close

	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: q.riverLogger()})
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("open queue: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		_ = db.Close()
		return fmt.Errorf("open queue: river migrations: %w", err)
	}
	for _, stmt := range schemaSQLite {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			_ = db.Close()
			return fmt.Errorf("open queue: create tables: %w", err)
		}
	}
	if q.opts.Dispatch != nil {
		// One working process per SQLite file. Holding the lock also
		// proves that deliveries left "running" belong to a process that
		// died (SIGKILL, OOM, power loss): they are put back at once
		// instead of waiting for River's stuck-job rescuer.
		unlock, err := lockDataDir(q.opts.DataDir)
		if err != nil {
			_ = db.Close()
			return err
		}
		q.closeDB = func() error { err := db.Close(); unlock(); return err }
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`); err != nil {
			_ = q.closeDB()
			return fmt.Errorf("open queue: requeue deliveries of a dead process: %w", err)
		}
	}
	rc := q.riverConfig()
	rc.FetchPollInterval = sqlitePollInterval
	client, err := river.NewClient(driver, rc)
	if err != nil {
		_ = q.closeDB()
		return fmt.Errorf("open queue: river client: %w", err)
	}
	cp, err := startCheckpointer(base, q.log)
	if err != nil {
		_ = q.closeDB()
		return fmt.Errorf("open queue: %w", err)
	}
	closeMain := q.closeDB
	q.closeDB = func() error {
		cpErr := cp.close()
		if err := closeMain(); err != nil {
			return err
		}
		return cpErr
	}
	q.be = &riverBackend[*sql.Tx]{
		client: client,
		begin: func(ctx context.Context) (*sql.Tx, txOps, func(context.Context) error, func(context.Context) error, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			return tx, sqlTxOps{tx}, func(context.Context) error { return tx.Commit() }, func(context.Context) error { return tx.Rollback() }, nil
		},
	}
	return nil
}

func (q *Queue) openPostgres(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(q.opts.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open queue: parse database URL: %w", err)
	}
	if cfg.MaxConns < int32(q.opts.Workers)+8 {
		cfg.MaxConns = int32(q.opts.Workers) + 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open queue: connect postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	q.db, q.dialect = db, "postgres"
	q.closeDB = func() error {
		err := db.Close()
		pool.Close()
		return err
	}
	driver := riverpgxv5.New(pool)
	if err := migratePostgres(ctx, pool, driver, q); err != nil {
		_ = q.closeDB()
		return err
	}
	client, err := river.NewClient(driver, q.riverConfig())
	if err != nil {
		_ = q.closeDB()
		return fmt.Errorf("open queue: river client: %w", err)
	}
	q.be = &riverBackend[pgx.Tx]{
		client: client,
		begin: func(ctx context.Context) (pgx.Tx, txOps, func(context.Context) error, func(context.Context) error, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			return tx, pgxTxOps{tx}, tx.Commit, tx.Rollback, nil
		},
	}
	return nil
}

// migratePostgres runs River's and plumb's migrations under a session
// advisory lock, so replicas starting together do not race on DDL. River's
// migrations cannot share one transaction (a new enum value is used in the
// same run), hence a lock held on its own connection instead of a
// transaction-scoped one.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver riverdriver.Driver[pgx.Tx], q *Queue) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: q.riverLogger()})
	if err != nil {
		return fmt.Errorf("open queue: river migrator: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("open queue: migration connection: %w", err)
	}
	defer conn.Release()
	const lock = "SELECT pg_advisory_lock(hashtext('plumb_queue_migrate'))"
	if _, err := conn.Exec(ctx, lock); err != nil {
		return fmt.Errorf("open queue: migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('plumb_queue_migrate'))")
	}()
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("open queue: river migrations: %w", err)
	}
	for _, stmt := range schemaPostgres {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("open queue: create tables: %w", err)
		}
	}
	return nil
}

var schemaSQLite = []string{
	`CREATE TABLE IF NOT EXISTS plumb_event (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		key TEXT NOT NULL UNIQUE,
		body TEXT NOT NULL,
		received_at INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS plumb_delivery (
		job_id INTEGER PRIMARY KEY,
		event_id INTEGER NOT NULL,
		subscription TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS plumb_delivery_event ON plumb_delivery (event_id)`,
	`CREATE TABLE IF NOT EXISTS plumb_periodic_run (
		name TEXT PRIMARY KEY,
		started_at INTEGER NOT NULL DEFAULT 0,
		finished_at INTEGER NOT NULL DEFAULT 0,
		succeeded_at INTEGER NOT NULL DEFAULT 0,
		failed_at INTEGER NOT NULL DEFAULT 0,
		failing_since INTEGER NOT NULL DEFAULT 0,
		error TEXT NOT NULL DEFAULT '',
		failures INTEGER NOT NULL DEFAULT 0,
		failures_total INTEGER NOT NULL DEFAULT 0
	)`,
}

var schemaPostgres = []string{
	`CREATE TABLE IF NOT EXISTS plumb_event (
		id BIGSERIAL PRIMARY KEY,
		key TEXT NOT NULL UNIQUE,
		body TEXT NOT NULL,
		received_at BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS plumb_delivery (
		job_id BIGINT PRIMARY KEY,
		event_id BIGINT NOT NULL,
		subscription TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS plumb_delivery_event ON plumb_delivery (event_id)`,
	`CREATE TABLE IF NOT EXISTS plumb_periodic_run (
		name TEXT PRIMARY KEY,
		started_at BIGINT NOT NULL DEFAULT 0,
		finished_at BIGINT NOT NULL DEFAULT 0,
		succeeded_at BIGINT NOT NULL DEFAULT 0,
		failed_at BIGINT NOT NULL DEFAULT 0,
		failing_since BIGINT NOT NULL DEFAULT 0,
		error TEXT NOT NULL DEFAULT '',
		failures INTEGER NOT NULL DEFAULT 0,
		failures_total BIGINT NOT NULL DEFAULT 0
	)`,
}

type sqlTxOps struct{ tx *sql.Tx }

func (o sqlTxOps) exec(ctx context.Context, query string, args ...any) error {
	_, err := o.tx.ExecContext(ctx, query, args...)
	return err
}

func (o sqlTxOps) execN(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := o.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (o sqlTxOps) query(ctx context.Context, query string, args ...any) (rowIter, error) {
	rows, err := o.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type pgxTxOps struct{ tx pgx.Tx }

func (o pgxTxOps) exec(ctx context.Context, query string, args ...any) error {
	_, err := o.tx.Exec(ctx, sqlbind.Postgres(query), args...)
	return err
}

func (o pgxTxOps) execN(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := o.tx.Exec(ctx, sqlbind.Postgres(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (o pgxTxOps) query(ctx context.Context, query string, args ...any) (rowIter, error) {
	rows, err := o.tx.Query(ctx, sqlbind.Postgres(query), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// rebind adapts a "?" query to the queue's dialect for use with DB().
func (q *Queue) rebind(query string) string {
	if q.dialect == "postgres" {
		return sqlbind.Postgres(query)
	}
	return query
}
