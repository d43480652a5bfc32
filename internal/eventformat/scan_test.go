package eventformat

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The fast splitters must be indistinguishable from encoding/json: same
// members, same raw values, same errors. These inputs cover what the
// splitter handles itself (nesting, strings with brackets and escapes,
// repeated keys, whitespace) and what it must hand back (escaped keys,
// invalid UTF-8, invalid JSON).
var splitSeeds = []string{
	`{}`, ` { } `, `[]`, `[ ]`, `{"a":1}`, ` {"a" : "x" , "b":[1,2,{"c":"]}"}], "d":null} `,
	`{"a":"\"}","b":{"c":"\\"}}`, `{"a":1,"a":2}`, `{"ev\u0065ntType":"t"}`, "{\"k\xff\":1}",
	`{"a":true,"b":false,"c":-1.5e3}`, `[1,"two",{"3":[4]},null,true]`, `{"a":}`, `{"a":1,}`,
	`{"a":1`, `[1,2`, `[1 2]`, `{"a" 1}`, `{1:2}`, `"str"`, `12`, `null`, ``, `{"a":[}`,
	`{"a":"\u00e9\n"}`, "{\"a\":\"caf\xc3\xa9\"}", `{"a":{"b":{"c":{"d":[[[]]]}}}}`,
	`[{"id":"1"},{"id":"2"}]`, `{"":""}`, `{"a":"x"}{"b":1}`, `[1]]`, "\t[\n1\r]\n",
}

func FuzzSplitMatchesEncodingJSON(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeObject(b, 3, "f")
		ow, errw := decodeObjectSlow(b, 3, "f")
		if !reflect.DeepEqual(o, ow) || !reflect.DeepEqual(err, errw) {
			t.Fatalf("decodeObject(%q) = %v, %v; encoding/json gives %v, %v", b, o, err, ow, errw)
		}
		a, err := decodeArray(b, 3, "f", "w")
		aw, errw := decodeArraySlow(b, 3, "f", "w")
		if !reflect.DeepEqual(a, aw) || !reflect.DeepEqual(err, errw) {
			t.Fatalf("decodeArray(%q) = %v, %v; encoding/json gives %v, %v", b, a, err, aw, errw)
		}
		if json.Valid(b) {
			var want object
			if json.Unmarshal(b, &want) != nil {
				want = nil
			}
			if got := lenientObjectOf(b); !reflect.DeepEqual(got, want) {
				t.Fatalf("lenientObjectOf(%q) = %v, want %v", b, got, want)
			}
		}
	})
}

// decodeObject's values must not alias the caller's buffer: receivers
// reuse request buffers, and Raw outlives the request in the queue.
func TestDecodeObjectCopies(t *testing.T) {
	body := []byte(`{"a":"xyz","b":[1]}`)
	o, err := decodeObject(body, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := decodeArray([]byte(`[{"a":1},{"b":2}]`), -1, "", "x")
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X'
	}
	if string(o["a"]) != `"xyz"` || string(o["b"]) != `[1]` {
		t.Fatalf("values alias the input: %q", o)
	}
	// Elements share a buffer; appending to one must not clobber the next.
	_ = append(a[0], '!')
	if !bytes.Equal(a[1], []byte(`{"b":2}`)) {
		t.Fatalf("append to element 0 changed element 1: %q", a[1])
	}
}
