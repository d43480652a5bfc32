package policy

import (
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Rule parameters.
//
// A rule that checks a limit (the longest log retention a team pays for,
// the trace sampling rate it accepts) declares the limit as a parameter
// with a default, and reads it as `params.NAME`:
//
//	params: {max_retention_days: 365}
//	deny: resource.retention_in_days > params.max_retention_days
//
// A team changes the limit without touching the rule: plumb.yaml's
// policy_params or --param give values per rule id or per pack name, a
// rule's own value winning over its pack's. A parameter the rule does not
// declare is an error, as is a value of another type than the default's,
// so a typo never silently leaves the default in force.

// Params are parameter overrides: the key is a rule id or a pack name,
// the value the parameters to set.
type Params map[string]map[string]any

// paramsValue is the CEL value of a parameter map.
func paramsValue(p map[string]any) ref.Val {
	if p == nil {
		p = map[string]any{}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, p)
}

// SetParams applies parameter overrides to the set's rules. Each key must
// be the id of a rule of the set or a pack name some rule of the set
// belongs to, and each parameter one the rule (or, for a pack, some of
// its rules) declares, with a value of the default's type (numbers are
// numbers whatever their form). Pack values are applied first, then rule
// values. Call it before evaluating: a Set is not safe to modify
// concurrently with an evaluation.
func (s *Set) SetParams(p Params) error {
	if err := s.compile(); err != nil {
		return err
	}
	var errs []string
	byID := map[string]*Rule{}
	for _, r := range s.Rules {
		byID[r.ID] = r
	}
	values := map[*Rule]map[string]any{}
	set := func(r *Rule, key, name string, v any) bool {
		def, ok := r.Params[name]
		if !ok {
			return false
		}
		if !sameKind(def, v) {
			errs = append(errs, fmt.Sprintf("%s: parameter %s of rule %s is a %s, got %v", key, name, r.ID, kindName(def), v))
			return true
		}
		if values[r] == nil {
			values[r] = map[string]any{}
			for k, d := range r.Params {
				values[r][k] = d
			}
		}
		values[r][name] = normalizeNumber(v)
		return true
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	// Packs first, then rules, so a rule's own value wins.
	sort.SliceStable(keys, func(i, j int) bool {
		_, ri := byID[keys[i]]
		_, rj := byID[keys[j]]
		if ri != rj {
			return !ri
		}
		return keys[i] < keys[j]
	})
	for _, key := range keys {
		names := make([]string, 0, len(p[key]))
		for n := range p[key] {
			names = append(names, n)
		}
		sort.Strings(names)
		if r, ok := byID[key]; ok {
			for _, n := range names {
				if !set(r, key, n, p[key][n]) {
					errs = append(errs, fmt.Sprintf("%s: rule %s has no parameter %q (it has: %s)", key, r.ID, n, paramNames(r)))
				}
			}
			continue
		}
		var members []*Rule
		for _, r := range s.Rules {
			if len(r.Controls[key]) > 0 {
				members = append(members, r)
			}
		}
		if len(members) == 0 {
			errs = append(errs, fmt.Sprintf("%s: neither a rule id nor a pack of the loaded rules", key))
			continue
		}
		for _, n := range names {
			used := false
			for _, r := range members {
				if set(r, key, n, p[key][n]) {
					used = true
				}
			}
			if !used {
				errs = append(errs, fmt.Sprintf("%s: no rule of pack %s has a parameter %q", key, key, n))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("policy parameters: %s", strings.Join(errs, "; "))
	}
	for r, v := range values {
		if cr := s.compiled.programs[r]; cr != nil {
			cr.params, cr.paramValues = paramsValue(v), v
		}
	}
	return nil
}

// ParamValues returns the parameters in force for a rule (defaults with
// overrides applied), for reports.
func (s *Set) ParamValues(r *Rule) map[string]any {
	if s.compile() != nil {
		return nil
	}
	cr := s.compiled.programs[r]
	if cr == nil {
		return nil
	}
	out := make(map[string]any, len(cr.paramValues))
	for k, v := range cr.paramValues {
		out[k] = v
	}
	return out
}

func paramNames(r *Rule) string {
	if len(r.Params) == 0 {
		return "none"
	}
	names := make([]string, 0, len(r.Params))
	for n := range r.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int64, int32, float64, float32, uint, uint64, uint32:
		return true
	}
	return false
}

func normalizeNumber(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case float32:
		return float64(x)
	}
	return v
}

func sameKind(def, v any) bool {
	if isNumber(def) {
		return isNumber(v)
	}
	switch def.(type) {
	case string:
		_, ok := v.(string)
		return ok
	case bool:
		_, ok := v.(bool)
		return ok
	case []any:
		_, ok := v.([]any)
		return ok
	}
	return fmt.Sprintf("%T", def) == fmt.Sprintf("%T", v)
}

func kindName(v any) string {
	switch {
	case isNumber(v):
		return "number"
	}
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
