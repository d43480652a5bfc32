package filter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestPatternExplain(t *testing.T) {
	tests := []struct {
		name, pattern, event string
		want                 []Reason // field and a part of the reason
	}{
		{"value", `{"source":["aws.ec2"],"detail":{"state":["stopped","pending"]}}`, ebEvent,
			[]Reason{{"detail.state", `"running" matches none of ["stopped","pending"]`}}},
		{"missing", `{"detail":{"nope":["x"]}}`, ebEvent,
			[]Reason{{"detail.nope", `missing from the event; the pattern wants one of ["x"]`}}},
		{"exists true missing", `{"detail":{"nope":[{"exists":true}]}}`, ebEvent,
			[]Reason{{"detail.nope", "missing from the event; the pattern wants it to exist"}}},
		{"exists false present", `{"detail":{"state":[{"exists":false}]}}`, ebEvent,
			[]Reason{{"detail.state", `is present ("running"); the pattern wants it absent`}}},
		{"two fields fail", `{"source":["aws.s3"],"region":["eu-west-1"]}`, ebEvent,
			[]Reason{{"region", `"us-east-1" matches none of ["eu-west-1"]`}, {"source", `"aws.ec2" matches none of ["aws.s3"]`}}},
		{"array values", `{"detail":{"tags":["dev"]}}`, ebEvent,
			[]Reason{{"detail.tags", `no element of ["prod","web"] matches; the pattern wants one of ["dev"]`}}},
		{"object at a leaf", `{"detail":{"obj":["x"]}}`, ebEvent,
			[]Reason{{"detail.obj", "is an object, and patterns match values only at leaf fields"}}},
		{"$or", `{"$or":[{"region":["eu-west-1"]},{"detail":{"state":["stopped"]}}]}`, ebEvent,
			[]Reason{{"$or", "none of the 2 alternatives matched"}, {"$or[0].region", `"us-east-1" matches none of ["eu-west-1"]`},
				{"$or[1].detail.state", `"running" matches none of ["stopped"]`}}},
		{"array of objects", `{"detail":{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}}`, ebEvent,
			[]Reason{{"detail.employees", "none of its 3 array elements matches all of the nested fields"},
				{"detail.employees[0].firstName", `"John" matches none of ["Anna"]`},
				{"detail.employees[0].lastName", `"Doe" matches none of ["Jones"]`},
				{"detail.employees[1].lastName", `"Smith" matches none of ["Jones"]`},
				{"detail.employees[2].firstName", `"Peter" matches none of ["Anna"]`}}},
		{"nested under a scalar", `{"source":{"x":["y"]}}`, ebEvent,
			[]Reason{{"source", `is "aws.ec2", not an object, so none of its fields exist`}, {"source.x", "missing from the event"}}},
		{"nested under an empty array", `{"a":{"b":["1"]}}`, `{"a":[]}`,
			[]Reason{{"a", "is an empty array"}, {"a.b", "missing from the event"}}},
		{"20-digit number and numeric", `{"id":[{"numeric":[">",0]}]}`, `{"id":12345678901234567890}`,
			[]Reason{{"id", "12345678901234567890 has more digits than float64 holds, so it never matches numeric"}}},
		{"anything-but", `{"detail":{"state":[{"anything-but":{"prefix":["run","stop"]}}]}}`, ebEvent,
			[]Reason{{"detail.state", `"running" matches none of [{"anything-but":{"prefix":["run","stop"]}}]`}}},
		{"dotted key", `{"detail":{"state.status":["running"]}}`, `{"detail":{"state":{"status":"stopped"}}}`,
			[]Reason{{"detail.state.status", `"stopped" matches none of ["running"]`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePattern([]byte(tt.pattern))
			if err != nil {
				t.Fatal(err)
			}
			v := p.Explain(mustDoc(t, tt.event))
			if v.Match {
				t.Fatal("Explain says match")
			}
			checkReasons(t, v.Reasons, tt.want)
		})
	}
	p, _ := CompilePattern([]byte(`{"source":["aws.ec2"]}`))
	if v := p.Explain(mustDoc(t, ebEvent)); !v.Match || len(v.Reasons) != 0 {
		t.Errorf("match: %+v", v)
	}
}

func checkReasons(t *testing.T, got, want []Reason) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("reasons %+v, want %d like %+v", got, len(want), want)
	}
	for i := range want {
		if got[i].Field != want[i].Field || !strings.Contains(got[i].Reason, want[i].Reason) {
			t.Errorf("reason %d = %+v, want field %q with %q", i, got[i], want[i].Field, want[i].Reason)
		}
	}
}

func TestEventGridExplain(t *testing.T) {
	tests := []struct {
		name  string
		f     EventGrid
		event string
		want  []Reason
	}{
		{"event type", EventGrid{IncludedEventTypes: []string{"Microsoft.Storage.BlobDeleted"}}, egEvent,
			[]Reason{{"included_event_types", `event type "Microsoft.Storage.BlobCreated" is not one of ["Microsoft.Storage.BlobDeleted"]`}}},
		{"no event type", EventGrid{IncludedEventTypes: []string{"X"}}, `{"data":{}}`,
			[]Reason{{"included_event_types", "the event has no event type"}}},
		{"subject begins", EventGrid{SubjectBeginsWith: "/blobServices/default/containers/logs/"}, egEvent,
			[]Reason{{"subject_begins_with", `does not begin with "/blobServices/default/containers/logs/" (case-insensitive)`}}},
		{"subject ends case-sensitive", EventGrid{SubjectEndsWith: ".jpg", IsSubjectCaseSensitive: true}, egEvent,
			[]Reason{{"subject_ends_with", `subject "/blobServices/default/containers/images/blobs/Photo.JPG" does not end with ".jpg" (case-sensitive)`}}},
		{"value", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "data.api", "CopyBlob", "PutBlockList")}}, egEvent,
			[]Reason{{"advanced_filters[0]", `StringIn data.api ["CopyBlob", "PutBlockList"]: data.api is "PutBlob", which does not match`}}},
		{"missing key", EventGrid{AdvancedFilters: []AdvancedFilter{af1("NumberGreaterThan", "data.nope", 1)}}, egEvent,
			[]Reason{{"advanced_filters[0]", "NumberGreaterThan data.nope 1: data.nope is missing from the event, and NumberGreaterThan does not match a missing key"}}},
		{"wrong type", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberIn", "data.api", 5)}}, egEvent,
			[]Reason{{"advanced_filters[0]", `data.api is "PutBlob", not a number, so it cannot match`}}},
		{"negated", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringNotIn", "data.api", "putblob")}}, egEvent,
			[]Reason{{"advanced_filters[0]", `data.api is "PutBlob", which is excluded`}}},
		{"array without flag", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "data.tags", "red")}}, egEvent,
			[]Reason{{"advanced_filters[0]", "data.tags is an array, and enable_advanced_filtering_on_arrays is off"}}},
		{"array element excluded", EventGrid{EnableAdvancedFilteringOnArrays: true, AdvancedFilters: []AdvancedFilter{af("StringNotIn", "data.tags", "blue")}}, egEvent,
			[]Reason{{"advanced_filters[0]", `element "Blue" of data.tags is excluded`}}},
		{"array no element", EventGrid{EnableAdvancedFilteringOnArrays: true, AdvancedFilters: []AdvancedFilter{af("NumberIn", "data.nums", 2)}}, egEvent,
			[]Reason{{"advanced_filters[0]", "no element of an array [1,5,10] matches"}}},
		{"is null", EventGrid{AdvancedFilters: []AdvancedFilter{{OperatorType: "IsNullOrUndefined", Key: "data.api"}}}, egEvent,
			[]Reason{{"advanced_filters[0]", `IsNullOrUndefined data.api: data.api is "PutBlob"`}}},
		{"is not null", EventGrid{AdvancedFilters: []AdvancedFilter{{OperatorType: "IsNotNull", Key: "data.nullKey"}}}, egEvent,
			[]Reason{{"advanced_filters[0]", "data.nullKey is null"}}},
		{"ranges", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberInRange", "data.counter", []any{6, 10})}}, egEvent,
			[]Reason{{"advanced_filters[0]", "NumberInRange data.counter [[6, 10]]: data.counter is 5, which does not match"}}},
		{"every failing part", EventGrid{IncludedEventTypes: []string{"X"}, SubjectEndsWith: ".png",
			AdvancedFilters: []AdvancedFilter{af("StringIn", "data.api", "PutBlob"), af1("BoolEquals", "data.isEnabled", false)}}, egEvent,
			[]Reason{{"included_event_types", ""}, {"subject_ends_with", ""}, {"advanced_filters[1]", "BoolEquals data.isEnabled false: data.isEnabled is true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.f.Compile()
			if err != nil {
				t.Fatal(err)
			}
			v := m.Explain(mustDoc(t, tt.event))
			if v.Match {
				t.Fatal("Explain says match")
			}
			checkReasons(t, v.Reasons, tt.want)
		})
	}
}

func TestTestPattern(t *testing.T) {
	v, err := TestPattern([]byte(`{"detail":{"state":["running"]}}`), []byte(ebEvent))
	if err != nil || !v.Match {
		t.Fatalf("match: %+v %v", v, err)
	}
	v, err = TestPattern([]byte(`{"detail":{"state":["stopped"]}}`), []byte(ebEvent))
	if err != nil || v.Match || len(v.Reasons) != 1 || v.Reasons[0].Field != "detail.state" {
		t.Fatalf("no match: %+v %v", v, err)
	}
	for _, tc := range []struct {
		name, pattern, event, input, want string
	}{
		{"invalid pattern", `{"detail":{"state":"running"}}`, ebEvent, "event pattern", "event pattern: detail.state: must be an array"},
		{"pattern not JSON", `{"a":`, ebEvent, "event pattern", "event pattern: invalid JSON: truncated"},
		{"event not JSON", `{"a":["b"]}`, `{"a":`, "event", "event: invalid JSON: truncated"},
		{"event is an array", `{"a":["b"]}`, `[{"a":"b"}]`, "event", "event: must be one JSON object, got a list of 1"},
		{"event is null", `{"a":["b"]}`, `null`, "event", "event: must be one JSON object, got null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TestPattern([]byte(tc.pattern), []byte(tc.event))
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want an InputError for %s containing %q", err, tc.input, tc.want)
			}
		})
	}
}

func TestTestEventGridAndParse(t *testing.T) {
	const filter = `{"includedEventTypes":["Microsoft.Storage.BlobCreated"],"subjectEndsWith":".jpg",
	  "advancedFilters":[{"operatorType":"NumberGreaterThanOrEquals","key":"data.counter","value":5},
	                     {"operatorType":"StringIn","key":"data.api","values":["PutBlob"]}]}`
	for _, tc := range []struct {
		name, filter string
	}{
		{"filter object", filter},
		{"az eventgrid event-subscription show", `{"name":"sub","destination":{"endpointType":"WebHook"},"filter":` + filter + `,"provisioningState":"Succeeded"}`},
		{"ARM resource", `{"type":"Microsoft.EventGrid/eventSubscriptions","name":"sub","properties":{"destination":{},"filter":` + filter + `}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := TestEventGrid([]byte(tc.filter), []byte(egEvent))
			if err != nil || !v.Match {
				t.Fatalf("%+v %v", v, err)
			}
		})
	}
	v, err := TestEventGrid([]byte(`{"advancedFilters":[{"operatorType":"NumberGreaterThan","key":"data.counter","value":5}]}`), []byte(egEvent))
	if err != nil || v.Match || len(v.Reasons) != 1 || v.Reasons[0].Field != "advanced_filters[0]" {
		t.Fatalf("no match: %+v %v", v, err)
	}
	// An EventBridge envelope's event type is its detail-type, as in serve.
	v, err = TestEventGrid([]byte(`{"includedEventTypes":["EC2 Instance State-change Notification"]}`), []byte(ebEvent))
	if err != nil || !v.Match {
		t.Fatalf("EventBridge detail-type: %+v %v", v, err)
	}
	for _, tc := range []struct {
		name, filter, event, input, want string
	}{
		{"misspelt member", `{"includedEventType":["X"]}`, egEvent, "event grid filter", `unknown field "includedEventType"`},
		{"misspelt member under filter", `{"filter":{"advancedFilters":[{"operator":"StringIn","key":"k","values":["v"]}]}}`, egEvent, "event grid filter", `filter: json: unknown field "operator"`},
		{"null", `null`, egEvent, "event grid filter", "must be a JSON object, got null"},
		{"filter null", `{"filter":null}`, egEvent, "event grid filter", "filter: must be a JSON object, got null"},
		{"array", `[1]`, egEvent, "event grid filter", "must be a JSON object, got array"},
		{"not JSON", `{`, egEvent, "event grid filter", "invalid JSON"},
		{"invalid filter", `{"advancedFilters":[{"operatorType":"StringLike","key":"k","values":["v"]}]}`, egEvent, "event grid filter", `advanced_filters[0].operator_type: unknown operator "StringLike"`},
		{"26 filters", `{"advancedFilters":[` + strings.TrimSuffix(strings.Repeat(`{"operatorType":"IsNotNull","key":"k"},`, 26), ",") + `]}`, egEvent, "event grid filter", "26 filters, Event Grid allows at most 25"},
		{"bad event", `{}`, `[]`, "event", "must be one JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TestEventGrid([]byte(tc.filter), []byte(tc.event))
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want an InputError for %s containing %q", err, tc.input, tc.want)
			}
		})
	}
	// Large numbers in filter values keep Azure's double semantics and
	// are read without losing the text on the way.
	f, err := ParseEventGridFilter([]byte(`{"advancedFilters":[{"operatorType":"NumberIn","key":"data.id","values":[12345678901234567890]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := f.AdvancedFilters[0].Values[0].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("value read as %T %v", f.AdvancedFilters[0].Values[0], f.AdvancedFilters[0].Values[0])
	}
}
