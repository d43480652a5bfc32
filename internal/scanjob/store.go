// Package scanjob runs the scheduled scans of plumb serve as River tasks
// shared by every replica: a planner reads the desired state once and
// stores a scan run with one part per (account, region, service); any
// replica reads any part and stores what it read; when the last part is
// recorded, one join compares everything with the desired state and runs
// the findings lifecycle once. Concurrency limits per account and per
// service hold across replicas through leases in the database.
package scanjob

import (
	"context"
	"database/sql"
	"fmt"

	"plumb/internal/sqlbind"
)

// States of a scan run.
const (
	RunOpen    = "open"    // parts are being read
	RunJoining = "joining" // a join is comparing and storing findings
	RunJoined  = "joined"  // the lifecycle ran
)

// States of a part.
const (
	PartPending = "pending"
	PartDone    = "done"
	PartFailed  = "failed"
)

func schema(dialect string) []string {
	big := "BIGINT"
	return []string{
		`CREATE TABLE IF NOT EXISTS plumb_scan_run (
			id TEXT PRIMARY KEY,
			environment TEXT NOT NULL,
			state TEXT NOT NULL,
			started_at ` + big + ` NOT NULL,
			finished_at ` + big + ` NOT NULL DEFAULT 0,
			parts_total INTEGER NOT NULL,
			parts_left INTEGER NOT NULL,
			multi INTEGER NOT NULL,
			account TEXT NOT NULL DEFAULT '',
			regions TEXT NOT NULL,
			accounts TEXT NOT NULL,
			errors TEXT NOT NULL,
			declared TEXT NOT NULL,
			desired TEXT NOT NULL,
			api_calls ` + big + ` NOT NULL DEFAULT 0,
			join_job ` + big + ` NOT NULL DEFAULT 0,
			join_attempt INTEGER NOT NULL DEFAULT 0,
			error TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_scan_run_env ON plumb_scan_run (environment, state)`,
		`CREATE TABLE IF NOT EXISTS plumb_scan_part (
			run_id TEXT NOT NULL,
			seq INTEGER NOT NULL,
			account TEXT NOT NULL,
			service TEXT NOT NULL,
			region TEXT NOT NULL,
			target TEXT NOT NULL,
			job_id ` + big + ` NOT NULL,
			state TEXT NOT NULL,
			replica TEXT NOT NULL DEFAULT '',
			attempts INTEGER NOT NULL DEFAULT 0,
			started_at ` + big + ` NOT NULL DEFAULT 0,
			finished_at ` + big + ` NOT NULL DEFAULT 0,
			result TEXT NOT NULL DEFAULT '',
			error TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (run_id, seq)
		)`,
		`CREATE TABLE IF NOT EXISTS plumb_scan_lease (
			key TEXT NOT NULL,
			slot INTEGER NOT NULL,
			holder TEXT NOT NULL,
			expires_at ` + big + ` NOT NULL,
			PRIMARY KEY (key, slot)
		)`,
	}
}

// migrate creates the tables. On PostgreSQL replicas starting together
// take turns (an advisory lock), so they do not race on the DDL.
func migrate(ctx context.Context, db *sql.DB, dialect string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("scan run tables: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('plumb_scanjob_migrate'))`); err != nil {
			return fmt.Errorf("scan run tables: lock: %w", err)
		}
	}
	for _, stmt := range schema(dialect) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("scan run tables: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("scan run tables: %w", err)
	}
	return nil
}

// nowMS is the database's clock in milliseconds, so leases taken by
// replicas on different machines expire by one clock.
func nowMS(dialect string) string {
	if dialect == "postgres" {
		return `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	}
	return `CAST(unixepoch('subsec') * 1000 AS INTEGER)`
}

func bind(dialect, q string) string { return sqlbind.For(dialect, q) }
