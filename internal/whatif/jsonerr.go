package whatif

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"plumb/internal/jsonpos"
)

// jsonError turns an encoding/json error into one that names the file and
// the position, so an operator can open the file at the right line.
func jsonError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// encoding/json counts the offending byte as read; step back
		// onto it, except at the end of input, where nothing is there.
		if strings.Contains(se.Error(), "unexpected end") {
			line, col := jsonpos.LineCol(data, int64(len(data)))
			return fmt.Errorf("%s:%d:%d (byte %d): malformed JSON: %v (is the file truncated?)", name, line, col, len(data), se)
		}
		off := max(se.Offset-1, 0)
		line, col := jsonpos.LineCol(data, off)
		return fmt.Errorf("%s:%d:%d (byte %d): malformed JSON: %v", name, line, col, off, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// encoding/json reports the offset just after the offending
		// value; step back onto it.
		off := max(te.Offset-1, 0)
		line, col := jsonpos.LineCol(data, off)
		field := te.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Errorf("%s:%d:%d (byte %d): %s has the wrong type: JSON %s where the what-if schema has %s",
			name, line, col, off, field, te.Value, jsonKind(te.Type))
	}
	return fmt.Errorf("%s: reading what-if JSON: %w", name, err)
}

// jsonKind names the JSON type a Go type decodes from, so errors speak the
// document's language rather than this package's internals.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}
