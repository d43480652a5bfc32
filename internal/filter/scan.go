package filter

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// NewDoc needs only three top-level members of the envelope to match on
// event type and subject. Decoding the whole ~2 KB envelope into maps for
// that was about half of intake's matching cost, so NewDoc validates the
// envelope (json.Valid, no allocation) and reads just those members with
// the small reader below; the tree is decoded only when a filter needs it.
// The reader is only ever given valid JSON, and reports ok=false on
// anything it does not expect so that NewDoc falls back to the full decode.

// topMembers holds the raw values of the envelope members NewDoc reads;
// nil when absent. A repeated key keeps its last value, as in the decoded
// map.
type topMembers struct {
	specversion bool
	eventType   []byte
	typ         []byte
	subject     []byte
}

// topLevel reads the members of the valid JSON object b (no surrounding
// whitespace).
func topLevel(b []byte) (topMembers, bool) {
	var m topMembers
	if len(b) < 2 || b[0] != '{' {
		return m, false
	}
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return m, i == len(b)-1
	}
	for i < len(b) {
		if b[i] != '"' {
			return m, false
		}
		ke := skipString(b, i)
		if ke < 0 {
			return m, false
		}
		key := b[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			k, ok := jsonString(b[i:ke])
			if !ok {
				return m, false
			}
			key = []byte(k)
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return m, false
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return m, false
		}
		switch string(key) { // no allocation: the compiler compares in place
		case "specversion":
			m.specversion = true
		case "eventType":
			m.eventType = b[vs:ve]
		case "type":
			m.typ = b[vs:ve]
		case "subject":
			m.subject = b[vs:ve]
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return m, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, i == len(b)-1
		default:
			return m, false
		}
	}
	return m, false
}

// jsonString decodes raw when it is a JSON string literal, to exactly the
// string encoding/json would produce; ok is false for any other value.
// Literals without escapes and with valid UTF-8 (nearly all) are converted
// directly.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace trims JSON whitespace, all a valid document can have around
// its value.
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

// skipString returns the index just past the string literal at b[i] (a
// '"'), -1 when unterminated. It jumps from quote to quote; a quote is
// escaped when an odd run of backslashes precedes it.
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

// skipValue returns the index just past the value at b[i], -1 when the
// input ends first or is not shaped like JSON.
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
