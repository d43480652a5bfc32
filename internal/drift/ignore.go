package drift

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Ignore holds the rules of a .plumbignore file. Operators use it to
// silence resources they know about (a bucket another team owns) and
// attributes something else rewrites on purpose (a tag a scanner stamps).
//
// Syntax, one rule a line:
//
//	# comment
//	aws_s3_bucket.logs-tmp            one resource: TYPE.ID
//	aws_s3_bucket.tmp-*               * matches any run of characters
//	aws_route53_zone.example\.com     \. is a literal dot inside an id
//	!aws_s3_bucket.tmp-keep           ! re-includes what an earlier rule ignored
//	aws_instance.*.tags.LastScanned   an attribute path: ignore that change only
//	123456789012:aws_iam_role.*       only in one account (ACCOUNT: before the rule)
//	2109*:aws_s3_bucket.tmp-*         * works in the account too
//
// A rule without an account applies in every account. The last rule that
// matches decides, as in .gitignore.
type Ignore struct {
	resources []ignoreRule
	paths     []ignoreRule
}

type ignoreRule struct {
	negate bool
	// account is a glob over the account id; "" matches any account.
	account string
	typ     string
	id      string
	path    string // only for attribute rules
	line    int
}

// LoadIgnore reads an ignore file. A missing file is not an error when
// optional is true (the default .plumbignore need not exist).
func LoadIgnore(path string, optional bool) (*Ignore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return &Ignore{}, nil
		}
		return nil, fmt.Errorf("read ignore file %s: %w", path, err)
	}
	ig, err := ParseIgnore(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ignore file %s:%w", path, err)
	}
	return ig, nil
}

// ParseIgnore parses ignore rules. Errors start with the line number.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule := ignoreRule{line: n}
		if strings.HasPrefix(line, "!") {
			rule.negate = true
			line = strings.TrimSpace(line[1:])
		}
		if acct, rest, ok := accountPrefix(line); ok {
			rule.account, line = acct, rest
		}
		parts, err := splitUnescaped(line)
		if err != nil {
			return nil, fmt.Errorf("%d: %w", n, err)
		}
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("%d: %q is not TYPE.ID or TYPE.ID.ATTRIBUTE.PATH (escape dots inside ids as \\.)", n, line)
		}
		rule.typ, rule.id = parts[0], parts[1]
		if len(parts) > 2 {
			for _, p := range parts[2:] {
				if p == "" {
					return nil, fmt.Errorf("%d: empty attribute path segment in %q", n, line)
				}
			}
			rule.path = strings.Join(parts[2:], ".")
			ig.paths = append(ig.paths, rule)
			continue
		}
		ig.resources = append(ig.resources, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%d: %w", n+1, err)
	}
	return ig, nil
}

// accountPrefix splits "ACCOUNT:TYPE.ID" into the account glob and the
// rest. A Terraform type starts with a letter, so a line starting with a
// digit or * followed by a colon before any dot names an account; ids
// with colons (ARNs) come after the type's dot and are not mistaken.
func accountPrefix(line string) (string, string, bool) {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 || (line[0] != '*' && (line[0] < '0' || line[0] > '9')) {
		return "", line, false
	}
	if dot := strings.IndexByte(line, '.'); dot >= 0 && dot < colon {
		return "", line, false
	}
	acct := line[:colon]
	for _, c := range acct {
		if c != '*' && (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') && c != '-' {
			return "", line, false
		}
	}
	return acct, strings.TrimSpace(line[colon+1:]), true
}

// splitUnescaped splits on dots not preceded by a backslash and removes
// the escapes.
func splitUnescaped(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			if s[i] == '*' {
				// Keep an escaped star escaped so it matches literally.
				cur.WriteString(`\*`)
			} else {
				cur.WriteByte(s[i])
			}
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	return parts, nil
}

// Resource reports whether a whole resource is ignored. Rules naming an
// account do not apply (the account is not known): see ResourceIn.
func (ig *Ignore) Resource(typ, id string) bool { return ig.ResourceIn("", typ, id) }

// matchesAccount: a rule without an account matches any; one with an
// account matches only a resource whose account it globs.
func (r ignoreRule) matchesAccount(account string) bool {
	return r.account == "" || (account != "" && glob(r.account, account))
}

// ResourceIn reports whether a whole resource of an account is ignored.
func (ig *Ignore) ResourceIn(account, typ, id string) bool {
	if ig == nil {
		return false
	}
	ignored := false
	for _, r := range ig.resources {
		if r.matchesAccount(account) && glob(r.typ, typ) && glob(r.id, id) {
			ignored = !r.negate
		}
	}
	return ignored
}

// Path reports whether a change at an attribute path of a resource is
// ignored. A path rule also covers everything below it, so
// aws_instance.*.tags ignores every tag.
func (ig *Ignore) Path(typ, id, path string) bool { return ig.PathIn("", typ, id, path) }

// PathIn is Path for a resource of an account.
func (ig *Ignore) PathIn(account, typ, id, path string) bool {
	if ig == nil {
		return false
	}
	ignored := false
	for _, r := range ig.paths {
		if !r.matchesAccount(account) || !glob(r.typ, typ) || !glob(r.id, id) {
			continue
		}
		if pathCovered(r.path, path) {
			ignored = !r.negate
		}
	}
	return ignored
}

// pathCovered reports whether the pattern matches the path or one of its
// parents at a dot boundary.
func pathCovered(pattern, path string) bool {
	if glob(pattern, path) {
		return true
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '.' && glob(pattern, path[:i]) {
			return true
		}
	}
	return false
}

// Len is the number of rules, for diagnostics.
func (ig *Ignore) Len() int {
	if ig == nil {
		return 0
	}
	return len(ig.resources) + len(ig.paths)
}

// glob matches s against a pattern where * is any run of characters and
// \* a literal star. Matching is iterative, so patterns cannot blow up.
func glob(pattern, s string) bool {
	// Tokenize into literal runs and stars.
	var toks []string // "" stands for a star
	var lit strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern) && pattern[i+1] == '*':
			lit.WriteByte('*')
			i++
		case pattern[i] == '*':
			if lit.Len() > 0 {
				toks = append(toks, lit.String())
				lit.Reset()
			}
			if len(toks) == 0 || toks[len(toks)-1] != "" {
				toks = append(toks, "")
			}
		default:
			lit.WriteByte(pattern[i])
		}
	}
	if lit.Len() > 0 {
		toks = append(toks, lit.String())
	}
	if len(toks) == 0 {
		return s == ""
	}
	// Greedy match with backtracking to the last star only (linear).
	pos := 0
	star := false
	for i, t := range toks {
		if t == "" {
			star = true
			continue
		}
		last := i == len(toks)-1
		switch {
		case !star:
			if !strings.HasPrefix(s[pos:], t) {
				return false
			}
			pos += len(t)
		case last:
			if !strings.HasSuffix(s[pos:], t) {
				return false
			}
			pos = len(s)
		default:
			k := strings.Index(s[pos:], t)
			if k < 0 {
				return false
			}
			pos += k + len(t)
		}
		star = false
	}
	return star || pos == len(s)
}
