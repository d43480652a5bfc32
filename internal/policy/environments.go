package policy

import (
	"net/netip"
	"sort"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Comparing environments.
//
// PCI DSS asks that production and the other environments be kept apart:
// their address spaces must not overlap and their networks must not be
// peered. No single plan or state can show that, so plumb evaluates the
// plans or states of several environments together (each subject marked
// with its Environment, EvalOptions.Production naming the production
// ones), and two lookups reach across the production boundary:
//
//	across(TYPE, ATTRIBUTE, VALUE)  resources of TYPE, in environments on
//	                                the other side of the boundary, whose
//	                                ATTRIBUTE equals VALUE
//	overlaps(TYPE, ATTRIBUTE, CIDR) resources of TYPE, on the other side,
//	                                whose ATTRIBUTE (a CIDR block or a
//	                                list of them) overlaps CIDR
//
// "The other side" of a production environment is every environment that
// is not production, and the reverse. An evaluation that does not hold a
// production environment and another one cannot answer: both lookups are
// then unknown, and the rule is not evaluated, never passed.
//
// overlaps() is an index of CIDR blocks, not a scan: blocks containing
// the looked-up one are found by masking it to each shorter length (at
// most 33 or 129 map lookups) and blocks inside it by a binary search of
// the blocks sorted by address, so evaluation stays linear in the number
// of resources.

const (
	regionalFunc = "regional"
	acrossFunc   = "across"
	overlapsFunc = "overlaps"
)

// envReason is why a comparison of environments is not evaluated.
const envReason = "comparing environments needs the plans or states of a production environment and of another one, evaluated together (plumb check ENV=FILE ... with --production ENV, or --config with environments[].production)"

// envSides knows which environments of an evaluation are production.
type envSides struct {
	production map[string]bool
	// ready is true when the evaluation holds subjects of a production
	// environment and of another one.
	ready bool
}

func newEnvSides(subjects []Subject, production map[string]bool) envSides {
	var prod, other bool
	seen := map[string]bool{}
	for i := range subjects {
		e := subjects[i].Environment
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		if production[e] {
			prod = true
		} else {
			other = true
		}
	}
	return envSides{production: production, ready: prod && other}
}

// opposite reports whether environments a and b are on two sides of the
// production boundary.
func (e envSides) opposite(a, b string) bool {
	return a != "" && b != "" && a != b && e.production[a] != e.production[b]
}

// envGap is the unknown across() and overlaps() return when the
// evaluation cannot compare the subject's environment with the others.
func (a *activation) envGap() ref.Val {
	if a.sides.ready && a.subj.Environment != "" {
		return nil
	}
	id := a.table.add(source{label: subjectName(a.subj), reason: envReason})
	return types.NewUnknown(id, nil)
}

// cidrIndex indexes one (type, attribute) pair's CIDR blocks.
type cidrIndex struct {
	// exact maps each block to the resources holding it.
	exact map[netip.Prefix][]int
	// sorted are the blocks by first address, then length.
	sorted []cidrEntry
	// uncertain are resources whose block is known only after apply and
	// cannot be traced: any lookup might overlap them.
	uncertain []*types.Unknown
}

type cidrEntry struct {
	p   netip.Prefix
	pos int
}

// add indexes subject i's blocks under attr. A value that is not a CIDR
// block (an empty string, a list of other things) is left out: it
// overlaps nothing.
func (ci *cidrIndex) add(ix *relIndex, i int, attr string) {
	s := &ix.subjects[i]
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if p, err := netip.ParsePrefix(x); err == nil {
				p = p.Masked()
				ci.exact[p] = append(ci.exact[p], i)
				ci.sorted = append(ci.sorted, cidrEntry{p: p, pos: i})
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case *Unknown:
			id := ix.table.add(source{label: subjectName(s), reason: reasonAfterApply})
			ci.uncertain = append(ci.uncertain, types.NewUnknown(id, types.NewAttributeTrail(attr)))
		}
	}
	walk(s.Attributes[attr])
}

func (ci *cidrIndex) sort() {
	sort.Slice(ci.sorted, func(i, j int) bool {
		a, b := ci.sorted[i].p, ci.sorted[j].p
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
}

// find appends the positions of the blocks overlapping q (other than
// self) to hits. Two blocks overlap when one contains the other.
func (ci *cidrIndex) find(q netip.Prefix, hits []int, self int) []int {
	q = q.Masked()
	add := func(ps []int) {
		for _, p := range ps {
			if p != self && !containsInt(hits, p) {
				hits = append(hits, p)
			}
		}
	}
	// Blocks containing q: q's address masked to each shorter length.
	for bits := 0; bits < q.Bits(); bits++ {
		if c, err := q.Addr().Prefix(bits); err == nil {
			add(ci.exact[c])
		}
	}
	// Blocks inside q (q itself included): first address within q.
	first := sort.Search(len(ci.sorted), func(i int) bool {
		return ci.sorted[i].p.Addr().Compare(q.Addr()) >= 0
	})
	for i := first; i < len(ci.sorted) && q.Contains(ci.sorted[i].p.Addr()); i++ {
		if e := ci.sorted[i]; e.p.Bits() >= q.Bits() {
			add([]int{e.pos})
		}
	}
	return hits
}

// lookupPrefixes turns the CIDR looked up (a string or a list of them)
// into prefixes. An unknown value is returned as the unknown: what it
// overlaps cannot be told.
func (a *activation) lookupPrefixes(v ref.Val, out []netip.Prefix) ([]netip.Prefix, ref.Val, ref.Val) {
	switch x := v.(type) {
	case types.String:
		p, err := netip.ParsePrefix(string(x))
		if err != nil {
			return nil, nil, types.NewErr("overlaps(): %q is not a CIDR block", string(x))
		}
		return append(out, p), nil, nil
	case types.Null:
		return out, nil, nil
	case *types.Err:
		return nil, nil, x
	case *types.Unknown:
		return nil, x, nil
	case traits.Lister:
		it := x.Iterator()
		for it.HasNext() == types.True {
			var unk, err ref.Val
			out, unk, err = a.lookupPrefixes(it.Next(), out)
			if unk != nil || err != nil {
				return nil, unk, err
			}
		}
		return out, nil, nil
	}
	return nil, nil, types.NewErr("overlaps(): cannot look up by a %s value (want a CIDR block or a list of them)", v.Type().TypeName())
}

// across is the across() CEL function.
func (a *activation) across(_ string, args ...ref.Val) ref.Val { return a.lookup(acrossFunc, args) }

// overlaps is the overlaps() CEL function.
func (a *activation) overlaps(_ string, args ...ref.Val) ref.Val {
	return a.lookup(overlapsFunc, args)
}

// environmentValue is the CEL `environment` variable of the subject: its
// name and whether it is production. When the evaluation cannot compare
// environments (it does not hold a production environment and another
// one), whether a subject is production says nothing, and the variable
// is unknown: a rule about production is then not evaluated rather than
// passed for want of anything to compare.
func (a *activation) environmentValue() ref.Val {
	if !a.sides.ready || a.subj.Environment == "" {
		id := a.table.add(source{label: subjectName(a.subj), reason: envReason})
		return types.NewUnknown(id, nil)
	}
	name := a.subj.Environment
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{
		"name":       name,
		"production": a.sides.production[name],
	})
}
