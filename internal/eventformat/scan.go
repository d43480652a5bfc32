package eventformat

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
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

// isSpace reports JSON insignificant whitespace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string literal starting at
// b[i] (which must be '"'), -1 when it is unterminated. Strings are most of
// an event's bytes, so it jumps from quote to quote with bytes.IndexByte; a
// quote is escaped when an odd run of backslashes precedes it.
func skipString(b []byte, i int) int {
	i++
	for i <= len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}

// skipValue returns the index just past the value starting at b[i], -1 when
// the input ends first or is not shaped like JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		// Number or literal: runs to the next delimiter.
		start := i
		for i < len(b) {
			c := b[i]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

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
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return o, i == len(b)-1
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, false
		}
		ke := skipString(b, i)
		if ke < 0 {
			return nil, false
		}
		key, ok := memberKey(b[i:ke])
		if !ok {
			return nil, false
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return nil, false
		}
		o[key] = json.RawMessage(b[vs:ve:ve])
		i = skipSpace(b, ve)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
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
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return a, i == len(b)-1
	}
	for i < len(b) {
		ve := skipValue(b, i)
		if ve < 0 {
			return nil, false
		}
		a = append(a, json.RawMessage(b[i:ve:ve]))
		i = skipSpace(b, ve)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return a, i == len(b)-1
		default:
			return nil, false
		}
	}
	return nil, false
}

// trimSpace is bytes.TrimSpace for JSON whitespace only, which is all a
// valid document can have around its value.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}
