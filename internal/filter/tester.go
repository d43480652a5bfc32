package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"plumb/internal/model"
)

// The functions below answer "would this filter deliver this event?" for
// operators who try a filter before deploying it: plumb events
// test-pattern and test-filter and the API's POST /v1/filters/test. They
// compile and match with the same code plumb serve routes events with.

// InputError is a filter, pattern or event that cannot be used: not JSON,
// not the right shape, or refused the way AWS or Azure would refuse it.
// Input says which one ("event pattern", "event grid filter", "event").
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string { return e.Input + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// TestPattern evaluates an EventBridge event pattern on one event.
func TestPattern(pattern, event []byte) (Verdict, error) {
	p, err := CompilePattern(pattern)
	if err != nil {
		// CompilePattern's errors already start with "event pattern: ".
		return Verdict{}, &InputError{Input: "event pattern", Err: errors.New(strings.TrimPrefix(err.Error(), "event pattern: "))}
	}
	d, err := testDoc(event)
	if err != nil {
		return Verdict{}, err
	}
	return p.Explain(d), nil
}

// TestEventGrid evaluates an Event Grid subscription filter, in Azure's
// JSON spelling (see ParseEventGridFilter), on one event.
func TestEventGrid(filter, event []byte) (Verdict, error) {
	f, err := ParseEventGridFilter(filter)
	if err != nil {
		return Verdict{}, &InputError{Input: "event grid filter", Err: err}
	}
	m, err := f.Compile()
	if err != nil {
		return Verdict{}, &InputError{Input: "event grid filter", Err: err}
	}
	d, err := testDoc(event)
	if err != nil {
		return Verdict{}, err
	}
	return m.Explain(d), nil
}

// ParseEventGridFilter reads an event subscription filter as Azure writes
// it (camelCase: includedEventTypes, subjectBeginsWith, advancedFilters
// with operatorType/key/value(s)): the filter object itself, the output of
// `az eventgrid event-subscription show` (the filter is its "filter"
// member), or an ARM resource (properties.filter). Unknown members are
// refused: a misspelt member would otherwise drop a condition silently
// and the filter would match more than intended.
func ParseEventGridFilter(b []byte) (EventGrid, error) {
	top, err := jsonObject(b)
	if err != nil {
		return EventGrid{}, err
	}
	raw, where := json.RawMessage(b), ""
	if f, ok := top["filter"]; ok {
		raw, where = f, "filter: "
	} else if p, ok := top["properties"]; ok {
		if props, err := jsonObject(p); err == nil && props["filter"] != nil {
			raw, where = props["filter"], "properties.filter: "
		}
	}
	if _, err := jsonObject(raw); err != nil {
		return EventGrid{}, fmt.Errorf("%s%w", where, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f EventGrid
	if err := dec.Decode(&f); err != nil {
		return EventGrid{}, fmt.Errorf("%s%w", where, err)
	}
	return f, nil
}

// testDoc reads the event under test as plumb serve holds it. For an
// EventBridge envelope the event type Event Grid filters compare is its
// detail-type, as plumb serve normalizes it.
func testDoc(event []byte) (Doc, error) {
	v, err := decodeJSON(event)
	if err != nil {
		return Doc{}, &InputError{Input: "event", Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Doc{}, &InputError{Input: "event", Err: fmt.Errorf("must be one JSON object, got %s", describe(v))}
	}
	ev := model.Event{ID: "test", Raw: json.RawMessage(event)}
	if dt, ok := obj["detail-type"].(string); ok {
		ev.Type = dt
	}
	d, err := NewDoc(ev)
	if err != nil {
		return Doc{}, &InputError{Input: "event", Err: err}
	}
	return d, nil
}

// jsonObject reads b as one JSON object (not null, not an array).
func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, fmt.Errorf("must be a JSON object, got %s", typ.Value)
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if top == nil {
		return nil, errors.New("must be a JSON object, got null")
	}
	return top, nil
}
