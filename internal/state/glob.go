package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// globMeta are the characters that make a source a pattern. A backslash
// escapes the next character, as in filepath.Match.
const globMeta = `*?[\`

func hasMeta(s string) bool { return strings.ContainsAny(s, globMeta) }

// compileGlob translates a glob into an anchored regular expression, which
// matches in linear time however many stars the pattern has:
//
//   - ** matches any sequence of characters, slashes included, and **/
//     matches zero or more whole directories (a/**/b matches a/b);
//   - *, ? and [...] behave as in filepath.Match and never match a slash.
func compileGlob(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			if strings.HasPrefix(pattern[i:], "**/") {
				b.WriteString(`(?:.*/)?`)
				i += 3
			} else if strings.HasPrefix(pattern[i:], "**") {
				b.WriteString(`.*`)
				i += 2
			} else {
				b.WriteString(`[^/]*`)
				i++
			}
		case '?':
			b.WriteString(`[^/]`)
			i++
		case '[':
			n, err := writeClass(&b, pattern[i:])
			if err != nil {
				return nil, err
			}
			i += n
		case '\\':
			if i+1 >= len(pattern) {
				return nil, fmt.Errorf("bad pattern %q: trailing backslash", pattern)
			}
			r, size := utf8.DecodeRuneInString(pattern[i+1:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += 1 + size
		default:
			r, size := utf8.DecodeRuneInString(pattern[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += size
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// writeClass translates the character class at the start of s ("[a-z]",
// "[^0-9]") and returns how many bytes of s it used. The syntax is
// filepath.Match's: ^ negates, \ escapes, - and ] must be escaped.
func writeClass(b *strings.Builder, s string) (int, error) {
	bad := fmt.Errorf("bad character class in pattern at %q", s)
	i := 1
	negated := i < len(s) && s[i] == '^'
	if negated {
		i++
	}
	var out strings.Builder
	ranges := 0
	for {
		if i >= len(s) {
			return 0, bad
		}
		if s[i] == ']' && ranges > 0 {
			i++
			break
		}
		lo, n, ok := classChar(s[i:])
		if !ok {
			return 0, bad
		}
		i += n
		hi := lo
		if i < len(s) && s[i] == '-' {
			hi, n, ok = classChar(s[i+1:])
			if !ok || hi < lo {
				return 0, bad
			}
			i += 1 + n
		}
		fmt.Fprintf(&out, `\x{%x}-\x{%x}`, lo, hi)
		ranges++
	}
	if negated {
		// Like * and ?, a negated class never matches a separator.
		fmt.Fprintf(b, `[^%s/]`, out.String())
	} else {
		fmt.Fprintf(b, `[%s]`, out.String())
	}
	return i, nil
}

// classChar reads one possibly escaped character of a class.
func classChar(s string) (r rune, n int, ok bool) {
	if s == "" || s[0] == '-' || s[0] == ']' {
		return 0, 0, false
	}
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, false
		}
		r, size := utf8.DecodeRuneInString(s[1:])
		return r, 1 + size, true
	}
	r, size := utf8.DecodeRuneInString(s)
	return r, size, true
}

// splitGlob separates the literal directory a pattern starts from (where
// the walk or the S3 listing begins) from the pattern below it. For S3 the
// split need not fall on a slash, since listing takes any key prefix.
func splitGlob(pattern string, onSlash bool) (literal, rest string) {
	meta := strings.IndexAny(pattern, globMeta)
	if meta < 0 {
		return pattern, ""
	}
	if !onSlash {
		return pattern[:meta], pattern[meta:]
	}
	slash := strings.LastIndexByte(pattern[:meta], '/')
	switch {
	case slash < 0:
		return "", pattern
	case slash == 0:
		return "/", pattern[1:]
	}
	return pattern[:slash], pattern[slash+1:]
}

// globLocal returns the regular files matching pattern, sorted. Below the
// pattern's literal directory, names starting with a dot (.terraform,
// .git) are skipped unless the pattern itself mentions a dot-name, as shells
// do; this keeps .terraform/terraform.tfstate, which holds backend settings
// rather than resources, out of "**.tfstate".
func globLocal(ctx context.Context, pattern string) ([]string, error) {
	slashed := filepath.ToSlash(pattern)
	root, rest := splitGlob(slashed, true)
	re, err := compileGlob(rest)
	if err != nil {
		return nil, err
	}
	allowHidden := strings.HasPrefix(rest, ".") || strings.Contains(rest, "/.")
	walkRoot := filepath.FromSlash(root)
	if root == "" {
		walkRoot = "."
	}
	info, err := os.Stat(walkRoot)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no files match: directory %s does not exist", walkRoot)
		}
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("no files match: %s is not a directory", walkRoot)
	}
	var matches []string
	err = filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == walkRoot {
			return nil
		}
		if !allowHidden && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(walkRoot, p)
		if err != nil {
			return err
		}
		if !re.MatchString(filepath.ToSlash(rel)) {
			return nil
		}
		if !d.Type().IsRegular() {
			// Follow a symlink to a file; skip sockets, devices and links
			// to directories (walking into those could loop).
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
		}
		if root == "" {
			matches = append(matches, rel)
		} else {
			matches = append(matches, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, errors.New("no files match the pattern")
	}
	sort.Strings(matches)
	return matches, nil
}
