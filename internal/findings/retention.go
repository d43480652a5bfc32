package findings

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"plumb/internal/sqlbind"
)

// The Prune methods remove what a long-running store no longer needs, so
// a year of hourly scans does not grow the database without bound. Each
// deletes rows older than before and returns how many it removed; a
// caller (the server's retention job) decides the ages. They delete in
// chunks of pruneChunk rows, one short transaction each, so a first prune
// of a large backlog never holds SQLite's single writer for long and
// intake keeps committing meanwhile.
const pruneChunk = 2000

// deleteChunks runs a chunked DELETE until a chunk removes fewer rows than
// pruneChunk. query has one "?" for the limit after args.
func (s *Store) deleteChunks(ctx context.Context, what, query string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, s.rebind(query), append(append([]any(nil), args...), pruneChunk)...)
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", what, err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("prune %s: %w", what, err)
		}
	}
}

// PruneHistory deletes history entries written before before, whatever
// the finding's state: the finding keeps its first and last sighting and
// its count, only the older transitions go. History then shows the
// transitions still kept (history_total counts only those).
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteChunks(ctx, "finding history",
		`DELETE FROM plumb_finding_history WHERE id IN (SELECT id FROM plumb_finding_history WHERE at < ? LIMIT ?)`,
		before.UnixNano())
}

// PruneOccurrences forgets which deliveries were already counted for a
// finding once they are older than before. Callers pass at least
// OccurrenceRetention ago: a delivery re-run later than that counts again
// anyway (UpsertOccurrence forgets them at that age too).
func (s *Store) PruneOccurrences(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteChunks(ctx, "finding occurrences",
		`DELETE FROM plumb_finding_occurrence WHERE (fingerprint, occurrence) IN
			(SELECT fingerprint, occurrence FROM plumb_finding_occurrence WHERE seen_at < ? LIMIT ?)`,
		before.UnixNano())
}

// PruneSilences deletes silences that stopped muting before before: ended
// (ends_at) or expired by an operator (expired_at). Active and future
// silences are never touched.
func (s *Store) PruneSilences(ctx context.Context, before time.Time) (int64, error) {
	b := before.UnixNano()
	return s.deleteChunks(ctx, "expired silences",
		`DELETE FROM plumb_silence WHERE id IN (SELECT id FROM plumb_silence
			WHERE ends_at < ? OR (expired_at IS NOT NULL AND expired_at < ?) LIMIT ?)`, b, b)
}

// PruneResolved deletes findings resolved before before, with their
// history and occurrences. A finding a receiver's notification log still
// lists is kept until the router has told that receiver it is closed (the
// log entry goes then), so pruning never swallows a resolution. A pruned
// finding that comes back is a new finding (opened, count 1); receivers
// find their earlier issue again by its marker.
func (s *Store) PruneResolved(ctx context.Context, before time.Time) (int64, error) {
	told, err := s.toldFingerprints(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT fingerprint FROM plumb_finding
		WHERE status = 'resolved' AND resolved_at < ? ORDER BY fingerprint`), before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	var cands []string
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune resolved findings: %w", err)
		}
		if !told[fp] {
			cands = append(cands, fp)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	const chunk = 500
	var total int64
	for start := 0; start < len(cands); start += chunk {
		n, err := s.pruneResolvedChunk(ctx, before, cands[start:min(start+chunk, len(cands))])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneResolvedChunk deletes one chunk in one transaction. The status and
// time are tested again in the DELETE, so a finding reopened since the
// candidates were read stays, with its history.
func (s *Store) pruneResolvedChunk(ctx context.Context, before time.Time, fps []string) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	args := []any{before.UnixNano()}
	ph := make([]string, len(fps))
	for i, fp := range fps {
		ph[i] = "?"
		args = append(args, fp)
	}
	rows, err := tx.QueryContext(ctx, s.rebind(`DELETE FROM plumb_finding WHERE status = 'resolved' AND resolved_at < ?
		AND fingerprint IN (`+strings.Join(ph, ", ")+`) RETURNING fingerprint`), args...)
	if err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	var gone []any
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune resolved findings: %w", err)
		}
		gone = append(gone, fp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune resolved findings: %w", err)
	}
	if len(gone) > 0 {
		in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(gone)), ", ") + ")"
		for _, table := range []string{"plumb_finding_history", "plumb_finding_occurrence"} {
			if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM `+table+` WHERE fingerprint IN `+in), gone...); err != nil {
				return 0, fmt.Errorf("prune resolved findings: %s: %w", table, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune resolved findings: commit: %w", err)
	}
	return int64(len(gone)), nil
}

// toldFingerprints is every fingerprint some receiver's notification log
// holds: findings the router may still have to close at a receiver.
func (s *Store) toldFingerprints(ctx context.Context) (map[string]bool, error) {
	states, err := s.NotifyStates(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, st := range states {
		for fp := range st.Sent {
			out[fp] = true
		}
	}
	return out, nil
}

// PruneReceiverState deletes what receivers remembered (ReceiverState:
// an issue number per finding or per group) when it was last written
// before before and its subject is closed. The subject of a key is the
// part before the first '#': a finding's fingerprint, or "group:" and a
// routing group key. A fingerprint subject is closed when the finding is
// resolved or gone; a group subject when the notification log no longer
// has that group at that receiver. Open and suppressed findings and live
// groups keep their entries at any age, so an update always reaches the
// same issue; a pruned entry of a problem that comes back is found again
// by the receiver's marker search.
func (s *Store) PruneReceiverState(ctx context.Context, before time.Time) (int64, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT receiver, state_key FROM plumb_receiver_state WHERE updated_at < ?`), before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune receiver state: %w", err)
	}
	type entry struct{ receiver, key string }
	var old []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.receiver, &e.key); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune receiver state: %w", err)
		}
		old = append(old, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune receiver state: %w", err)
	}
	if len(old) == 0 {
		return 0, nil
	}
	live, err := s.liveSubjects(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune receiver state: %w", err)
	}
	var total int64
	del := s.rebind(`DELETE FROM plumb_receiver_state WHERE receiver = ? AND state_key = ? AND updated_at < ?`)
	for _, e := range old {
		subject, _, _ := strings.Cut(e.key, "#")
		if live[subject] || live[e.receiver+"\x00"+subject] {
			continue
		}
		res, err := s.db.ExecContext(ctx, del, e.receiver, e.key, before.UnixNano())
		if err != nil {
			return total, fmt.Errorf("prune receiver state %s/%s: %w", e.receiver, e.key, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// liveSubjects holds the fingerprints of open and suppressed findings, and
// receiver+"\x00"+"group:"+key for each group in the notification log.
func (s *Store) liveSubjects(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint FROM plumb_finding WHERE status <> 'resolved'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return nil, err
		}
		live[fp] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	states, err := s.NotifyStates(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		live[st.Receiver+"\x00group:"+st.GroupKey] = true
	}
	return live, nil
}

// migrateReceiverState adds updated_at to a plumb_receiver_state created
// before pruning existed; rows already there count as written now, so an
// upgrade starts their retention instead of pruning them at once.
func migrateReceiverState(ctx context.Context, db *sql.DB, dialect string, now time.Time) error {
	// Looked up first, so a restart takes no table lock on PostgreSQL
	// while other replicas use the table.
	probe := `SELECT COUNT(*) FROM pragma_table_info('plumb_receiver_state') WHERE name = 'updated_at'`
	if dialect == "postgres" {
		probe = `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'plumb_receiver_state' AND column_name = 'updated_at'`
	}
	var n int
	if err := db.QueryRowContext(ctx, probe).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		add := `ALTER TABLE plumb_receiver_state ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0`
		if dialect == "postgres" {
			add = `ALTER TABLE plumb_receiver_state ADD COLUMN IF NOT EXISTS updated_at BIGINT NOT NULL DEFAULT 0`
		}
		if _, err := db.ExecContext(ctx, add); err != nil {
			return err
		}
	}
	_, err := db.ExecContext(ctx, sqlbind.For(dialect, `UPDATE plumb_receiver_state SET updated_at = ? WHERE updated_at = 0`), now.UnixNano())
	return err
}
