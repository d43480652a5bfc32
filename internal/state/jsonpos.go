package state

import (
	"bytes"
	"encoding/json"
	"strconv"

	"plumb/internal/jsonpos"
)

// The functions here only run once something is already wrong, so they
// favour precise answers over speed: they re-read the document token by token
// to turn a byte offset into a JSON path, or a path into a position.

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (line, col int) {
	return jsonpos.LineCol(data, int64(off))
}

// walkValues calls fn for every JSON value in data once it has been read
// completely (so children come before their parents), with the value's path
// (resources[3].instances[0].index_key) and byte range. It stops when fn
// returns false or at the first malformed token.
func walkValues(data []byte, fn func(path string, start, end int64) bool) {
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
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
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
		start := skipSeparators(data, prev)
		end := dec.InputOffset()
		delim, isDelim := tok.(json.Delim)
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey && !(isDelim && delim == '}') {
			key, _ := tok.(string)
			stack[n-1].key = key
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

// skipSeparators returns the offset of the first byte at or after off that
// starts a token.
func skipSeparators(data []byte, off int64) int64 {
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

// locateOffset finds the innermost value around the byte just before off
// (where encoding/json reports type errors) and returns its path and start.
func locateOffset(data []byte, off int64) (path string, start int64) {
	pos := max(off-1, 0)
	start = pos
	walkValues(data, func(p string, s, e int64) bool {
		if s <= pos && pos < e {
			path, start = p, s
			return false
		}
		return true
	})
	return path, start
}

// locatePath returns where the value at path starts.
func locatePath(data []byte, path string) (start int64, ok bool) {
	walkValues(data, func(p string, s, _ int64) bool {
		if p == path {
			start, ok = s, true
			return false
		}
		return true
	})
	return start, ok
}
