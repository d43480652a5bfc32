package queue

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"plumb/internal/model"
)

// TestEncodeEvent: the event table's encoding decodes to the same event
// as json.Marshal's, and refuses what json.Marshal refuses.
func TestEncodeEvent(t *testing.T) {
	base := model.Event{Source: model.SourceEventGrid, ID: "e1", Type: "Microsoft.Resources.ResourceWriteSuccess",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Topic: "/subscriptions/x", Principal: "p", Subject: "/s"}
	cases := []struct {
		name    string
		raw     string
		wantErr bool
	}{
		{"object", `{"id":"e1","data":{"a":[1,2,{"b":null}]}}`, false},
		{"whitespace kept", "{\n  \"id\": \"e1\",\t\"x\": [ 1 , 2 ]\n}\n", false},
		{"html and unicode", `{"s":"<a href=\"x\">&amp;</a> \u2028 é"}`, false},
		{"empty raw", ``, false},
		{"not json", `{"id":`, true},
		{"two values", `{} {}`, true},
	}
	for _, tc := range cases {
		ev := base
		if tc.raw != "" {
			ev.Raw = json.RawMessage(tc.raw)
		}
		got, err := encodeEvent(ev)
		want, wantErr := json.Marshal(ev)
		if (err != nil) != tc.wantErr || (wantErr != nil) != tc.wantErr {
			t.Errorf("%s: error %v (json.Marshal: %v), want error=%v", tc.name, err, wantErr, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if !sameEvent(t, got, string(want)) {
			t.Errorf("%s: %s\ndecodes differently from json.Marshal's %s", tc.name, got, want)
		}
	}
}

// sameEvent decodes both encodings and compares them, Raw by value.
func sameEvent(t *testing.T, a, b string) bool {
	t.Helper()
	var ea, eb model.Event
	if err := json.Unmarshal([]byte(a), &ea); err != nil {
		t.Errorf("decode %s: %v", a, err)
		return false
	}
	if err := json.Unmarshal([]byte(b), &eb); err != nil {
		t.Errorf("decode %s: %v", b, err)
		return false
	}
	var ra, rb any
	_ = json.Unmarshal(ea.Raw, &ra)
	_ = json.Unmarshal(eb.Raw, &rb)
	ea.Raw, eb.Raw = nil, nil
	return reflect.DeepEqual(ea, eb) && reflect.DeepEqual(ra, rb)
}

// FuzzEncodeEvent: for any raw envelope and id, encodeEvent agrees with
// json.Marshal on success or failure, and on the decoded event.
func FuzzEncodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"1"}`), "1")
	f.Add([]byte(" [1, \"<>\"] "), "x\"y")
	f.Add([]byte(`nul`), "")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		ev := model.Event{Source: model.SourceCloudEvents, ID: id, Raw: raw}
		got, err := encodeEvent(ev)
		want, wantErr := json.Marshal(ev)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("raw %q: error %v, json.Marshal %v", raw, err, wantErr)
		}
		if err == nil && !sameEvent(t, got, string(want)) {
			t.Fatalf("raw %q: %s vs %s", raw, got, want)
		}
	})
}
