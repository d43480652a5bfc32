// Package jsonpos turns the byte offsets encoding/json reports into the
// line and column a person opens in an editor, for error messages about
// state, plan and what-if files.
package jsonpos

import (
	"bytes"
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
