package tfdrift

import (
	"slices"
	"strconv"
	"strings"

	"plumb/internal/model"
)

// Values here are decoded JSON: map[string]any, []any, string, float64,
// bool and nil. Sensitivity marks (before_sensitive, after_sensitive)
// mirror a value's shape: true marks a whole subtree sensitive, objects and
// arrays carry marks for their members, and false, null or a missing
// member mean "not sensitive".

// diffValues lists the leaf attributes that differ between before and
// after, in path order: object keys sorted, list indexes ascending. A leaf
// present on one side only has nil on the other, so a rule added to a list
// shows as one change per attribute of the new element.
//
// A value marked sensitive on either side is compared whole and never
// flattened (its map keys and list length are secret too); when it
// differs, the change shows Redacted on each sensitive side.
//
// Null and an empty list or map are the same value here. Providers
// normalise one into the other on refresh (the AWS provider reads an unset
// tags as {}), so Terraform records `tags: null -> {}` as drift on a
// resource nobody touched; nothing about the real object changed.
func diffValues(before, after, beforeMarks, afterMarks any) []model.Change {
	var out []model.Change
	walkDiff(&out, make([]byte, 0, 64), before, after, true, true, beforeMarks, afterMarks)
	return out
}

// walkDiff compares a and b at path. aok and bok say whether the value
// exists on that side at all (a list element or map key only one side
// has), which is how an empty container added with a new element is told
// from a null that a provider turned into an empty container. path is a
// shared buffer that children append to; it only becomes a string when a
// change is recorded, because most of a resource is unchanged.
func walkDiff(out *[]model.Change, path []byte, a, b any, aok, bok bool, am, bm any) {
	if unchanged(a, b, aok, bok) {
		return
	}
	if hidden(a, am) || hidden(b, bm) {
		*out = append(*out, model.Change{Path: string(path), Before: shown(a, aok, am), After: shown(b, bok, bm)})
		return
	}
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok || b == nil {
			if len(av) == 0 && len(bv) == 0 {
				// An empty map against no value at all (unchanged
				// already let a null through as equal).
				*out = append(*out, model.Change{Path: string(path), Before: map[string]any{}, After: nil})
				return
			}
			for _, k := range unionKeys(av, bv) {
				x, xok := av[k]
				y, yok := bv[k]
				walkDiff(out, appendKey(path, k), x, y, xok, yok, member(am, k), member(bm, k))
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok || b == nil {
			if len(av) == 0 && len(bv) == 0 {
				*out = append(*out, model.Change{Path: string(path), Before: []any{}, After: nil})
				return
			}
			for i := range max(len(av), len(bv)) {
				x, xok := at(av, i)
				y, yok := at(bv, i)
				walkDiff(out, appendIndex(path, i), x, y, xok, yok, element(am, i), element(bm, i))
			}
			return
		}
	case nil:
		switch b.(type) {
		case map[string]any, []any:
			// Walk from the other side so the leaves come out the same
			// way, then swap them back.
			start := len(*out)
			walkDiff(out, path, b, a, bok, aok, bm, am)
			for i := start; i < len(*out); i++ {
				c := &(*out)[i]
				c.Before, c.After = c.After, c.Before
			}
			return
		}
	}
	*out = append(*out, model.Change{Path: string(path), Before: shown(a, aok, am), After: shown(b, bok, bm)})
}

// unchanged reports whether there is nothing to tell between the sides.
// A side that lacks the value reads as nil, so a null on the other side is
// no change, but an empty container is (it was added or removed).
func unchanged(a, b any, aok, bok bool) bool {
	if a == nil && b == nil {
		return true
	}
	return aok == bok && sameValue(a, b)
}

// shown is what a change reports for one side: nil when the side has no
// such value, Redacted when it is sensitive, otherwise a copy of the value
// with any sensitive members inside it redacted.
func shown(v any, ok bool, mark any) any {
	if !ok {
		return nil
	}
	return redactCopy(v, mark)
}

// sameValue compares decoded JSON values, with null equal to an empty
// list or map (see diffValues).
func sameValue(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return b == nil && len(av) == 0
		}
		for k, x := range av {
			if !sameValue(x, bv[k]) {
				return false
			}
		}
		for k, y := range bv {
			if _, seen := av[k]; !seen && !sameValue(nil, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return b == nil && len(av) == 0
		}
		if len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !sameValue(av[i], bv[i]) {
				return false
			}
		}
		return true
	case nil:
		switch bv := b.(type) {
		case map[string]any:
			return len(bv) == 0
		case []any:
			return len(bv) == 0
		}
		return b == nil
	case string, float64, bool:
		return a == b
	default:
		return false
	}
}

// redact returns v with every value its marks call sensitive replaced by
// Redacted. A null stays null: there is nothing in it to hide. Only the
// containers on the way to a mark are copied; subtrees without marks are
// shared with v, which is safe because the decoded plan is private to
// ReadPlan and nothing else holds them.
func redact(v, mark any) any {
	if v == nil {
		return nil
	}
	if hidden(v, mark) {
		return Redacted
	}
	switch m := mark.(type) {
	case map[string]any:
		if vv, ok := v.(map[string]any); ok && len(m) > 0 {
			out := make(map[string]any, len(vv))
			for k, x := range vv {
				out[k] = redact(x, m[k])
			}
			return out
		}
	case []any:
		if vv, ok := v.([]any); ok && len(m) > 0 {
			out := make([]any, len(vv))
			for i, x := range vv {
				out[i] = redact(x, element(m, i))
			}
			return out
		}
	}
	return v
}

// redactCopy is redact returning a full copy. Change values use it, so no
// change shares a container with Raw or with another change.
func redactCopy(v, mark any) any {
	if v == nil {
		return nil
	}
	if hidden(v, mark) {
		return Redacted
	}
	switch vv := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(vv))
		for k, x := range vv {
			out[k] = redactCopy(x, member(mark, k))
		}
		return out
	case []any:
		out := make([]any, len(vv))
		for i, x := range vv {
			out[i] = redactCopy(x, element(mark, i))
		}
		return out
	default:
		return v
	}
}

// hidden reports whether v must be hidden whole: its mark is true, or the
// mark has members but not v's shape. Terraform's marks always mirror the
// value; marks that do not cannot say which parts are secret, so none is
// shown.
func hidden(v, mark any) bool {
	switch m := mark.(type) {
	case bool:
		return m
	case map[string]any:
		_, isMap := v.(map[string]any)
		return v != nil && len(m) > 0 && !isMap
	case []any:
		_, isList := v.([]any)
		return v != nil && len(m) > 0 && !isList
	}
	return false
}

// member is the mark of an object member. Marks are only read below a
// value that is not sensitive as a whole, so anything but an object means
// no member is marked.
func member(mark any, key string) any {
	if m, ok := mark.(map[string]any); ok {
		return m[key]
	}
	return nil
}

// element is the mark of a list element.
func element(mark any, i int) any {
	if l, ok := mark.([]any); ok && i < len(l) {
		return l[i]
	}
	return nil
}

func at(l []any, i int) (any, bool) {
	if i < len(l) {
		return l[i], true
	}
	return nil, false
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, max(len(a), len(b)))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// appendKey appends the path segment of an object key: .key, or ["key"]
// when the key would make the path ambiguous (dots, brackets, quotes,
// spaces, an empty key). At the root there is no leading dot.
func appendKey(path []byte, key string) []byte {
	if key == "" || strings.ContainsAny(key, ".[]\"\\ \t\r\n") || !printable(key) {
		path = append(path, '[')
		path = strconv.AppendQuote(path, key)
		return append(path, ']')
	}
	if len(path) > 0 {
		path = append(path, '.')
	}
	return append(path, key...)
}

// joinKey is appendKey for string paths, so positions in error messages
// name attributes the way drift paths do.
func joinKey(parent, key string) string { return string(appendKey([]byte(parent), key)) }

// appendIndex appends the path segment of a list index: [i].
func appendIndex(path []byte, i int) []byte {
	path = append(path, '[')
	path = strconv.AppendInt(path, int64(i), 10)
	return append(path, ']')
}

func printable(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
