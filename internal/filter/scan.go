package filter

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"plumb/internal/jsonscan"
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
	i := jsonscan.SkipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return m, i == len(b)-1
	}
	for i < len(b) {
		if b[i] != '"' {
			return m, false
		}
		ke := jsonscan.SkipString(b, i)
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
		i = jsonscan.SkipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return m, false
		}
		vs := jsonscan.SkipSpace(b, i+1)
		ve := jsonscan.SkipValue(b, vs)
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
		i = jsonscan.SkipSpace(b, ve)
		if i >= len(b) {
			return m, false
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
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
