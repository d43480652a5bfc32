package jsonpos

import "testing"

func TestLineCol(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  \"é\": x\n}")
	tests := []struct {
		off       int64
		line, col int
	}{
		{0, 1, 1},
		{1, 1, 2},
		{2, 2, 1},
		{4, 2, 3},
		{20, 3, 8}, // after the two-byte é, columns count characters
		{-5, 1, 1},
		{1000, 4, 2},
	}
	for _, tc := range tests {
		if l, c := LineCol(data, tc.off); l != tc.line || c != tc.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}
