package findings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"plumb/internal/model"
)

// History actions written for enforcement (internal/enforce): a finding
// may only be acted on once its owners were told (notified), and every
// action taken is part of its history (enforced).
const (
	// ActionNotified is a notification of the open finding delivered to
	// a receiver (detail: the receiver's name).
	ActionNotified = "notified"
	// ActionEnforced is an action plumb took on the finding's resource
	// (detail: what was done and the action id).
	ActionEnforced = "enforced"
)

// enforcementTables record what enforcement needs to trust a finding:
// the latest scan of each environment, and for each finding the latest
// scan that saw it in a scope it read completely.
func enforcementTables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS plumb_scan (
			environment TEXT PRIMARY KEY,
			scanned_at BIGINT NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS plumb_finding_coverage (
			fingerprint TEXT PRIMARY KEY,
			covered_at BIGINT NOT NULL
		)`,
	}
}

// recordScan notes, inside a reconcile's transaction, that environment
// was scanned at now and which of found the scan saw in completely read
// scopes.
func (s *Store) recordScan(ctx context.Context, tx *sql.Tx, now time.Time, environment string,
	found map[string]model.Finding, covered func(model.Finding) bool) error {
	ts := now.UnixNano()
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO plumb_scan (environment, scanned_at) VALUES (?, ?)
		ON CONFLICT (environment) DO UPDATE SET scanned_at = excluded.scanned_at`), environment, ts); err != nil {
		return fmt.Errorf("record scan of %s: %w", environment, err)
	}
	if covered == nil {
		return nil
	}
	stmt := s.rebind(`INSERT INTO plumb_finding_coverage (fingerprint, covered_at) VALUES (?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET covered_at = excluded.covered_at`)
	for fp, f := range found {
		if !covered(f) {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt, fp, ts); err != nil {
			return fmt.Errorf("record scan coverage of %s: %w", fp, err)
		}
	}
	return nil
}

// MarkNotified records that receiver was told about the open findings
// fps at now. Unknown fingerprints are skipped. Enforcement's grace
// period counts from these entries: nothing is done to a resource before
// its owners could know.
func (s *Store) MarkNotified(ctx context.Context, now time.Time, receiver string, fps []string) error {
	if len(fps) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mark notified: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt := s.rebind(`INSERT INTO plumb_finding_history (fingerprint, at, action, detail)
		SELECT fingerprint, ?, ?, ? FROM plumb_finding WHERE fingerprint = ? AND status = 'open'`)
	for _, fp := range fps {
		if _, err := tx.ExecContext(ctx, stmt, now.UnixNano(), ActionNotified, receiver, fp); err != nil {
			return fmt.Errorf("mark %s notified: %w", fp, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mark notified: commit: %w", err)
	}
	return nil
}

// Evidence is what the store knows about a finding that enforcement's
// guards judge: how long it has been open, whether its owners were told,
// and whether the latest scan saw it where it could see everything.
type Evidence struct {
	Status string
	// OpenSince is when the finding last became open (opened, reopened or
	// unsuppressed).
	OpenSince time.Time
	// FirstNotified is the first delivered notification at or after
	// OpenSince; zero if none was delivered.
	FirstNotified time.Time
	// LastSeen is the finding's latest sighting.
	LastSeen time.Time
	// CoveredAt is the latest scan that saw the finding in a scope it
	// read completely; zero if none did.
	CoveredAt time.Time
	// ScanAt is the latest scan of the finding's environment; zero if the
	// environment was never scanned into this store.
	ScanAt time.Time
}

// Evidence returns the evidence of each known fingerprint of fps.
func (s *Store) Evidence(ctx context.Context, fps []string) (map[string]Evidence, error) {
	out := make(map[string]Evidence, len(fps))
	// Large chunks: a plan asks for every candidate at once, and each
	// query scans the history index once (both databases take 30000
	// parameters and more).
	const chunk = 5000
	for start := 0; start < len(fps); start += chunk {
		part := fps[start:min(start+chunk, len(fps))]
		if err := s.evidenceChunk(ctx, part, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) evidenceChunk(ctx context.Context, part []string, out map[string]Evidence) error {
	args := make([]any, len(part))
	ph := make([]string, len(part))
	for i, fp := range part {
		ph[i], args[i] = "?", fp
	}
	// One row per finding: its latest (re)opening from the history, and
	// the first delivered notification after it (history ids order
	// entries, also within one timestamp).
	const opening = `h1.fingerprint = f.fingerprint AND h1.action IN ('opened', 'reopened', 'unsuppressed')`
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT f.fingerprint, f.status, f.last_seen, f.first_seen,
			COALESCE(c.covered_at, 0), COALESCE(sc.scanned_at, 0),
			COALESCE((SELECT h1.at FROM plumb_finding_history h1 WHERE `+opening+` ORDER BY h1.id DESC LIMIT 1), 0),
			COALESCE((SELECT MIN(h2.at) FROM plumb_finding_history h2 WHERE h2.fingerprint = f.fingerprint AND h2.action = 'notified'
				AND h2.id > COALESCE((SELECT MAX(h1.id) FROM plumb_finding_history h1 WHERE `+opening+`), 0)), 0)
		FROM plumb_finding f
		LEFT JOIN plumb_finding_coverage c ON c.fingerprint = f.fingerprint
		LEFT JOIN plumb_scan sc ON sc.environment = f.environment
		WHERE f.fingerprint IN (`+strings.Join(ph, ", ")+`)`), args...)
	if err != nil {
		return fmt.Errorf("finding evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fp, status string
		var last, first, cov, scan, opened, notified int64
		if err := rows.Scan(&fp, &status, &last, &first, &cov, &scan, &opened, &notified); err != nil {
			return fmt.Errorf("finding evidence: %w", err)
		}
		e := Evidence{Status: status, LastSeen: time.Unix(0, last).UTC(), OpenSince: time.Unix(0, first).UTC(),
			CoveredAt: decodeTime(cov), ScanAt: decodeTime(scan), FirstNotified: decodeTime(notified)}
		if opened != 0 {
			e.OpenSince = time.Unix(0, opened).UTC()
		}
		out[fp] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("finding evidence: %w", err)
	}
	return nil
}

// RecordEnforcement writes an action plumb took into a finding's history
// and its body (so the next notification tells the owners), and resolves
// the finding when the action removed the problem (a delete). One
// transaction; an unknown fingerprint is ErrNotFound.
func (s *Store) RecordEnforcement(ctx context.Context, now time.Time, fp string, e model.Enforcement, resolve bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record enforcement on %s: %w", fp, err)
	}
	defer func() { _ = tx.Rollback() }()
	var status, body string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT status, body FROM plumb_finding WHERE fingerprint = ?`+s.forUpdate()), fp).Scan(&status, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("record enforcement on %s: %w", fp, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("record enforcement on %s: %w", fp, err)
	}
	var f model.Finding
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		return fmt.Errorf("record enforcement on %s: decode: %w", fp, err)
	}
	f.Enforcement = &e
	nb, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("record enforcement on %s: encode: %w", fp, err)
	}
	detail := fmt.Sprintf("%s: %s (action %s)", e.Verb, e.Result, e.ActionID)
	newStatus := status
	if resolve && status != StatusResolved {
		newStatus = StatusResolved
		_, err = tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET body = ?, status = 'resolved', resolved_at = ? WHERE fingerprint = ?`),
			string(nb), now.UnixNano(), fp)
	} else {
		_, err = tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET body = ? WHERE fingerprint = ?`), string(nb), fp)
	}
	if err != nil {
		return fmt.Errorf("record enforcement on %s: %w", fp, err)
	}
	if err := s.addHistory(ctx, tx, fp, now, ActionEnforced, detail); err != nil {
		return err
	}
	if newStatus != status {
		if err := s.addHistory(ctx, tx, fp, now, ActionResolved, "plumb enforce: "+detail); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record enforcement on %s: commit: %w", fp, err)
	}
	return nil
}

// carryEnforcement keeps the record of plumb's action in a finding seen
// again: a scan does not know what plumb did, and a quarantined resource
// found again is still quarantined. A resolved finding coming back is a
// new problem, so its old action is not carried.
func carryEnforcement(f *model.Finding, oldStatus, oldBody string) {
	if f.Enforcement != nil || oldStatus == StatusResolved {
		return
	}
	var old struct {
		Enforcement *model.Enforcement `json:"enforcement"`
	}
	if json.Unmarshal([]byte(oldBody), &old) == nil {
		f.Enforcement = old.Enforcement
	}
}
