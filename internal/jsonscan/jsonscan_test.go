package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`"abc"`, 5},
		{`"a\"b" ,`, 6},
		{`"a\\" ,`, 5},
		{`"unterminated`, -1},
		{`{"a":[1,{"b":"}"}]} x`, 19},
		{`[1,2`, -1},
		{`12.5e3,`, 6},
		{`true}`, 4},
		{`,`, -1},
		{``, -1},
	}
	for _, tc := range tests {
		if got := SkipValue([]byte(tc.in), 0); got != tc.want {
			t.Errorf("SkipValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	if got := string(TrimSpace([]byte(" \t{}\r\n"))); got != "{}" {
		t.Errorf("TrimSpace = %q", got)
	}
	if got := SkipSpace([]byte("  x"), 0); got != 2 {
		t.Errorf("SkipSpace = %d", got)
	}
}

// FuzzSkipValue: on valid JSON the skipped span is the whole value.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`{"a":"\\\""}`, `[1,"]",{}]`, `"x"`, `-1.5e-3`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			SkipValue(b, 0) // must not panic
			return
		}
		v := TrimSpace(b)
		if got := SkipValue(v, 0); got != len(v) {
			t.Fatalf("SkipValue(%q) = %d, want %d", v, got, len(v))
		}
	})
}
