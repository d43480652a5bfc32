package state

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// compareWithStdlib checks the fast decoder's contract on one document:
// whenever it accepts the document (sequentially or in two phases), encoding
// /json must accept it too and decode exactly the same values. Declining is
// always allowed; Parse then uses encoding/json.
func compareWithStdlib(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	var slow stateFile
	slowErr := json.Unmarshal(data, &slow)
	for _, parallel := range []bool{false, true} {
		fast, ok := fastDecodeWith(data, parallel, 3)
		if !ok {
			continue
		}
		accepted = true
		if slowErr != nil {
			t.Fatalf("fast path (parallel=%v) accepted a document encoding/json rejects: %v\n%q", parallel, slowErr, data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path (parallel=%v) differs from encoding/json\nfast: %#v\nslow: %#v\ninput: %q", parallel, fast, slow, data)
		}
	}
	return accepted
}

func TestFastDecodeMatchesStdlib(t *testing.T) {
	docs := map[string][]byte{
		"prod fixture":   readFixture(t, "prod.tfstate"),
		"flat fixture":   readFixture(t, "legacy_flat.tfstate"),
		"v3 fixture":     readFixture(t, "v3.tfstate"),
		"synthetic 2000": Synthetic(2000),
	}
	for name, data := range docs {
		t.Run(name, func(t *testing.T) {
			if !compareWithStdlib(t, data) {
				t.Errorf("fast path declined a well-formed state; Parse would be slow on it")
			}
		})
	}

	// Documents the fast path must decline or decode exactly like
	// encoding/json.
	odd := []string{
		`{"version": 4, "Resources": [{"mode": "managed"}]}`,
		`{"VERSION": 4}`,
		`{"version": 4, "version": 5}`,
		`{"version": 4.0}`,
		`{"version": 4e0}`,
		`{"version": -4}`,
		`{"version": 99999999999999999999}`,
		`{"version": 4, "resources": [null, {"mode": null, "instances": [null, {"index_key": null}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": 1, "a": 2}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": 1}, "attributes": {"b": 2}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes_flat": {"a": null, "b": "x"}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"n": [1e400]}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"n": [-0, 0.5e-3, 1E+2, 123456789012345678]}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"s": "\ud83d\ude00 \ud800 \u00e9 \" \\ \/ \b\f\n\r\t", "k\u0065y": "v"}}]}]}`,
		"{\"version\": 4, \"resources\": [{\"instances\": [{\"attributes\": {\"s\": \"\xff\xfe bad utf8 h\xc3\xa9\"}}]}]}",
		"{\"version\": 4, \"resources\": [{\"type\": \"t\xff\"}]}",
		`{"version": 4, "resources": [{"mod\u0065": "managed"}]}`,
		"{\"version\": 4, \"resources\": [{\"\u017fype\": \"x\"}]}",
		`{"version": 4, "resources": [{"instances": [{"attributes": {}}]}], "outputs": {"x": {"value": [1, {"a": null}], "type": ["tuple", ["number"]]}}}`,
		`{"version": 4} `,
		`{"version": 4}x`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": [1, 2,]}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": "x]}"}}, {"attributes": {"b": "\"}"}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": tru}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": 01}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": "` + "\x01" + `"}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": "\x"}}]}]}`,
		`{"version": 4, "resources": [{"instances": [{"attributes": {"a": "\u12"}}]}]}`,
		`{"version":4,"resources":[{"instances":[{"attributes":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}]}]}`,
		`{"version":4,"resources":[{"instances":[{"attributes":{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}}]}]}`,
		`{"version": 4, "x": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	}
	for _, doc := range odd {
		compareWithStdlib(t, []byte(doc))
	}
}

func TestMatchBrackets(t *testing.T) {
	tests := []struct {
		in  string
		end int
		ok  bool
	}{
		{`{}`, 2, true},
		{`{"a": [1, {"b": "}"}]} tail`, 22, true},
		{`{"a": "\"}"}`, 12, true},
		{`{"a": "\\"}`, 11, true},
		{`{"a": "\\\"}"}`, 14, true},
		{`{"a": [}`, 0, false},
		{`{"a": "`, 0, false},
	}
	for _, tt := range tests {
		end, ok := matchBrackets([]byte(tt.in), 0)
		if end != tt.end || ok != tt.ok {
			t.Errorf("matchBrackets(%q) = %d, %v; want %d, %v", tt.in, end, ok, tt.end, tt.ok)
		}
	}
}

func TestParseLargeUsesParallelPath(t *testing.T) {
	const n = 3000
	data := Synthetic(n)
	if len(data) < parallelThreshold {
		t.Fatalf("synthetic state of %d bytes is below the parallel threshold; grow n", len(data))
	}
	if !compareWithStdlib(t, data) {
		t.Fatal("fast path declined the synthetic state")
	}
	rs, err := Parse("big.tfstate", data)
	if err != nil || len(rs) != n {
		t.Fatalf("got %d resources, %v", len(rs), err)
	}
}
