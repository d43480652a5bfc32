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
)

// History actions, one per lifecycle transition, so an operator (and the
// API) can tell how a finding came to be in its state.
const (
	ActionOpened = "opened"
	// ActionSeenChanged is a finding seen again with a different body
	// (new attribute values, a new message); seeing it unchanged is not
	// recorded, so the history does not grow with every scan.
	ActionSeenChanged  = "seen-changed"
	ActionResolved     = "resolved"
	ActionReopened     = "reopened"
	ActionSuppressed   = "suppressed"
	ActionUnsuppressed = "unsuppressed"
)

// HistoryEntry is one transition of a finding.
type HistoryEntry struct {
	At     time.Time
	Action string
	// Detail says why: the operator's reason, the fields that changed,
	// the message of a finding opened.
	Detail string
}

// ReconcileResult counts what one scan did to the store, for logs and
// metrics.
type ReconcileResult struct {
	Opened   int // new fingerprints
	Reopened int // resolved findings found again
	Updated  int // open or suppressed findings seen again
	Resolved int // open findings a complete scan did not find
	// Kept counts open findings missing from the scan whose scope it could
	// not read completely: they are left open rather than guessed away.
	Kept int
}

// lifecycleTables are the tables beside plumb_finding: the history, the
// silences, the notification log and the receivers' state. History ids
// order entries written within one timestamp.
func lifecycleTables(dialect string) []string {
	id := "id INTEGER PRIMARY KEY AUTOINCREMENT"
	if dialect == "postgres" {
		id = "id BIGSERIAL PRIMARY KEY"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS plumb_finding_history (
			` + id + `,
			fingerprint TEXT NOT NULL,
			at BIGINT NOT NULL,
			action TEXT NOT NULL,
			detail TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_finding_history_fp ON plumb_finding_history (fingerprint, id)`,
		`CREATE TABLE IF NOT EXISTS plumb_silence (
			id TEXT PRIMARY KEY,
			matchers TEXT NOT NULL,
			starts_at BIGINT NOT NULL,
			ends_at BIGINT NOT NULL,
			created_by TEXT NOT NULL,
			comment TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			expired_at BIGINT
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_silence_ends ON plumb_silence (ends_at)`,
		`CREATE TABLE IF NOT EXISTS plumb_notify_state (
			receiver TEXT NOT NULL,
			group_key TEXT NOT NULL,
			first_seen BIGINT NOT NULL,
			last_sent BIGINT NOT NULL,
			sent TEXT NOT NULL,
			PRIMARY KEY (receiver, group_key)
		)`,
		`CREATE TABLE IF NOT EXISTS plumb_receiver_state (
			receiver TEXT NOT NULL,
			state_key TEXT NOT NULL,
			value TEXT NOT NULL,
			updated_at BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (receiver, state_key)
		)`,
	}
}

// execer is what history writes need: a transaction or the database.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) addHistory(ctx context.Context, ex execer, fingerprint string, at time.Time, action, detail string) error {
	_, err := ex.ExecContext(ctx, s.rebind(`INSERT INTO plumb_finding_history (fingerprint, at, action, detail) VALUES (?, ?, ?, ?)`),
		fingerprint, at.UnixNano(), action, detail)
	if err != nil {
		return fmt.Errorf("finding %s: record %s: %w", fingerprint, action, err)
	}
	return nil
}

// forUpdate locks a row read in a transaction on PostgreSQL; SQLite has a
// single connection and an immediate transaction, so it needs no lock.
func (s *Store) forUpdate() string {
	if s.dialect == "postgres" {
		return " FOR UPDATE"
	}
	return ""
}

// Upsert outcomes, for ReconcileResult.
const (
	upsertOpened   = "opened"
	upsertReopened = "reopened"
	upsertUpdated  = "updated"
)

// upsertOne stores one sighting of f inside tx and writes its history.
// The insert is tried first so that a new fingerprint is recognised
// atomically; an existing row is then locked and read, so the transition
// (reopened, changed) is decided on the state another writer left.
func (s *Store) upsertOne(ctx context.Context, tx *sql.Tx, now time.Time, f model.Finding) (string, error) {
	fp := f.Fingerprint
	owner := s.ownerOf(f)
	// The owner lives in its own column, decided by the store's settings;
	// leaving it out of the body keeps a changed mapping from reading as
	// a changed finding.
	f.Owner = ""
	body, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("upsert findings: encode %s: %w", fp, err)
	}
	ts := now.UnixNano()
	search := searchText(f)
	res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO plumb_finding
		(fingerprint, kind, environment, status, first_seen, last_seen, seen_count, resolved_at, body, owner, severity, severity_rank, resource_type, search)
		VALUES (?, ?, ?, 'open', ?, ?, 1, NULL, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) DO NOTHING`), fp, string(f.Kind), f.Environment, ts, ts, string(body),
		owner, string(f.Severity), severityRank(f.Severity), f.Resource.Type, search)
	if err != nil {
		return "", fmt.Errorf("upsert finding %s: %w", fp, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", fmt.Errorf("upsert finding %s: %w", fp, err)
	} else if n == 1 {
		return upsertOpened, s.addHistory(ctx, tx, fp, now, ActionOpened, f.Message)
	}
	var status, oldBody string
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT status, body FROM plumb_finding WHERE fingerprint = ?`+s.forUpdate()), fp).
		Scan(&status, &oldBody); err != nil {
		return "", fmt.Errorf("upsert finding %s: read: %w", fp, err)
	}
	newStatus := StatusOpen
	if status == StatusSuppressed {
		newStatus = StatusSuppressed
	}
	carryEnforcement(&f, status, oldBody)
	if f.Enforcement != nil {
		if body, err = json.Marshal(f); err != nil {
			return "", fmt.Errorf("upsert findings: encode %s: %w", fp, err)
		}
	}
	// Without ownership settings a finding that names no owner keeps the
	// one stored; with them, their answer (even "nobody") stands.
	ownerSet := "owner = ?"
	if s.owner == nil {
		ownerSet = "owner = COALESCE(NULLIF(?, ''), owner)"
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET kind = ?, environment = ?, status = ?,
		last_seen = ?, seen_count = seen_count + 1, resolved_at = NULL, body = ?,
		`+ownerSet+`, severity = ?, severity_rank = ?, resource_type = ?, search = ? WHERE fingerprint = ?`),
		string(f.Kind), f.Environment, newStatus, ts, string(body), owner, string(f.Severity), severityRank(f.Severity), f.Resource.Type, search, fp); err != nil {
		return "", fmt.Errorf("upsert finding %s: %w", fp, err)
	}
	switch {
	case status == StatusResolved:
		return upsertReopened, s.addHistory(ctx, tx, fp, now, ActionReopened, f.Message)
	case oldBody != string(body):
		return upsertUpdated, s.addHistory(ctx, tx, fp, now, ActionSeenChanged, "changed: "+changedFields(oldBody, string(body)))
	}
	return upsertUpdated, nil
}

// changedFields names the top-level JSON fields that differ between two
// encodings of a finding, so the history says what changed without
// storing every version.
func changedFields(oldBody, newBody string) string {
	var a, b map[string]json.RawMessage
	if json.Unmarshal([]byte(oldBody), &a) != nil || json.Unmarshal([]byte(newBody), &b) != nil {
		return "body"
	}
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || string(w) != string(v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "body"
	}
	return strings.Join(out, ", ")
}

// transition changes one finding's status under a row lock. next returns
// the new status and history detail, or ok=false when the finding is
// already where the caller wants it (the call is then a harmless no-op).
func (s *Store) transition(ctx context.Context, now time.Time, fingerprint, action string,
	next func(status string) (newStatus, detail string, ok bool)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s finding %s: %w", action, fingerprint, err)
	}
	defer func() { _ = tx.Rollback() }()
	var status string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT status FROM plumb_finding WHERE fingerprint = ?`+s.forUpdate()), fingerprint).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s finding %s: %w", action, fingerprint, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s finding %s: %w", action, fingerprint, err)
	}
	newStatus, detail, ok := next(status)
	if !ok {
		return nil
	}
	var resolvedAt any
	if newStatus == StatusResolved {
		resolvedAt = now.UnixNano()
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET status = ?, resolved_at = ? WHERE fingerprint = ?`),
		newStatus, resolvedAt, fingerprint); err != nil {
		return fmt.Errorf("%s finding %s: %w", action, fingerprint, err)
	}
	if err := s.addHistory(ctx, tx, fingerprint, now, action, detail); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s finding %s: commit: %w", action, fingerprint, err)
	}
	return nil
}

// Suppress records an operator's decision to live with a finding: it keeps
// being counted when seen (Upsert leaves it suppressed) but is no longer
// routed, and a complete scan that misses it does not resolve it. Already
// suppressed findings are left alone; unknown ones are ErrNotFound.
func (s *Store) Suppress(ctx context.Context, now time.Time, fingerprint, reason string) error {
	return s.transition(ctx, now, fingerprint, ActionSuppressed, func(status string) (string, string, bool) {
		return StatusSuppressed, reason, status != StatusSuppressed
	})
}

// Unsuppress takes back a suppression: the finding is open again and
// routed as new; whether the problem still exists is the next scan's to say.
func (s *Store) Unsuppress(ctx context.Context, now time.Time, fingerprint string) error {
	return s.transition(ctx, now, fingerprint, ActionUnsuppressed, func(status string) (string, string, bool) {
		return StatusOpen, "", status == StatusSuppressed
	})
}

// ResolveOne is an operator resolving a finding by hand (fixed outside
// plumb's sight, or a false positive); the reason goes in the history. An
// open or suppressed finding is resolved; one already resolved is left
// alone. If the problem is found again it reopens, as any resolved one.
func (s *Store) ResolveOne(ctx context.Context, now time.Time, fingerprint, reason string) error {
	detail := "manual"
	if reason != "" {
		detail = "manual: " + reason
	}
	return s.transition(ctx, now, fingerprint, ActionResolved, func(status string) (string, string, bool) {
		return StatusResolved, detail, status != StatusResolved
	})
}

// Reconcile applies one scan of environment for kinds: every finding in
// found is upserted (opened, seen again, or reopened), and every open
// finding of environment whose kind is in kinds and which the scan did not
// find is resolved, but only when covered reports that the scan read that
// finding's scope (its type and region) completely. A scan that could not
// read a region must not close the findings it could not see; they are
// kept (counted in Kept). A nil covered covers nothing, and empty kinds
// resolve nothing: resolving is never the default. One transaction, so a
// failed reconcile changes nothing.
func (s *Store) Reconcile(ctx context.Context, now time.Time, environment string, kinds []model.Kind,
	found []model.Finding, covered func(model.Finding) bool) (ReconcileResult, error) {
	var res ReconcileResult
	latest := map[string]model.Finding{}
	for _, f := range found {
		if f.Fingerprint == "" {
			return res, fmt.Errorf("reconcile %s: finding %q has no fingerprint", environment, f.Message)
		}
		latest[f.Fingerprint] = f
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("reconcile %s: %w", environment, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, k := range keys {
		outcome, err := s.upsertOne(ctx, tx, now, latest[k])
		if err != nil {
			return ReconcileResult{}, fmt.Errorf("reconcile %s: %w", environment, err)
		}
		switch outcome {
		case upsertOpened:
			res.Opened++
		case upsertReopened:
			res.Reopened++
		default:
			res.Updated++
		}
	}
	if err := s.recordScan(ctx, tx, now, environment, latest, covered); err != nil {
		return ReconcileResult{}, fmt.Errorf("reconcile %s: %w", environment, err)
	}
	if len(kinds) > 0 {
		args := []any{environment}
		ph := make([]string, len(kinds))
		for i, k := range kinds {
			ph[i] = "?"
			args = append(args, string(k))
		}
		rows, err := tx.QueryContext(ctx, s.rebind(selectColumns+` WHERE status = 'open' AND environment = ? AND kind IN (`+
			strings.Join(ph, ", ")+`) ORDER BY fingerprint`+s.forUpdate()), args...)
		if err != nil {
			return ReconcileResult{}, fmt.Errorf("reconcile %s: list open: %w", environment, err)
		}
		var missing []Record
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return ReconcileResult{}, fmt.Errorf("reconcile %s: list open: %w", environment, err)
			}
			if _, ok := latest[r.Finding.Fingerprint]; !ok {
				missing = append(missing, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return ReconcileResult{}, fmt.Errorf("reconcile %s: list open: %w", environment, err)
		}
		for _, r := range missing {
			if covered == nil || !covered(r.Finding) {
				res.Kept++
				continue
			}
			fp := r.Finding.Fingerprint
			if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET status = 'resolved', resolved_at = ? WHERE fingerprint = ?`),
				now.UnixNano(), fp); err != nil {
				return ReconcileResult{}, fmt.Errorf("reconcile %s: resolve %s: %w", environment, fp, err)
			}
			if err := s.addHistory(ctx, tx, fp, now, ActionResolved, "not found by a complete scan"); err != nil {
				return ReconcileResult{}, fmt.Errorf("reconcile %s: %w", environment, err)
			}
			res.Resolved++
		}
	}
	if err := tx.Commit(); err != nil {
		return ReconcileResult{}, fmt.Errorf("reconcile %s: commit: %w", environment, err)
	}
	return res, nil
}

// History returns the latest limit transitions of a finding, oldest first
// so it reads as a timeline. limit <= 0 means 100; it is capped at 10000.
// An unknown fingerprint is ErrNotFound, so the API can answer 404.
func (s *Store) History(ctx context.Context, fingerprint string, limit int) ([]HistoryEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT at, action, detail FROM (
		SELECT id, at, action, detail FROM plumb_finding_history WHERE fingerprint = ? ORDER BY id DESC LIMIT ?
	) AS h ORDER BY id`), fingerprint, limit)
	if err != nil {
		return nil, fmt.Errorf("finding %s: history: %w", fingerprint, err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var e HistoryEntry
		var at int64
		if err := rows.Scan(&at, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("finding %s: history: %w", fingerprint, err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding %s: history: %w", fingerprint, err)
	}
	if len(out) == 0 {
		if _, err := s.Get(ctx, fingerprint); err != nil {
			return nil, fmt.Errorf("finding %s: history: %w", fingerprint, err)
		}
	}
	return out, nil
}

// HistoryLen counts all transitions of a finding, so a caller shown only
// the latest History entries can say how many it left out.
func (s *Store) HistoryLen(ctx context.Context, fingerprint string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM plumb_finding_history WHERE fingerprint = ?`), fingerprint).Scan(&n); err != nil {
		return 0, fmt.Errorf("finding %s: count history: %w", fingerprint, err)
	}
	return n, nil
}

// Routable returns what the router may have to tell receivers about: every
// open finding, and findings resolved or suppressed at or after
// resolvedSince (so a receiver that was told about them can close them).
// Ordered by fingerprint; no limit, because routing must see everything.
func (s *Store) Routable(ctx context.Context, resolvedSince time.Time) ([]Record, error) {
	since := resolvedSince.UnixNano()
	rows, err := s.db.QueryContext(ctx, s.rebind(selectColumns+` WHERE status = 'open'
		OR (status = 'resolved' AND resolved_at >= ?)
		OR (status = 'suppressed' AND EXISTS (SELECT 1 FROM plumb_finding_history h
			WHERE h.fingerprint = plumb_finding.fingerprint AND h.action = 'suppressed' AND h.at >= ?))
		ORDER BY fingerprint`), since, since)
	if err != nil {
		return nil, fmt.Errorf("routable findings: %w", err)
	}
	return collectRecords(rows, "routable findings")
}

// GetMany returns the findings of fingerprints that exist, in fingerprint
// order; unknown ones are left out. The router uses it for findings it
// told a receiver about, whatever their state now.
func (s *Store) GetMany(ctx context.Context, fingerprints []string) ([]Record, error) {
	const chunk = 500
	var out []Record
	for start := 0; start < len(fingerprints); start += chunk {
		part := fingerprints[start:min(start+chunk, len(fingerprints))]
		args := make([]any, len(part))
		ph := make([]string, len(part))
		for i, fp := range part {
			ph[i] = "?"
			args[i] = fp
		}
		rows, err := s.db.QueryContext(ctx, s.rebind(selectColumns+` WHERE fingerprint IN (`+strings.Join(ph, ", ")+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("get findings: %w", err)
		}
		rs, err := collectRecords(rows, "get findings")
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Finding.Fingerprint < out[j].Finding.Fingerprint })
	return out, nil
}

func collectRecords(rows *sql.Rows, what string) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
