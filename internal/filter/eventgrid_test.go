package filter

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"plumb/internal/model"
)

// egEvent is a Blob Created event in the Event Grid schema, extended with
// data fields that exercise every operator.
const egEvent = `{
  "id": "9aeb0fdf-c01e-0131-0922-9eb54906e209",
  "topic": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
  "subject": "/blobServices/default/containers/images/blobs/Photo.JPG",
  "eventType": "Microsoft.Storage.BlobCreated",
  "eventTime": "2024-01-02T03:04:05Z",
  "dataVersion": "1.0",
  "data": {
    "api": "PutBlob",
    "contentType": "image/jpeg",
    "counter": 5,
    "ratio": 3.14159,
    "big": 4000,
    "isEnabled": true,
    "key1": "Azure Data Factory",
    "nullKey": null,
    "tags": ["red", "Blue"],
    "nums": [1, 5, 10],
    "flags": [false, true],
    "mixed": ["x", 7],
    "empty": [],
    "objs": [{"a": 1}],
    "appEventTypeDetail": {"action": "Started"}
  }
}`

// ceEvent is the CloudEvents 1.0 example from Azure's filtering article,
// with extension attributes.
const ceEvent = `{
  "specversion": "1.0",
  "type": "com.example.someevent",
  "source": "/mycontext",
  "id": "C234-1234-1234",
  "time": "2018-04-05T17:31:00Z",
  "subject": null,
  "comexampleextension1": "value",
  "comexampleothervalue": 5,
  "datacontenttype": "application/json",
  "data": {"appinfoA": "abc", "appinfoB": 123, "appinfoC": true}
}`

func mustDoc(t testing.TB, raw string) Doc {
	t.Helper()
	d, err := NewDoc(model.Event{Source: model.SourceEventGrid, ID: "t", Raw: json.RawMessage(raw)})
	if err != nil {
		t.Fatalf("NewDoc: %v", err)
	}
	return d
}

func af(op, key string, vals ...any) AdvancedFilter {
	return AdvancedFilter{OperatorType: op, Key: key, Values: vals}
}

func af1(op, key string, v any) AdvancedFilter {
	return AdvancedFilter{OperatorType: op, Key: key, Value: v}
}

func TestEventGridAdvancedOperators(t *testing.T) {
	tests := []struct {
		name   string
		f      AdvancedFilter
		arrays bool
		event  string // defaults to egEvent
		want   bool
	}{
		// NumberIn / NumberNotIn: values OR-ed; NotIn is an AND of inequalities.
		{"NumberIn hit", af("NumberIn", "data.counter", 5, 1), false, "", true},
		{"NumberIn miss", af("NumberIn", "data.counter", 2, 3), false, "", false},
		{"NumberIn float", af("NumberIn", "data.ratio", 3.14159), false, "", true},
		{"NumberIn on string ignored", af("NumberIn", "data.api", 5), false, "", false},
		{"NumberIn missing key", af("NumberIn", "data.nope", 5), false, "", false},
		{"NumberNotIn hit", af("NumberNotIn", "data.counter", 41, 0), false, "", true},
		{"NumberNotIn one equal fails", af("NumberNotIn", "data.counter", 41, 5), false, "", false},
		{"NumberNotIn missing key matches", af("NumberNotIn", "data.nope", 41), false, "", true},
		// Single-value comparisons.
		{"NumberLessThan", af1("NumberLessThan", "data.counter", 100), false, "", true},
		{"NumberLessThan equal", af1("NumberLessThan", "data.counter", 5), false, "", false},
		{"NumberLessThanOrEquals equal", af1("NumberLessThanOrEquals", "data.counter", 5), false, "", true},
		{"NumberLessThanOrEquals above", af1("NumberLessThanOrEquals", "data.counter", 4.99), false, "", false},
		{"NumberGreaterThan", af1("NumberGreaterThan", "data.counter", 4), false, "", true},
		{"NumberGreaterThan equal", af1("NumberGreaterThan", "data.counter", 5), false, "", false},
		{"NumberGreaterThanOrEquals equal", af1("NumberGreaterThanOrEquals", "data.counter", 5), false, "", true},
		{"NumberGreaterThanOrEquals below", af1("NumberGreaterThanOrEquals", "data.counter", 30), false, "", false},
		{"NumberGreaterThan missing key", af1("NumberGreaterThan", "data.nope", 0), false, "", false},
		{"NumberGreaterThan on bool ignored", af1("NumberGreaterThan", "data.isEnabled", 0), false, "", false},
		// Ranges are inclusive at both ends.
		{"NumberInRange low bound", af("NumberInRange", "data.ratio", []any{3.14159, 999.95}, []any{3000, 4000}), false, "", true},
		{"NumberInRange high bound", af("NumberInRange", "data.big", []any{3.14159, 999.95}, []any{3000, 4000}), false, "", true},
		{"NumberInRange outside", af("NumberInRange", "data.counter", []any{6, 10}, []any{3000, 4000}), false, "", false},
		{"NumberInRange missing key", af("NumberInRange", "data.nope", []any{0, 10}), false, "", false},
		{"NumberNotInRange outside", af("NumberNotInRange", "data.counter", []any{6, 10}, []any{3000, 4000}), false, "", true},
		{"NumberNotInRange on bound fails", af("NumberNotInRange", "data.big", []any{3000, 4000}), false, "", false},
		{"NumberNotInRange missing key", af("NumberNotInRange", "data.nope", []any{0, 10}), false, "", true},
		// BoolEquals.
		{"BoolEquals true", af1("BoolEquals", "data.isEnabled", true), false, "", true},
		{"BoolEquals false", af1("BoolEquals", "data.isEnabled", false), false, "", false},
		{"BoolEquals on string ignored", af1("BoolEquals", "data.api", true), false, "", false},
		{"BoolEquals missing key", af1("BoolEquals", "data.nope", false), false, "", false},
		// Strings: case-insensitive, values OR-ed.
		{"StringContains", af("StringContains", "data.key1", "microsoft", "azure"), false, "", true},
		{"StringContains case", af("StringContains", "data.key1", "DATA FACT"), false, "", true},
		{"StringContains miss", af("StringContains", "data.key1", "aws"), false, "", false},
		{"StringContains missing key", af("StringContains", "data.nope", "a"), false, "", false},
		{"StringNotContains", af("StringNotContains", "data.key1", "contoso", "fabrikam"), false, "", true},
		{"StringNotContains one hit fails", af("StringNotContains", "data.key1", "contoso", "FACTORY"), false, "", false},
		{"StringNotContains missing key", af("StringNotContains", "data.nope", "x"), false, "", false},
		{"StringBeginsWith", af("StringBeginsWith", "data.api", "event", "put"), false, "", true},
		{"StringBeginsWith miss", af("StringBeginsWith", "data.api", "event", "message"), false, "", false},
		{"StringBeginsWith missing key", af("StringBeginsWith", "data.nope", "a"), false, "", false},
		{"StringNotBeginsWith", af("StringNotBeginsWith", "data.api", "event", "message"), false, "", true},
		{"StringNotBeginsWith hit fails", af("StringNotBeginsWith", "data.api", "PUT"), false, "", false},
		{"StringNotBeginsWith missing key", af("StringNotBeginsWith", "data.nope", "a"), false, "", false},
		{"StringEndsWith", af("StringEndsWith", "subject", "jpg", "jpeg", "png"), false, "", true},
		{"StringEndsWith miss", af("StringEndsWith", "subject", "gif"), false, "", false},
		{"StringEndsWith missing key", af("StringEndsWith", "data.nope", "a"), false, "", false},
		{"StringNotEndsWith", af("StringNotEndsWith", "subject", "gif", "png"), false, "", true},
		{"StringNotEndsWith hit fails", af("StringNotEndsWith", "subject", "png", ".jpg"), false, "", false},
		{"StringNotEndsWith missing key", af("StringNotEndsWith", "data.nope", "a"), false, "", false},
		{"StringIn", af("StringIn", "data.contentType", "image/png", "IMAGE/JPEG"), false, "", true},
		{"StringIn substring is not equal", af("StringIn", "data.contentType", "image"), false, "", false},
		{"StringIn missing key", af("StringIn", "data.nope", "a"), false, "", false},
		{"StringNotIn", af("StringNotIn", "data.api", "aws", "bridge"), false, "", true},
		{"StringNotIn hit fails", af("StringNotIn", "data.api", "aws", "putblob"), false, "", false},
		{"StringNotIn missing key matches", af("StringNotIn", "data.nope", "aws"), false, "", true},
		{"StringIn on number uses its text", af("StringIn", "data.counter", "5"), false, "", true},
		// Null and undefined.
		{"IsNullOrUndefined absent", AdvancedFilter{OperatorType: "IsNullOrUndefined", Key: "data.nope"}, false, "", true},
		{"IsNullOrUndefined null", AdvancedFilter{OperatorType: "IsNullOrUndefined", Key: "data.nullKey"}, false, "", true},
		{"IsNullOrUndefined value", AdvancedFilter{OperatorType: "IsNullOrUndefined", Key: "data.api"}, false, "", false},
		{"IsNotNull absent", AdvancedFilter{OperatorType: "IsNotNull", Key: "data.nope"}, false, "", false},
		{"IsNotNull null", AdvancedFilter{OperatorType: "IsNotNull", Key: "data.nullKey"}, false, "", false},
		{"IsNotNull value", AdvancedFilter{OperatorType: "IsNotNull", Key: "data.counter"}, false, "", true},
		{"IsNotNull false is not null", AdvancedFilter{OperatorType: "IsNotNull", Key: "data.flags"}, false, "", true},
		{"StringNotIn on null matches", af("StringNotIn", "data.nullKey", "x"), false, "", true},
		{"StringIn on null", af("StringIn", "data.nullKey", "null"), false, "", false},
		// Arrays: without the flag an array key fails every value operator.
		{"array without flag StringIn", af("StringIn", "data.tags", "red"), false, "", false},
		{"array without flag StringNotIn", af("StringNotIn", "data.tags", "green"), false, "", false},
		{"array with flag StringIn", af("StringIn", "data.tags", "blue"), true, "", true},
		{"array with flag StringIn miss", af("StringIn", "data.tags", "green"), true, "", false},
		{"array with flag StringNotIn", af("StringNotIn", "data.tags", "green"), true, "", true},
		{"array with flag StringNotIn any element fails", af("StringNotIn", "data.tags", "RED"), true, "", false},
		{"array with flag NumberIn", af("NumberIn", "data.nums", 10), true, "", true},
		{"array with flag NumberGreaterThan any", af1("NumberGreaterThan", "data.nums", 9), true, "", true},
		{"array with flag NumberLessThan none", af1("NumberLessThan", "data.nums", 1), true, "", false},
		{"array with flag NumberInRange", af("NumberInRange", "data.nums", []any{6, 9}, []any{10, 11}), true, "", true},
		{"array with flag NumberNotInRange", af("NumberNotInRange", "data.nums", []any{2, 4}), true, "", true},
		{"array with flag NumberNotIn", af("NumberNotIn", "data.nums", 5), true, "", false},
		{"array with flag BoolEquals", af1("BoolEquals", "data.flags", true), true, "", true},
		{"array with flag mixed types ignored", af("NumberIn", "data.mixed", 7), true, "", true},
		{"array with flag mixed StringNotIn ignores number", af("StringNotIn", "data.mixed", "y"), true, "", true},
		{"empty array with flag StringIn", af("StringIn", "data.empty", "a"), true, "", false},
		{"empty array with flag StringNotIn", af("StringNotIn", "data.empty", "a"), true, "", true},
		{"array of objects is not filtered", af("NumberIn", "data.objs", 1), true, "", false},
		{"IsNotNull on array without flag", AdvancedFilter{OperatorType: "IsNotNull", Key: "data.tags"}, false, "", true},
		// Keys: envelope fields, nesting, case-insensitive names.
		{"envelope Subject key", af("StringContains", "Subject", "/containers/images/"), false, "", true},
		{"envelope EventType key", af("StringIn", "EventType", "microsoft.storage.blobcreated"), false, "", true},
		{"envelope Topic key", af("StringEndsWith", "topic", "/storageAccounts/SA"), false, "", true},
		{"envelope ID key", af("StringBeginsWith", "ID", "9aeb"), false, "", true},
		{"envelope DataVersion key", af("StringIn", "DataVersion", "1.0"), false, "", true},
		{"nested key", af("StringIn", "data.appEventTypeDetail.action", "started"), false, "", true},
		{"key with Azure doc casing", af("StringIn", "Data.AppEventTypeDetail.Action", "Started"), false, "", true},
		{"path through a scalar is absent", af("StringNotIn", "data.api.x", "a"), false, "", true},
		// CloudEvents keys, including extension attributes (Azure's example).
		{"CE type", af("StringIn", "type", "com.example.someevent"), false, ceEvent, true},
		{"CE source", af("StringBeginsWith", "source", "/my"), false, ceEvent, true},
		{"CE id", af("StringIn", "id", "c234-1234-1234"), false, ceEvent, true},
		{"CE specversion", af("StringIn", "specversion", "1.0"), false, ceEvent, true},
		{"CE legacy eventtype key", af("StringIn", "EventType", "com.example.someevent"), false, ceEvent, true},
		{"CE extension string", af("StringIn", "comexampleextension1", "VALUE"), false, ceEvent, true},
		{"CE extension number as string", af("StringBeginsWith", "comexampleothervalue", "5", "1"), false, ceEvent, true},
		{"CE extension number", af("NumberIn", "comexampleothervalue", 5), false, ceEvent, true},
		{"CE data bool", af1("BoolEquals", "data.appinfoC", true), false, ceEvent, true},
		{"StringIn non-ASCII case", af("StringIn", "data.name", "ÄRGER"), false, `{"data":{"name":"ärger"}}`, true},
		{"StringContains non-ASCII case", af("StringContains", "data.name", "GRÜN"), false, `{"data":{"name":"Dunkelgrün"}}`, true},
		{"StringBeginsWith non-ASCII value, ASCII filter", af("StringBeginsWith", "data.name", "DUNKEL"), false, `{"data":{"name":"dunkelgrün"}}`, true},
		{"CE null subject", AdvancedFilter{OperatorType: "IsNullOrUndefined", Key: "subject"}, false, ceEvent, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.event
			if ev == "" {
				ev = egEvent
			}
			m, err := EventGrid{EnableAdvancedFilteringOnArrays: tt.arrays, AdvancedFilters: []AdvancedFilter{tt.f}}.Compile()
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := m.Match(mustDoc(t, ev)); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventGridSubscriptionFilter(t *testing.T) {
	tests := []struct {
		name  string
		f     EventGrid
		event string
		want  bool
	}{
		{"no filter matches all", EventGrid{}, egEvent, true},
		{"event type included", EventGrid{IncludedEventTypes: []string{"Microsoft.Storage.BlobDeleted", "Microsoft.Storage.BlobCreated"}}, egEvent, true},
		{"event type case-insensitive", EventGrid{IncludedEventTypes: []string{"microsoft.storage.blobcreated"}}, egEvent, true},
		{"event type excluded", EventGrid{IncludedEventTypes: []string{"Microsoft.Storage.BlobDeleted"}}, egEvent, false},
		{"event type All", EventGrid{IncludedEventTypes: []string{"All"}}, egEvent, true},
		{"CloudEvents type", EventGrid{IncludedEventTypes: []string{"com.example.someevent"}}, ceEvent, true},
		{"subject begins with", EventGrid{SubjectBeginsWith: "/blobServices/default/containers/images/"}, egEvent, true},
		{"subject begins with other container", EventGrid{SubjectBeginsWith: "/blobServices/default/containers/logs/"}, egEvent, false},
		{"subject ends with case-insensitive", EventGrid{SubjectEndsWith: ".jpg"}, egEvent, true},
		{"subject ends with case-sensitive", EventGrid{SubjectEndsWith: ".jpg", IsSubjectCaseSensitive: true}, egEvent, false},
		{"subject ends with case-sensitive exact", EventGrid{SubjectEndsWith: ".JPG", IsSubjectCaseSensitive: true}, egEvent, true},
		{"subject both", EventGrid{SubjectBeginsWith: "/BLOBSERVICES/", SubjectEndsWith: "photo.jpg"}, egEvent, true},
		{"null subject fails a prefix", EventGrid{SubjectBeginsWith: "/a"}, ceEvent, false},
		{"filters AND-ed: both true", EventGrid{AdvancedFilters: []AdvancedFilter{
			af("StringContains", "Subject", "/containers/"),
			af1("NumberGreaterThanOrEquals", "data.counter", 5),
		}}, egEvent, true},
		{"filters AND-ed: one false", EventGrid{AdvancedFilters: []AdvancedFilter{
			af("StringContains", "Subject", "/containers/"),
			af1("NumberGreaterThanOrEquals", "Data.Counter", 6),
		}}, egEvent, false},
		{"same key in two filters", EventGrid{AdvancedFilters: []AdvancedFilter{
			af("StringContains", "subject", "/blobServices/"),
			af("StringContains", "subject", "/images/"),
		}}, egEvent, true},
		{"type, subject and advanced together", EventGrid{
			IncludedEventTypes: []string{"Microsoft.Storage.BlobCreated"},
			SubjectEndsWith:    ".jpg",
			AdvancedFilters:    []AdvancedFilter{af("StringIn", "data.api", "CopyBlob")},
		}, egEvent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.f.Compile()
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := m.Match(mustDoc(t, tt.event)); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventGridCompileErrors(t *testing.T) {
	many := func(n int) []AdvancedFilter {
		out := make([]AdvancedFilter, n)
		for i := range out {
			out[i] = AdvancedFilter{OperatorType: "IsNotNull", Key: "data.k"}
		}
		return out
	}
	manyValues := func(perFilter, filters int) []AdvancedFilter {
		out := make([]AdvancedFilter, filters)
		for i := range out {
			vals := make([]any, perFilter)
			for j := range vals {
				vals[j] = "v"
			}
			out[i] = af("StringIn", "data.k", vals...)
		}
		return out
	}
	tests := []struct {
		name string
		f    EventGrid
		want string
	}{
		{"unknown operator", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "a", "x"), af("StringLike", "data.k", "x")}},
			`advanced_filters[1].operator_type: unknown operator "StringLike"`},
		{"missing operator", EventGrid{AdvancedFilters: []AdvancedFilter{{Key: "a"}}}, "advanced_filters[0].operator_type: missing"},
		{"missing key", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "", "x")}}, "advanced_filters[0].key: missing"},
		{"empty key segment", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "data..k", "x")}}, "advanced_filters[0].key:"},
		{"26 filters", EventGrid{AdvancedFilters: many(26)}, "advanced_filters: 26 filters"},
		{"26 values", EventGrid{AdvancedFilters: append(manyValues(5, 5), af1("NumberLessThan", "data.n", 1))}, "advanced_filters[5].values: 26 filter values"},
		{"26 values in one filter", EventGrid{AdvancedFilters: manyValues(26, 1)}, "advanced_filters[0].values: 26 filter values"},
		{"513-char value", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "data.k", "ok", strings.Repeat("x", 513))}},
			"advanced_filters[0].values[1]: string of 513 characters"},
		{"string for number", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberIn", "data.k", 1, "2")}}, "advanced_filters[0].values[1]: NumberIn: needs a number"},
		{"number for string", EventGrid{AdvancedFilters: []AdvancedFilter{af("StringIn", "data.k", 5)}}, "advanced_filters[0].values[0]: StringIn needs strings"},
		{"string for bool", EventGrid{AdvancedFilters: []AdvancedFilter{af1("BoolEquals", "data.k", "true")}}, "advanced_filters[0].value: BoolEquals needs a boolean"},
		{"values for single-value op", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberLessThan", "data.k", 1)}}, "advanced_filters[0].values: NumberLessThan takes a single value"},
		{"value for list op", EventGrid{AdvancedFilters: []AdvancedFilter{af1("StringIn", "data.k", "x")}}, "advanced_filters[0].value: StringIn takes a list"},
		{"missing value", EventGrid{AdvancedFilters: []AdvancedFilter{{OperatorType: "NumberGreaterThan", Key: "data.k"}}}, "advanced_filters[0].value: missing"},
		{"missing values", EventGrid{AdvancedFilters: []AdvancedFilter{{OperatorType: "StringIn", Key: "data.k"}}}, "advanced_filters[0].values: missing"},
		{"value for null op", EventGrid{AdvancedFilters: []AdvancedFilter{af1("IsNotNull", "data.k", 1)}}, "advanced_filters[0].value: IsNotNull takes no value"},
		{"range not a pair", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberInRange", "data.k", []any{1})}}, "advanced_filters[0].values[0]: NumberInRange: a range is a [low, high] pair"},
		{"flat range", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberInRange", "data.k", 1, 2)}}, "advanced_filters[0].values[0]: NumberInRange: a range"},
		{"inverted range", EventGrid{AdvancedFilters: []AdvancedFilter{af("NumberNotInRange", "data.k", []any{5, 1})}}, "low bound 5 is above high bound 1"},
		{"empty event type", EventGrid{IncludedEventTypes: []string{""}}, "included_event_types[0]: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.Compile()
			if err == nil {
				t.Fatalf("Compile succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestEventGridLimitsAccepted(t *testing.T) {
	fs := make([]AdvancedFilter, 25)
	for i := range fs {
		fs[i] = af("StringNotIn", "data.k", strings.Repeat("é", 512)) // 512 characters, 1024 bytes
	}
	if _, err := (EventGrid{AdvancedFilters: fs}).Compile(); err != nil {
		t.Fatalf("25 filters with 25 values of 512 characters must compile: %v", err)
	}
}

func TestEventGridFromConfig(t *testing.T) {
	const y = `
included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
subject_begins_with: /subscriptions/0000/resourceGroups/prod
enable_advanced_filtering_on_arrays: true
advanced_filters:
  - operator_type: StringIn
    key: data.operationName
    values: [Microsoft.Network/networkSecurityGroups/write]
  - operator_type: NumberInRange
    key: data.httpStatus
    values: [[200, 299]]
  - operator_type: BoolEquals
    key: data.authorized
    value: true
  - operator_type: IsNullOrUndefined
    key: data.ignored
`
	const j = `{
  "includedEventTypes": ["Microsoft.Resources.ResourceWriteSuccess"],
  "subjectBeginsWith": "/subscriptions/0000/resourceGroups/prod",
  "enableAdvancedFilteringOnArrays": true,
  "advancedFilters": [
    {"operatorType": "StringIn", "key": "data.operationName", "values": ["Microsoft.Network/networkSecurityGroups/write"]},
    {"operatorType": "NumberInRange", "key": "data.httpStatus", "values": [[200, 299]]},
    {"operatorType": "BoolEquals", "key": "data.authorized", "value": true},
    {"operatorType": "IsNullOrUndefined", "key": "data.ignored"}
  ]
}`
	const ev = `{"id":"1","topic":"/subscriptions/0000","subject":"/subscriptions/0000/resourceGroups/prod-net/providers/Microsoft.Network/networkSecurityGroups/nsg1",
	  "eventType":"Microsoft.Resources.ResourceWriteSuccess","dataVersion":"2",
	  "data":{"operationName":"Microsoft.Network/networkSecurityGroups/write","httpStatus":201,"authorized":true}}`
	var fy, fj EventGrid
	if err := yaml.Unmarshal([]byte(y), &fy); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(j), &fj); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]EventGrid{"yaml": fy, "json": fj} {
		m, err := f.Compile()
		if err != nil {
			t.Fatalf("%s: Compile: %v", name, err)
		}
		if !m.Match(mustDoc(t, ev)) {
			t.Errorf("%s: filter does not match the event", name)
		}
	}
}

func TestNewDocErrors(t *testing.T) {
	for _, raw := range []string{"", "[1]", `{"a":1} {"b":2}`, `{"a":`, "null"} {
		if _, err := NewDoc(model.Event{ID: "x", Raw: json.RawMessage(raw)}); err == nil {
			t.Errorf("NewDoc(%q) succeeded, want error", raw)
		}
	}
}

func TestDocFallsBackToNormalizedFields(t *testing.T) {
	// An EventBridge envelope has no eventType/subject; the normalized
	// fields stand in so Event Grid style type filters still work.
	d, err := NewDoc(model.Event{ID: "x", Type: "AWS API Call via CloudTrail", Subject: "arn:aws:ec2:1", Raw: json.RawMessage(`{"source":"aws.ec2"}`)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := EventGrid{IncludedEventTypes: []string{"aws api call via cloudtrail"}, SubjectBeginsWith: "arn:aws:ec2"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match(d) {
		t.Error("type/subject fallback did not match")
	}
}
