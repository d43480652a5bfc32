package state

import (
	"sort"
	"strconv"
	"strings"
)

// maxFlatDepth bounds how deep a flatmap key is unfolded. Real states nest a
// handful of levels; the bound only keeps a hostile key with millions of dots
// from recursing without end. Deeper remainders stay as dotted map keys.
const maxFlatDepth = 32

// unflatten rebuilds nested attributes from the legacy flatmap form of
// Terraform 0.11 ("tags.%" = "1", "tags.Name" = "web", "ingress.#" = "1",
// "ingress.0.from_port" = "22"):
//
//   - "P.#" marks P as a list (or set): its elements are the keys P.N.*,
//     ordered by N numerically (set elements carry hash codes, which are
//     numbers too).
//   - "P.%" marks P as a map: every other key under "P." is one entry, the
//     rest of the key taken whole, since map keys may contain dots
//     (kubernetes.io/cluster/x).
//   - Keys under "P." without either marker become a nested object.
//
// Scalar values stay strings: without the provider schema nothing tells a
// numeric attribute from a string that looks like a number, and guessing
// wrong would report drift that is not there.
func unflatten(flat map[string]string) map[string]any {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return flatObject(flat, "", keys, 0)
}

// flatObject builds the object whose keys (all starting with prefix) are
// given, grouping them by their first segment after prefix.
func flatObject(flat map[string]string, prefix string, keys []string, depth int) map[string]any {
	groups := groupBySegment(prefix, keys)
	out := make(map[string]any, len(groups.order))
	for _, seg := range groups.order {
		out[seg] = flatValue(flat, prefix+seg, groups.keys[seg], depth+1)
	}
	return out
}

// flatValue builds the value stored under name from the keys that are name
// itself or start with name + ".".
func flatValue(flat map[string]string, name string, keys []string, depth int) any {
	var children []string
	for _, k := range keys {
		if k != name {
			children = append(children, k)
		}
	}
	if len(children) == 0 {
		return flat[name]
	}
	if depth >= maxFlatDepth {
		m := make(map[string]any, len(children))
		for _, k := range children {
			m[k[len(name)+1:]] = flat[k]
		}
		return m
	}
	prefix := name + "."
	if _, ok := flat[prefix+"#"]; ok {
		return flatList(flat, prefix, without(children, prefix+"#"), depth)
	}
	if _, ok := flat[prefix+"%"]; ok {
		m := make(map[string]any, len(children))
		for _, k := range children {
			if k != prefix+"%" {
				m[k[len(prefix):]] = flat[k]
			}
		}
		return m
	}
	return flatObject(flat, prefix, children, depth)
}

// flatList builds a list from keys prefix+N[.rest], ordered by N.
func flatList(flat map[string]string, prefix string, keys []string, depth int) []any {
	groups := groupBySegment(prefix, keys)
	idx := groups.order
	sort.SliceStable(idx, func(i, j int) bool {
		a, errA := strconv.ParseInt(idx[i], 10, 64)
		b, errB := strconv.ParseInt(idx[j], 10, 64)
		switch {
		case errA == nil && errB == nil:
			return a < b
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return idx[i] < idx[j]
	})
	out := make([]any, 0, len(idx))
	for _, seg := range idx {
		out = append(out, flatValue(flat, prefix+seg, groups.keys[seg], depth+1))
	}
	return out
}

type segmentGroups struct {
	order []string
	keys  map[string][]string
}

// groupBySegment groups keys (all starting with prefix) by the segment after
// prefix up to the next dot, keeping first-seen order.
func groupBySegment(prefix string, keys []string) segmentGroups {
	g := segmentGroups{keys: map[string][]string{}}
	for _, k := range keys {
		seg, _, _ := strings.Cut(k[len(prefix):], ".")
		if _, ok := g.keys[seg]; !ok {
			g.order = append(g.order, seg)
		}
		g.keys[seg] = append(g.keys[seg], k)
	}
	return g
}

func without(keys []string, drop string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if k != drop {
			out = append(out, k)
		}
	}
	return out
}
