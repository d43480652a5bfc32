package eventformat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"plumb/internal/model"
)

const (
	testSub = "5f1c2a9e-0d3b-4c61-9a7e-2b8f44d1c0aa"
	testRG  = "/subscriptions/" + testSub + "/resourceGroups/rg-payments/providers/"
)

func TestParseEventGrid(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		want       []model.Event
		validation *Validation
	}{
		{
			name: "resource events: evidence, object id claim, upn claim precedence",
			file: "eventgrid_resource_write.json",
			want: []model.Event{
				{
					// evidence.principalId wins over every claim.
					Source: model.SourceEventGrid, ID: "7c5a1e02-8f3b-4d7a-b1c9-3e2f6a0d9b14",
					Type:    "Microsoft.Resources.ResourceWriteSuccess",
					Subject: testRG + "Microsoft.Network/networkSecurityGroups/nsg-web",
					Time:    mustTime(t, "2026-03-14T09:26:53.5897932Z"),
					Topic:   "/subscriptions/" + testSub, Principal: "a3d9e1f0b2c44d5e8f6a7b8c9d0e1f2a",
					Operation:  "Microsoft.Network/networkSecurityGroups/write",
					ResourceID: testRG + "Microsoft.Network/networkSecurityGroups/nsg-web",
					Account:    testSub,
				},
				{
					// evidence is an empty array: the oid claim is next;
					// no operationName so authorization.action; no
					// resourceUri so the subject; account from the id.
					Source: model.SourceEventGrid, ID: "e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9",
					Type:    "Microsoft.Resources.ResourceDeleteSuccess",
					Subject: testRG + "Microsoft.Storage/storageAccounts/stpayments01",
					Time:    mustTime(t, "2026-03-14T09:31:02.1Z"),
					Topic:   "/subscriptions/" + testSub, Principal: "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
					Operation:  "Microsoft.Storage/storageAccounts/delete",
					ResourceID: testRG + "Microsoft.Storage/storageAccounts/stpayments01",
					Account:    testSub,
				},
				{
					// no evidence, no oid, no appid: upn before name.
					Source: model.SourceEventGrid, ID: "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
					Type:    "Microsoft.Resources.ResourceWriteFailure",
					Subject: testRG + "Microsoft.Compute/virtualMachines/vm-batch-3",
					Time:    mustTime(t, "2026-03-14T09:40:00Z"),
					Topic:   "/subscriptions/" + testSub, Principal: "dev@contoso.example",
					Operation:  "Microsoft.Compute/virtualMachines/write",
					ResourceID: testRG + "Microsoft.Compute/virtualMachines/vm-batch-3",
					Account:    testSub,
				},
			},
		},
		{
			name: "subscription validation",
			file: "eventgrid_validation.json",
			validation: &Validation{
				Code: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
				URL:  "https://rp-westeurope.eventgrid.azure.net:553/eventsubscriptions/plumb/validate?id=512d38b6-c7b8-40c8-89fe-f46f9e9622b6&t=2026-03-14T09:00:00.0000000Z&apiVersion=2020-06-01&token=abc123",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			got, err := ParseEventGrid(body)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Validation == nil) != (tt.validation == nil) || (got.Validation != nil && *got.Validation != *tt.validation) {
				t.Errorf("Validation = %+v, want %+v", got.Validation, tt.validation)
			}
			if len(got.Events) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(got.Events), len(tt.want))
			}
			elems := elements(t, body)
			for i := range tt.want {
				assertEvent(t, got.Events[i], tt.want[i], elems[i])
			}
		})
	}
}

// Numbers in data must survive byte for byte: Raw is the element's bytes.
func TestParseEventGridPreservesNumbers(t *testing.T) {
	got, err := ParseEventGrid(readTestdata(t, "eventgrid_resource_write.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got.Events[0].Raw, []byte("12345678901234567890.000000000001")) {
		t.Errorf("number not preserved in Raw: %s", got.Events[0].Raw)
	}
	if !bytes.Contains(got.Events[2].Raw, []byte("someFutureField")) {
		t.Error("unknown field dropped from Raw")
	}
}

func TestParseEventGridEvent(t *testing.T) {
	body := readTestdata(t, "eventgrid_resource_write.json")
	elem := elements(t, body)[0]
	got, err := ParseEventGridEvent(append([]byte("\n  "), elem...))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := ParseEventGrid(body)
	if err != nil {
		t.Fatal(err)
	}
	assertEvent(t, got, batch.Events[0], elem)

	_, err = ParseEventGridEvent(body) // an array is not one event
	assertParseError(t, err, -1, "")
}

func TestParseEventGridErrors(t *testing.T) {
	valid := `{"id":"1","eventType":"T","subject":"s","eventTime":"2026-01-01T00:00:00Z","dataVersion":"1","data":{}}`
	tests := []struct {
		name  string
		body  string
		index int
		field string
		msg   string
	}{
		{"truncated", `[` + valid[:30], -1, "", "invalid JSON"},
		{"not an array", valid, -1, "", "must be a JSON array"},
		{"empty batch", `[]`, -1, "", "empty"},
		{"element not object", `[` + valid + `, 42]`, 1, "", "must be a JSON object"},
		{"missing id", `[` + strings.Replace(valid, `"id":"1",`, ``, 1) + `]`, 0, "id", "missing"},
		{"empty id", `[` + strings.Replace(valid, `"id":"1"`, `"id":""`, 1) + `]`, 0, "id", "empty"},
		{"id wrong type", `[` + valid + `,` + strings.Replace(valid, `"id":"1"`, `"id":1`, 1) + `]`, 1, "id", "must be a string"},
		{"id wrong case", `[` + strings.Replace(valid, `"id":"1"`, `"ID":"1"`, 1) + `]`, 0, "id", "missing"},
		{"missing eventType", `[` + strings.Replace(valid, `"eventType":"T",`, ``, 1) + `]`, 0, "eventType", "missing"},
		{"missing subject", `[` + strings.Replace(valid, `"subject":"s",`, ``, 1) + `]`, 0, "subject", "missing"},
		{"missing eventTime", `[` + strings.Replace(valid, `"eventTime":"2026-01-01T00:00:00Z",`, ``, 1) + `]`, 0, "eventTime", "missing"},
		{"bad eventTime", `[` + strings.Replace(valid, `2026-01-01T00:00:00Z`, `yesterday`, 1) + `]`, 0, "eventTime", "RFC 3339"},
		{"missing dataVersion", `[` + strings.Replace(valid, `"dataVersion":"1",`, ``, 1) + `]`, 0, "dataVersion", "missing"},
		{"dataVersion wrong type", `[` + strings.Replace(valid, `"dataVersion":"1"`, `"dataVersion":2`, 1) + `]`, 0, "dataVersion", "string"},
		{"topic wrong type", `[` + strings.Replace(valid, `"id":"1"`, `"id":"1","topic":{}`, 1) + `]`, 0, "topic", "string"},
		{"validation without code", `[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","eventTime":"2026-01-01T00:00:00Z","dataVersion":"1","data":{}}]`, 0, "data.validationCode", "missing"},
		{"validation data not object", `[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":"x"}]`, 0, "data", "object"},
		{"validation mixed with events", `[` + valid + `,{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"c"}}]`, 1, "eventType", "alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEventGrid([]byte(tt.body))
			assertParseError(t, err, tt.index, tt.field)
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func BenchmarkParseEventGrid(b *testing.B) {
	one := elements(b, readTestdata(b, "eventgrid_resource_write.json"))[0]
	batch := make([]json.RawMessage, 100)
	for i := range batch {
		batch[i] = one
	}
	body, err := json.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := ParseEventGrid(body)
		if err != nil || len(got.Events) != 100 {
			b.Fatal(err, len(got.Events))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}
