package enforce

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"plumb/internal/paging"
	"plumb/internal/sqlbind"
)

// ErrNotFound lets the API answer 404 for an unknown action.
var ErrNotFound = errors.New("enforce: action not found")

// Store keeps action records beside the findings tables (same database,
// SQLite or PostgreSQL). Safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string
}

// NewStore creates the table if missing. dialect is "sqlite" or
// "postgres", as reported by queue.Queue.Dialect.
func NewStore(ctx context.Context, db *sql.DB, dialect string) (*Store, error) {
	if dialect != "sqlite" && dialect != "postgres" {
		return nil, fmt.Errorf("action store: unsupported dialect %q", dialect)
	}
	s := &Store{db: db, dialect: dialect}
	for _, stmt := range append([]string{
		`CREATE TABLE IF NOT EXISTS plumb_action (
			id TEXT PRIMARY KEY,
			run_id TEXT NOT NULL,
			fingerprint TEXT NOT NULL,
			environment TEXT NOT NULL,
			verb TEXT NOT NULL,
			state TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			body TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_action_created ON plumb_action (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS plumb_action_fp ON plumb_action (fingerprint, state)`,
	}, approvalTables()...) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("action store: create table: %w", err)
		}
	}
	return s, nil
}

func (s *Store) rebind(q string) string { return sqlbind.For(s.dialect, q) }

// Insert stores new actions; an id already stored is left as it is, so
// inserting a run's actions again (a resumed job) changes nothing.
func (s *Store) Insert(ctx context.Context, as []*Action) error {
	if len(as) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert actions: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt := s.rebind(`INSERT INTO plumb_action (id, run_id, fingerprint, environment, verb, state, created_at, updated_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	for _, a := range as {
		body, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("insert action %s: %w", a.ID, err)
		}
		if _, err := tx.ExecContext(ctx, stmt, a.ID, a.RunID, a.Fingerprint, a.Environment, string(a.Verb), string(a.State),
			a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano(), string(body)); err != nil {
			return fmt.Errorf("insert action %s: %w", a.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert actions: commit: %w", err)
	}
	return nil
}

// Put stores an action, replacing the record of the same id.
func (s *Store) Put(ctx context.Context, a *Action) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("save action %s: %w", a.ID, err)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO plumb_action (id, run_id, fingerprint, environment, verb, state, created_at, updated_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, state = excluded.state,
			created_at = excluded.created_at, updated_at = excluded.updated_at, body = excluded.body`),
		a.ID, a.RunID, a.Fingerprint, a.Environment, string(a.Verb), string(a.State),
		a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano(), string(body)); err != nil {
		return fmt.Errorf("save action %s: %w", a.ID, err)
	}
	return nil
}

// SaveBefore stores an action's before-state unless one is stored
// already, and returns the stored one: the first save wins, so a resumed
// execution never replaces the original state with a half-changed one.
func (s *Store) SaveBefore(ctx context.Context, id string, before json.RawMessage) (json.RawMessage, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("save before-state of %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE"
	}
	var body string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT body FROM plumb_action WHERE id = ?`+lock), id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("save before-state of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("save before-state of %s: %w", id, err)
	}
	var a Action
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return nil, fmt.Errorf("save before-state of %s: decode: %w", id, err)
	}
	if len(a.Before) > 0 {
		return a.Before, nil
	}
	a.Before = before
	nb, err := json.Marshal(&a)
	if err != nil {
		return nil, fmt.Errorf("save before-state of %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_action SET body = ? WHERE id = ?`), string(nb), id); err != nil {
		return nil, fmt.Errorf("save before-state of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("save before-state of %s: commit: %w", id, err)
	}
	return before, nil
}

// Get returns one action, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Action, error) {
	var body string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT body FROM plumb_action WHERE id = ?`), id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("action %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", id, err)
	}
	var a Action
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return nil, fmt.Errorf("action %s: decode: %w", id, err)
	}
	return &a, nil
}

// InFlight returns, for the fingerprints given, the actions handed to the
// queue and not finished yet (planned or running), by fingerprint.
func (s *Store) InFlight(ctx context.Context, fps []string) (map[string]*Action, error) {
	out := map[string]*Action{}
	const chunk = 500
	for start := 0; start < len(fps); start += chunk {
		part := fps[start:min(start+chunk, len(fps))]
		args := []any{}
		ph := make([]string, len(part))
		for i, fp := range part {
			ph[i] = "?"
			args = append(args, fp)
		}
		rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT body FROM plumb_action WHERE state IN ('planned', 'running') AND fingerprint IN (`+
			strings.Join(ph, ", ")+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("actions in flight: %w", err)
		}
		as, err := collect(rows)
		if err != nil {
			return nil, fmt.Errorf("actions in flight: %w", err)
		}
		for _, a := range as {
			out[a.Fingerprint] = a
		}
	}
	return out, nil
}

// Run returns the actions of one run, in execution order.
func (s *Store) Run(ctx context.Context, runID string) ([]*Action, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT body FROM plumb_action WHERE run_id = ?`), runID)
	if err != nil {
		return nil, fmt.Errorf("actions of run %s: %w", runID, err)
	}
	as, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("actions of run %s: %w", runID, err)
	}
	sortActions(as)
	return as, nil
}

// Query filters List; empty fields match everything.
type Query struct {
	Environment string
	Fingerprint string
	RunID       string
	State       State
	// Limit is the page size: default DefaultListLimit, at most
	// MaxListLimit (a larger one is an error, never a silent cut).
	Limit int
	// Cursor continues a listing from a previous page's NextCursor.
	Cursor string
}

// Page is one page of a listing, newest first.
type Page struct {
	Actions []*Action
	// Total counts every action matching the filters, on all pages.
	Total int
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// Page sizes of List.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ErrCursor is a cursor List cannot continue from (paging.ErrCursor).
var ErrCursor = paging.ErrCursor

// actionCursor is the position after the last action of a page, in the
// list's stable order (newest first, then id).
type actionCursor struct {
	CreatedAt int64  `json:"at"`
	ID        string `json:"id"`
}

// List returns actions matching q, newest first, one page at a time.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 0 || limit > MaxListLimit {
		return Page{}, fmt.Errorf("list actions: limit %d: want 1 to %d, and next_cursor for more", limit, MaxListLimit)
	}
	filters := paging.Filters{"environment": q.Environment, "finding": q.Fingerprint, "run": q.RunID, "state": string(q.State)}
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{
		{"environment", q.Environment}, {"fingerprint", q.Fingerprint}, {"run_id", q.RunID}, {"state", string(q.State)},
	} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	var total int
	count := `SELECT COUNT(*) FROM plumb_action`
	if len(where) > 0 {
		count += " WHERE " + strings.Join(where, " AND ")
	}
	if err := s.db.QueryRowContext(ctx, s.rebind(count), args...).Scan(&total); err != nil {
		return Page{}, fmt.Errorf("list actions: count: %w", err)
	}
	if q.Cursor != "" {
		var c actionCursor
		if err := paging.Decode(q.Cursor, "actions", filters, &c); err != nil {
			return Page{}, err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, c.CreatedAt, c.CreatedAt, c.ID)
	}
	query := `SELECT body FROM plumb_action`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return Page{}, fmt.Errorf("list actions: %w", err)
	}
	as, err := collect(rows)
	if err != nil {
		return Page{}, fmt.Errorf("list actions: %w", err)
	}
	p := Page{Actions: as, Total: total}
	if len(as) > limit {
		p.Actions = as[:limit]
		last := p.Actions[limit-1]
		next, err := paging.Encode("actions", filters, actionCursor{CreatedAt: last.CreatedAt.UnixNano(), ID: last.ID})
		if err != nil {
			return Page{}, err
		}
		p.NextCursor = next
	}
	return p, nil
}

func collect(rows *sql.Rows) ([]*Action, error) {
	defer rows.Close()
	var out []*Action
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var a Action
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, fmt.Errorf("decode action: %w", err)
		}
		out = append(out, &a)
	}
	return out, rows.Err()
}
