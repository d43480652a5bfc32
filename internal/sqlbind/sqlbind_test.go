package sqlbind

import "testing"

func TestFor(t *testing.T) {
	tests := []struct{ dialect, in, want string }{
		{"postgres", "SELECT 1", "SELECT 1"},
		{"postgres", "INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t (a, b) VALUES ($1, $2)"},
		{"postgres", "a = ? AND b IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "a = $1 AND b IN ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
		{"sqlite", "a = ? AND b = ?", "a = ? AND b = ?"},
	}
	for _, tc := range tests {
		if got := For(tc.dialect, tc.in); got != tc.want {
			t.Errorf("For(%s, %q) = %q, want %q", tc.dialect, tc.in, got, tc.want)
		}
	}
}
