// Package breakglass keeps break-glass windows: a time during which one
// named principal may change one environment by hand, on purpose (an
// incident). While a window is open, that principal's writes are recorded
// as audit.break_glass (info) instead of alarming as
// audit.unexpected_write, the change each makes becomes a drift.reconcile
// finding asking for it to be put into code, and enforcement acts on
// nothing in the environment. When the window closes (early, or at its
// end), its reconcile findings are resolved and whatever drift is still
// there is handled as usual again.
package breakglass

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"plumb/internal/audit"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/sqlbind"
)

// objectID is an Entra object id: a GUID, braces allowed.
var objectID = regexp.MustCompile(`^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$`)

// MaxDuration is the longest window: a break-glass that lasts a day is a
// second way to deploy, not an emergency.
const MaxDuration = 24 * time.Hour

// ErrNotFound lets the API answer 404 for an unknown window.
var ErrNotFound = errors.New("breakglass: window not found")

// Window is one break-glass window.
type Window struct {
	ID          string `json:"id"`
	Environment string `json:"environment"`
	// Principal is who may write: an IAM user or role ARN, an STS session
	// ARN, or an Entra object id, as the audit handler matches pipeline
	// identities (a role's sessions count as the role).
	Principal string    `json:"principal"`
	Reason    string    `json:"reason"`
	OpenedBy  string    `json:"opened_by"`
	OpenedAt  time.Time `json:"opened_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// ClosedAt and ClosedBy are set when it was closed early.
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	ClosedBy string     `json:"closed_by,omitempty"`
	// Ended is set once the window's end was handled (its reconcile
	// findings resolved).
	Ended *time.Time `json:"ended_at,omitempty"`
}

// End is when the window stops: closed early, or expired.
func (w Window) End() time.Time {
	if w.ClosedAt != nil && w.ClosedAt.Before(w.ExpiresAt) {
		return *w.ClosedAt
	}
	return w.ExpiresAt
}

// Open reports whether the window is in force at t.
func (w Window) Open(t time.Time) bool {
	return !t.Before(w.OpenedAt) && t.Before(w.End())
}

// State is "open" or "closed" at t.
func (w Window) State(t time.Time) string {
	if w.Open(t) {
		return "open"
	}
	return "closed"
}

// OverlapError is a window that would overlap another of the same
// principal in the same environment.
type OverlapError struct {
	Other Window
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("overlaps break-glass window %s for %s in %s (%s, opened by %s, until %s): close it first (plumb breakglass close %s) or wait for it to end",
		e.Other.ID, e.Other.Principal, e.Other.Environment, e.Other.Reason, e.Other.OpenedBy, e.Other.End().UTC().Format(time.RFC3339), e.Other.ID)
}

// Store keeps windows beside the findings (same database, SQLite or
// PostgreSQL), and resolves a window's reconcile findings when it ends.
type Store struct {
	db       *sql.DB
	dialect  string
	findings *findings.Store
}

// NewStore creates the table if missing.
func NewStore(ctx context.Context, db *sql.DB, dialect string, fs *findings.Store) (*Store, error) {
	if dialect != "sqlite" && dialect != "postgres" {
		return nil, fmt.Errorf("break-glass store: unsupported dialect %q", dialect)
	}
	s := &Store{db: db, dialect: dialect, findings: fs}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS plumb_breakglass (
			id TEXT PRIMARY KEY,
			environment TEXT NOT NULL,
			principal TEXT NOT NULL,
			reason TEXT NOT NULL,
			opened_by TEXT NOT NULL,
			opened_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			closed_at BIGINT,
			closed_by TEXT NOT NULL,
			ended_at BIGINT
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_breakglass_env ON plumb_breakglass (environment, expires_at)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("break-glass store: create table: %w", err)
		}
	}
	return s, nil
}

func (s *Store) rebind(q string) string { return sqlbind.For(s.dialect, q) }

// OpenRequest asks for a window.
type OpenRequest struct {
	Environment string
	Principal   string
	Reason      string
	For         time.Duration
	OpenedBy    string
}

// Validate checks a request in the user's words (the flags' names).
func (r OpenRequest) Validate() error {
	var errs []string
	if r.Environment == "" {
		errs = append(errs, "--env is required")
	}
	p := strings.TrimSpace(r.Principal)
	switch {
	case p == "":
		errs = append(errs, "--principal is required: the IAM user or role ARN (or Entra object id) that will write by hand")
	case strings.ContainsAny(p, "*?"):
		errs = append(errs, fmt.Sprintf("--principal %q: name one principal exactly, without wildcards", r.Principal))
	case !strings.HasPrefix(strings.ToLower(p), "arn:") && !objectID.MatchString(p):
		errs = append(errs, fmt.Sprintf("--principal %q: want an IAM user or role ARN (arn:aws:iam::ACCOUNT:role/NAME) or an Entra object id (a GUID)", r.Principal))
	default:
		if _, err := audit.NewChecker([]string{p}); err != nil {
			errs = append(errs, fmt.Sprintf("--principal %q: %v", r.Principal, strings.TrimPrefix(err.Error(), fmt.Sprintf("pipeline identity 1 (%q): ", r.Principal))))
		}
	}
	if strings.TrimSpace(r.Reason) == "" {
		errs = append(errs, `--reason is required: the incident or change it is for ("INC-1234")`)
	}
	switch {
	case r.For <= 0:
		errs = append(errs, fmt.Sprintf("--for %s: want a positive duration such as 2h", r.For))
	case r.For > MaxDuration:
		errs = append(errs, fmt.Sprintf("--for %s: at most %s; open another window when this one ends", r.For, MaxDuration))
	}
	if strings.TrimSpace(r.OpenedBy) == "" {
		errs = append(errs, "no identity for who opens the window")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Open stores a new window starting at now. A window of the same
// principal in the same environment that would overlap it is an
// *OverlapError.
func (s *Store) Open(ctx context.Context, now time.Time, r OpenRequest) (Window, error) {
	if err := r.Validate(); err != nil {
		return Window{}, err
	}
	w := Window{ID: newID(), Environment: r.Environment, Principal: strings.TrimSpace(r.Principal), Reason: strings.TrimSpace(r.Reason),
		OpenedBy: r.OpenedBy, OpenedAt: now.UTC(), ExpiresAt: now.UTC().Add(r.For)}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Window{}, fmt.Errorf("open break-glass window: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.dialect == "postgres" {
		// One opener at a time per database, so two overlapping windows
		// cannot both pass the check.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7201)`); err != nil {
			return Window{}, fmt.Errorf("open break-glass window: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, s.rebind(selectWindows+` WHERE environment = ? AND expires_at > ?`), r.Environment, w.OpenedAt.UnixNano())
	if err != nil {
		return Window{}, fmt.Errorf("open break-glass window: %w", err)
	}
	others, err := collect(rows)
	if err != nil {
		return Window{}, fmt.Errorf("open break-glass window: %w", err)
	}
	for _, o := range others {
		if samePrincipal(o.Principal, w.Principal) && o.OpenedAt.Before(w.ExpiresAt) && w.OpenedAt.Before(o.End()) {
			return Window{}, &OverlapError{Other: o}
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO plumb_breakglass (id, environment, principal, reason, opened_by, opened_at, expires_at, closed_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, '')`), w.ID, w.Environment, w.Principal, w.Reason, w.OpenedBy, w.OpenedAt.UnixNano(), w.ExpiresAt.UnixNano()); err != nil {
		return Window{}, fmt.Errorf("open break-glass window: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Window{}, fmt.Errorf("open break-glass window: commit: %w", err)
	}
	return w, nil
}

// samePrincipal compares principals as the audit does: without case, a
// GUID in either form.
func samePrincipal(a, b string) bool {
	ca, err := audit.NewChecker([]string{a})
	if err != nil {
		return strings.EqualFold(a, b)
	}
	return ca.IsPipeline(b) || strings.EqualFold(a, b)
}

const selectWindows = `SELECT id, environment, principal, reason, opened_by, opened_at, expires_at, closed_at, closed_by, ended_at FROM plumb_breakglass`

func collect(rows *sql.Rows) ([]Window, error) {
	defer rows.Close()
	var out []Window
	for rows.Next() {
		var w Window
		var opened, expires int64
		var closed, ended sql.NullInt64
		if err := rows.Scan(&w.ID, &w.Environment, &w.Principal, &w.Reason, &w.OpenedBy, &opened, &expires, &closed, &w.ClosedBy, &ended); err != nil {
			return nil, err
		}
		w.OpenedAt, w.ExpiresAt = time.Unix(0, opened).UTC(), time.Unix(0, expires).UTC()
		if closed.Valid {
			t := time.Unix(0, closed.Int64).UTC()
			w.ClosedAt = &t
		}
		if ended.Valid {
			t := time.Unix(0, ended.Int64).UTC()
			w.Ended = &t
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Get returns one window, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Window, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(selectWindows+` WHERE id = ?`), id)
	if err != nil {
		return Window{}, fmt.Errorf("break-glass window %s: %w", id, err)
	}
	ws, err := collect(rows)
	if err != nil {
		return Window{}, fmt.Errorf("break-glass window %s: %w", id, err)
	}
	if len(ws) == 0 {
		return Window{}, fmt.Errorf("break-glass window %s: %w", id, ErrNotFound)
	}
	return ws[0], nil
}

// List returns windows newest first: of one environment (or all), only
// those open at now when openOnly.
func (s *Store) List(ctx context.Context, now time.Time, environment string, openOnly bool) ([]Window, error) {
	q := selectWindows
	var where []string
	var args []any
	if environment != "" {
		where = append(where, "environment = ?")
		args = append(args, environment)
	}
	if openOnly {
		where = append(where, "expires_at > ? AND opened_at <= ? AND (closed_at IS NULL OR closed_at > ?)")
		args = append(args, now.UnixNano(), now.UnixNano(), now.UnixNano())
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+" ORDER BY opened_at DESC, id DESC LIMIT 1000"), args...)
	if err != nil {
		return nil, fmt.Errorf("list break-glass windows: %w", err)
	}
	ws, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("list break-glass windows: %w", err)
	}
	return ws, nil
}

// Close ends a window early, then handles its end (End). A window that
// already ended is an error saying when.
func (s *Store) Close(ctx context.Context, now time.Time, id, by string) (Window, error) {
	w, err := s.Get(ctx, id)
	if err != nil {
		return Window{}, err
	}
	if !now.Before(w.End()) {
		return w, fmt.Errorf("break-glass window %s already ended at %s", id, w.End().UTC().Format(time.RFC3339))
	}
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE plumb_breakglass SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL`),
		now.UnixNano(), by, id)
	if err != nil {
		return Window{}, fmt.Errorf("close break-glass window %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Window{}, fmt.Errorf("break-glass window %s was closed meanwhile", id)
	}
	if _, err := s.Sweep(ctx, now); err != nil {
		return Window{}, err
	}
	return s.Get(ctx, id)
}

// Sweep handles the end of every window that ended by now and was not
// handled yet: its open reconcile findings are resolved, so the drift
// still there is handled as usual again (the next scan reports it as
// drift.changed, enforcement may act on it). It returns the windows it
// handled.
func (s *Store) Sweep(ctx context.Context, now time.Time) ([]Window, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(selectWindows+` WHERE ended_at IS NULL AND (expires_at <= ? OR closed_at <= ?)`), now.UnixNano(), now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("sweep break-glass windows: %w", err)
	}
	ended, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("sweep break-glass windows: %w", err)
	}
	for _, w := range ended {
		if s.findings != nil {
			recs, err := s.findings.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Kind: string(model.KindReconcile), Environment: w.Environment})
			if err != nil {
				return nil, fmt.Errorf("sweep break-glass window %s: %w", w.ID, err)
			}
			how := "expired"
			if w.ClosedAt != nil && w.ClosedAt.Before(w.ExpiresAt) {
				how = "closed by " + w.ClosedBy
			}
			detail := fmt.Sprintf("break-glass window %s %s at %s: drift still there is handled as usual", w.ID, how, w.End().UTC().Format(time.RFC3339))
			for _, r := range recs {
				if r.Finding.Rule != w.ID {
					continue
				}
				if err := s.findings.ResolveBecause(ctx, now, r.Finding.Fingerprint, detail); err != nil && !errors.Is(err, findings.ErrNotFound) {
					return nil, fmt.Errorf("sweep break-glass window %s: %w", w.ID, err)
				}
			}
		}
		if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE plumb_breakglass SET ended_at = ? WHERE id = ?`), now.UnixNano(), w.ID); err != nil {
			return nil, fmt.Errorf("sweep break-glass window %s: %w", w.ID, err)
		}
	}
	return ended, nil
}

// OpenWindows implements enforce.WindowSource.
func (s *Store) OpenWindows(ctx context.Context, environment string, at time.Time) ([]enforce.OpenWindow, error) {
	ws, err := s.List(ctx, at, environment, true)
	if err != nil {
		return nil, err
	}
	out := make([]enforce.OpenWindow, 0, len(ws))
	for _, w := range ws {
		out = append(out, enforce.OpenWindow{ID: w.ID, Principal: w.Principal, Reason: w.Reason, OpenedBy: w.OpenedBy, Until: w.End()})
	}
	return out, nil
}

var _ enforce.WindowSource = (*Store)(nil)

// Covering returns the window of environment whose principal made the
// event and which was open when the event happened (its time; the
// processing time when the event has none), or nil. CloudTrail delivers
// events minutes late: a write inside the window counts even if it
// arrives after the window closed.
func (s *Store) Covering(ctx context.Context, environment string, ev model.Event, now time.Time) (*Window, error) {
	at := ev.Time
	if at.IsZero() {
		at = now
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(selectWindows+` WHERE environment = ? AND opened_at <= ? AND expires_at > ? ORDER BY opened_at`),
		environment, at.UnixNano(), at.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("break-glass windows of %s: %w", environment, err)
	}
	ws, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("break-glass windows of %s: %w", environment, err)
	}
	for _, w := range ws {
		if !w.Open(at) {
			continue
		}
		c, err := audit.NewChecker([]string{w.Principal})
		if err != nil {
			continue
		}
		if c.IsPipelineEvent(ev) {
			return &w, nil
		}
	}
	return nil, nil
}

// Findings describes a write made under a window: the audit.break_glass
// record of it, and the drift.reconcile finding asking to put the change
// into code (one per resource and window).
func Findings(ev model.Event, environment string, w Window) []model.Finding {
	write := audit.Finding(ev, environment)
	r := write.Resource
	what := r.ARN
	if what == "" {
		what = r.ID
	}
	if what == "" {
		what = "unknown resource"
	}
	op := ev.Operation
	if op == "" {
		op = ev.Type
	}
	who := w.Principal
	if ev.Principal != "" {
		who = ev.Principal
	}
	bg := model.Finding{
		Kind:     model.KindBreakGlass,
		Severity: model.SeverityInfo,
		Fingerprint: model.Fingerprint(model.KindBreakGlass, environment, r.Provider, r.Type, r.Region, r.ID,
			w.ID+"|"+strings.ToLower(who)+"|"+strings.ToLower(op)),
		Environment: environment,
		Resource:    r,
		Source:      write.Source,
		Changes:     []model.Change{},
		Message:     fmt.Sprintf("Break-glass write by %s: %s on %s (%s, window %s)", who, op, what, w.Reason, w.ID),
		Rule:        w.ID,
	}
	rc := model.Finding{
		Kind:        model.KindReconcile,
		Severity:    model.SeverityMedium,
		Fingerprint: model.Fingerprint(model.KindReconcile, environment, r.Provider, r.Type, r.Region, r.ID, w.ID),
		Environment: environment,
		Resource:    r,
		Source:      write.Source,
		Changes:     []model.Change{},
		Message: fmt.Sprintf("Put the break-glass change into code (%s): %s by %s under %s. plumb leaves it alone while window %s is open (until %s); drift still there after it closes is handled as usual",
			displayName(r, what), op, who, w.Reason, w.ID, w.End().UTC().Format(time.RFC3339)),
		Rule: w.ID,
	}
	return []model.Finding{bg, rc}
}

func displayName(r model.Resource, fallback string) string {
	if n := r.DisplayName(); n != "" {
		return n
	}
	return fallback
}

func newID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return "bg-" + hex.EncodeToString(b[:])
}
