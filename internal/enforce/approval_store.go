package enforce

import (
	"context"
	"fmt"
	"time"
)

// approvalTables keep approvers' decisions beside the action records:
// one row per decision, bound to its subject (an action, or a change
// set) and the plan hash it saw.
func approvalTables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS plumb_approval (
			id TEXT PRIMARY KEY,
			subject TEXT NOT NULL,
			environment TEXT NOT NULL,
			plan_hash TEXT NOT NULL,
			approver TEXT NOT NULL,
			decision TEXT NOT NULL,
			via TEXT NOT NULL,
			comment TEXT NOT NULL,
			at BIGINT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_approval_subject ON plumb_approval (subject, plan_hash)`,
	}
}

// RecordDecision stores a decision. A decision whose id is stored already
// (the same GitHub comment read twice) is left alone; inserted says
// whether this call stored it.
func (s *Store) RecordDecision(ctx context.Context, d Decision) (inserted bool, err error) {
	if d.ID == "" {
		d.ID = newID()
	}
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO plumb_approval (id, subject, environment, plan_hash, approver, decision, via, comment, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		d.ID, d.Subject, d.Environment, d.PlanHash, d.Approver, d.Decision, d.Via, d.Comment, d.At.UnixNano())
	if err != nil {
		return false, fmt.Errorf("record %s of %s by %s: %w", d.Decision, d.Subject, d.Approver, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record %s of %s: %w", d.Decision, d.Subject, err)
	}
	return n > 0, nil
}

// Decisions returns the decisions on a subject's plan, oldest first.
// Decisions on another plan of the same subject are not returned: an
// approval is bound to the exact plan it saw.
func (s *Store) Decisions(ctx context.Context, subject, planHash string) ([]Decision, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT id, subject, environment, plan_hash, approver, decision, via, comment, at
		FROM plumb_approval WHERE subject = ? AND plan_hash = ? ORDER BY at, id`), subject, planHash)
	if err != nil {
		return nil, fmt.Errorf("decisions on %s: %w", subject, err)
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var d Decision
		var at int64
		if err := rows.Scan(&d.ID, &d.Subject, &d.Environment, &d.PlanHash, &d.Approver, &d.Decision, &d.Via, &d.Comment, &at); err != nil {
			return nil, fmt.Errorf("decisions on %s: %w", subject, err)
		}
		d.At = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("decisions on %s: %w", subject, err)
	}
	return out, nil
}

// Awaiting returns the actions waiting for an approval, oldest first;
// with a fingerprint, only that finding's.
func (s *Store) Awaiting(ctx context.Context, fingerprint string) ([]*Action, error) {
	q := `SELECT body FROM plumb_action WHERE state = 'awaiting_approval'`
	var args []any
	if fingerprint != "" {
		q += ` AND fingerprint = ?`
		args = append(args, fingerprint)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("actions awaiting approval: %w", err)
	}
	as, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("actions awaiting approval: %w", err)
	}
	return as, nil
}
