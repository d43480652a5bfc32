package filter

import (
	"testing"
)

// The Microsoft page every case below cites; the section follows the
// page name.
const msFiltering = "Microsoft Learn, Understand event filtering for Event Grid subscriptions (azure/event-grid/event-filtering)"

// msCE is the CloudEvents 1.0 event of the page's CloudEvents section.
const msCE = `{"specversion":"1.0","type":"com.example.someevent","source":"/mycontext","id":"C234-1234-1234","time":"2018-04-05T17:31:00Z",
  "subject":null,"comexampleextension1":"value","comexampleothervalue":5,"datacontenttype":"application/json",
  "data":{"appinfoA":"abc","appinfoB":123,"appinfoC":true}}`

// egData wraps data members in an Event Grid schema event for a blob.
func egData(data string) string {
	return `{"id":"1","topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
	  "subject":"/blobServices/default/containers/testcontainer/blobs/log/file.jpg","eventType":"Microsoft.Storage.BlobCreated",
	  "eventTime":"2024-01-02T03:04:05Z","dataVersion":"1.0","data":` + data + `}`
}

type egDocCase struct {
	name     string
	source   string
	filter   EventGrid
	event    string
	want     bool // the documented outcome
	deviates string
}

func adv(fs ...AdvancedFilter) EventGrid { return EventGrid{AdvancedFilters: fs} }

func advArrays(fs ...AdvancedFilter) EventGrid {
	return EventGrid{EnableAdvancedFilteringOnArrays: true, AdvancedFilters: fs}
}

func isNull(op, key string) AdvancedFilter { return AdvancedFilter{OperatorType: op, Key: key} }

var eventGridDocCases = []egDocCase{
	// Event type and subject filtering.
	{"event types: included", msFiltering + ", Event type filtering",
		EventGrid{IncludedEventTypes: []string{"Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"}}, egData(`{}`), true, ""},
	{"event types: not included", msFiltering + ", Event type filtering",
		EventGrid{IncludedEventTypes: []string{"Microsoft.Resources.ResourceWriteFailure", "Microsoft.Resources.ResourceWriteSuccess"}}, egData(`{}`), false, ""},
	{"event types: All", msFiltering + ` ("specify All to get all event types")`, EventGrid{IncludedEventTypes: []string{"All"}}, egData(`{}`), true, ""},
	{"event types: none given means all", msFiltering + ` ("By default, all event types ... are sent")`, EventGrid{}, egData(`{}`), true, ""},
	{"subject: begins with container", msFiltering + ", Subject filtering (Blob Storage examples)",
		EventGrid{SubjectBeginsWith: "/blobServices/default/containers/testcontainer"}, egData(`{}`), true, ""},
	{"subject: begins with other container", msFiltering + ", Subject filtering",
		EventGrid{SubjectBeginsWith: "/blobServices/default/containers/containername/"}, egData(`{}`), false, ""},
	{"subject: begins with subfolder", msFiltering + ", Subject filtering (blobs in a subfolder)",
		EventGrid{SubjectBeginsWith: "/blobServices/default/containers/testcontainer/blobs/log/"}, egData(`{}`), true, ""},
	{"subject: ends with .jpg", msFiltering + ", Subject filtering", EventGrid{SubjectEndsWith: ".jpg"}, egData(`{}`), true, ""},
	{"subject: ends with .log", msFiltering + ", Subject filtering", EventGrid{SubjectEndsWith: ".log"}, egData(`{}`), false, ""},
	{"subject: begins and ends", msFiltering + ", Subject filtering (JSON syntax)",
		EventGrid{SubjectBeginsWith: "/blobServices/default/containers/testcontainer/blobs/log", SubjectEndsWith: ".jpg"}, egData(`{}`), true, ""},

	// Number operators.
	{"NumberIn: 5 or 1", msFiltering + ", NumberIn", adv(af("NumberIn", "data.counter", 5, 1)), egData(`{"counter":5}`), true, ""},
	{"NumberIn: 2", msFiltering + ", NumberIn", adv(af("NumberIn", "data.counter", 5, 1)), egData(`{"counter":2}`), false, ""},
	{"NumberNotIn: not 41 and 0", msFiltering + ", NumberNotIn", adv(af("NumberNotIn", "data.counter", 41, 0)), egData(`{"counter":5}`), true, ""},
	{"NumberNotIn: 41", msFiltering + ", NumberNotIn", adv(af("NumberNotIn", "data.counter", 41, 0)), egData(`{"counter":41}`), false, ""},
	{"NumberLessThan: 99", msFiltering + ", NumberLessThan", adv(af1("NumberLessThan", "data.counter", 100)), egData(`{"counter":99}`), true, ""},
	{"NumberLessThan: 100", msFiltering + ", NumberLessThan", adv(af1("NumberLessThan", "data.counter", 100)), egData(`{"counter":100}`), false, ""},
	{"NumberGreaterThan: 21", msFiltering + ", NumberGreaterThan", adv(af1("NumberGreaterThan", "data.counter", 20)), egData(`{"counter":21}`), true, ""},
	{"NumberGreaterThan: 20", msFiltering + ", NumberGreaterThan", adv(af1("NumberGreaterThan", "data.counter", 20)), egData(`{"counter":20}`), false, ""},
	{"NumberLessThanOrEquals: 100", msFiltering + ", NumberLessThanOrEquals", adv(af1("NumberLessThanOrEquals", "data.counter", 100)), egData(`{"counter":100}`), true, ""},
	{"NumberLessThanOrEquals: 101", msFiltering + ", NumberLessThanOrEquals", adv(af1("NumberLessThanOrEquals", "data.counter", 100)), egData(`{"counter":101}`), false, ""},
	{"NumberGreaterThanOrEquals: 30", msFiltering + ", NumberGreaterThanOrEquals", adv(af1("NumberGreaterThanOrEquals", "data.counter", 30)), egData(`{"counter":30}`), true, ""},
	{"NumberGreaterThanOrEquals: 29", msFiltering + ", NumberGreaterThanOrEquals", adv(af1("NumberGreaterThanOrEquals", "data.counter", 30)), egData(`{"counter":29}`), false, ""},
	{"NumberInRange: in the second range", msFiltering + ", NumberInRange",
		adv(af("NumberInRange", "data.key1", []any{3.14159, 999.95}, []any{3000, 4000})), egData(`{"key1":3500}`), true, ""},
	{"NumberInRange: low bound", msFiltering + ", NumberInRange (key >= a AND key <= b)",
		adv(af("NumberInRange", "data.key1", []any{3.14159, 999.95}, []any{3000, 4000})), egData(`{"key1":3.14159}`), true, ""},
	{"NumberInRange: between the ranges", msFiltering + ", NumberInRange",
		adv(af("NumberInRange", "data.key1", []any{3.14159, 999.95}, []any{3000, 4000})), egData(`{"key1":1000}`), false, ""},
	{"NumberNotInRange: between the ranges", msFiltering + ", NumberNotInRange",
		adv(af("NumberNotInRange", "data.key1", []any{3.14159, 999.95}, []any{3000, 4000})), egData(`{"key1":1000}`), true, ""},
	{"NumberNotInRange: in a range", msFiltering + ", NumberNotInRange (\"If it's, the operator returns false\")",
		adv(af("NumberNotInRange", "data.key1", []any{3000, 4000})), egData(`{"key1":4000}`), false, ""},

	// Boolean.
	{"BoolEquals: true", msFiltering + ", BoolEquals", adv(af1("BoolEquals", "data.isEnabled", true)), egData(`{"isEnabled":true}`), true, ""},
	{"BoolEquals: false", msFiltering + ", BoolEquals", adv(af1("BoolEquals", "data.isEnabled", true)), egData(`{"isEnabled":false}`), false, ""},

	// String operators (case-insensitive).
	{"StringContains: azure data factory", msFiltering + ", StringContains", adv(af("StringContains", "data.key1", "microsoft", "azure")), egData(`{"key1":"azure data factory"}`), true, ""},
	{"StringContains: neither", msFiltering + ", StringContains", adv(af("StringContains", "data.key1", "microsoft", "azure")), egData(`{"key1":"aws lambda"}`), false, ""},
	{"StringNotContains: neither", msFiltering + ", StringNotContains", adv(af("StringNotContains", "data.key1", "contoso", "fabrikam")), egData(`{"key1":"azure"}`), true, ""},
	{"StringNotContains: contains one", msFiltering + ", StringNotContains", adv(af("StringNotContains", "data.key1", "contoso", "fabrikam")), egData(`{"key1":"Contoso Ltd"}`), false, ""},
	{"StringBeginsWith: event hubs", msFiltering + ", StringBeginsWith", adv(af("StringBeginsWith", "data.key1", "event", "message")), egData(`{"key1":"event hubs"}`), true, ""},
	{"StringBeginsWith: neither", msFiltering + ", StringBeginsWith", adv(af("StringBeginsWith", "data.key1", "event", "message")), egData(`{"key1":"service bus"}`), false, ""},
	{"StringNotBeginsWith: neither", msFiltering + ", StringNotBeginsWith", adv(af("StringNotBeginsWith", "data.key1", "event", "message")), egData(`{"key1":"service bus"}`), true, ""},
	{"StringNotBeginsWith: message", msFiltering + ", StringNotBeginsWith", adv(af("StringNotBeginsWith", "data.key1", "event", "message")), egData(`{"key1":"Message queue"}`), false, ""},
	{"StringEndsWith: eventgrid.png", msFiltering + ", StringEndsWith", adv(af("StringEndsWith", "data.key1", "jpg", "jpeg", "png")), egData(`{"key1":"eventgrid.png"}`), true, ""},
	{"StringEndsWith: gif", msFiltering + ", StringEndsWith", adv(af("StringEndsWith", "data.key1", "jpg", "jpeg", "png")), egData(`{"key1":"eventgrid.gif"}`), false, ""},
	{"StringNotEndsWith: gif", msFiltering + ", StringNotEndsWith", adv(af("StringNotEndsWith", "data.key1", "jpg", "jpeg", "png")), egData(`{"key1":"eventgrid.gif"}`), true, ""},
	{"StringNotEndsWith: JPEG", msFiltering + ", StringNotEndsWith", adv(af("StringNotEndsWith", "data.key1", "jpg", "jpeg", "png")), egData(`{"key1":"photo.JPEG"}`), false, ""},
	{"StringIn: factory", msFiltering + ", StringIn", adv(af("StringIn", "data.key1", "contoso", "fabrikam", "factory")), egData(`{"key1":"factory"}`), true, ""},
	{"StringIn: case-insensitive", msFiltering + ` ("All string comparisons aren't case-sensitive")`, adv(af("StringIn", "data.key1", "contoso", "fabrikam", "factory")), egData(`{"key1":"Fabrikam"}`), true, ""},
	{"StringIn: exact, not contains", msFiltering + ", StringIn (\"exactly matches\")", adv(af("StringIn", "data.key1", "contoso", "fabrikam", "factory")), egData(`{"key1":"contoso ltd"}`), false, ""},
	{"StringNotIn: azure", msFiltering + ", StringNotIn", adv(af("StringNotIn", "data.key1", "aws", "bridge")), egData(`{"key1":"azure"}`), true, ""},
	{"StringNotIn: AWS", msFiltering + ", StringNotIn", adv(af("StringNotIn", "data.key1", "aws", "bridge")), egData(`{"key1":"AWS"}`), false, ""},

	// Null and undefined.
	{"IsNullOrUndefined: key missing", msFiltering + ", IsNullOrUndefined (key1 is missing)", adv(isNull("IsNullOrUndefined", "data.key1")), egData(`{"key2":5}`), true, ""},
	{"IsNullOrUndefined: key null", msFiltering + ", IsNullOrUndefined (key1 is set to null)", adv(isNull("IsNullOrUndefined", "data.key1")), egData(`{"key1":null}`), true, ""},
	{"IsNullOrUndefined: other value", msFiltering + ", IsNullOrUndefined (\"any other value ... false\")", adv(isNull("IsNullOrUndefined", "data.key1")), egData(`{"key1":0}`), false, ""},
	{"IsNotNull: value", msFiltering + ", IsNotNull", adv(isNull("IsNotNull", "data.key1")), egData(`{"key1":"x"}`), true, ""},
	{"IsNotNull: null", msFiltering + ", IsNotNull", adv(isNull("IsNotNull", "data.key1")), egData(`{"key1":null}`), false, ""},
	{"IsNotNull: missing", msFiltering + ", IsNotNull", adv(isNull("IsNotNull", "data.key1")), egData(`{"key2":1}`), false, ""},

	// A key the event does not have (the page's note after StringNotIn).
	{"missing key: NumberGreaterThan", msFiltering + ", note on missing keys", adv(af1("NumberGreaterThan", "data.key1", 0)), egData(`{}`), false, ""},
	{"missing key: NumberGreaterThanOrEquals", msFiltering + ", note on missing keys", adv(af1("NumberGreaterThanOrEquals", "data.key1", 0)), egData(`{}`), false, ""},
	{"missing key: NumberLessThan", msFiltering + ", note on missing keys", adv(af1("NumberLessThan", "data.key1", 0)), egData(`{}`), false, ""},
	{"missing key: NumberLessThanOrEquals", msFiltering + ", note on missing keys", adv(af1("NumberLessThanOrEquals", "data.key1", 0)), egData(`{}`), false, ""},
	{"missing key: NumberIn", msFiltering + ", note on missing keys", adv(af("NumberIn", "data.key1", 0)), egData(`{}`), false, ""},
	{"missing key: BoolEquals", msFiltering + ", note on missing keys", adv(af1("BoolEquals", "data.key1", false)), egData(`{}`), false, ""},
	{"missing key: StringContains", msFiltering + ", note on missing keys", adv(af("StringContains", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringNotContains", msFiltering + ", note on missing keys", adv(af("StringNotContains", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringBeginsWith", msFiltering + ", note on missing keys", adv(af("StringBeginsWith", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringNotBeginsWith", msFiltering + ", note on missing keys", adv(af("StringNotBeginsWith", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringEndsWith", msFiltering + ", note on missing keys", adv(af("StringEndsWith", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringNotEndsWith", msFiltering + ", note on missing keys", adv(af("StringNotEndsWith", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: StringIn", msFiltering + ", note on missing keys", adv(af("StringIn", "data.key1", "a")), egData(`{}`), false, ""},
	{"missing key: NumberNotIn", msFiltering + ", note on missing keys (matched)", adv(af("NumberNotIn", "data.key1", 0)), egData(`{}`), true, ""},
	{"missing key: StringNotIn", msFiltering + ", note on missing keys (matched)", adv(af("StringNotIn", "data.key1", "a")), egData(`{}`), true, ""},

	// Arrays, with enableAdvancedFilteringOnArrays (the pseudo code of each
	// operator: any key value against any filter value).
	{"arrays: NumberIn any element", msFiltering + ", NumberIn (key is an array)", advArrays(af("NumberIn", "data.counter", 5, 1)), egData(`{"counter":[9,1,7]}`), true, ""},
	{"arrays: NumberIn no element", msFiltering + ", NumberIn (key is an array)", advArrays(af("NumberIn", "data.counter", 5, 1)), egData(`{"counter":[9,7]}`), false, ""},
	{"arrays: NumberNotIn one element fails", msFiltering + ", NumberNotIn (FAIL_MATCH)", advArrays(af("NumberNotIn", "data.counter", 41, 0)), egData(`{"counter":[5,41]}`), false, ""},
	{"arrays: NumberLessThan any", msFiltering + ", NumberLessThan (key is an array)", advArrays(af1("NumberLessThan", "data.counter", 100)), egData(`{"counter":[200,50]}`), true, ""},
	{"arrays: NumberGreaterThan none", msFiltering + ", NumberGreaterThan (key is an array)", advArrays(af1("NumberGreaterThan", "data.counter", 20)), egData(`{"counter":[1,2]}`), false, ""},
	{"arrays: NumberInRange any", msFiltering + ", NumberInRange (key is an array)", advArrays(af("NumberInRange", "data.key1", []any{3000, 4000})), egData(`{"key1":[1,3001]}`), true, ""},
	{"arrays: NumberNotInRange one in range fails", msFiltering + ", NumberNotInRange (FAIL_MATCH)", advArrays(af("NumberNotInRange", "data.key1", []any{3000, 4000})), egData(`{"key1":[1,3001]}`), false, ""},
	{"arrays: BoolEquals any", msFiltering + ", BoolEquals (key is an array)", advArrays(af1("BoolEquals", "data.isEnabled", true)), egData(`{"isEnabled":[false,true]}`), true, ""},
	{"arrays: StringContains any", msFiltering + ", StringContains (key is an array)", advArrays(af("StringContains", "data.key1", "azure")), egData(`{"key1":["aws","azure functions"]}`), true, ""},
	{"arrays: StringNotContains one fails", msFiltering + ", StringNotContains (FAIL_MATCH)", advArrays(af("StringNotContains", "data.key1", "contoso")), egData(`{"key1":["a","contoso"]}`), false, ""},
	{"arrays: StringBeginsWith any", msFiltering + ", StringBeginsWith (key is an array)", advArrays(af("StringBeginsWith", "data.key1", "event")), egData(`{"key1":["bus","events"]}`), true, ""},
	{"arrays: StringNotBeginsWith one fails", msFiltering + ", StringNotBeginsWith (FAIL_MATCH)", advArrays(af("StringNotBeginsWith", "data.key1", "event")), egData(`{"key1":["bus","events"]}`), false, ""},
	{"arrays: StringEndsWith any", msFiltering + ", StringEndsWith (key is an array)", advArrays(af("StringEndsWith", "data.key1", "png")), egData(`{"key1":["a.gif","b.png"]}`), true, ""},
	{"arrays: StringNotEndsWith one fails", msFiltering + ", StringNotEndsWith (FAIL_MATCH)", advArrays(af("StringNotEndsWith", "data.key1", "png")), egData(`{"key1":["a.gif","b.png"]}`), false, ""},
	{"arrays: StringIn any", msFiltering + ", StringIn (key is an array)", advArrays(af("StringIn", "data.key1", "factory")), egData(`{"key1":["x","Factory"]}`), true, ""},
	{"arrays: StringNotIn one fails", msFiltering + ", StringNotIn (FAIL_MATCH)", advArrays(af("StringNotIn", "data.key1", "aws")), egData(`{"key1":["azure","aws"]}`), false, ""},
	{"arrays: values of another type are ignored", msFiltering + ` ("key values with data types that don't match ... are ignored")`, advArrays(af("NumberIn", "data.key1", 5)), egData(`{"key1":["5",5]}`), true, ""},
	{"arrays: only values of another type", msFiltering + ` ("key values with data types that don't match ... are ignored")`, advArrays(af("NumberIn", "data.key1", 5)), egData(`{"key1":["5"]}`), false, ""},
	{"arrays: need enableAdvancedFilteringOnArrays", msFiltering + ", Key (\"Array. You need to set the enableAdvancedFilteringOnArrays property to true\")",
		adv(af("StringIn", "data.key1", "x")), egData(`{"key1":["x"]}`), false, ""},
	{"arrays: of objects are not filtered", msFiltering + " (\"doesn't support filtering on an array of objects\")",
		advArrays(af("StringIn", "data.key1.name", "x")), egData(`{"key1":[{"name":"x"}]}`), false, ""},

	// OR within a filter, AND across filters.
	{"OR: one filter, several values", msFiltering + ", OR and AND",
		adv(af("StringContains", "Subject", "/providers/microsoft.devtestlab/", "/providers/Microsoft.Compute/virtualMachines/")),
		`{"id":"1","subject":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1","eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2024-01-01T00:00:00Z","dataVersion":"","data":{}}`, true, ""},
	{"AND: two filters, one fails", msFiltering + ", OR and AND",
		adv(af("StringContains", "Subject", "/providers/microsoft.devtestlab/"), af("StringContains", "Subject", "/providers/Microsoft.Compute/virtualMachines/")),
		`{"id":"1","subject":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1","eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2024-01-01T00:00:00Z","dataVersion":"","data":{}}`, false, ""},
	{"AND: two filters, both hold", msFiltering + ", OR and AND",
		adv(af("StringContains", "Subject", "/providers/microsoft.devtestlab/"), af("StringContains", "Subject", "/labs/")),
		`{"id":"1","subject":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/l1","eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2024-01-01T00:00:00Z","dataVersion":"","data":{}}`, true, ""},

	// Keys: envelope fields and nested data.
	{"key: data.appEventTypeDetail.action", msFiltering + ", Key (custom input schema example)",
		adv(af("StringIn", "data.appEventTypeDetail.action", "Started")), egData(`{"appEventTypeDetail":{"action":"Started"},"siteName":"site"}`), true, ""},
	{"key: EventType", msFiltering + ", Key (Event Grid schema: ID, Topic, Subject, EventType, DataVersion)",
		adv(af("StringIn", "EventType", "Microsoft.Storage.BlobCreated")), egData(`{}`), true, ""},
	{"key: DataVersion", msFiltering + ", Key (Event Grid schema)", adv(af("StringIn", "DataVersion", "1.0")), egData(`{}`), true, ""},
	{"key: CloudEvents source", msFiltering + ", CloudEvents (id, source, type, specversion)", adv(af("StringBeginsWith", "source", "/mycontext")), msCE, true, ""},
	{"key: CloudEvents extension attribute", msFiltering + ", CloudEvents (extension context attributes example)",
		adv(af("StringBeginsWith", "comexampleothervalue", "5", "1")), msCE, true, ""},
	{"key: CloudEvents data", msFiltering + ", CloudEvents (data.appinfoA)", adv(af("StringIn", "data.appinfoA", "abc")), msCE, true, ""},
}

// TestEventGridDocumentedExamples checks plumb against the examples of
// Microsoft's filtering page and reports the agreement.
func TestEventGridDocumentedExamples(t *testing.T) {
	agree := 0
	for _, tc := range eventGridDocCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.filter.Compile()
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			d := mustDoc(t, tc.event)
			got := m.Match(d)
			want := tc.want
			if tc.deviates != "" {
				want = !tc.want
			}
			if got != want {
				t.Errorf("Match = %v, want %v (documented: %v; %s)", got, want, tc.want, tc.source)
			}
			if v := m.Explain(d); v.Match != got || (!got && len(v.Reasons) == 0) {
				t.Errorf("Explain = %+v, Match = %v", v, got)
			}
			if got == tc.want {
				agree++
			}
		})
	}
	t.Logf("Event Grid documented examples: %d of %d agree with the documented outcome", agree, len(eventGridDocCases))
}
