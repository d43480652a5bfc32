// Package filter decides which subscriptions an incoming cloud event is
// delivered to. Operators copy their Azure Event Grid subscription filters and
// AWS EventBridge event patterns into plumb.yaml, so both dialects are
// evaluated with the clouds' documented semantics rather than a plumb-specific
// language: a filter that routes an event in Azure or AWS routes it here too.
// Where the documentation is silent plumb follows AWS's engine (event-ruler)
// or decides, and docs/filters.md says which. The same code answers
// "would this filter deliver this event, and why not?" for plumb events
// test-pattern and test-filter and POST /v1/filters/test (tester.go), so
// what operators try is what intake does.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"plumb/internal/jsonscan"
	"plumb/internal/model"
)

// Doc is an event decoded once so that every subscription can be matched
// against it without parsing the raw envelope again; routing one event to
// many subscriptions is the hot path of plumb serve.
//
// The full decode is lazy: most subscriptions filter only on the event
// type and subject, which NewDoc reads from the top level of the envelope
// without building the tree, so the tree is decoded the first time an
// advanced filter or a pattern asks for a field, and at most once.
type Doc struct {
	tree *lazyTree
	// eventType and subject are what Event Grid's event-type and subject
	// filters compare against, resolved once for the envelope's schema.
	eventType string
	subject   string
	cloud     bool // CloudEvents envelope (has specversion)
}

// lazyTree decodes the envelope on first use. It is shared by copies of a
// Doc (Doc is passed by value), and sync.Once keeps concurrent matches of
// one Doc safe.
type lazyTree struct {
	once sync.Once
	raw  []byte // valid JSON object, dropped once decoded
	root map[string]any
	// dotted is set when some object key in the envelope contains a dot;
	// only then do patterns need the split view (see dotted.go).
	dotted    bool
	splitOnce sync.Once
	split     map[string]any
}

// root returns the decoded envelope, nil for a zero Doc.
func (d Doc) root() map[string]any {
	t := d.tree
	if t == nil {
		return nil
	}
	t.once.Do(func() {
		// raw was validated by NewDoc, so decoding cannot fail.
		if v, dotted, err := decodeJSONDotted(t.raw); err == nil {
			t.root, _ = v.(map[string]any)
			t.dotted = dotted
		}
		t.raw = nil
	})
	return t.root
}

// patternRoot is the envelope as EventBridge patterns see it: keys with dots
// split into nested objects, so that "a.b": 1 and "a": {"b": 1} are the
// same field. Envelopes without such keys (nearly all) are not copied.
func (d Doc) patternRoot() map[string]any {
	root := d.root()
	t := d.tree
	if t == nil || !t.dotted {
		return root
	}
	t.splitOnce.Do(func() {
		v, _ := splitDotted(root)
		t.split, _ = v.(map[string]any)
	})
	return t.split
}

// NewDoc decodes ev.Raw. It fails when Raw is not a single JSON object,
// because both filter dialects address fields of an object envelope. The
// Doc keeps a reference to ev.Raw for its lazy decode, so Raw must not be
// modified while the Doc is in use (events are immutable once parsed).
func NewDoc(ev model.Event) (Doc, error) {
	if len(bytes.TrimSpace(ev.Raw)) == 0 {
		return Doc{}, errors.New("filter: event has no raw envelope")
	}
	raw := jsonscan.TrimSpace(ev.Raw)
	if raw[0] != '{' || !json.Valid(raw) {
		return newDocDecoded(ev)
	}
	top, ok := topLevel(raw)
	if !ok {
		return newDocDecoded(ev)
	}
	d := Doc{tree: &lazyTree{raw: raw}, cloud: top.specversion}
	typ := top.eventType
	if d.cloud {
		typ = top.typ
	}
	if s, ok := jsonString(typ); ok {
		d.eventType = s
	} else {
		d.eventType = ev.Type
	}
	if s, ok := jsonString(top.subject); ok {
		d.subject = s
	} else {
		d.subject = ev.Subject
	}
	return d, nil
}

// newDocDecoded is NewDoc decoding the whole envelope up front: the
// reference behaviour, used for what the top-level reader does not handle
// and for every error.
func newDocDecoded(ev model.Event) (Doc, error) {
	v, dotted, err := decodeJSONDotted(ev.Raw)
	if err != nil {
		return Doc{}, fmt.Errorf("filter: decode event %s: %w", ev.Key(), err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return Doc{}, fmt.Errorf("filter: decode event %s: envelope is not a JSON object", ev.Key())
	}
	t := &lazyTree{root: root, dotted: dotted}
	t.once.Do(func() {})
	d := Doc{tree: t}
	if _, ok := root["specversion"]; ok {
		d.cloud = true
	}
	typeKey := "eventType"
	if d.cloud {
		typeKey = "type"
	}
	if s, ok := root[typeKey].(string); ok {
		d.eventType = s
	} else {
		d.eventType = ev.Type
	}
	if s, ok := root["subject"].(string); ok {
		d.subject = s
	} else {
		d.subject = ev.Subject
	}
	return d, nil
}

// decodeJSON parses exactly one JSON value and converts numbers to number, so
// that matching never re-parses numeric text.
func decodeJSON(b []byte) (any, error) {
	v, _, err := decodeJSONDotted(b)
	return v, err
}

// decodeJSONDotted is decodeJSON that also reports whether any object key
// contains a dot.
func decodeJSONDotted(b []byte) (any, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return nil, false, fmt.Errorf("at byte %d: %w", syn.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, false, fmt.Errorf("truncated at byte %d: %w", len(b), err)
		}
		return nil, false, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, fmt.Errorf("at byte %d: trailing data after the JSON value", dec.InputOffset())
	}
	dotted := false
	return convertNumbers(v, &dotted), dotted, nil
}

func convertNumbers(v any, dotted *bool) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(t), 64) // out of range: ±Inf, still ordered
		return number{f: f, s: string(t)}
	case map[string]any:
		for k, e := range t {
			if !*dotted && strings.IndexByte(k, '.') >= 0 {
				*dotted = true
			}
			t[k] = convertNumbers(e, dotted)
		}
	case []any:
		for i, e := range t {
			t[i] = convertNumbers(e, dotted)
		}
	}
	return v
}
