// Package jsonpos turns the byte offsets encoding/json reports into the
// line and column a person opens in an editor, and into the JSON path of
// the value there, for error messages about state, plan and what-if files.
package jsonpos

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// LineCol converts a byte offset in data into a 1-based line and column.
// Columns count characters, not bytes, as editors do. Offsets outside data
// are clamped.
func LineCol(data []byte, off int64) (line, col int) {
	o := int(min(max(off, 0), int64(len(data))))
	line = 1 + bytes.Count(data[:o], []byte{'\n'})
	start := bytes.LastIndexByte(data[:o], '\n') + 1
	return line, utf8.RuneCount(data[start:o]) + 1
}

// DottedKey joins an object key onto a path with a dot
// (resources[3].instances); it is the path style of state files.
func DottedKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Walk calls fn for every JSON value in data once it has been read
// completely (so children come before their parents), with the value's
// path and byte range [start, end). Object keys are joined onto paths with
// key (DottedKey when nil), list elements as [i]. It stops when fn returns
// false or at the first malformed token. It re-reads the document token by
// token, so it is for error paths, which favour a precise answer over
// speed.
func Walk(data []byte, key func(parent, key string) string, fn func(path string, start, end int64) bool) {
	if key == nil {
		key = DottedKey
	}
	type frame struct {
		path    string
		start   int64
		array   bool
		n       int
		key     string
		wantKey bool
	}
	var stack []frame
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := &stack[len(stack)-1]
		if f.array {
			return f.path + "[" + strconv.Itoa(f.n) + "]"
		}
		return key(f.path, f.key)
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		if f.array {
			f.n++
		} else {
			f.wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		prev := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return
		}
		start := tokenStart(data, prev)
		end := dec.InputOffset()
		delim, isDelim := tok.(json.Delim)
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey && !(isDelim && delim == '}') {
			k, _ := tok.(string)
			stack[n-1].key = k
			stack[n-1].wantKey = false
			continue
		}
		switch {
		case isDelim && (delim == '{' || delim == '['):
			stack = append(stack, frame{path: childPath(), start: start, array: delim == '[', wantKey: delim == '{'})
		case isDelim:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !fn(f.path, f.start, end) {
				return
			}
			valueDone()
		default:
			if !fn(childPath(), start, end) {
				return
			}
			valueDone()
		}
	}
}

// tokenStart returns the offset of the first byte at or after off that
// starts a token, skipping what json.Decoder leaves before one.
func tokenStart(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// ValueAt finds the innermost value around the byte just before off, where
// encoding/json reports type errors (after a scalar, or just past the
// opening bracket of a list or object), and returns its path and first
// byte. With no such value the path is "" and start is that byte.
func ValueAt(data []byte, off int64, key func(parent, key string) string) (path string, start int64) {
	pos := max(off-1, 0)
	start = pos
	Walk(data, key, func(p string, s, e int64) bool {
		if s <= pos && pos < e {
			path, start = p, s
			return false
		}
		return true
	})
	return path, start
}

// Find returns where the value at a dotted path starts.
func Find(data []byte, path string) (start int64, ok bool) {
	Walk(data, nil, func(p string, s, _ int64) bool {
		if p == path {
			start, ok = s, true
			return false
		}
		return true
	})
	return start, ok
}
