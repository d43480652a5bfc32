package findings

import (
	"context"
	"fmt"
	"strings"
)

// Query filters List and Count; empty fields match everything.
type Query struct {
	Status      string
	Kind        string
	Environment string
	Severity    string
	// Type is the resource's Terraform type.
	Type string
	// Owner is the team (model.Finding.Owner); Unowned selects findings
	// nobody owns.
	Owner string
	// Text matches, case-insensitively, part of the fingerprint, type,
	// id, name, address, region, account, rule, source (the event an
	// audit finding came from) or message.
	Text string
	// Limit is the page size: DefaultListLimit when 0, at most
	// MaxListLimit (a larger one is an error, never a silent cut).
	Limit int
	// After continues a listing after this position (Page.Next of the
	// previous page); nil starts at the newest finding. Only with the
	// default order.
	After *Position
	// Sort orders the page by one of SortKeys (the newest first when
	// empty); Desc reverses it. Ties are broken by the default order.
	Sort string
	Desc bool
	// Offset skips that many findings (numbered pages, as the console
	// shows them); it cannot be combined with After.
	Offset int
}

// Unowned is the Owner filter for findings without an owner.
const Unowned = "-"

// SortKeys are the orders List accepts besides the default.
var sortColumns = map[string]string{
	"first_seen":  "first_seen",
	"last_seen":   "last_seen",
	"severity":    "severity_rank",
	"kind":        "kind",
	"type":        "resource_type",
	"environment": "environment",
	"owner":       "owner",
	"status":      "status",
	"count":       "seen_count",
}

// SortKeys lists the values Query.Sort accepts, for validation messages.
func SortKeys() []string {
	return []string{"first_seen", "last_seen", "severity", "kind", "type", "environment", "owner", "status", "count"}
}

// where builds the filter of q: the conditions joined with AND (or "")
// and their arguments.
func (q Query) where() (string, []any) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{
		{"status", q.Status}, {"kind", q.Kind}, {"environment", q.Environment},
		{"severity", q.Severity}, {"resource_type", q.Type},
	} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	switch q.Owner {
	case "":
	case Unowned:
		where = append(where, "owner = ''")
	default:
		where = append(where, "owner = ?")
		args = append(args, q.Owner)
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		// The subquery reads only the search index (search, fingerprint);
		// the rows it names are then read by primary key.
		where = append(where, `fingerprint IN (SELECT fingerprint FROM plumb_finding WHERE search LIKE ? ESCAPE '\')`)
		args = append(args, "%"+likeEscape(strings.ToLower(t))+"%")
	}
	return strings.Join(where, " AND "), args
}

// likeEscape makes a user's text match literally inside a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// List returns a page of the findings matching q, newest first: by first
// sighting, latest first, then by fingerprint, unless q.Sort asks for
// another order. The default order is stable (see Position), so following
// Page.Next until it is nil lists each matching finding once. Other
// orders page by Offset (Page.Next is then nil: the caller numbers the
// pages from Total). The page and Total are read in two statements, so a
// finding stored in between may be counted and not listed, or the reverse.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 0 || limit > MaxListLimit {
		return Page{}, fmt.Errorf("list findings: limit %d: want 1 to %d", limit, MaxListLimit)
	}
	if q.Offset < 0 {
		return Page{}, fmt.Errorf("list findings: offset %d: want 0 or more", q.Offset)
	}
	if q.Offset > 0 && q.After != nil {
		return Page{}, fmt.Errorf("list findings: give an offset or a cursor, not both")
	}
	order := "first_seen DESC, fingerprint DESC"
	if q.Sort != "" {
		col, ok := sortColumns[q.Sort]
		if !ok {
			return Page{}, fmt.Errorf("list findings: sort %q: want one of %s", q.Sort, strings.Join(SortKeys(), ", "))
		}
		if q.After != nil {
			return Page{}, fmt.Errorf("list findings: a cursor continues the default order only; page sorted lists by offset")
		}
		dir := " ASC"
		if q.Desc {
			dir = " DESC"
		}
		if q.Sort != "first_seen" {
			order = col + dir + ", " + order
		} else {
			order = "first_seen" + dir + ", fingerprint" + dir
		}
	}
	if strings.TrimSpace(q.Text) != "" {
		// Matching text reads the search index; ordering through another
		// index would read every row, body and all, in that order. The
		// unary plus keeps the planner from doing that: the few rows
		// that match are sorted instead.
		order = "+" + order
	}
	cond, args := q.where()
	var page Page
	count := `SELECT COUNT(*) FROM plumb_finding`
	if cond != "" {
		count += " WHERE " + cond
	}
	if err := s.db.QueryRowContext(ctx, s.rebind(count), args...).Scan(&page.Total); err != nil {
		return Page{}, fmt.Errorf("list findings: count: %w", err)
	}
	if q.After != nil {
		if cond != "" {
			cond += " AND "
		}
		cond += "(first_seen < ? OR (first_seen = ? AND fingerprint < ?))"
		args = append(args, q.After.FirstSeen, q.After.FirstSeen, q.After.Fingerprint)
	}
	query := selectColumns
	if cond != "" {
		query += " WHERE " + cond
	}
	// One more than asked tells whether another page follows.
	query += " ORDER BY " + order + " LIMIT ?"
	args = append(args, limit+1)
	if q.Offset > 0 {
		query += " OFFSET ?"
		args = append(args, q.Offset)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return Page{}, fmt.Errorf("list findings: %w", err)
	}
	recs, err := collectRecords(rows, "list findings")
	if err != nil {
		return Page{}, err
	}
	if len(recs) > limit {
		recs = recs[:limit]
		if q.Sort == "" && q.Offset == 0 {
			last := recs[limit-1]
			page.Next = &Position{FirstSeen: last.FirstSeen.UnixNano(), Fingerprint: last.Finding.Fingerprint}
		}
	}
	page.Records = recs
	return page, nil
}

// Group is one combination of values of Count's columns and how many
// findings have it.
type Group struct {
	// Values are in the order of the columns asked for.
	Values []string
	N      int
}

// countColumns are the columns Count may group by.
var countColumns = map[string]string{
	"status": "status", "kind": "kind", "environment": "environment",
	"severity": "severity", "type": "resource_type", "owner": "owner",
}

// Count counts the findings matching q (Limit, Sort, After and Offset are
// ignored) grouped by the named columns: status, kind, environment,
// severity, type, owner. Groups come ordered by their values. It is what
// the console's overview and team pages show, counted by the database so
// no finding is left out whatever their number.
func (s *Store) Count(ctx context.Context, q Query, by ...string) ([]Group, error) {
	if len(by) == 0 {
		return nil, fmt.Errorf("count findings: no column to group by")
	}
	cols := make([]string, len(by))
	for i, b := range by {
		c, ok := countColumns[b]
		if !ok {
			return nil, fmt.Errorf("count findings: cannot group by %q", b)
		}
		cols[i] = c
	}
	cond, args := q.where()
	query := "SELECT " + strings.Join(cols, ", ") + ", COUNT(*) FROM plumb_finding"
	if cond != "" {
		query += " WHERE " + cond
	}
	query += " GROUP BY " + strings.Join(cols, ", ") + " ORDER BY " + strings.Join(cols, ", ")
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("count findings: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		vals := make([]string, len(cols))
		dest := make([]any, 0, len(cols)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		var g Group
		dest = append(dest, &g.N)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("count findings: %w", err)
		}
		g.Values = vals
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count findings: %w", err)
	}
	return out, nil
}
