// Package logpattern evaluates CloudWatch Logs JSON filter patterns
// ({ ($.eventName = CreateTrail) || ... }) on events, so a compliance rule
// can ask what a metric filter matches instead of how it is spelled. CIS
// AWS Foundations section 4 asks for metric filters on CloudTrail events
// (unauthorized API calls, root use, changes to trails, security groups,
// ...); teams write the same filter with or without quotes, parentheses
// and spaces, in any order, sometimes with an extra condition. Matching
// sample events is the check that is neither fooled by a clause that is
// present but negated or and-ed away, nor by one written differently.
//
// The grammar is the JSON form of the filter pattern syntax:
//
//	pattern    = "{" or "}"
//	or         = and { "||" and }
//	and        = unary { "&&" unary }
//	unary      = "(" or ")" | comparison
//	comparison = selector ( op value | "IS" ( "TRUE" | "FALSE" | "NULL" ) | "NOT" "EXISTS" | "EXISTS" )
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">="
//	selector   = "$" { "." name | "[" index "]" }
//	value      = quoted string | bare word | number
//
// String values may hold * wildcards. && binds tighter than ||. Patterns
// that are not JSON patterns (term and space-delimited patterns) have no
// fields to check: Parse returns ErrNotJSON.
package logpattern

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// ErrNotJSON is returned for a pattern that is not a JSON pattern.
var ErrNotJSON = errors.New("not a JSON filter pattern")

// Pattern is a parsed JSON filter pattern.
type Pattern struct{ root node }

// Match reports whether the pattern matches a JSON event (as decoded by
// encoding/json: maps, slices, strings, float64, bool, nil).
func (p *Pattern) Match(event map[string]any) bool { return p.root.match(event) }

type node interface{ match(map[string]any) bool }

type orNode []node

func (n orNode) match(e map[string]any) bool {
	for _, c := range n {
		if c.match(e) {
			return true
		}
	}
	return false
}

type andNode []node

func (n andNode) match(e map[string]any) bool {
	for _, c := range n {
		if !c.match(e) {
			return false
		}
	}
	return true
}

type comparison struct {
	sel   []step
	op    string // = != < <= > >= IS NOTEXISTS EXISTS
	value string
	// quoted values are strings even when they look like numbers.
	quoted bool
}

type step struct {
	key   string
	index int
	isIdx bool
}

func (c comparison) match(e map[string]any) bool {
	v, ok := lookup(e, c.sel)
	switch c.op {
	case "NOTEXISTS":
		return !ok
	case "EXISTS":
		return ok
	case "IS":
		if !ok {
			return false
		}
		switch c.value {
		case "NULL":
			return v == nil
		case "TRUE":
			return v == true
		case "FALSE":
			return v == false
		}
		return false
	case "!=":
		if !ok {
			return true
		}
		return !equal(v, c.value, c.quoted)
	case "=":
		return ok && equal(v, c.value, c.quoted)
	}
	// Numeric comparisons.
	f, isNum := v.(float64)
	want, err := strconv.ParseFloat(c.value, 64)
	if !ok || !isNum || err != nil || c.quoted {
		return false
	}
	switch c.op {
	case "<":
		return f < want
	case "<=":
		return f <= want
	case ">":
		return f > want
	case ">=":
		return f >= want
	}
	return false
}

func equal(v any, want string, quoted bool) bool {
	switch x := v.(type) {
	case string:
		return glob(want, x)
	case float64:
		if quoted {
			return false
		}
		w, err := strconv.ParseFloat(want, 64)
		return err == nil && w == x
	case bool:
		return !quoted && strings.EqualFold(want, strconv.FormatBool(x))
	}
	return false
}

// glob matches s against a value with * wildcards. path.Match treats
// other characters ([, ?, \) specially, so they are escaped first.
func glob(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '[', ']', '?', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	// path.Match's * stops at '/': match slashes as ordinary characters
	// by replacing them on both sides.
	ok, err := path.Match(strings.ReplaceAll(b.String(), "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

func lookup(e map[string]any, sel []step) (any, bool) {
	var cur any = e
	for _, s := range sel {
		switch x := cur.(type) {
		case map[string]any:
			if s.isIdx {
				return nil, false
			}
			v, ok := x[s.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if !s.isIdx || s.index < 0 || s.index >= len(x) {
				return nil, false
			}
			cur = x[s.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Parse parses a filter pattern.
func Parse(s string) (*Pattern, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") {
		return nil, ErrNotJSON
	}
	p := &parser{src: t}
	p.next()
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if err := p.expect("}"); err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf("unexpected %q after the closing }", p.tok.text)
	}
	return &Pattern{root: n}, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tPunct
	tSelector
	tWord
	tString
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type parser struct {
	src string
	off int
	tok token
	err error
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("filter pattern at offset %d: %s", p.tok.pos, fmt.Sprintf(format, args...))
}

// next reads the next token into p.tok.
func (p *parser) next() {
	for p.off < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.off])) {
		p.off++
	}
	start := p.off
	if p.off >= len(p.src) {
		p.tok = token{kind: tEOF, pos: start}
		return
	}
	rest := p.src[p.off:]
	for _, op := range []string{"&&", "||", "!=", "<=", ">=", "{", "}", "(", ")", "=", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			p.off += len(op)
			p.tok = token{kind: tPunct, text: op, pos: start}
			return
		}
	}
	switch c := rest[0]; {
	case c == '"':
		var b strings.Builder
		i := 1
		for ; i < len(rest); i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				b.WriteByte(rest[i])
				continue
			}
			if rest[i] == '"' {
				break
			}
			b.WriteByte(rest[i])
		}
		if i >= len(rest) {
			p.err = fmt.Errorf("filter pattern at offset %d: unterminated string", start)
			p.tok = token{kind: tEOF, pos: start}
			p.off = len(p.src)
			return
		}
		p.off += i + 1
		p.tok = token{kind: tString, text: b.String(), pos: start}
	default:
		i := 0
		for i < len(rest) && !strings.ContainsRune(" \t\r\n(){}&|=!<>\"", rune(rest[i])) {
			i++
		}
		if i == 0 {
			// A lone '&', '|' or '!'.
			i = 1
		}
		p.off += i
		kind := tWord
		if rest[0] == '$' {
			kind = tSelector
		}
		p.tok = token{kind: kind, text: rest[:i], pos: start}
	}
}

func (p *parser) expect(punct string) error {
	if p.err != nil {
		return p.err
	}
	if p.tok.kind != tPunct || p.tok.text != punct {
		if p.tok.kind == tEOF {
			return p.errf("want %q, got the end of the pattern", punct)
		}
		return p.errf("want %q, got %q", punct, p.tok.text)
	}
	p.next()
	return p.err
}

func (p *parser) or() (node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	out := orNode{first}
	for p.tok.kind == tPunct && p.tok.text == "||" {
		p.next()
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 1 {
		return first, nil
	}
	return out, nil
}

func (p *parser) and() (node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	out := andNode{first}
	for p.tok.kind == tPunct && p.tok.text == "&&" {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 1 {
		return first, nil
	}
	return out, nil
}

func (p *parser) unary() (node, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tPunct && p.tok.text == "(" {
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return n, nil
	}
	if p.tok.kind != tSelector {
		if p.tok.kind == tEOF {
			return nil, p.errf("want a selector such as $.eventName, got the end of the pattern")
		}
		return nil, p.errf("want a selector such as $.eventName, got %q", p.tok.text)
	}
	sel, err := parseSelector(p.tok.text)
	if err != nil {
		return nil, p.errf("%v", err)
	}
	p.next()
	c := comparison{sel: sel}
	switch {
	case p.tok.kind == tWord && strings.EqualFold(p.tok.text, "IS"):
		p.next()
		w := strings.ToUpper(p.tok.text)
		if p.tok.kind != tWord || (w != "TRUE" && w != "FALSE" && w != "NULL") {
			return nil, p.errf("want TRUE, FALSE or NULL after IS")
		}
		c.op, c.value = "IS", w
		p.next()
	case p.tok.kind == tWord && strings.EqualFold(p.tok.text, "NOT"):
		p.next()
		if p.tok.kind != tWord || !strings.EqualFold(p.tok.text, "EXISTS") {
			return nil, p.errf("want EXISTS after NOT")
		}
		c.op = "NOTEXISTS"
		p.next()
	case p.tok.kind == tWord && strings.EqualFold(p.tok.text, "EXISTS"):
		c.op = "EXISTS"
		p.next()
	case p.tok.kind == tPunct && strings.Contains("= != < <= > >=", p.tok.text) && p.tok.text != "&&" && p.tok.text != "||":
		c.op = p.tok.text
		p.next()
		switch p.tok.kind {
		case tString:
			c.value, c.quoted = p.tok.text, true
		case tWord:
			c.value = p.tok.text
		default:
			if p.err != nil {
				return nil, p.err
			}
			return nil, p.errf("want a value after %s", c.op)
		}
		p.next()
	default:
		return nil, p.errf("want a comparison (=, !=, <, >, IS, NOT EXISTS) after the selector")
	}
	return c, p.err
}

// parseSelector reads $.a.b[0].c.
func parseSelector(s string) ([]step, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("selector %q does not start with $", s)
	}
	var out []step
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			i := strings.IndexAny(rest, ".[")
			if i < 0 {
				i = len(rest)
			}
			if i == 0 {
				return nil, fmt.Errorf("selector %q: empty field name", s)
			}
			out = append(out, step{key: rest[:i]})
			rest = rest[i:]
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, fmt.Errorf("selector %q: unclosed [", s)
			}
			n, err := strconv.Atoi(rest[1:j])
			if err != nil {
				return nil, fmt.Errorf("selector %q: index %q is not a number", s, rest[1:j])
			}
			out = append(out, step{index: n, isIdx: true})
			rest = rest[j+1:]
		default:
			return nil, fmt.Errorf("selector %q: unexpected %q", s, rest[:1])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("selector %q names no field", s)
	}
	return out, nil
}
