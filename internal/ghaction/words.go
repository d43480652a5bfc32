package ghaction

import (
	"fmt"
	"strings"
)

// SplitArgs splits the action's args input into arguments the way a POSIX
// shell splits words, without expanding anything: white space separates
// words, 'single quotes' keep everything literally, "double quotes" keep
// everything but a backslash before " \ $ or ` (which stands for that
// character), and outside quotes a backslash keeps the next character
// (a backslash before a newline joins lines). $VAR, globs and ~ are not
// expanded: the step's env is the place for values. An unterminated quote
// or a trailing backslash is an error that says where it started.
func SplitArgs(s string) ([]string, error) {
	var (
		args    []string
		cur     strings.Builder
		inWord  bool
		runes   = []rune(s)
		literal = func(r rune) { cur.WriteRune(r); inWord = true }
	)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			start := i
			inWord = true
			for i++; i < len(runes) && runes[i] != '\''; i++ {
				cur.WriteRune(runes[i])
			}
			if i >= len(runes) {
				return nil, fmt.Errorf("unterminated single quote at character %d", start+1)
			}
		case r == '"':
			start := i
			inWord = true
			closed := false
			for i++; i < len(runes); i++ {
				c := runes[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(runes) && strings.ContainsRune("\"\\$`\n", runes[i+1]) {
					i++
					if runes[i] != '\n' {
						cur.WriteRune(runes[i])
					}
					continue
				}
				cur.WriteRune(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote at character %d", start+1)
			}
		case r == '\\':
			if i+1 >= len(runes) {
				return nil, fmt.Errorf("trailing backslash at character %d", i+1)
			}
			i++
			if runes[i] == '\n' {
				continue
			}
			literal(runes[i])
		default:
			literal(r)
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// QuoteArg quotes one argument so that SplitArgs (and a POSIX shell)
// reads it back unchanged; the action prints the command it runs this way.
func QuoteArg(a string) string {
	if a != "" && !strings.ContainsFunc(a, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
