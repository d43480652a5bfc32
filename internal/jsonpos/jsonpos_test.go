package jsonpos

import (
	"strconv"
	"strings"
	"testing"
)

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

func TestValueAtAndFind(t *testing.T) {
	data := []byte(`{"resources": [{"mode": "managed", "attrs": {"a.b": [1, true]}}], "version": 4}`)
	quoted := func(parent, key string) string {
		if strings.Contains(key, ".") {
			return parent + "[" + strconv.Quote(key) + "]"
		}
		return DottedKey(parent, key)
	}
	tests := []struct {
		name     string
		after    string // the value ends just before this offset's byte
		key      func(string, string) string
		wantPath string
	}{
		{"scalar in list", `true`, nil, `resources[0].attrs.a.b[1]`},
		{"scalar with custom keys", `true`, quoted, `resources[0].attrs["a.b"][1]`},
		{"string member", `"managed"`, nil, `resources[0].mode`},
		{"top-level number", `4`, nil, `version`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := strings.Index(string(data), tc.after)
			off := int64(i + len(tc.after))
			path, start := ValueAt(data, off, tc.key)
			if path != tc.wantPath || start != int64(i) {
				t.Errorf("ValueAt = %q at %d, want %q at %d", path, start, tc.wantPath, i)
			}
		})
	}
	// An object reported just past its opening bracket.
	obj := strings.Index(string(data), `{"a.b"`)
	if path, start := ValueAt(data, int64(obj+1), nil); path != "resources[0].attrs" || start != int64(obj) {
		t.Errorf("ValueAt(object) = %q at %d", path, start)
	}
	if start, ok := Find(data, "resources[0].mode"); !ok || start != int64(strings.Index(string(data), `"managed"`)) {
		t.Errorf("Find = %d %v", start, ok)
	}
	if _, ok := Find(data, "resources[1]"); ok {
		t.Error("Find of a missing path succeeded")
	}
}

func TestLineColLines(t *testing.T) {
	data := []byte("ab\ncdé\n\nf")
	tests := []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {7, 2, 4}, {8, 3, 1}, {9, 4, 1}, {10, 4, 2}, {99, 4, 2}, {-1, 1, 1},
	}
	for _, tt := range tests {
		if l, c := LineCol(data, int64(tt.off)); l != tt.line || c != tt.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}
