package eventformat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"plumb/internal/jsonscan"
)

// ParseError is what a receiver turns into a 400 with a reason: it says
// which event of a batch and which field made the payload unacceptable, so
// the sender can fix it without guessing.
type ParseError struct {
	// Index is the event's position in a batch, -1 when the error is about
	// the body as a whole or the format has no batch.
	Index int
	// Field is the JSON field (dotted path for nested fields), empty when
	// the body is not valid JSON at all.
	Field string
	Msg   string
	// Err is the underlying cause (a JSON syntax or time error), kept so
	// callers can inspect it with errors.As.
	Err error
}

// Error renders the position, field and reason in one line, ready to be a
// 400 response body.
func (e *ParseError) Error() string {
	var b bytes.Buffer
	if e.Index >= 0 {
		fmt.Fprintf(&b, "event %d: ", e.Index)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the cause so errors.As can reach a *json.SyntaxError or
// *time.ParseError.
func (e *ParseError) Unwrap() error { return e.Err }

func perr(index int, field, msg string) *ParseError {
	return &ParseError{Index: index, Field: field, Msg: msg}
}

// object is a JSON object read with exact (case-sensitive) keys. Its values
// are always slices of JSON that was validated when the object was built,
// which is what lets objectOf and lenientObject split them without
// validating again.
type object map[string]json.RawMessage

// jsonKind names the JSON type of a value from its first byte, for error
// messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// decodeObject reads raw as a JSON object; a syntax error or another JSON
// type is reported against field (empty for the whole event). The values
// are copies: they do not alias raw, so the caller may reuse its buffer.
//
// Valid objects are validated once and split without a second decode
// (scan.go); everything else takes the encoding/json path, which also
// produces the error.
func decodeObject(raw []byte, index int, field string) (object, error) {
	if jsonKind(raw) == "object" && json.Valid(raw) {
		if o, ok := splitObject(bytes.Clone(jsonscan.TrimSpace(raw))); ok {
			return o, nil
		}
	}
	return decodeObjectSlow(raw, index, field)
}

// objectOf is decodeObject for raw that is already known to be valid JSON
// owned by the parser: an element of a decodeArray result or a value of an
// object. It neither validates nor copies again; the values alias raw.
func objectOf(raw []byte, index int, field string) (object, error) {
	if jsonKind(raw) == "object" {
		if o, ok := splitObject(jsonscan.TrimSpace(raw)); ok {
			return o, nil
		}
	}
	return decodeObjectSlow(raw, index, field)
}

// decodeObjectSlow is decodeObject through encoding/json: the reference
// behaviour, and the source of every error message.
func decodeObjectSlow(raw []byte, index int, field string) (object, error) {
	if k := jsonKind(raw); k != "object" {
		if !json.Valid(raw) {
			return nil, &ParseError{Index: index, Field: field, Msg: "invalid JSON", Err: syntaxErr(raw)}
		}
		what := "event"
		if field != "" {
			what = "value"
		}
		return nil, perr(index, field, fmt.Sprintf("%s must be a JSON object, got %s", what, k))
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, &ParseError{Index: index, Field: field, Msg: "invalid JSON", Err: err}
	}
	return o, nil
}

// decodeArray reads raw as a JSON array of raw elements. The elements are
// copies (sharing one new buffer), so the caller may reuse raw's buffer.
func decodeArray(raw []byte, index int, field, what string) ([]json.RawMessage, error) {
	if jsonKind(raw) == "array" && json.Valid(raw) {
		if a, ok := splitArray(bytes.Clone(jsonscan.TrimSpace(raw))); ok {
			return a, nil
		}
	}
	return decodeArraySlow(raw, index, field, what)
}

// decodeArraySlow is decodeArray through encoding/json, like
// decodeObjectSlow.
func decodeArraySlow(raw []byte, index int, field, what string) ([]json.RawMessage, error) {
	if k := jsonKind(raw); k != "array" {
		if !json.Valid(raw) {
			return nil, &ParseError{Index: index, Field: field, Msg: "invalid JSON", Err: syntaxErr(raw)}
		}
		return nil, perr(index, field, fmt.Sprintf("%s must be a JSON array, got %s", what, k))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, &ParseError{Index: index, Field: field, Msg: "invalid JSON", Err: err}
	}
	return a, nil
}

func syntaxErr(raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	return nil
}

// str returns the string at key; absent and null give "" and no error,
// any other JSON type is an error naming prefix+key.
func (o object) str(key string, index int, prefix string) (string, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", perr(index, prefix+key, "must be a string, got "+jsonKind(raw))
	}
	return s, nil
}

// plainString returns the value of a JSON string literal that needs no
// unescaping (no backslash, no control bytes, valid UTF-8) without going
// through reflection; most ids, types and timestamps are such strings.
// raw comes from an already validated document.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// required is str that also rejects an absent or empty value.
func (o object) required(key string, index int, prefix string) (string, error) {
	s, err := o.str(key, index, prefix)
	if err != nil {
		return "", err
	}
	if s == "" {
		if _, ok := o[key]; ok {
			return "", perr(index, prefix+key, "must not be empty")
		}
		return "", perr(index, prefix+key, "required field is missing")
	}
	return s, nil
}

// lenientStr reads a string and ignores any other JSON type: used for
// optional fields inside provider data, whose shape plumb does not own.
func (o object) lenientStr(key string) string {
	s, err := o.str(key, -1, "")
	if err != nil {
		return ""
	}
	return s
}

// lenientObject reads a nested object, nil when absent or not an object.
func (o object) lenientObject(key string) object {
	raw, ok := o[key]
	if !ok {
		return nil
	}
	return lenientObjectOf(raw)
}

// lenientObjectOf reads raw, a value of an object (so valid JSON), as an
// object; nil when it is another JSON type.
func lenientObjectOf(raw json.RawMessage) object {
	if jsonKind(raw) != "object" {
		return nil
	}
	if n, ok := splitObject(jsonscan.TrimSpace(raw)); ok {
		return n
	}
	var n object
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil
	}
	return n
}

// parseTime parses an RFC 3339 timestamp (any fractional precision, as
// Azure sends seven digits).
func parseTime(s string, index int, field string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &ParseError{Index: index, Field: field, Msg: "not an RFC 3339 timestamp", Err: err}
	}
	return t, nil
}

// rawCopy returns the event's bytes without surrounding whitespace, copied
// so the caller may reuse its buffer.
func rawCopy(body []byte) json.RawMessage {
	return json.RawMessage(bytes.Clone(bytes.TrimSpace(body)))
}
