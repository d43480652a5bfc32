package whatif

import (
	"encoding/json"
	"fmt"
	"strings"

	"plumb/internal/model"
)

// sensitiveValue replaces values that may be secret, as the report contract
// requires. It is the same marker the report renderer recognises.
const sensitiveValue = "(sensitive)"

// flattener turns what-if's tree of property changes into one
// model.Change per leaf.
type flattener struct {
	out []model.Change
}

// maxDepth bounds how deeply delta entries may nest. Real what-if output
// nests a few levels (array, element, property, array, ...); the bound
// keeps a hostile document from costing quadratic time in path building.
const maxDepth = 64

// walk visits one delta entry. parent is the flattened path so far and
// inArray says whether parent is an Array entry, whose children's paths
// are element indexes ("0", "1").
//
// The shapes, as the Azure CLI's formatter reads them: an Array entry holds
// one child per changed element; a Modify entry either carries before/after
// or, for a nested object, children with relative paths; a child with an
// empty path stands for its parent's value itself (an array nested directly
// in an array element).
func (f *flattener) walk(parent string, inArray bool, d *rawDelta, depth int) error {
	if strings.EqualFold(d.PropertyChangeType, propNoEffect) {
		return nil
	}
	path := joinPath(parent, inArray, d.Path)
	if len(d.Children) > 0 {
		if depth >= maxDepth {
			return fmt.Errorf("property changes nest deeper than %d levels at %s", maxDepth, path)
		}
		isArray := strings.EqualFold(d.PropertyChangeType, propArray)
		for i := range d.Children {
			if err := f.walk(path, isArray, &d.Children[i], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	before, err := decodeValue(d.Before)
	if err != nil {
		return fmt.Errorf("property %s: before: %w", path, err)
	}
	after, err := decodeValue(d.After)
	if err != nil {
		return fmt.Errorf("property %s: after: %w", path, err)
	}
	// An Array entry without children says nothing about any element.
	if strings.EqualFold(d.PropertyChangeType, propArray) && before == nil && after == nil {
		return nil
	}
	// What-if's before is live and after is the template; plumb's
	// contract is before = code, after = live.
	code, live := after, before
	if sensitivePath(path) {
		code, live = maskValue(code), maskValue(live)
	} else {
		code, live = redact(code), redact(live)
	}
	// What-if shows a replaced array element as a Delete and a Create
	// of the same index; one change with both sides reads better.
	if inArray && len(f.out) > 0 {
		last := &f.out[len(f.out)-1]
		if last.Path == path {
			switch {
			case last.Before == nil && last.After != nil && code != nil && live == nil:
				last.Before = code
				return nil
			case last.After == nil && last.Before != nil && live != nil && code == nil:
				last.After = live
				return nil
			}
		}
	}
	f.out = append(f.out, model.Change{Path: path, Before: code, After: live})
	return nil
}

// joinPath appends one delta path to its parent's.
func joinPath(parent string, inArray bool, child string) string {
	switch {
	case child == "":
		return parent
	case inArray && isIndex(child):
		return parent + "[" + child + "]"
	case parent == "":
		return child
	}
	return parent + "." + child
}

func isIndex(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// decodeValue decodes a leaf value into plain Go JSON types (string,
// float64, bool, nil, map[string]any, []any). Absent and null are nil.
func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// sensitiveName reports whether a property name looks like it holds a
// secret. What-if documentation says nothing about masking secure
// parameters, so plumb applies its own rule: a value under a secret-looking
// name is never written to a report, whatever what-if printed for it.
func sensitiveName(name string) bool {
	words := [...]string{
		"password", "secret", "connectionstring", "accesskey", "sharedkey",
		"primarykey", "secondarykey", "privatekey", "token", "credential",
		"customdata", "sasurl",
	}
	n := strings.ToLower(name)
	for _, w := range words {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// sensitivePath reports whether any segment of a flattened path looks
// secret (properties.osProfile.adminPassword, properties.secrets[0].value).
func sensitivePath(path string) bool {
	for seg := range strings.SplitSeq(path, ".") {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		if sensitiveName(seg) {
			return true
		}
	}
	return false
}

// maskValue hides a value but keeps "absent" visible, so a secret that was
// added or removed still shows as a change.
func maskValue(v any) any {
	if v == nil {
		return nil
	}
	return sensitiveValue
}

// redact masks secret-looking keys inside object and array values (a
// Create of properties.osProfile carries adminPassword inside it). Values
// without such keys are returned as they are, without copying.
func redact(v any) any {
	out, _ := redactValue(v)
	return out
}

// redactValue returns the redacted value and whether it differs from v.
func redactValue(v any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range v {
			var ne any
			var changed bool
			if sensitiveName(k) && e != nil {
				ne, changed = sensitiveValue, true
			} else {
				ne, changed = redactValue(e)
			}
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(v))
				for k2, e2 := range v {
					out[k2] = e2
				}
			}
			out[k] = ne
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, e := range v {
			ne, changed := redactValue(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), v...)
			}
			out[i] = ne
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}
