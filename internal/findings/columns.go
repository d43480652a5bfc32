package findings

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"plumb/internal/model"
)

// The columns beside the body that filters, sorts and counts use. They are
// derived from the body (and, for owner, from the ownership settings) when
// a finding is stored; a store created before they existed gets them
// added and filled in by NewStore.
var derivedColumns = []struct{ name, def string }{
	{"owner", "TEXT NOT NULL DEFAULT ''"},
	{"severity", "TEXT NOT NULL DEFAULT ''"},
	{"resource_type", "TEXT NOT NULL DEFAULT ''"},
	// severity_rank orders by urgency (critical 4 .. low 1, unknown 0)
	// through an index instead of sorting every row.
	{"severity_rank", "INTEGER NOT NULL DEFAULT 0"},
	// search is the lower-cased text free-text filters look in; NULL
	// marks a row stored before the column existed, still to be filled.
	{"search", "TEXT"},
}

// derivedIndexes serve the console's filters, sorts and counts at 100,000
// findings: the overview's counts of open findings per environment and
// severity come from one index in order, without reading a row or
// sorting; each filter finds its rows without a scan; the severity order
// is an index range. Every statement is idempotent.
var derivedIndexes = []string{
	// An earlier shape of the overview's index, replaced by the next one.
	`DROP INDEX IF EXISTS plumb_finding_status_env`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_status_env_sev ON plumb_finding (status, environment, severity)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_env ON plumb_finding (environment, status, severity)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_kind ON plumb_finding (kind, status)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_owner ON plumb_finding (owner, status, severity)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_type ON plumb_finding (resource_type, status)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_severity ON plumb_finding (severity, status)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_status_first ON plumb_finding (status, first_seen, fingerprint)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_status_rank ON plumb_finding (status, severity_rank, first_seen, fingerprint)`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_rank ON plumb_finding (severity_rank, first_seen, fingerprint)`,
	// Free text is matched in the index, not in the rows with their bodies.
	`DROP INDEX IF EXISTS plumb_finding_status_search`,
	`CREATE INDEX IF NOT EXISTS plumb_finding_search ON plumb_finding (search, fingerprint)`,
}

// migrateColumns adds the derived columns a store lacks, fills them in
// for existing rows and creates their indexes. Every step is idempotent,
// so replicas starting together, or a start interrupted half-way, end in
// the same state.
func (s *Store) migrateColumns(ctx context.Context) error {
	have, err := s.columns(ctx)
	if err != nil {
		return err
	}
	added := false
	for _, c := range derivedColumns {
		if have[c.name] {
			continue
		}
		added = true
		stmt := `ALTER TABLE plumb_finding ADD COLUMN ` + c.name + ` ` + c.def
		if s.dialect == "postgres" {
			stmt = `ALTER TABLE plumb_finding ADD COLUMN IF NOT EXISTS ` + c.name + ` ` + c.def
		}
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			if again, err2 := s.columns(ctx); err2 == nil && again[c.name] {
				continue // another process added it meanwhile
			}
			return fmt.Errorf("findings store: add column %s: %w", c.name, err)
		}
	}
	if added && have["search"] {
		// A column joined those already filled: fill them all again.
		if _, err := s.db.ExecContext(ctx, `UPDATE plumb_finding SET search = NULL`); err != nil {
			return fmt.Errorf("findings store: refill columns: %w", err)
		}
	}
	if err := s.fillDerived(ctx); err != nil {
		return err
	}
	for _, stmt := range derivedIndexes {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("findings store: create index: %w", err)
		}
	}
	return nil
}

// columns lists plumb_finding's columns.
func (s *Store) columns(ctx context.Context) (map[string]bool, error) {
	q := `SELECT name FROM pragma_table_info('plumb_finding')`
	if s.dialect == "postgres" {
		q = `SELECT column_name FROM information_schema.columns WHERE table_name = 'plumb_finding' AND table_schema = current_schema()`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("findings store: list columns: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("findings store: list columns: %w", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// fillDerived computes the derived columns of rows stored before they
// existed, a batch at a time.
func (s *Store) fillDerived(ctx context.Context) error {
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT fingerprint, body FROM plumb_finding WHERE search IS NULL LIMIT 500`)
		if err != nil {
			return fmt.Errorf("findings store: fill columns: %w", err)
		}
		type row struct{ fp, body string }
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.fp, &r.body); err != nil {
				rows.Close()
				return fmt.Errorf("findings store: fill columns: %w", err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("findings store: fill columns: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("findings store: fill columns: %w", err)
		}
		for _, r := range batch {
			var f model.Finding
			if err := json.Unmarshal([]byte(r.body), &f); err != nil {
				// An unreadable body still gets a search text, so the
				// loop ends; the row is reported wherever it is read.
				f = model.Finding{Message: r.body}
			}
			f.Fingerprint = r.fp
			if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET severity = ?, severity_rank = ?, resource_type = ?, search = ? WHERE fingerprint = ?`),
				string(f.Severity), severityRank(f.Severity), f.Resource.Type, searchText(f), r.fp); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("findings store: fill columns of %s: %w", r.fp, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("findings store: fill columns: %w", err)
		}
	}
}

// severityRank is the severity_rank column: the higher, the more urgent.
func severityRank(s model.Severity) int {
	switch s {
	case model.SeverityCritical:
		return 4
	case model.SeverityHigh:
		return 3
	case model.SeverityMedium:
		return 2
	case model.SeverityLow:
		return 1
	}
	return 0
}

// searchText is what a free-text filter looks in: the identifying fields
// and the message, lower-cased, separated so a term cannot match across two.
func searchText(f model.Finding) string {
	parts := []string{f.Fingerprint, f.Resource.Type, f.Resource.ID, f.Resource.DisplayName(), f.Resource.Region,
		f.Resource.Account, f.Message, f.Rule, f.Source, address(f)}
	return strings.ToLower(strings.Join(parts, "\n"))
}

func address(f model.Finding) string {
	if f.Address == nil {
		return ""
	}
	return *f.Address
}

// SetOwnership makes the store decide the owner of every finding it
// stores with owner (ownership.Resolver.Owner). Without it a finding
// keeps the Owner it carries. Call it before the store is shared.
func (s *Store) SetOwnership(owner func(model.Finding) string) { s.owner = owner }

// ownerOf is the owner to store for f.
func (s *Store) ownerOf(f model.Finding) string {
	if s.owner != nil {
		return s.owner(f)
	}
	return f.Owner
}

// Reassign recomputes the owner of every stored finding with the store's
// ownership (SetOwnership) and returns how many changed, so a changed
// mapping in plumb.yaml applies to findings already stored, not only to
// those seen again. Nothing else about a finding changes and no history
// is written. It reads in batches, so it can run while the store is in use.
func (s *Store) Reassign(ctx context.Context) (int, error) {
	if s.owner == nil {
		return 0, nil
	}
	changed := 0
	after := ""
	for {
		rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT fingerprint, body, owner FROM plumb_finding WHERE fingerprint > ? ORDER BY fingerprint LIMIT 500`), after)
		if err != nil {
			return changed, fmt.Errorf("reassign owners: %w", err)
		}
		type update struct{ fp, owner string }
		var ups []update
		n := 0
		for rows.Next() {
			var fp, body string
			var owner sql.NullString
			if err := rows.Scan(&fp, &body, &owner); err != nil {
				rows.Close()
				return changed, fmt.Errorf("reassign owners: %w", err)
			}
			n++
			after = fp
			var f model.Finding
			if json.Unmarshal([]byte(body), &f) != nil {
				continue
			}
			f.Fingerprint = fp
			if o := s.owner(f); o != owner.String {
				ups = append(ups, update{fp, o})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return changed, fmt.Errorf("reassign owners: %w", err)
		}
		for _, u := range ups {
			if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE plumb_finding SET owner = ? WHERE fingerprint = ?`), u.owner, u.fp); err != nil {
				return changed, fmt.Errorf("reassign owner of %s: %w", u.fp, err)
			}
			changed++
		}
		if n < 500 {
			return changed, nil
		}
	}
}
