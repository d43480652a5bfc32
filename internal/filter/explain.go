package filter

import (
	"fmt"
	"strings"
)

// Verdict is the answer to "would this filter deliver this event?", with
// the reasons when it would not. It is what plumb events test-pattern,
// test-filter and POST /v1/filters/test print.
type Verdict struct {
	Match   bool     `json:"match"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Reason names one part of a filter that an event failed, and why.
type Reason struct {
	// Field is where in the filter: a pattern path such as detail.state
	// or $or[1].region, or a filter part such as advanced_filters[2].
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// maxElemReasons bounds how many array elements an explanation details.
const maxElemReasons = 5

// Explain reports whether the pattern matches (exactly what Match says:
// the decision is Match's) and, when not, which fields failed.
func (p *Pattern) Explain(d Doc) Verdict {
	v := Verdict{Match: p.Match(d)}
	if !v.Match {
		p.root.diagnose(d.patternRoot(), "", &v.Reasons)
		if len(v.Reasons) == 0 {
			// Cannot happen: a failing pattern has a failing field or
			// $or. Say so rather than print a bare "no match".
			v.Reasons = append(v.Reasons, Reason{Field: "$", Reason: "no field failed on its own; please report this as a plumb bug"})
		}
	}
	return v
}

// diagnose appends a reason for every field of o that fails on v, using
// the same tests as match.
func (o *patObj) diagnose(v any, path string, rs *[]Reason) {
	obj, _ := v.(map[string]any)
	for i := range o.fields {
		f := &o.fields[i]
		val, present := obj[f.name]
		fp := joinPath(path, f.name)
		if f.leaf && !f.matchLeaf(val, present) {
			*rs = append(*rs, Reason{Field: fp, Reason: f.leafReason(val, present)})
		}
		if f.child != nil && !f.child.matchNested(val, present) {
			f.child.diagnoseNested(val, present, fp, rs)
		}
	}
	if len(o.or) == 0 {
		return
	}
	for _, alt := range o.or {
		if alt.match(obj) {
			return
		}
	}
	op := joinPath(path, "$or")
	*rs = append(*rs, Reason{Field: op, Reason: fmt.Sprintf("none of the %d alternatives matched", len(o.or))})
	for i, alt := range o.or {
		alt.diagnose(obj, fmt.Sprintf("%s[%d]", op, i), rs)
	}
}

func (o *patObj) diagnoseNested(v any, present bool, path string, rs *[]Reason) {
	arr, ok := v.([]any)
	if !present || !ok {
		if present && !isLeaf(v) {
			o.diagnose(v, path, rs)
			return
		}
		if present {
			*rs = append(*rs, Reason{Field: path, Reason: fmt.Sprintf("is %s, not an object, so none of its fields exist", describeValue(v))})
		}
		o.diagnose(nil, path, rs)
		return
	}
	var elems []any
	walkElems(arr, func(e any) bool { elems = append(elems, e); return true })
	if len(elems) == 0 {
		*rs = append(*rs, Reason{Field: path, Reason: "is an empty array, so none of its fields exist"})
		o.diagnose(nil, path, rs)
		return
	}
	*rs = append(*rs, Reason{Field: path, Reason: fmt.Sprintf("none of its %d array elements matches all of the nested fields (fields must match within one element)", len(elems))})
	for i, e := range elems {
		if i == maxElemReasons {
			*rs = append(*rs, Reason{Field: path, Reason: fmt.Sprintf("(%d more elements not shown)", len(elems)-i)})
			break
		}
		o.diagnose(e, fmt.Sprintf("%s[%d]", path, i), rs)
	}
}

// leafReason says why a value list did not match.
func (f *patField) leafReason(v any, present bool) string {
	want := "the pattern wants one of " + f.desc
	if !present {
		if f.existsTrue && len(f.matchers) == 0 {
			return "missing from the event; the pattern wants it to exist"
		}
		return "missing from the event; " + want
	}
	if f.existsFalse && !f.existsTrue && len(f.matchers) == 0 {
		return fmt.Sprintf("is present (%s); the pattern wants it absent", describeValue(v))
	}
	if arr, ok := v.([]any); ok {
		var leaves []any
		walkElems(arr, func(e any) bool {
			if isLeaf(e) {
				leaves = append(leaves, e)
			}
			return true
		})
		if len(leaves) == 0 {
			return "is an array without values (empty, or only objects, which are not leaf values); " + want
		}
		return fmt.Sprintf("no element of %s matches; %s", renderJSON(leaves, 120), want)
	}
	if !isLeaf(v) {
		return "is an object, and patterns match values only at leaf fields; " + want
	}
	msg := fmt.Sprintf("%s matches none of %s", describeValue(v), f.desc)
	if n, ok := v.(number); ok && !exactFloat(n.s, n.f) && f.hasKind(mNumeric) {
		msg += fmt.Sprintf(" (%s has more digits than float64 holds, so it never matches numeric)", n.s)
	}
	return msg
}

func (f *patField) hasKind(k matchKind) bool {
	for _, m := range f.matchers {
		if m.kind == k {
			return true
		}
	}
	return false
}

// describeValue names an event value for a message: its JSON, cut short.
func describeValue(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array " + renderJSON(v, 120)
	}
	return renderJSON(v, 120)
}

// Explain reports whether Event Grid would deliver the event (exactly what
// Match says) and, when not, every part of the subscription filter that
// failed: the event type, the subject filters, each advanced filter.
func (m *EventGridMatcher) Explain(d Doc) Verdict {
	v := Verdict{Match: m.Match(d)}
	if v.Match {
		return v
	}
	if !m.typeMatch(d) {
		r := Reason{Field: "included_event_types"}
		if d.eventType == "" {
			r.Reason = "the event has no event type (eventType in the Event Grid schema, type in CloudEvents, detail-type for EventBridge); the filter wants one of " + quoteList(m.typeNames)
		} else {
			r.Reason = fmt.Sprintf("event type %q is not one of %s", d.eventType, quoteList(m.typeNames))
		}
		v.Reasons = append(v.Reasons, r)
	}
	cs := "case-insensitive"
	if m.caseSensitive {
		cs = "case-sensitive"
	}
	if m.beginsWith != "" && !m.subjectBegins(d) {
		v.Reasons = append(v.Reasons, Reason{Field: "subject_begins_with",
			Reason: fmt.Sprintf("subject %q does not begin with %q (%s)", d.subject, m.beginsWithRaw, cs)})
	}
	if m.endsWith != "" && !m.subjectEnds(d) {
		v.Reasons = append(v.Reasons, Reason{Field: "subject_ends_with",
			Reason: fmt.Sprintf("subject %q does not end with %q (%s)", d.subject, m.endsWithRaw, cs)})
	}
	for i := range m.filters {
		f := &m.filters[i]
		if !f.match(d, m.arrays) {
			v.Reasons = append(v.Reasons, Reason{Field: fmt.Sprintf("advanced_filters[%d]", i), Reason: f.reason(d, m.arrays)})
		}
	}
	if len(v.Reasons) == 0 {
		v.Reasons = append(v.Reasons, Reason{Field: "$", Reason: "no part of the filter failed on its own; please report this as a plumb bug"})
	}
	return v
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// reason says why an advanced filter failed on the event.
func (f *egFilter) reason(d Doc, arrays bool) string {
	head := fmt.Sprintf("%s %s", f.info.name, f.key)
	if f.desc != "" {
		head += " " + f.desc
	}
	v, found := f.resolve(d)
	switch f.info.op {
	case opIsNullOrUndefined:
		return fmt.Sprintf("%s: %s is %s", head, f.key, describeValue(v))
	case opIsNotNull:
		if !found {
			return fmt.Sprintf("%s: %s is missing from the event", head, f.key)
		}
		return fmt.Sprintf("%s: %s is null", head, f.key)
	}
	if !found {
		return fmt.Sprintf("%s: %s is missing from the event, and %s does not match a missing key", head, f.key, f.info.name)
	}
	if arr, ok := v.([]any); ok {
		if !arrays {
			return fmt.Sprintf("%s: %s is an array, and enable_advanced_filtering_on_arrays is off, so Event Grid does not match it", head, f.key)
		}
		if f.info.negated {
			for _, e := range arr {
				if f.hit(e) {
					return fmt.Sprintf("%s: element %s of %s is excluded", head, describeValue(e), f.key)
				}
			}
		}
		return fmt.Sprintf("%s: no element of %s matches (elements of another type are ignored)", head, describeValue(v))
	}
	if f.info.negated {
		return fmt.Sprintf("%s: %s is %s, which is excluded", head, f.key, describeValue(v))
	}
	if !f.typeFits(v) {
		return fmt.Sprintf("%s: %s is %s, not a %s, so it cannot match", head, f.key, describeValue(v), f.operandType())
	}
	return fmt.Sprintf("%s: %s is %s, which does not match", head, f.key, describeValue(v))
}
