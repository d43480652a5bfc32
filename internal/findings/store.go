// Package findings keeps every finding plumb has seen, keyed by its
// fingerprint, so a problem found again is recognised as the same problem
// (first seen, times seen) and a resolved problem that comes back is
// reopened rather than reported as new. It shares the queue's database, so a
// server has one SQLite file or one PostgreSQL database to look after.
package findings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"plumb/internal/model"
	"plumb/internal/sqlbind"
)

// Finding statuses.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	// StatusSuppressed is a finding an operator decided to live with: it is
	// still counted when seen again, but no longer routed to receivers.
	StatusSuppressed = "suppressed"
)

// ErrNotFound lets the API answer 404 for an unknown fingerprint.
var ErrNotFound = errors.New("findings: not found")

// Store is the findings table. Safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string
	// owner decides the team of a finding as it is stored (SetOwnership);
	// nil keeps the owner the finding carries.
	owner func(model.Finding) string
}

// Record is a finding with its lifecycle.
type Record struct {
	// Finding is the latest version seen; its FirstSeen and LastSeen are
	// filled from the record.
	Finding    model.Finding
	Status     string
	FirstSeen  time.Time
	LastSeen   time.Time
	Count      int
	ResolvedAt *time.Time
}

// Page sizes of List.
const (
	DefaultListLimit = 500
	MaxListLimit     = 10000
)

// Position is where a page of List ended: the last finding's first
// sighting and fingerprint. Both never change for a finding, so a finding
// seen again, resolved or reopened between two pages keeps its place, and
// findings opened meanwhile sort before the position: walking the pages
// returns every finding that existed at the start exactly once.
type Position struct {
	FirstSeen   int64  `json:"t"`
	Fingerprint string `json:"fp"`
}

// Page is one page of List.
type Page struct {
	Records []Record
	// Total counts every finding matching the filters at the time of the
	// call, on this page or not.
	Total int
	// Next is where the next page starts; nil when this page is the last.
	Next *Position
}

// NewStore creates the table if missing. dialect is "sqlite" or
// "postgres", as reported by queue.Queue.Dialect.
func NewStore(ctx context.Context, db *sql.DB, dialect string) (*Store, error) {
	if dialect != "sqlite" && dialect != "postgres" {
		return nil, fmt.Errorf("findings store: unsupported dialect %q", dialect)
	}
	s := &Store{db: db, dialect: dialect}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS plumb_finding (
			fingerprint TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			environment TEXT NOT NULL,
			status TEXT NOT NULL,
			first_seen BIGINT NOT NULL,
			last_seen BIGINT NOT NULL,
			seen_count BIGINT NOT NULL,
			resolved_at BIGINT,
			body TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_finding_last_seen ON plumb_finding (last_seen)`,
		// The order of List, so a page is an index range, not a sort.
		`CREATE INDEX IF NOT EXISTS plumb_finding_first_seen ON plumb_finding (first_seen, fingerprint)`,
		// One row per (finding, occurrence) already counted, so a
		// delivery that runs again after a crash does not count twice.
		`CREATE TABLE IF NOT EXISTS plumb_finding_occurrence (
			fingerprint TEXT NOT NULL,
			occurrence TEXT NOT NULL,
			seen_at BIGINT NOT NULL,
			PRIMARY KEY (fingerprint, occurrence)
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_finding_occurrence_seen ON plumb_finding_occurrence (seen_at)`,
	}
	stmts = append(stmts, lifecycleTables(dialect)...)
	stmts = append(stmts, enforcementTables()...)
	if dialect == "sqlite" {
		// The console's counts and filters read the findings' indexes on
		// every page; SQLite's default page cache (2 MB) holds only part
		// of them at 100,000 findings, so each page would read them again
		// from the file. 64 MiB keeps them in memory. The queue's SQLite
		// database has a single connection, so this applies to all its use.
		stmts = append(stmts, `PRAGMA cache_size = -65536`)
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("findings store: create table: %w", err)
		}
	}
	if err := migrateReceiverState(ctx, db, dialect, time.Now()); err != nil {
		return nil, fmt.Errorf("findings store: add updated_at to receiver state: %w", err)
	}
	if err := s.migrateColumns(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Upsert records that fs were seen at now: new fingerprints are inserted
// open with count 1; known ones get last_seen, count+1 and the latest
// finding, and are reopened if resolved (suppressed ones stay suppressed:
// the operator's decision holds while the problem persists). Openings,
// reopenings and changed findings are written to the history. A fingerprint listed twice in one
// call counts once (the last wins), so a retried call over the same batch
// is not double-counted within itself. All of fs is stored or none.
func (s *Store) Upsert(ctx context.Context, now time.Time, fs []model.Finding) error {
	return s.upsert(ctx, now, "", fs)
}

// OccurrenceRetention is how long UpsertOccurrence remembers an
// occurrence; a delivery re-run later than that counts again.
const OccurrenceRetention = 30 * 24 * time.Hour

// UpsertOccurrence is Upsert for findings that one occurrence produced
// (a queue delivery, by its id): if this occurrence was already counted
// for a fingerprint, that finding is left alone. A handler that stored
// its findings and then died before its delivery was marked done runs
// again after a restart; with this, it does not count the problem twice.
func (s *Store) UpsertOccurrence(ctx context.Context, now time.Time, occurrence string, fs []model.Finding) error {
	if occurrence == "" {
		return fmt.Errorf("upsert findings: empty occurrence")
	}
	return s.upsert(ctx, now, occurrence, fs)
}

func (s *Store) upsert(ctx context.Context, now time.Time, occurrence string, fs []model.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	latest := map[string]model.Finding{}
	for _, f := range fs {
		if f.Fingerprint == "" {
			return fmt.Errorf("upsert findings: finding %q has no fingerprint", f.Message)
		}
		latest[f.Fingerprint] = f
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	// Sorted so concurrent upserts on PostgreSQL lock rows in one order.
	sort.Strings(keys)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upsert findings: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if occurrence != "" {
		// Forget occurrences past retention, in the same transaction.
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM plumb_finding_occurrence WHERE seen_at < ?`),
			now.Add(-OccurrenceRetention).UnixNano()); err != nil {
			return fmt.Errorf("upsert findings: prune occurrences: %w", err)
		}
	}
	mark := s.rebind(`INSERT INTO plumb_finding_occurrence (fingerprint, occurrence, seen_at) VALUES (?, ?, ?)
		ON CONFLICT (fingerprint, occurrence) DO NOTHING`)
	for _, k := range keys {
		if occurrence != "" {
			res, err := tx.ExecContext(ctx, mark, k, occurrence, now.UnixNano())
			if err != nil {
				return fmt.Errorf("upsert finding %s: record occurrence: %w", k, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("upsert finding %s: record occurrence: %w", k, err)
			} else if n == 0 {
				continue // counted when this occurrence ran before
			}
		}
		if _, err := s.upsertOne(ctx, tx, now, latest[k]); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upsert findings: commit: %w", err)
	}
	return nil
}

// Resolve marks open findings resolved at now, for example when the alert
// that raised them resolves. Unknown or already resolved fingerprints are
// ignored, so repeating a resolve is harmless. Suppressed findings stay
// suppressed: the operator's decision outlives the alert.
func (s *Store) Resolve(ctx context.Context, now time.Time, fingerprints []string) error {
	const chunk = 500
	for start := 0; start < len(fingerprints); start += chunk {
		part := fingerprints[start:min(start+chunk, len(fingerprints))]
		if err := s.resolveChunk(ctx, now, part); err != nil {
			return err
		}
	}
	return nil
}

// resolveChunk resolves part in one transaction and records a history
// entry for each finding that actually changed state.
func (s *Store) resolveChunk(ctx context.Context, now time.Time, part []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("resolve findings: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	args := []any{now.UnixNano()}
	ph := make([]string, len(part))
	for i, fp := range part {
		ph[i] = "?"
		args = append(args, fp)
	}
	q := `UPDATE plumb_finding SET status = 'resolved', resolved_at = ? WHERE status = 'open' AND fingerprint IN (` +
		strings.Join(ph, ", ") + `) RETURNING fingerprint`
	rows, err := tx.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("resolve findings: %w", err)
	}
	var resolved []string
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return fmt.Errorf("resolve findings: %w", err)
		}
		resolved = append(resolved, fp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("resolve findings: %w", err)
	}
	for _, fp := range resolved {
		if err := s.addHistory(ctx, tx, fp, now, ActionResolved, ""); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("resolve findings: commit: %w", err)
	}
	return nil
}

const selectColumns = `SELECT fingerprint, status, first_seen, last_seen, seen_count, resolved_at, body, owner FROM plumb_finding`

// ListAll reads every finding matching q, page after page (q.Limit is the
// page size; q.After is ignored). It is for callers that must see all of
// them, such as enforcement planning and codify, where a finding left out
// would be a decision made without it.
func (s *Store) ListAll(ctx context.Context, q Query) ([]Record, error) {
	if q.Limit == 0 {
		q.Limit = MaxListLimit
	}
	q.After = nil
	var out []Record
	for {
		page, err := s.List(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if page.Next == nil {
			return out, nil
		}
		q.After = page.Next
	}
}

// Get returns one finding by fingerprint, or ErrNotFound.
func (s *Store) Get(ctx context.Context, fingerprint string) (Record, error) {
	row := s.db.QueryRowContext(ctx, s.rebind(selectColumns+" WHERE fingerprint = ?"), fingerprint)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("get finding %s: %w", fingerprint, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("get finding %s: %w", fingerprint, err)
	}
	return r, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(sc scanner) (Record, error) {
	var r Record
	var fp, body string
	var first, last int64
	var resolved sql.NullInt64
	var owner sql.NullString
	if err := sc.Scan(&fp, &r.Status, &first, &last, &r.Count, &resolved, &body, &owner); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(body), &r.Finding); err != nil {
		return r, fmt.Errorf("decode finding %s: %w", fp, err)
	}
	r.Finding.Owner = owner.String
	r.FirstSeen = time.Unix(0, first).UTC()
	r.LastSeen = time.Unix(0, last).UTC()
	if resolved.Valid {
		t := time.Unix(0, resolved.Int64).UTC()
		r.ResolvedAt = &t
	}
	r.Finding.Fingerprint = fp
	r.Finding.FirstSeen = r.FirstSeen
	r.Finding.LastSeen = r.LastSeen
	return r, nil
}

// rebind binds a statement for the store's database.
func (s *Store) rebind(query string) string { return sqlbind.For(s.dialect, query) }
