package enforce

import (
	"sort"
	"strings"

	"plumb/internal/model"
)

// addRules merges declared security group rules ("ingress"/"egress" ->
// canonical rule strings) into a group's set.
func (d *Declared) addRules(key string, add map[string][]string) {
	if key == "" || len(add) == 0 {
		return
	}
	if d.rules == nil {
		d.rules = map[string]map[string][]string{}
	}
	m := d.rules[key]
	if m == nil {
		m = map[string][]string{}
		d.rules[key] = m
	}
	for dir, rs := range add {
		m[dir] = append(m[dir], rs...)
		sort.Strings(m[dir])
		m[dir] = dedupe(m[dir])
	}
}

// ruleLists reads the ingress and egress rule sets of a mapped security
// group.
func ruleLists(attrs map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, dir := range []string{"ingress", "egress"} {
		if rs, ok := attrs[dir].([]string); ok {
			out[dir] = append([]string(nil), rs...)
		}
	}
	return out
}

// Rules returns the security group rules the code declares for a group,
// by direction; nil when none are declared (an unmanaged group).
func (d *Declared) Rules(r model.Resource) map[string][]string {
	if d == nil {
		return nil
	}
	m := d.rules[typeKey(r.Type, r.ID)]
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for dir, rs := range m {
		out[dir] = append([]string(nil), rs...)
	}
	return out
}

// In returns the address a resource is declared at in one environment's
// states, if it is.
func (d *Declared) In(environment string, r model.Resource) (string, bool) {
	if d == nil {
		return "", false
	}
	prefix := environment + ": "
	for _, key := range []string{typeKey(r.Type, r.ID), arnKey(r.ARN)} {
		for _, w := range d.where[key] {
			if addr, ok := strings.CutPrefix(w, prefix); ok {
				return addr, true
			}
		}
	}
	return "", false
}
