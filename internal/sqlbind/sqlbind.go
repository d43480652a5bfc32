// Package sqlbind lets plumb write each SQL statement once, with "?"
// placeholders, for both of its databases: SQLite takes them as they are,
// PostgreSQL wants "$1", "$2", ... The queue and the findings store share
// this so the two cannot disagree on how a statement is bound.
package sqlbind

import (
	"strconv"
	"strings"
)

// Postgres turns "?" placeholders into "$n". plumb's SQL never uses "?"
// for anything else (no "?" operators, no "?" inside string literals).
func Postgres(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// For binds a statement for a dialect ("sqlite" or "postgres").
func For(dialect, query string) string {
	if dialect == "postgres" {
		return Postgres(query)
	}
	return query
}
