package policy

import (
	"fmt"
	"strconv"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Related resources.
//
// Some controls are about a resource that should exist next to another:
// a bucket needs a public access block (its own, or the account's), a VPC
// a flow log, a trail a metric filter with an alarm that notifies someone.
// A rule reaches such companions with related():
//
//	related(TYPE, ATTRIBUTE, VALUE)  resources of TYPE whose ATTRIBUTE
//	                                 equals VALUE (or, for a list
//	                                 attribute, contains it)
//	related(TYPE)                    every resource of TYPE in the
//	                                 subject's account
//
// TYPE and ATTRIBUTE are string literals, so the engine knows before
// evaluating which resources to index and by what: each (TYPE, ATTRIBUTE)
// pair is indexed once per evaluation by the attribute's values, and a
// lookup is one map access, so evaluation stays linear in the number of
// resources. The subject itself is never among its related resources.
//
// At plan time identifiers are mostly unknown (a new bucket's id, the
// bucket attribute of the block that refers to it). Pairing then goes
// through the configuration: a value computed from exactly one resource
// (aws_s3_bucket.data["a"].id) is keyed by that resource's address, as
// is a subject's own computed id, so the block and the bucket meet before
// either exists. The plan lists every resource of its configuration, so
// a companion absent from it is absent.
//
// Live, the resources come from the inventory, and an absent companion
// is absent only where Coverage says its type was read. A lookup that
// cannot be completed (the type was not read in the subject's region, a
// candidate's key or the value looked up is unknown and cannot be traced)
// returns an unknown value: the rule is not evaluated on the subject, and
// the gap says which related type was missing and why.

// Coverage tells a live evaluation which related resources it has in
// full. Plan evaluation needs none: a plan lists every resource.
type Coverage interface {
	// Covered reports whether every resource of typ was read in region
	// (the subject's region; "" when unknown); reason says why not.
	Covered(typ, region string) (ok bool, reason string)
	// Listed reports whether resources of typ were read wherever the
	// inventory looked, which decides whether a rule on typ was evaluated
	// at all (a compliance report must not call a control met because
	// its resources were never listed); reason says why not.
	Listed(typ string) (ok bool, reason string)
}

// lookup is one related() call shape: TYPE and ATTRIBUTE ("" for the
// unkeyed form).
type lookup struct {
	typ, attr string
}

// ruleLookups finds the related() calls of a compiled rule and checks
// that their type and attribute are literals.
func ruleLookups(a *cel.Ast) ([]lookup, error) {
	var out []lookup
	var err error
	seen := map[lookup]bool{}
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if err != nil || e.Kind() != celast.CallKind || e.AsCall().FunctionName() != relatedFunc {
			return
		}
		args := e.AsCall().Args()
		var l lookup
		for i, arg := range args {
			if i > 1 {
				break
			}
			s, ok := literalString(arg)
			if !ok {
				what := "type"
				if i == 1 {
					what = "attribute"
				}
				err = fmt.Errorf("related(): the %s must be a string literal, such as \"aws_flow_log\"", what)
				return
			}
			if i == 0 {
				if !typePattern.MatchString(s) {
					err = fmt.Errorf("related(): %q is not a Terraform type", s)
					return
				}
				l.typ = s
			} else {
				if s == "" {
					err = fmt.Errorf("related(): empty attribute name")
					return
				}
				l.attr = s
			}
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}))
	return out, err
}

func literalString(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// relIndex holds, for one evaluation, the resources rules look up.
type relIndex struct {
	subjects []Subject
	live     bool
	cov      Coverage
	// table holds the sources of the unknowns in the indexed values.
	table sources
	// values are the CEL values of the subjects of looked-up types, by
	// position (zero for others); workers reuse them for those subjects.
	values []indexedValue
	keyed  map[lookup]*keyedIndex
}

type indexedValue struct {
	val     ref.Val
	maxSize int
}

// keyedIndex is one (type, attribute) pair's index.
type keyedIndex struct {
	byKey map[string][]int
	// uncertain are the resources whose attribute is unknown and cannot
	// be traced to a resource: any lookup might be theirs.
	uncertain []*types.Unknown
	// all lists the resources of the type, for the unkeyed form.
	all []int
}

// Keys of the index: a known value, or the address of the single
// resource an unknown value is computed from.
func valueKey(s string) string  { return "v:" + s }
func refKey(addr string) string { return "r:" + addr }

func numberKey(f float64) string { return valueKey(strconv.FormatFloat(f, 'g', -1, 64)) }

func buildIndex(subjects []Subject, lookups map[lookup]bool, opts EvalOptions) *relIndex {
	ix := &relIndex{
		subjects: subjects,
		live:     opts.Live,
		cov:      opts.Coverage,
		table:    sources{negative: true},
		values:   make([]indexedValue, len(subjects)),
		keyed:    make(map[lookup]*keyedIndex, len(lookups)),
	}
	byType := map[string][]lookup{}
	for l := range lookups {
		byType[l.typ] = append(byType[l.typ], l)
		ix.keyed[l] = &keyedIndex{byKey: map[string][]int{}}
	}
	conv := converter{table: &ix.table}
	for i := range subjects {
		s := &subjects[i]
		ls, ok := byType[s.Type]
		if !ok {
			continue
		}
		conv.label, conv.own, conv.open = subjectName(s), s.Address, opts.Live
		v := conv.convert(s.Attributes)
		ix.values[i] = indexedValue{val: v, maxSize: conv.maxSize}
		for _, l := range ls {
			ki := ix.keyed[l]
			if l.attr == "" {
				ki.all = append(ki.all, i)
				continue
			}
			keys, uncertain := indexKeys(s.Attributes[l.attr], s.Refs[l.attr], s.Address, nil)
			if uncertain {
				id := ix.table.add(source{label: subjectName(s), reason: reasonAfterApply + " and cannot be traced to a resource"})
				ki.uncertain = append(ki.uncertain, types.NewUnknown(id, types.NewAttributeTrail(l.attr)))
			}
			for _, k := range keys {
				ki.byKey[k] = append(ki.byKey[k], i)
			}
		}
	}
	return ix
}

// indexKeys are the keys a resource is found under by one attribute: its
// known value(s), and the single resource an unknown value (or, at plan
// time, the configuration of a known one) refers to. uncertain is true
// when the attribute is unknown and refers to no single resource.
func indexKeys(v any, refs []string, own string, keys []string) ([]string, bool) {
	uncertain := false
	switch x := v.(type) {
	case string:
		keys = append(keys, valueKey(x))
	case float64:
		keys = append(keys, numberKey(x))
	case int:
		keys = append(keys, numberKey(float64(x)))
	case int64:
		keys = append(keys, numberKey(float64(x)))
	case bool:
		keys = append(keys, valueKey(strconv.FormatBool(x)))
	case []any:
		for _, e := range x {
			var u bool
			keys, u = indexKeys(e, nil, own, keys)
			uncertain = uncertain || u
		}
	case *Unknown:
		r := x.Refs
		if len(r) == 0 && !x.Configured && !x.Untraced && own != "" {
			r = []string{own}
		}
		if len(r) != 1 || x.Untraced {
			return keys, true
		}
		keys = append(keys, refKey(r[0]))
	}
	if len(refs) == 1 {
		keys = append(keys, refKey(refs[0]))
	}
	return keys, uncertain
}

// related is the related() CEL function of one worker.
func (a *activation) related(overload string, args ...ref.Val) ref.Val {
	for _, arg := range args[:min(len(args), 2)] {
		if _, ok := arg.(types.String); !ok {
			return types.MaybeNoSuchOverloadErr(arg)
		}
	}
	typ := string(args[0].(types.String))
	l := lookup{typ: typ}
	if len(args) == 3 {
		l.attr = string(args[1].(types.String))
	}
	if a.index == nil {
		return types.NewErr("related(%q): no index of related resources", typ)
	}
	ki := a.index.keyed[l]
	if ki == nil {
		return types.NewErr("related(%q, %q): lookup not compiled", l.typ, l.attr)
	}
	if unk := a.coverageGap(typ); unk != nil {
		return unk
	}
	var hits []int
	if l.attr == "" {
		for _, p := range ki.all {
			if p != a.pos && sameAccount(a.subj, &a.index.subjects[p]) {
				hits = append(hits, p)
			}
		}
		return a.index.list(hits)
	}
	keys, unk, err := a.lookupKeys(args[2], nil)
	switch {
	case err != nil:
		return err
	case unk != nil:
		return unk
	}
	if len(ki.uncertain) > 0 {
		// Any of them might be this subject's companion; name a few.
		var u *types.Unknown
		for _, c := range ki.uncertain[:min(len(ki.uncertain), 3)] {
			u = types.MergeUnknowns(u, c)
		}
		return u
	}
	for _, k := range keys {
		for _, p := range ki.byKey[k] {
			if p == a.pos || containsInt(hits, p) {
				continue
			}
			hits = append(hits, p)
		}
	}
	return a.index.list(hits)
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sameAccount(a, b *Subject) bool {
	return a.Account == "" || b.Account == "" || a.Account == b.Account
}

func (ix *relIndex) list(positions []int) ref.Val {
	vals := make([]ref.Val, len(positions))
	for i, p := range positions {
		vals[i] = ix.values[p].val
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals)
}

// coverageGap is the unknown a live lookup returns when the type was not
// read where the subject is; nil when it was (and always at plan time).
func (a *activation) coverageGap(typ string) ref.Val {
	if !a.index.live {
		return nil
	}
	reason := "not read: related resources are only read by a scan of the estate"
	if a.index.cov != nil {
		ok, why := a.index.cov.Covered(typ, a.subj.Region)
		if ok {
			return nil
		}
		reason = why
	}
	id := a.table.add(source{label: subjectName(a.subj), related: typ, reason: reason})
	return types.NewUnknown(id, nil)
}

// lookupKeys turns the value looked up into index keys. An unknown value
// is keyed by the single resource it is computed from; one that refers to
// none, or to several, cannot be paired and is returned as the unknown.
func (a *activation) lookupKeys(v ref.Val, keys []string) ([]string, ref.Val, ref.Val) {
	switch x := v.(type) {
	case types.String:
		return append(keys, valueKey(string(x))), nil, nil
	case types.Double:
		return append(keys, numberKey(float64(x))), nil, nil
	case types.Int:
		return append(keys, numberKey(float64(x))), nil, nil
	case types.Uint:
		return append(keys, numberKey(float64(x))), nil, nil
	case types.Bool:
		return append(keys, valueKey(strconv.FormatBool(bool(x)))), nil, nil
	case types.Null:
		return keys, nil, nil
	case *types.Err:
		return nil, nil, x
	case *types.Unknown:
		for _, id := range x.IDs() {
			src, ok := a.source(id)
			if !ok || src.related != "" || src.untraced || len(src.refs) != 1 {
				return nil, x, nil
			}
			keys = append(keys, refKey(src.refs[0]))
		}
		return keys, nil, nil
	case traits.Lister:
		it := x.Iterator()
		for it.HasNext() == types.True {
			var unk, err ref.Val
			keys, unk, err = a.lookupKeys(it.Next(), keys)
			if unk != nil || err != nil {
				return nil, unk, err
			}
		}
		return keys, nil, nil
	}
	return nil, nil, types.NewErr("related(): cannot look up by a %s value (want a string, number, bool or a list of them)", v.Type().TypeName())
}
