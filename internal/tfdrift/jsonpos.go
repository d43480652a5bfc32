package tfdrift

import (
	"bytes"
	"encoding/json"
	"strconv"

	"plumb/internal/jsonpos"
)

// These helpers run only once decoding has failed, to say where: they
// favour a precise answer over speed.

// position converts a byte offset in data into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	return jsonpos.LineCol(data, int64(off))
}

// valueEndingAt finds the value encoding/json was reading when it reported
// a type error at off: the innermost value that holds the byte before off
// (the last byte of a scalar, or the opening bracket of a list or object).
// It returns the value's path in the document (resource_drift[2].change)
// and its first byte.
func valueEndingAt(data []byte, off int64) (path string, start int64) {
	target := max(off-1, 0)
	type frame struct {
		path   string
		list   bool
		next   int    // index of the next element of a list
		key    string // key of the member being read
		hasKey bool   // an object has read the key and waits for its value
	}
	var stack []frame
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := &stack[len(stack)-1]
		if f.list {
			return f.path + "[" + strconv.Itoa(f.next) + "]"
		}
		return string(appendKey([]byte(f.path), f.key))
	}
	valueRead := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		if f.list {
			f.next++
		} else {
			f.hasKey = false
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", target
		}
		s := tokenStart(data, before)
		e := dec.InputOffset()
		delim, isDelim := tok.(json.Delim)
		if n := len(stack); n > 0 && !stack[n-1].list && !stack[n-1].hasKey && !isDelim {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].hasKey = true
			continue
		}
		switch {
		case isDelim && (delim == '{' || delim == '['):
			p := childPath()
			if s == target {
				return p, s
			}
			stack = append(stack, frame{path: p, list: delim == '['})
		case isDelim:
			stack = stack[:len(stack)-1]
			valueRead()
		default:
			if s <= target && target < e {
				return childPath(), s
			}
			valueRead()
		}
	}
}

// tokenStart skips the whitespace and separators json.Decoder leaves
// before a token.
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
