package paging

import (
	"encoding/base64"
	"strings"
	"testing"
)

type pos struct {
	T  int64  `json:"t"`
	FP string `json:"fp"`
}

func TestLimitsParse(t *testing.T) {
	l := Limits{Default: 100, Max: 1000}
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{"", 100, ""},
		{"1", 1, ""},
		{"1000", 1000, ""},
		{"1001", 0, "limit 1001 is above the maximum of 1000 (default 100)"},
		{"0", 0, `limit "0": want a whole number from 1 to 1000 (default 100)`},
		{"-5", 0, "want a whole number from 1 to 1000"},
		{"ten", 0, `limit "ten"`},
		{"1.5", 0, `limit "1.5"`},
	}
	for _, tc := range tests {
		got, err := l.Parse(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Parse(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
		}
	}
}

func TestCursorRoundTripAndRefusals(t *testing.T) {
	f := Filters{"status": "open", "kind": "drift.unmanaged", "environment": ""}
	c, err := Encode("findings", f, pos{T: 1700000000123456789, FP: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(c, "+/=&?# ") {
		t.Errorf("cursor %q is not safe in a URL query as it is", c)
	}
	var got pos
	// The same filters in another order, and an empty filter left out,
	// are the same listing.
	if err := Decode(c, "findings", Filters{"kind": "drift.unmanaged", "status": "open"}, &got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got != (pos{T: 1700000000123456789, FP: "abc"}) {
		t.Errorf("position = %+v", got)
	}
	badJSON := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"l":"findings"`))
	future := base64.RawURLEncoding.EncodeToString([]byte(`{"v":9,"l":"findings","f":"x","p":{}}`))
	tests := []struct {
		name, cursor, list string
		filters            Filters
		want               string
	}{
		{"not base64", "%%%", "findings", f, "cursor: not a cursor plumb made"},
		{"not json", base64.RawURLEncoding.EncodeToString([]byte("hello")), "findings", f, "cursor: not a cursor plumb made"},
		{"cut short", badJSON, "findings", f, "cursor: not a cursor plumb made"},
		{"empty", "", "findings", f, "cursor: not a cursor plumb made"},
		{"other version", future, "findings", f, "cursor: version 9 is not understood"},
		{"other list", c, "events", f, "cursor: it continues a list of findings, not of events"},
		{"other filters", c, "findings", Filters{"status": "resolved", "kind": "drift.unmanaged"}, "cursor: it was made with other filters"},
		{"filter dropped", c, "findings", Filters{"status": "open"}, "cursor: it was made with other filters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p pos
			err := Decode(tc.cursor, tc.list, tc.filters, &p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode: no input makes Decode panic, and whatever it accepts
// encodes back to a cursor it accepts again with the same position.
func FuzzDecode(f *testing.F) {
	good, _ := Encode("events", Filters{"state": "dead"}, map[string]int64{"id": 42})
	f.Add(good)
	f.Add("")
	f.Add("e30")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"l":"events","f":"","p":{"id":"x"}}`)))
	f.Fuzz(func(t *testing.T, cursor string) {
		var p struct {
			ID int64 `json:"id"`
		}
		if err := Decode(cursor, "events", Filters{"state": "dead"}, &p); err != nil {
			if !strings.HasPrefix(err.Error(), "cursor: ") {
				t.Fatalf("error %q does not start with cursor:", err)
			}
			return
		}
		again, err := Encode("events", Filters{"state": "dead"}, p)
		if err != nil {
			t.Fatal(err)
		}
		var q struct {
			ID int64 `json:"id"`
		}
		if err := Decode(again, "events", Filters{"state": "dead"}, &q); err != nil || q != p {
			t.Fatalf("re-encoded cursor: %v, %+v != %+v", err, q, p)
		}
	})
}
