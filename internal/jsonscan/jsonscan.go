// Package jsonscan walks JSON that is already known to be valid (checked
// once with json.Valid) without decoding it, so hot paths can pick out the
// members they need by slicing bytes. Event intake is CPU-bound on
// re-scanning the same event at every nesting level; these helpers are
// the shared answer for the parsers and the filters. They report -1 (or
// false) on anything not shaped like JSON, and callers then fall back to
// encoding/json, so a mistake here can cost speed but never change what
// is accepted.
package jsonscan

import "bytes"

// IsSpace reports JSON insignificant whitespace.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// SkipSpace returns the index of the first non-whitespace byte at or
// after i.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// TrimSpace is bytes.TrimSpace for JSON whitespace only, which is all a
// valid document can have around its value.
func TrimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && IsSpace(b[i]) {
		i++
	}
	for j > i && IsSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// SkipString returns the index just past the string literal starting at
// b[i] (which must be '"'), -1 when it is unterminated. Strings are most
// of an event's bytes, so it jumps from quote to quote with
// bytes.IndexByte; a quote is escaped when an odd run of backslashes
// precedes it.
func SkipString(b []byte, i int) int {
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

// SkipValue returns the index just past the value starting at b[i], -1
// when the input ends first or is not shaped like JSON.
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = SkipString(b, i); i < 0 {
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
			if c == ',' || c == '}' || c == ']' || IsSpace(c) {
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
