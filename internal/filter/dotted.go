package filter

import (
	"fmt"
	"sort"
	"strings"
)

// EventBridge compiles pattern keys and flattens event keys into paths
// joined with dots, so a key that contains a dot is the same as the nested
// keys it spells: {"state.status": ["running"]} and
// {"state": {"status": ["running"]}} are one pattern, and both match the
// events {"state": {"status": "running"}} and {"state.status": "running"}
// (documented in "Event pattern syntax" and in event-ruler's README). plumb
// gets the same effect without flattening, which would lose the array
// structure that array-of-objects matching needs: it splits dotted keys
// into nested objects, in the pattern when compiling and in the event the
// first time a pattern needs it.

// splitDotted returns v with every object key that contains a dot split
// into nested objects, merged with what is already there. It never
// modifies v; changed is false (and v returned as is) when nothing in v
// has such a key.
//
// When the event has both a nested value and a dotted key for the same
// path, and they cannot be merged as objects (a leaf and an object, or two
// leaves), the values become alternatives, the way an array's elements
// are: a pattern matches if it matches one of them.
func splitDotted(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		changed := false
		vals := make(map[string]any, len(t))
		for k, e := range t {
			ne, c := splitDotted(e)
			vals[k] = ne
			if c || strings.IndexByte(k, '.') >= 0 {
				changed = true
			}
		}
		if !changed {
			return v, false
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic merge order
		out := make(map[string]any, len(t))
		for _, k := range keys {
			segs := strings.Split(k, ".")
			val := vals[k]
			for i := len(segs) - 1; i > 0; i-- {
				val = map[string]any{segs[i]: val}
			}
			if prev, ok := out[segs[0]]; ok {
				val = mergeEventValues(prev, val)
			}
			out[segs[0]] = val
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			ne, c := splitDotted(e)
			if c && out == nil {
				out = make([]any, len(t))
				copy(out, t[:i])
			}
			if out != nil {
				out[i] = ne
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}

// mergeEventValues merges two values found at the same path without
// modifying either: objects key by key, anything else as alternatives.
func mergeEventValues(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		out := make(map[string]any, len(am)+len(bm))
		for k, v := range am {
			out[k] = v
		}
		for k, v := range bm {
			if prev, ok := out[k]; ok {
				v = mergeEventValues(prev, v)
			}
			out[k] = v
		}
		return out
	}
	return []any{a, b}
}

// leafAndObject is a pattern node that holds both a value list and nested
// fields, which only dotted keys can produce: {"a": ["x"], "a.b": ["y"]}
// needs a to be "x" and a.b to be "y" (an event can satisfy both only
// through a dotted key of its own).
type leafAndObject struct {
	list []any
	obj  map[string]any
}

// splitPatternKeys returns obj with dotted keys split into nested objects
// (recursively, also inside $or alternatives). It reports a path given
// twice, which EventBridge would resolve by keeping the last spelling in
// the JSON text, an order that plumb.yaml and Go maps do not keep.
func splitPatternKeys(obj map[string]any, path string) (map[string]any, error) {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]any, len(obj))
	for _, name := range names {
		v := obj[name]
		p := joinPath(path, name)
		if name == "$or" {
			if alts, ok := v.([]any); ok {
				split := make([]any, len(alts))
				for i, a := range alts {
					split[i] = a
					if ao, ok := a.(map[string]any); ok {
						so, err := splitPatternKeys(ao, fmt.Sprintf("%s[%d]", p, i))
						if err != nil {
							return nil, err
						}
						split[i] = so
					}
				}
				out[name] = split
				continue
			}
		}
		if m, ok := v.(map[string]any); ok {
			sm, err := splitPatternKeys(m, p)
			if err != nil {
				return nil, err
			}
			v = sm
		}
		segs := []string{name}
		if strings.IndexByte(name, '.') >= 0 {
			segs = strings.Split(name, ".")
			for _, s := range segs {
				if s == "$or" {
					return nil, fmt.Errorf("%s: $or cannot be part of a dotted key", p)
				}
			}
		}
		if err := insertPattern(out, segs, v, path); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// insertPattern puts v at the path segs below m (at path). The maps along
// the way were made by splitPatternKeys, so they may be modified.
func insertPattern(m map[string]any, segs []string, v any, path string) error {
	for _, s := range segs[:len(segs)-1] {
		path = joinPath(path, s)
		switch e := m[s].(type) {
		case nil:
			n := map[string]any{}
			m[s] = n
			m = n
		case map[string]any:
			m = e
		case []any:
			n := map[string]any{}
			m[s] = &leafAndObject{list: e, obj: n}
			m = n
		case *leafAndObject:
			m = e.obj
		default:
			return fmt.Errorf("%s: must be an array of values or an object, got %s", path, describe(e))
		}
	}
	last := segs[len(segs)-1]
	full := joinPath(path, last)
	prev, ok := m[last]
	if !ok {
		m[last] = v
		return nil
	}
	merged, err := mergePatternValues(prev, v, full)
	if err != nil {
		return err
	}
	m[last] = merged
	return nil
}

func mergePatternValues(a, b any, full string) (any, error) {
	la, oa, err := patternParts(a, full)
	if err != nil {
		return nil, err
	}
	lb, ob, err := patternParts(b, full)
	if err != nil {
		return nil, err
	}
	if la != nil && lb != nil {
		return nil, fmt.Errorf("%s: given twice (once with a dotted key, once nested); EventBridge would use only the one written last, so keep one", full)
	}
	list := la
	if list == nil {
		list = lb
	}
	obj := oa
	switch {
	case oa == nil:
		obj = ob
	case ob != nil:
		for k, v := range ob {
			if prev, ok := oa[k]; ok {
				m, err := mergePatternValues(prev, v, joinPath(full, k))
				if err != nil {
					return nil, err
				}
				v = m
			}
			oa[k] = v
		}
	}
	switch {
	case list != nil && obj != nil:
		return &leafAndObject{list: list, obj: obj}, nil
	case list != nil:
		return list, nil
	}
	return obj, nil
}

// patternParts splits a pattern node into its value list and its nested
// fields.
func patternParts(v any, full string) ([]any, map[string]any, error) {
	switch t := v.(type) {
	case []any:
		return t, nil, nil
	case map[string]any:
		return nil, t, nil
	case *leafAndObject:
		return t.list, t.obj, nil
	}
	return nil, nil, fmt.Errorf("%s: must be an array of values or an object, got %s", full, describe(v))
}
