package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// visible makes a cloud-controlled string safe to print on one line: line
// breaks and tabs become \n, \r and \t, and every other control or
// invisible formatting character (ANSI escapes, bidi overrides, zero-width
// characters, invalid UTF-8) becomes a \x or \u escape. Resource ids and
// tag values are written by whoever owns the account, so they must not be
// able to move the cursor, recolour the terminal, reorder text or add
// lines to a report.
func visible(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf && r < ' ', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsGraphic(r):
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// isPlain is the fast path of visible: printable ASCII needs no work.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// truncate shortens s to at most limit runes, marking the cut with "...",
// so one huge policy document cannot push the rest of a report off screen.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	const ellipsis = "..."
	n := 0
	for i := range s {
		if n == limit-len(ellipsis) {
			return s[:i] + ellipsis
		}
		n++
	}
	return s
}

// mdText escapes a string for use as Markdown text in a table cell, a
// list item or a heading. It first makes control characters visible, then
// backslash-escapes every character that could start markup (emphasis,
// links, images, raw HTML, entities, code, strikethrough, math, table
// cells), and finally neutralises what only matters at the start of a
// line (headings, lists, block quotes). The result renders as the literal
// text on GitHub and any CommonMark renderer.
func mdText(s string) string {
	s = strings.TrimSpace(visible(s))
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '&', '|', '~', '$', '!', '#':
			b.WriteByte('\\')
		case '-', '+', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			// "1. x" or "1) x" at the start would begin an ordered list.
			if i > 0 && isDigits(s[:i]) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isDigits reports whether s is non-empty and only ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mdCode renders a string as a Markdown code span, the right form for ids,
// addresses and values: inside a code span nothing is markup, HTML or a
// mention. The fence is one backtick longer than the longest run inside,
// and pipes are escaped with an odd number of backslashes because GitHub
// splits table cells before it parses code spans. An empty string gives
// "" because an empty code span does not exist in Markdown.
func mdCode(s string) string {
	s = visible(s)
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	var b strings.Builder
	backslashes := 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
		if r == '|' {
			// The table scanner pairs backslashes; make sure the one in
			// front of the pipe is not consumed by a preceding pair.
			if backslashes%2 == 1 {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		}
		if r == '\\' {
			backslashes++
		} else {
			backslashes = 0
		}
		b.WriteRune(r)
	}
	body := b.String()
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(body, "`") || strings.HasSuffix(body, "`") ||
		(strings.HasPrefix(body, " ") && strings.HasSuffix(body, " ") && strings.Trim(body, " ") != "") {
		body = " " + body + " "
	}
	return fence + body + fence
}
