package eventformat

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestParseCloudEventsHTTP(t *testing.T) {
	structured := readTestdata(t, "cloudevents_structured.json")
	batch := readTestdata(t, "cloudevents_batch.json")
	batchElems := elements(t, batch)
	kvID := "/subscriptions/" + testSub + "/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-data"

	binaryHeader := http.Header{}
	binaryHeader.Set("Ce-Specversion", "1.0")
	binaryHeader.Set("Ce-Id", "bin-0001")
	binaryHeader.Set("Ce-Source", "/contoso/orders")
	binaryHeader.Set("Ce-Type", "com.contoso.order.placed")
	binaryHeader.Set("Ce-Time", "2026-03-14T10:30:00Z")
	binaryHeader.Set("Ce-Subject", "order%2042%20%E2%82%AC") // "order 42 €"
	binaryHeader.Set("Ce-Contosotenant", `"acme \"north\""`) // old-style quoted value
	binaryHeader.Set("X-Unrelated", "ignored")

	binaryNoTime := binaryHeader.Clone()
	binaryNoTime.Del("Ce-Time")

	tests := []struct {
		name        string
		contentType string
		header      http.Header
		body        []byte
		want        []model.Event
		wantRaw     [][]byte // nil entries: check validity only
		rawContains []string
	}{
		{
			name:        "structured",
			contentType: "application/cloudevents+json; charset=utf-8",
			body:        structured,
			want: []model.Event{{
				Source: model.SourceCloudEvents, ID: "C234-1234-1234", Type: "com.contoso.inventory.item.changed",
				Subject: "item/4411", Time: mustTime(t, "2026-03-14T10:00:00.123Z"), Topic: "/contoso/inventory/warehouse-7",
			}},
			wantRaw:     [][]byte{bytes.TrimSpace(structured)},
			rawContains: []string{"9007199254740993", "1.10", "contosoregion"},
		},
		{
			name:        "batch, Azure resource event in CloudEvents schema and binary data",
			contentType: "application/cloudevents-batch+json",
			body:        batch,
			want: []model.Event{
				{
					Source: model.SourceCloudEvents, ID: "5b2c1d0e-9f8a-4b7c-a6d5-e4f3a2b1c0d9",
					Type: "Microsoft.Resources.ResourceWriteSuccess", Subject: kvID,
					Time: mustTime(t, "2026-03-14T11:12:13.4567891Z"), Topic: "/subscriptions/" + testSub,
					// evidence has no principalId: appid, since no object id claim.
					Principal: "c0ffee00-1234-4abc-9def-0123456789ab", Operation: "Microsoft.KeyVault/vaults/write",
					ResourceID: kvID, Account: testSub,
				},
				{
					// no time: zero.
					Source: model.SourceCloudEvents, ID: "build-42-7", Type: "com.contoso.build.finished",
					Topic: "https://ci.contoso.example/pipelines/42",
				},
			},
			wantRaw: [][]byte{batchElems[0], batchElems[1]},
		},
		{
			name:        "binary with JSON data",
			contentType: "application/json",
			header:      binaryHeader,
			body:        []byte(`{"order": 42, "total": 100.10}`),
			want: []model.Event{{
				Source: model.SourceCloudEvents, ID: "bin-0001", Type: "com.contoso.order.placed",
				Subject: "order 42 €", Time: mustTime(t, "2026-03-14T10:30:00Z"), Topic: "/contoso/orders",
			}},
			rawContains: []string{`"data":{"order":42,"total":100.10}`, `"datacontenttype":"application/json"`, `"contosotenant":"acme \"north\""`, `"specversion":"1.0"`},
		},
		{
			name:        "binary with non-JSON data",
			contentType: "text/plain",
			header:      binaryNoTime,
			body:        []byte("hello"),
			want: []model.Event{{
				Source: model.SourceCloudEvents, ID: "bin-0001", Type: "com.contoso.order.placed",
				Subject: "order 42 €", Topic: "/contoso/orders",
			}},
			rawContains: []string{`"data_base64":"aGVsbG8="`},
		},
		{
			name:        "empty batch is valid",
			contentType: "application/cloudevents-batch+json",
			body:        []byte(" [ ] "),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCloudEventsHTTP(tt.contentType, tt.header, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(got), len(tt.want))
			}
			for i := range tt.want {
				var raw []byte
				if tt.wantRaw != nil {
					raw = tt.wantRaw[i]
				}
				assertEvent(t, got[i], tt.want[i], raw)
			}
			for _, s := range tt.rawContains {
				if !bytes.Contains(got[0].Raw, []byte(s)) {
					t.Errorf("Raw %s does not contain %s", got[0].Raw, s)
				}
			}
		})
	}
}

// A binary event's Raw is a structured event: parsing it again gives the
// same event.
func TestBinaryRawRoundTrip(t *testing.T) {
	h := http.Header{}
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", "x")
	h.Set("ce-source", "/s")
	h.Set("ce-type", "t")
	got, err := ParseCloudEventsHTTP("application/vnd.contoso+json", h, []byte(`[1,2]`))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseCloudEvent(got[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	assertEvent(t, again, got[0], got[0].Raw)
}

func TestParseCloudEventsErrors(t *testing.T) {
	valid := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	full := []string{"ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"}
	tests := []struct {
		name        string
		contentType string
		header      http.Header
		body        string
		index       int
		field       string
	}{
		{"truncated structured", ContentTypeCloudEventsJSON, nil, valid[:20], -1, ""},
		{"structured is array", ContentTypeCloudEventsJSON, nil, `[` + valid + `]`, -1, ""},
		{"wrong specversion", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"1.0"`, `"0.3"`, 1), -1, "specversion"},
		{"specversion number", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"1.0"`, `1.0`, 1), -1, "specversion"},
		{"missing specversion", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"specversion":"1.0",`, ``, 1), -1, "specversion"},
		{"missing id", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"id":"1",`, ``, 1), -1, "id"},
		{"missing source", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"source":"/s",`, ``, 1), -1, "source"},
		{"missing type", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `,"type":"t"`, ``, 1), -1, "type"},
		{"bad time", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"id":"1"`, `"id":"1","time":"noon"`, 1), -1, "time"},
		{"subject wrong type", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"id":"1"`, `"id":"1","subject":[]`, 1), -1, "subject"},
		{"data and data_base64", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"id":"1"`, `"id":"1","data":1,"data_base64":"AA=="`, 1), -1, "data_base64"},
		{"bad base64", ContentTypeCloudEventsJSON, nil, strings.Replace(valid, `"id":"1"`, `"id":"1","data_base64":"!!"`, 1), -1, "data_base64"},
		{"batch not array", ContentTypeCloudEventsBatch, nil, valid, -1, ""},
		{"batch second bad", ContentTypeCloudEventsBatch, nil, `[` + valid + `,` + strings.Replace(valid, `"id":"1",`, ``, 1) + `]`, 1, "id"},
		{"batch element not object", ContentTypeCloudEventsBatch, nil, `[` + valid + `,"x"]`, 1, ""},
		{"unsupported format", "application/cloudevents+avro", nil, valid, -1, "content-type"},
		{"binary missing id", "application/json", h("ce-specversion", "1.0", "ce-source", "/s", "ce-type", "t"), `{}`, -1, "ce-id"},
		{"binary wrong specversion", "application/json", h("ce-specversion", "0.3", "ce-id", "1", "ce-source", "/s", "ce-type", "t"), `{}`, -1, "ce-specversion"},
		{"binary no headers", "application/json", nil, `{}`, -1, "ce-specversion"},
		{"binary bad percent", "application/json", h(append(full, "ce-subject", "a%zz")...), `{}`, -1, "ce-subject"},
		{"binary invalid utf8", "application/json", h(append(full, "ce-subject", "%C0%A0")...), `{}`, -1, "ce-subject"},
		{"binary JSON body invalid", "application/json", h(full...), `{"a":`, -1, "data"},
		{"binary bad time", "text/plain", h(append(full, "ce-time", "later")...), `x`, -1, "ce-time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCloudEventsHTTP(tt.contentType, tt.header, []byte(tt.body))
			assertParseError(t, err, tt.index, tt.field)
		})
	}
}

func TestDecodeHeaderValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro € 😀"},
		{"lower%e2%82%ac", "lower€"},
		{`"quoted \"x\""`, `quoted "x"`},
		{"%41", "A"}, // unnecessarily encoded: accepted
	}
	for _, tt := range tests {
		got, err := decodeHeaderValue(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("decodeHeaderValue(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"%", "%4", "%G1", "%C0%A0", "%FF"} {
		if _, err := decodeHeaderValue(bad); err == nil {
			t.Errorf("decodeHeaderValue(%q) accepted", bad)
		}
	}
}

func TestParseCloudEventRaw(t *testing.T) {
	body := readTestdata(t, "cloudevents_structured.json")
	got, err := ParseCloudEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got.Raw) || !bytes.Equal(got.Raw, bytes.TrimSpace(body)) {
		t.Errorf("Raw is not the event's bytes: %s", got.Raw)
	}
	body[0] = 'X' // the caller reusing its buffer must not change Raw
	if got.Raw[0] != '{' {
		t.Error("Raw aliases the input buffer")
	}
}
