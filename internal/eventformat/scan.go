package eventformat

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"plumb/internal/jsonscan"
)

// The functions in this file split JSON that is already known to be valid
// (checked once with json.Valid at the top of a body) into its members
// without decoding it again. encoding/json's Unmarshal into
// map[string]json.RawMessage validates and copies its whole input on every
// call, and the parsers call it once per nesting level they read (batch,
// event, data, authorization, claims), so a 1.5 KB Event Grid event used to
// be scanned and copied about five times; intake is CPU-bound on exactly
// that. The splitters return ok=false on anything they do not expect, and
// callers then fall back to encoding/json, so a bug here can cost speed but
// never change what is accepted.

// memberKey returns the decoded key of the string literal lit, the same
// string encoding/json would use as the map key. Keys are almost always
// plain ASCII; escapes and invalid UTF-8 (which encoding/json replaces with
// U+FFFD) go through encoding/json itself.
func memberKey(lit []byte) (string, bool) {
	inner := lit[1 : len(lit)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", false
	}
	return s, true
}

// splitObject returns the members of the valid JSON object b (no
// surrounding whitespace) with values sliced from b, capacity capped so an
// append to one cannot overwrite the next. A repeated key keeps its last
// value, as with encoding/json.
func splitObject(b []byte) (object, bool) {
	if len(b) < 2 || b[0] != '{' {
		return nil, false
	}
	o := make(object, 8)
	i := jsonscan.SkipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return o, i == len(b)-1
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, false
		}
		ke := jsonscan.SkipString(b, i)
		if ke < 0 {
			return nil, false
		}
		key, ok := memberKey(b[i:ke])
		if !ok {
			return nil, false
		}
		i = jsonscan.SkipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		vs := jsonscan.SkipSpace(b, i+1)
		ve := jsonscan.SkipValue(b, vs)
		if ve < 0 {
			return nil, false
		}
		o[key] = json.RawMessage(b[vs:ve:ve])
		i = jsonscan.SkipSpace(b, ve)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
		case '}':
			return o, i == len(b)-1
		default:
			return nil, false
		}
	}
	return nil, false
}

// splitArray returns the elements of the valid JSON array b (no
// surrounding whitespace), sliced from b like splitObject's values.
func splitArray(b []byte) ([]json.RawMessage, bool) {
	if len(b) < 2 || b[0] != '[' {
		return nil, false
	}
	a := []json.RawMessage{}
	i := jsonscan.SkipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return a, i == len(b)-1
	}
	for i < len(b) {
		ve := jsonscan.SkipValue(b, i)
		if ve < 0 {
			return nil, false
		}
		a = append(a, json.RawMessage(b[i:ve:ve]))
		i = jsonscan.SkipSpace(b, ve)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
		case ']':
			return a, i == len(b)-1
		default:
			return nil, false
		}
	}
	return nil, false
}
