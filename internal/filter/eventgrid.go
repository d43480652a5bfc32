package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits Azure enforces on one event subscription's advanced filters. plumb
// enforces them too, so a filter accepted here is one Azure would accept.
const (
	maxAdvancedFilters = 25
	maxFilterValues    = 25
	maxStringValueLen  = 512
)

// EventGrid is an Event Grid event subscription's filter, spelled the way
// operators copy it from Azure into plumb.yaml (snake_case) or from an ARM
// template or `az eventgrid event-subscription show` output (camelCase JSON).
type EventGrid struct {
	IncludedEventTypes              []string         `yaml:"included_event_types" json:"includedEventTypes,omitempty"`
	SubjectBeginsWith               string           `yaml:"subject_begins_with" json:"subjectBeginsWith,omitempty"`
	SubjectEndsWith                 string           `yaml:"subject_ends_with" json:"subjectEndsWith,omitempty"`
	IsSubjectCaseSensitive          bool             `yaml:"is_subject_case_sensitive" json:"isSubjectCaseSensitive,omitempty"`
	EnableAdvancedFilteringOnArrays bool             `yaml:"enable_advanced_filtering_on_arrays" json:"enableAdvancedFilteringOnArrays,omitempty"`
	AdvancedFilters                 []AdvancedFilter `yaml:"advanced_filters" json:"advancedFilters,omitempty"`
}

// AdvancedFilter is one Event Grid advanced filter. Value carries the operand
// of single-value operators (NumberGreaterThan..., BoolEquals) and Values the
// operands of the others, as in Azure's API, so filters copy over unchanged.
type AdvancedFilter struct {
	OperatorType string `yaml:"operator_type" json:"operatorType"`
	Key          string `yaml:"key" json:"key"`
	Value        any    `yaml:"value" json:"value,omitempty"`
	Values       []any  `yaml:"values" json:"values,omitempty"`
}

// EventGridMatcher is a validated, pre-processed EventGrid filter, so that
// per-event matching does no parsing, lower-casing of filter values or
// validation.
type EventGridMatcher struct {
	allTypes      bool
	types         []string
	beginsWith    string
	endsWith      string
	caseSensitive bool
	arrays        bool
	filters       []egFilter
	// As written, for explanations.
	typeNames                  []string
	beginsWithRaw, endsWithRaw string
}

type egOp int

const (
	opNumberIn egOp = iota
	opNumberNotIn
	opNumberLessThan
	opNumberGreaterThan
	opNumberLessThanOrEquals
	opNumberGreaterThanOrEquals
	opNumberInRange
	opNumberNotInRange
	opBoolEquals
	opStringIn
	opStringNotIn
	opStringContains
	opStringNotContains
	opStringBeginsWith
	opStringNotBeginsWith
	opStringEndsWith
	opStringNotEndsWith
	opIsNullOrUndefined
	opIsNotNull
)

type operandKind int

const (
	operandNone operandKind = iota
	operandNumber
	operandBool
	operandNumbers
	operandRanges
	operandStrings
)

type egOpInfo struct {
	op      egOp
	name    string
	operand operandKind
	negated bool // a hit on any value fails the filter
}

// lookupOp finds an operator by name, ignoring case as Azure does. The table
// is built per call (only at Compile time) so the package holds no mutable
// globals.
func lookupOp(name string) (egOpInfo, bool) {
	list := [...]egOpInfo{
		{opNumberIn, "NumberIn", operandNumbers, false},
		{opNumberNotIn, "NumberNotIn", operandNumbers, true},
		{opNumberLessThan, "NumberLessThan", operandNumber, false},
		{opNumberGreaterThan, "NumberGreaterThan", operandNumber, false},
		{opNumberLessThanOrEquals, "NumberLessThanOrEquals", operandNumber, false},
		{opNumberGreaterThanOrEquals, "NumberGreaterThanOrEquals", operandNumber, false},
		{opNumberInRange, "NumberInRange", operandRanges, false},
		{opNumberNotInRange, "NumberNotInRange", operandRanges, true},
		{opBoolEquals, "BoolEquals", operandBool, false},
		{opStringIn, "StringIn", operandStrings, false},
		{opStringNotIn, "StringNotIn", operandStrings, true},
		{opStringContains, "StringContains", operandStrings, false},
		{opStringNotContains, "StringNotContains", operandStrings, true},
		{opStringBeginsWith, "StringBeginsWith", operandStrings, false},
		{opStringNotBeginsWith, "StringNotBeginsWith", operandStrings, true},
		{opStringEndsWith, "StringEndsWith", operandStrings, false},
		{opStringNotEndsWith, "StringNotEndsWith", operandStrings, true},
		{opIsNullOrUndefined, "IsNullOrUndefined", operandNone, false},
		{opIsNotNull, "IsNotNull", operandNone, false},
	}
	for _, o := range list {
		if strings.EqualFold(o.name, name) {
			return o, true
		}
	}
	return egOpInfo{}, false
}

type egFilter struct {
	info   egOpInfo
	key    string // as written
	desc   string // the operands as written, for explanations
	path   []string
	num    float64
	b      bool
	nums   []float64
	ranges [][2]float64
	strs   []string // lower-cased: Event Grid string comparisons ignore case
}

// Compile validates f the way Azure validates an event subscription (known
// operators, operand types, 25 filters, 25 values, 512-character strings)
// and prepares it for matching. Errors name the offending field as written
// in plumb.yaml.
func (f EventGrid) Compile() (*EventGridMatcher, error) {
	m := &EventGridMatcher{
		beginsWith:    f.SubjectBeginsWith,
		endsWith:      f.SubjectEndsWith,
		caseSensitive: f.IsSubjectCaseSensitive,
		arrays:        f.EnableAdvancedFilteringOnArrays,
		typeNames:     f.IncludedEventTypes,
		beginsWithRaw: f.SubjectBeginsWith,
		endsWithRaw:   f.SubjectEndsWith,
	}
	if !m.caseSensitive {
		m.beginsWith = strings.ToLower(m.beginsWith)
		m.endsWith = strings.ToLower(m.endsWith)
	}
	m.allTypes = len(f.IncludedEventTypes) == 0
	for i, t := range f.IncludedEventTypes {
		if t == "" {
			return nil, fmt.Errorf("included_event_types[%d]: empty event type", i)
		}
		if strings.EqualFold(t, "All") {
			m.allTypes = true
		}
		m.types = append(m.types, strings.ToLower(t))
	}
	if n := len(f.AdvancedFilters); n > maxAdvancedFilters {
		return nil, fmt.Errorf("advanced_filters: %d filters, Event Grid allows at most %d per subscription", n, maxAdvancedFilters)
	}
	total := 0
	for i, af := range f.AdvancedFilters {
		cf, n, err := compileAdvanced(af)
		if err != nil {
			return nil, fmt.Errorf("advanced_filters[%d].%w", i, err)
		}
		total += n
		if total > maxFilterValues {
			return nil, fmt.Errorf("advanced_filters[%d].values: %d filter values in total so far, Event Grid allows at most %d across all filters of a subscription", i, total, maxFilterValues)
		}
		m.filters = append(m.filters, cf)
	}
	return m, nil
}

// compileAdvanced returns the compiled filter and how many filter values it
// counts towards the subscription limit. Errors start with the field name so
// the caller can prefix the filter index.
func compileAdvanced(af AdvancedFilter) (egFilter, int, error) {
	info, ok := lookupOp(af.OperatorType)
	if !ok {
		if af.OperatorType == "" {
			return egFilter{}, 0, errors.New("operator_type: missing")
		}
		return egFilter{}, 0, fmt.Errorf("operator_type: unknown operator %q", af.OperatorType)
	}
	if strings.TrimSpace(af.Key) == "" {
		return egFilter{}, 0, errors.New("key: missing")
	}
	cf := egFilter{info: info, key: af.Key, path: strings.Split(af.Key, ".")}
	for _, seg := range cf.path {
		if seg == "" {
			return egFilter{}, 0, fmt.Errorf("key: %q has an empty segment", af.Key)
		}
	}
	switch info.operand {
	case operandNone:
		if af.Value != nil || len(af.Values) > 0 {
			return egFilter{}, 0, fmt.Errorf("value: %s takes no value", info.name)
		}
		return cf, 0, nil
	case operandNumber, operandBool:
		if len(af.Values) > 0 {
			return egFilter{}, 0, fmt.Errorf("values: %s takes a single value; use value", info.name)
		}
		if af.Value == nil {
			return egFilter{}, 0, fmt.Errorf("value: missing for %s", info.name)
		}
		if info.operand == operandBool {
			b, ok := af.Value.(bool)
			if !ok {
				return egFilter{}, 0, fmt.Errorf("value: %s needs a boolean, got %s", info.name, describe(af.Value))
			}
			cf.b = b
			cf.desc = fmt.Sprint(b)
			return cf, 1, nil
		}
		f, err := toFloat(af.Value)
		if err != nil {
			return egFilter{}, 0, fmt.Errorf("value: %s: %w", info.name, err)
		}
		cf.num = f
		cf.desc = formatFloat(f)
		return cf, 1, nil
	}
	if af.Value != nil {
		return egFilter{}, 0, fmt.Errorf("value: %s takes a list; use values", info.name)
	}
	if len(af.Values) == 0 {
		return egFilter{}, 0, fmt.Errorf("values: missing for %s", info.name)
	}
	descs := make([]string, 0, len(af.Values))
	for j, v := range af.Values {
		switch info.operand {
		case operandNumbers:
			f, err := toFloat(v)
			if err != nil {
				return egFilter{}, 0, fmt.Errorf("values[%d]: %s: %w", j, info.name, err)
			}
			cf.nums = append(cf.nums, f)
			descs = append(descs, formatFloat(f))
		case operandStrings:
			s, ok := v.(string)
			if !ok {
				return egFilter{}, 0, fmt.Errorf("values[%d]: %s needs strings, got %s (quote it in YAML)", j, info.name, describe(v))
			}
			if n := utf8.RuneCountInString(s); n > maxStringValueLen {
				return egFilter{}, 0, fmt.Errorf("values[%d]: string of %d characters, Event Grid allows at most %d", j, n, maxStringValueLen)
			}
			cf.strs = append(cf.strs, strings.ToLower(s))
			descs = append(descs, fmt.Sprintf("%q", s))
		case operandRanges:
			r, err := toRange(v)
			if err != nil {
				return egFilter{}, 0, fmt.Errorf("values[%d]: %s: %w", j, info.name, err)
			}
			cf.ranges = append(cf.ranges, r)
			descs = append(descs, "["+formatFloat(r[0])+", "+formatFloat(r[1])+"]")
		}
	}
	cf.desc = shorten("["+strings.Join(descs, ", ")+"]", 200)
	return cf, len(af.Values), nil
}

func toRange(v any) ([2]float64, error) {
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		return [2]float64{}, fmt.Errorf("a range is a [low, high] pair, got %s", describe(v))
	}
	lo, err := toFloat(list[0])
	if err != nil {
		return [2]float64{}, fmt.Errorf("low bound: %w", err)
	}
	hi, err := toFloat(list[1])
	if err != nil {
		return [2]float64{}, fmt.Errorf("high bound: %w", err)
	}
	if lo > hi {
		return [2]float64{}, fmt.Errorf("low bound %v is above high bound %v", lo, hi)
	}
	return [2]float64{lo, hi}, nil
}

// toFloat accepts the numeric types YAML and JSON decoders produce for
// `value`/`values`; strings are refused so a quoted "5" is not silently
// treated as a number.
func toFloat(v any) (float64, error) {
	var f float64
	switch t := v.(type) {
	case int:
		f = float64(t)
	case int8:
		f = float64(t)
	case int16:
		f = float64(t)
	case int32:
		f = float64(t)
	case int64:
		f = float64(t)
	case uint:
		f = float64(t)
	case uint8:
		f = float64(t)
	case uint16:
		f = float64(t)
	case uint32:
		f = float64(t)
	case uint64:
		f = float64(t)
	case float32:
		f = float64(t)
	case float64:
		f = t
	case json.Number:
		g, err := t.Float64()
		if err != nil {
			return 0, fmt.Errorf("bad number %q: %w", t, err)
		}
		f = g
	default:
		return 0, fmt.Errorf("needs a number, got %s", describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("needs a finite number, got %v", f)
	}
	return f, nil
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", t)
	case bool:
		return fmt.Sprintf("boolean %v", t)
	case number:
		return "number " + t.s
	case []any:
		return fmt.Sprintf("a list of %d", len(t))
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

// Match reports whether Event Grid would deliver the event to this
// subscription: event type, subject prefix/suffix and every advanced filter
// must all match.
func (m *EventGridMatcher) Match(d Doc) bool {
	if !m.typeMatch(d) {
		return false
	}
	if (m.beginsWith != "" || m.endsWith != "") && !(m.subjectBegins(d) && m.subjectEnds(d)) {
		return false
	}
	for i := range m.filters {
		if !m.filters[i].match(d, m.arrays) {
			return false
		}
	}
	return true
}

func (m *EventGridMatcher) typeMatch(d Doc) bool {
	if m.allTypes {
		return true
	}
	for _, t := range m.types {
		if strings.EqualFold(t, d.eventType) {
			return true
		}
	}
	return false
}

func (m *EventGridMatcher) subjectBegins(d Doc) bool {
	if m.caseSensitive {
		return strings.HasPrefix(d.subject, m.beginsWith)
	}
	return foldHasPrefix(d.subject, m.beginsWith)
}

func (m *EventGridMatcher) subjectEnds(d Doc) bool {
	if m.caseSensitive {
		return strings.HasSuffix(d.subject, m.endsWith)
	}
	return foldHasSuffix(d.subject, m.endsWith)
}

// formatFloat writes a filter operand as JSON would.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// typeFits reports whether a value has the type the operator compares
// (string operators also read numbers and booleans as their text).
func (f *egFilter) typeFits(v any) bool {
	switch f.info.operand {
	case operandNumber, operandNumbers, operandRanges:
		_, ok := v.(number)
		return ok
	case operandBool:
		_, ok := v.(bool)
		return ok
	case operandStrings:
		switch v.(type) {
		case string, number, bool:
			return true
		}
	}
	return false
}

func (f *egFilter) operandType() string {
	switch f.info.operand {
	case operandNumber, operandNumbers, operandRanges:
		return "number"
	case operandBool:
		return "boolean"
	}
	return "string"
}

// cloudEventAlias maps the key names of the older CloudEvents 0.1 schema,
// still found in copied filters, to their CloudEvents 1.0 attributes.
func cloudEventAlias(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "eventid":
		return "id", true
	case "eventtype":
		return "type", true
	}
	return "", false
}

// resolve finds the key in the envelope. Segments match exactly first and
// then case-insensitively, because Azure's documentation writes keys both
// as "Data.Key1" and "data.key1". Paths do not descend into arrays: Event
// Grid does not filter on arrays of objects.
func (f *egFilter) resolve(d Doc) (any, bool) {
	var cur any = d.root()
	for i, seg := range f.path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if i == 0 && len(f.path) == 1 && d.cloud {
			if alias, ok := cloudEventAlias(seg); ok {
				if _, exact := obj[seg]; !exact {
					seg = alias
				}
			}
		}
		v, ok := lookupFold(obj, seg)
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

func lookupFold(obj map[string]any, key string) (any, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	// Several keys may differ only in case; take the smallest so the
	// result does not depend on map iteration order.
	var best string
	var val any
	found := false
	for k, v := range obj {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, val, found = k, v, true
		}
	}
	return val, found
}

// absentMatches lists the operators Azure documents as matching when the
// key is missing from the event. NumberNotInRange is not listed in Azure's
// note; it is treated like NumberNotIn, which its pseudo code implies.
func absentMatches(op egOp) bool {
	return op == opNumberNotIn || op == opStringNotIn || op == opNumberNotInRange
}

func (f *egFilter) match(d Doc, arrays bool) bool {
	v, found := f.resolve(d)
	switch f.info.op {
	case opIsNullOrUndefined:
		return !found || v == nil
	case opIsNotNull:
		return found && v != nil
	}
	if !found {
		return absentMatches(f.info.op)
	}
	if arr, ok := v.([]any); ok {
		if !arrays {
			// Without enableAdvancedFilteringOnArrays Event Grid fails the
			// match on an array-valued key, whatever the operator.
			return false
		}
		for _, e := range arr {
			if f.hit(e) {
				return !f.info.negated
			}
		}
		return f.info.negated
	}
	if f.hit(v) {
		return !f.info.negated
	}
	return f.info.negated
}

// hit reports whether one key value satisfies any of the filter's values
// (for negated operators: would make the filter fail). Values whose type
// does not fit the operator are ignored, as Azure's pseudo code says.
func (f *egFilter) hit(v any) bool {
	switch f.info.operand {
	case operandNumber, operandNumbers, operandRanges:
		n, ok := v.(number)
		if !ok {
			return false
		}
		x := n.f
		switch f.info.op {
		case opNumberLessThan:
			return x < f.num
		case opNumberGreaterThan:
			return x > f.num
		case opNumberLessThanOrEquals:
			return x <= f.num
		case opNumberGreaterThanOrEquals:
			return x >= f.num
		case opNumberIn, opNumberNotIn:
			for _, y := range f.nums {
				if x == y {
					return true
				}
			}
		case opNumberInRange, opNumberNotInRange:
			for _, r := range f.ranges {
				if x >= r[0] && x <= r[1] {
					return true
				}
			}
		}
		return false
	case operandBool:
		b, ok := v.(bool)
		return ok && b == f.b
	case operandStrings:
		var s string
		switch t := v.(type) {
		case string:
			s = t
		case number:
			s = t.s
		case bool:
			s = "false"
			if t {
				s = "true"
			}
		default:
			return false
		}
		for _, want := range f.strs {
			var ok bool
			switch f.info.op {
			case opStringIn, opStringNotIn:
				ok = foldEqual(s, want)
			case opStringContains, opStringNotContains:
				ok = foldContains(s, want)
			case opStringBeginsWith, opStringNotBeginsWith:
				ok = foldHasPrefix(s, want)
			case opStringEndsWith, opStringNotEndsWith:
				ok = foldHasSuffix(s, want)
			}
			if ok {
				return true
			}
		}
	}
	return false
}
