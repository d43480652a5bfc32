package filter

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// Limits on one event pattern. MaxPatternChars is EventBridge's default
// "Event pattern size" quota (Amazon EventBridge quotas, 2,048 characters);
// MaxOrCombinations is the $or limit AWS documents for PutRule and
// TestEventPattern ("over 1000 rule combinations" is refused). AWS states
// no nesting limit; MaxPatternDepth is plumb's, far above what events
// nest (a CloudTrail record is about eight levels deep), so that a pattern
// accepted here is never deep enough to matter.
const (
	MaxPatternChars   = 2048
	MaxPatternDepth   = 32
	MaxOrCombinations = 1000
)

// Pattern is a compiled EventBridge event pattern. It is compiled once from
// the JSON an operator copied from an EventBridge rule, so matching walks a
// typed tree instead of re-interpreting the pattern JSON for every event.
type Pattern struct {
	root *patObj
}

// patObj is one object level of a pattern: every field must match (AND) and,
// for each $or, at least one alternative must match.
type patObj struct {
	fields []patField
	or     []*patObj
}

// patField is a pattern field: a nested object, a leaf list of matchers of
// which any may match (OR), or both (only dotted keys make both).
type patField struct {
	name     string
	child    *patObj
	leaf     bool
	matchers []matcher
	// exists is set when the leaf list holds an exists test, which is
	// decided on presence rather than on a value.
	existsTrue, existsFalse bool
	// desc is the leaf list as JSON, for explanations.
	desc string
}

type matchKind int

const (
	mExactString matchKind = iota
	mExactNumber
	mExactBool
	mExactNull
	mPrefix
	mPrefixFold
	mSuffix
	mSuffixFold
	mEqualsFold
	mWildcard
	mNumeric
	mCIDR
	mAnythingBut
)

type matcher struct {
	kind matchKind
	s    string // literal, prefix, suffix; lower-cased for the *Fold kinds
	num  number // exact number
	// exact: num denotes a float64 exactly (see number.go)
	exact bool
	b     bool
	// wildcard: literal pieces between unescaped '*'
	parts []string
	// numeric bounds
	hasLo, loIncl, hasHi, hiIncl bool
	lo, hi                       float64
	prefix                       netip.Prefix
	// anything-but: matches a present value none of these match
	not []matcher
}

// CompilePattern parses and validates an EventBridge event pattern. Errors
// name the JSON path of the offending element, e.g. `detail.state[0]`, so an
// operator can find it in a long rule, and say which limit a pattern
// exceeds.
func CompilePattern(pattern []byte) (*Pattern, error) {
	v, err := decodeJSON(pattern)
	if err != nil {
		return nil, fmt.Errorf("event pattern: invalid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("event pattern: $: must be a JSON object")
	}
	if n := patternChars(obj); n > MaxPatternChars {
		return nil, fmt.Errorf("event pattern: %d characters as compact JSON, above EventBridge's event pattern size quota of %d characters", n, MaxPatternChars)
	}
	split, err := splitPatternKeys(obj, "")
	if err != nil {
		return nil, fmt.Errorf("event pattern: %w", err)
	}
	c := &compiler{combos: 1}
	root, err := c.obj(split, "", 1)
	if err != nil {
		return nil, fmt.Errorf("event pattern: %w", err)
	}
	if c.combos > MaxOrCombinations {
		return nil, fmt.Errorf("event pattern: $or: %d rule combinations (the product of the number of alternatives of every $or), above EventBridge's limit of %d", c.combos, MaxOrCombinations)
	}
	return &Pattern{root: root}, nil
}

// patternChars is the size of the pattern as EventBridge's quota counts
// it: characters of the pattern written as compact JSON. plumb.yaml
// patterns are YAML, so measuring the compact form (rather than whatever
// whitespace a file has) gives the same answer for every spelling.
func patternChars(obj map[string]any) int {
	var b strings.Builder
	writeJSON(&b, obj)
	return len([]rune(b.String()))
}

// compiler carries what CompilePattern counts across the whole pattern.
type compiler struct {
	combos int // product of $or alternative counts, saturated
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func showPath(p string) string {
	if p == "" {
		return "$"
	}
	return p
}

func (c *compiler) obj(obj map[string]any, path string, depth int) (*patObj, error) {
	if depth > MaxPatternDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d levels (each object, $or alternative and part of a dotted key is a level), plumb's limit", showPath(path), MaxPatternDepth)
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf("%s: empty object matches nothing useful; remove it or add fields", showPath(path))
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic error reporting
	o := &patObj{}
	for _, name := range names {
		v := obj[name]
		p := joinPath(path, name)
		if name == "$or" {
			if alts, ok := v.([]any); ok {
				if len(alts) < 2 {
					return nil, fmt.Errorf("%s: needs at least 2 alternatives", p)
				}
				c.combos *= len(alts)
				if c.combos > MaxOrCombinations*MaxOrCombinations {
					c.combos = MaxOrCombinations * MaxOrCombinations // saturate; already refused
				}
				for i, a := range alts {
					ap := fmt.Sprintf("%s[%d]", p, i)
					ao, ok := a.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("%s: $or alternative must be an object, got %s", ap, describe(a))
					}
					alt, err := c.obj(ao, ap, depth+1)
					if err != nil {
						return nil, err
					}
					o.or = append(o.or, alt)
				}
				continue
			}
			// "$or" with an object value is an ordinary field name, as in
			// EventBridge's backward-compatible handling.
		}
		switch t := v.(type) {
		case map[string]any:
			child, err := c.obj(t, p, depth+1)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, patField{name: name, child: child})
		case []any:
			f, err := compileLeaf(name, t, p)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, f)
		case *leafAndObject:
			f, err := compileLeaf(name, t.list, p)
			if err != nil {
				return nil, err
			}
			if f.child, err = c.obj(t.obj, p, depth+1); err != nil {
				return nil, err
			}
			o.fields = append(o.fields, f)
		default:
			return nil, fmt.Errorf("%s: must be an array of values or an object, got %s", p, describe(v))
		}
	}
	return o, nil
}

func compileLeaf(name string, list []any, path string) (patField, error) {
	f := patField{name: name, leaf: true, desc: renderJSON(list, 200)}
	if len(list) == 0 {
		return f, fmt.Errorf("%s: empty array matches no event", path)
	}
	for i, e := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch t := e.(type) {
		case string:
			f.matchers = append(f.matchers, matcher{kind: mExactString, s: t})
		case number:
			f.matchers = append(f.matchers, exactNumber(t))
		case bool:
			f.matchers = append(f.matchers, matcher{kind: mExactBool, b: t})
		case nil:
			f.matchers = append(f.matchers, matcher{kind: mExactNull})
		case []any:
			return f, fmt.Errorf("%s: nested arrays are not allowed in a value list", p)
		case map[string]any:
			if len(t) != 1 {
				return f, fmt.Errorf("%s: a matcher object needs exactly one operator, got %d keys", p, len(t))
			}
			for op, arg := range t {
				if op == "exists" {
					b, ok := arg.(bool)
					if !ok {
						return f, fmt.Errorf("%s.exists: needs true or false, got %s", p, describe(arg))
					}
					if b {
						f.existsTrue = true
					} else {
						f.existsFalse = true
					}
					continue
				}
				m, err := compileOperator(op, arg, p+"."+op)
				if err != nil {
					return f, err
				}
				f.matchers = append(f.matchers, m)
			}
		default:
			return f, fmt.Errorf("%s: unsupported value %s", p, describe(e))
		}
	}
	return f, nil
}

func exactNumber(n number) matcher {
	return matcher{kind: mExactNumber, num: n, exact: exactFloat(n.s, n.f)}
}

func compileOperator(op string, arg any, path string) (matcher, error) {
	switch op {
	case "prefix", "suffix":
		kind, foldKind := mPrefix, mPrefixFold
		if op == "suffix" {
			kind, foldKind = mSuffix, mSuffixFold
		}
		switch a := arg.(type) {
		case string:
			return matcher{kind: kind, s: a}, nil
		case map[string]any:
			s, ok := a["equals-ignore-case"].(string)
			if len(a) != 1 || !ok {
				return matcher{}, fmt.Errorf("%s: only {\"equals-ignore-case\": \"...\"} may be nested in %s", path, op)
			}
			return matcher{kind: foldKind, s: strings.ToLower(s)}, nil
		}
		return matcher{}, fmt.Errorf("%s: needs a string, got %s", path, describe(arg))
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: needs a string, got %s", path, describe(arg))
		}
		return matcher{kind: mEqualsFold, s: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: needs a string, got %s", path, describe(arg))
		}
		parts, err := parseWildcard(s)
		if err != nil {
			return matcher{}, fmt.Errorf("%s: %w", path, err)
		}
		return matcher{kind: mWildcard, parts: parts}, nil
	case "numeric":
		return compileNumeric(arg, path)
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: needs a string, got %s", path, describe(arg))
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return matcher{}, fmt.Errorf("%s: bad CIDR block %q: %w", path, s, err)
		}
		return matcher{kind: mCIDR, prefix: pfx.Masked()}, nil
	case "anything-but":
		return compileAnythingBut(arg, path)
	}
	return matcher{}, fmt.Errorf("%s: unknown operator %q", path, op)
}

func compileAnythingBut(arg any, path string) (matcher, error) {
	m := matcher{kind: mAnythingBut}
	switch a := arg.(type) {
	case string:
		m.not = []matcher{{kind: mExactString, s: a}}
	case number:
		m.not = []matcher{exactNumber(a)}
	case []any:
		if len(a) == 0 {
			return m, fmt.Errorf("%s: empty list", path)
		}
		var strs, nums int
		for i, e := range a {
			switch t := e.(type) {
			case string:
				strs++
				m.not = append(m.not, matcher{kind: mExactString, s: t})
			case number:
				nums++
				m.not = append(m.not, exactNumber(t))
			default:
				return m, fmt.Errorf("%s[%d]: needs a string or number, got %s", path, i, describe(e))
			}
		}
		if strs > 0 && nums > 0 {
			return m, fmt.Errorf("%s: list must hold only strings or only numbers", path)
		}
	case map[string]any:
		if len(a) != 1 {
			return m, fmt.Errorf("%s: needs exactly one of prefix, suffix, equals-ignore-case, wildcard", path)
		}
		for op, v := range a {
			p := path + "." + op
			switch op {
			case "prefix", "suffix", "wildcard", "equals-ignore-case":
			default:
				return m, fmt.Errorf("%s: unknown operator %q inside anything-but", p, op)
			}
			// Each takes one string or a list of strings; the value is
			// excluded if any of them matches it.
			vals := []any{v}
			single := true
			if list, ok := v.([]any); ok {
				if len(list) == 0 {
					return m, fmt.Errorf("%s: empty list", p)
				}
				vals, single = list, false
			}
			for i, e := range vals {
				ep := p
				if !single {
					ep = fmt.Sprintf("%s[%d]", p, i)
				}
				s, ok := e.(string)
				if !ok {
					return m, fmt.Errorf("%s: needs a string, got %s", ep, describe(e))
				}
				if s == "" && (op == "prefix" || op == "suffix") {
					return m, fmt.Errorf("%s: an empty %s would exclude every value", ep, op)
				}
				in, err := compileOperator(op, s, ep)
				if err != nil {
					return m, err
				}
				m.not = append(m.not, in)
			}
		}
	default:
		return m, fmt.Errorf("%s: needs a string, number, list or object, got %s", path, describe(arg))
	}
	return m, nil
}

// numericLimit is EventBridge's documented bound on numeric matching values.
const numericLimit = 5e9

func compileNumeric(arg any, path string) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return matcher{}, fmt.Errorf("%s: needs [op, number] or [op, number, op, number], got %s", path, describe(arg))
	}
	m := matcher{kind: mNumeric}
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s[%d]: needs an operator string, got %s", path, i, describe(list[i]))
		}
		n, ok := list[i+1].(number)
		if !ok {
			return matcher{}, fmt.Errorf("%s[%d]: needs a number, got %s", path, i+1, describe(list[i+1]))
		}
		if math.IsInf(n.f, 0) || n.f < -numericLimit || n.f > numericLimit {
			return matcher{}, fmt.Errorf("%s[%d]: %s is outside EventBridge's numeric range -5e9..5e9", path, i+1, n.s)
		}
		switch op {
		case ">", ">=":
			if m.hasLo {
				return matcher{}, fmt.Errorf("%s[%d]: lower bound given twice", path, i)
			}
			m.hasLo, m.loIncl, m.lo = true, op == ">=", n.f
		case "<", "<=":
			if m.hasHi {
				return matcher{}, fmt.Errorf("%s[%d]: upper bound given twice", path, i)
			}
			m.hasHi, m.hiIncl, m.hi = true, op == "<=", n.f
		case "=":
			if len(list) != 2 {
				return matcher{}, fmt.Errorf("%s[%d]: \"=\" cannot be combined with other operators", path, i)
			}
			m.hasLo, m.loIncl, m.lo = true, true, n.f
			m.hasHi, m.hiIncl, m.hi = true, true, n.f
		default:
			return matcher{}, fmt.Errorf("%s[%d]: unknown numeric operator %q", path, i, op)
		}
	}
	if m.hasLo && m.hasHi && (m.lo > m.hi || (m.lo == m.hi && !(m.loIncl && m.hiIncl))) {
		return matcher{}, fmt.Errorf("%s: empty range", path)
	}
	return m, nil
}

// parseWildcard splits a wildcard pattern into the literal pieces between
// unescaped '*'. `\*` is a literal star and `\\` a literal backslash; other
// escapes and consecutive stars are rejected as EventBridge does.
func parseWildcard(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return nil, fmt.Errorf("wildcard %q: backslash may only escape * or \\ (at byte %d)", s, i)
			}
			i++
			cur.WriteByte(s[i])
			prevStar = false
		case '*':
			if prevStar {
				return nil, fmt.Errorf("wildcard %q: consecutive * are not allowed (at byte %d)", s, i)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			prevStar = true
		default:
			cur.WriteByte(c)
			prevStar = false
		}
	}
	return append(parts, cur.String()), nil
}

// Match reports whether EventBridge would deliver the event to a rule with
// this pattern.
func (p *Pattern) Match(d Doc) bool {
	return p.root.match(d.patternRoot())
}

// match evaluates an object level against v; a missing or non-object value
// behaves as an object without fields, so only absence tests can pass.
func (o *patObj) match(v any) bool {
	obj, _ := v.(map[string]any)
	for i := range o.fields {
		f := &o.fields[i]
		val, present := obj[f.name]
		if f.leaf && !f.matchLeaf(val, present) {
			return false
		}
		if f.child != nil && !f.child.matchNested(val, present) {
			return false
		}
	}
	if len(o.or) > 0 {
		ok := false
		for _, alt := range o.or {
			if alt.match(obj) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchNested applies a nested pattern to a field's value. Arrays are
// "crushed": the pattern matches if it matches one element as a whole, so
// fields matched inside an array of objects come from the same element.
func (o *patObj) matchNested(v any, present bool) bool {
	if !present {
		return o.match(nil)
	}
	arr, ok := v.([]any)
	if !ok {
		return o.match(v)
	}
	found := false
	matched := false
	walkElems(arr, func(e any) bool {
		found = true
		if o.match(e) {
			matched = true
			return false
		}
		return true
	})
	if !found {
		return o.match(nil)
	}
	return matched
}

// walkElems visits the elements of arr, flattening nested arrays; fn
// returns false to stop.
func walkElems(arr []any, fn func(any) bool) bool {
	for _, e := range arr {
		if inner, ok := e.([]any); ok {
			if !walkElems(inner, fn) {
				return false
			}
			continue
		}
		if !fn(e) {
			return false
		}
	}
	return true
}

// isLeaf reports whether v is a value matchers apply to; objects are
// intermediate nodes, so exists:true does not see them.
func isLeaf(v any) bool {
	_, obj := v.(map[string]any)
	return !obj
}

func (f *patField) matchLeaf(v any, present bool) bool {
	var hasLeaf bool
	if present {
		if arr, ok := v.([]any); ok {
			matched := false
			walkElems(arr, func(e any) bool {
				if !isLeaf(e) {
					return true
				}
				hasLeaf = true
				if f.anyMatcher(e) {
					matched = true
					return false
				}
				return true
			})
			if matched {
				return true
			}
		} else if isLeaf(v) {
			hasLeaf = true
			if f.anyMatcher(v) {
				return true
			}
		}
	}
	return (f.existsTrue && hasLeaf) || (f.existsFalse && !hasLeaf)
}

func (f *patField) anyMatcher(v any) bool {
	for i := range f.matchers {
		if f.matchers[i].match(v) {
			return true
		}
	}
	return false
}

func (m *matcher) match(v any) bool {
	switch m.kind {
	case mExactNumber:
		n, ok := v.(number)
		return ok && sameNumber(m.num, m.exact, n)
	case mExactBool:
		b, ok := v.(bool)
		return ok && b == m.b
	case mExactNull:
		return v == nil
	case mNumeric:
		n, ok := v.(number)
		// Numeric matching works on float64 values, so a number float64
		// cannot hold exactly (a 20-digit id) is never in a range, as in
		// EventBridge's engine, rather than compared after rounding.
		if !ok || !exactFloat(n.s, n.f) {
			return false
		}
		x := n.f
		if m.hasLo && (x < m.lo || (x == m.lo && !m.loIncl)) {
			return false
		}
		if m.hasHi && (x > m.hi || (x == m.hi && !m.hiIncl)) {
			return false
		}
		return true
	case mAnythingBut:
		for i := range m.not {
			if m.not[i].match(v) {
				return false
			}
		}
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	switch m.kind {
	case mExactString:
		return s == m.s
	case mPrefix:
		return strings.HasPrefix(s, m.s)
	case mSuffix:
		return strings.HasSuffix(s, m.s)
	case mPrefixFold:
		return foldHasPrefix(s, m.s)
	case mSuffixFold:
		return foldHasSuffix(s, m.s)
	case mEqualsFold:
		return strings.EqualFold(s, m.s)
	case mWildcard:
		return wildcardMatch(m.parts, s)
	case mCIDR:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		return m.prefix.Contains(a.Unmap())
	}
	return false
}

// wildcardMatch matches s against literal pieces separated by '*'. With only
// '*' as metacharacter, taking the leftmost occurrence of each middle piece is
// optimal, so no backtracking is needed.
func wildcardMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}
