package filter

import (
	"encoding/json"
	"errors"
	"testing"

	"plumb/internal/model"
)

// FuzzCompilePattern feeds arbitrary pattern and event bytes: compiling must
// never panic, and a pattern that compiles must match any decodable event
// without panicking, deterministically; Explain must agree with Match and
// give a reason for every non-match.
func FuzzCompilePattern(f *testing.F) {
	f.Add([]byte(`{"source":["aws.ec2"],"detail":{"state":[{"anything-but":"running"}]}}`), []byte(ebEvent))
	f.Add([]byte(`{"$or":[{"a":[{"numeric":[">",0,"<=",5]}]},{"b":[{"cidr":"10.0.0.0/8"}]}]}`), []byte(`{"a":[1,2],"b":"10.1.1.1"}`))
	f.Add([]byte(`{"a":[{"wildcard":"x*\\*y*"}],"b":[{"exists":false}]}`), []byte(`{"a":"x1*y2"}`))
	f.Add([]byte(`{"a":{"b":[{"prefix":{"equals-ignore-case":"A"}}]}}`), []byte(`{"a":[{"b":"abc"},{"b":null}]}`))
	f.Add([]byte(`{"a.b":[12345678901234567890],"a":{"c":[{"anything-but":{"suffix":["x","y"]}}]}}`), []byte(`{"a":{"b":12345678901234567890,"c":"z"},"a.b":1}`))
	f.Add([]byte(`{"n":[300,{"numeric":[">=",-5e9]}],"s":[{"anything-but":{"wildcard":["*a*","b\*"]}}]}`), []byte(`{"n":3.0e2,"s":"b*"}`))
	f.Fuzz(func(t *testing.T, pattern, event []byte) {
		p, err := CompilePattern(pattern)
		if err != nil {
			return
		}
		d, err := NewDoc(model.Event{ID: "fuzz", Raw: json.RawMessage(event)})
		if err != nil {
			return
		}
		first := p.Match(d)
		if again := p.Match(d); again != first {
			t.Fatalf("Match is not deterministic: %v then %v", first, again)
		}
		v := p.Explain(d)
		if v.Match != first || (!first && len(v.Reasons) == 0) || (first && len(v.Reasons) != 0) {
			t.Fatalf("Explain %+v disagrees with Match %v", v, first)
		}
	})
}

// FuzzEventGridMatch feeds an Event Grid filter (in Azure's JSON spelling)
// and an event: Compile must not panic, and a compiled filter must match
// without panicking.
func FuzzEventGridMatch(f *testing.F) {
	f.Add([]byte(`{"includedEventTypes":["Microsoft.Storage.BlobCreated"],"subjectEndsWith":".jpg","advancedFilters":[{"operatorType":"NumberInRange","key":"data.counter","values":[[1,10]]}]}`), []byte(egEvent))
	f.Add([]byte(`{"enableAdvancedFilteringOnArrays":true,"advancedFilters":[{"operatorType":"StringNotIn","key":"data.tags","values":["red"]},{"operatorType":"IsNullOrUndefined","key":"data.x.y"}]}`), []byte(egEvent))
	f.Add([]byte(`{"advancedFilters":[{"operatorType":"StringBeginsWith","key":"comexampleothervalue","values":["5"]}]}`), []byte(ceEvent))
	f.Fuzz(func(t *testing.T, filter, event []byte) {
		var eg EventGrid
		if err := json.Unmarshal(filter, &eg); err != nil {
			return
		}
		m, err := eg.Compile()
		if err != nil {
			return
		}
		d, err := NewDoc(model.Event{ID: "fuzz", Raw: json.RawMessage(event)})
		if err != nil {
			return
		}
		first := m.Match(d)
		if again := m.Match(d); again != first {
			t.Fatalf("Match is not deterministic: %v then %v", first, again)
		}
		v := m.Explain(d)
		if v.Match != first || (!first && len(v.Reasons) == 0) || (first && len(v.Reasons) != 0) {
			t.Fatalf("Explain %+v disagrees with Match %v", v, first)
		}
	})
}

// FuzzParseEventGridFilter feeds arbitrary filter JSON, in any of the
// shapes plumb events test-filter reads, and an event: parsing and
// TestEventGrid must not panic; a filter that parses and compiles must
// give a verdict with reasons exactly when it does not match.
func FuzzParseEventGridFilter(f *testing.F) {
	f.Add([]byte(`{"filter":{"includedEventTypes":["Microsoft.Storage.BlobCreated"],"subjectEndsWith":".jpg"}}`), []byte(egEvent))
	f.Add([]byte(`{"properties":{"filter":{"advancedFilters":[{"operatorType":"NumberIn","key":"data.counter","values":[5]}]}}}`), []byte(egEvent))
	f.Fuzz(func(t *testing.T, filter, event []byte) {
		eg, err := ParseEventGridFilter(filter)
		if err != nil {
			return
		}
		if _, err := eg.Compile(); err != nil {
			return
		}
		v, err := TestEventGrid(filter, event)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != "event" {
				t.Fatalf("a filter that compiles failed in TestEventGrid: %v", err)
			}
			return
		}
		if v.Match == (len(v.Reasons) != 0) {
			t.Fatalf("verdict %+v", v)
		}
	})
}
