package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFilterTestAPI drives POST /v1/filters/test: both dialects, match and
// no match with reasons, and the refusals.
func TestFilterTestAPI(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	const ebEvent = `{"source":"aws.ec2","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"RunInstances","userIdentity":{"accountId":123456789012}}}`
	const egEvent = `{"id":"1","subject":"/blobServices/default/containers/c/blobs/a.jpg","eventType":"Microsoft.Storage.BlobCreated","eventTime":"2024-01-01T00:00:00Z","dataVersion":"","data":{"api":"PutBlob"}}`

	type verdict struct {
		Match   bool `json:"match"`
		Reasons []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"reasons"`
	}
	for _, tc := range []struct {
		name        string
		body        string
		wantMatch   bool
		wantReasons []string // "field: part of reason"
	}{
		{"pattern object, match", `{"event_pattern":{"source":["aws.ec2"],"detail":{"eventName":[{"prefix":"Run"}]}},"event":` + ebEvent + `}`, true, nil},
		{"pattern as a string, as EventBridge returns it", `{"event_pattern":"{\"detail\":{\"userIdentity\":{\"accountId\":[123456789012]}}}","event":` + ebEvent + `}`, true, nil},
		{"pattern, no match", `{"event_pattern":{"source":["aws.s3"],"detail":{"eventName":["RunInstances"]}},"event":` + ebEvent + `}`, false,
			[]string{`source: "aws.ec2" matches none of ["aws.s3"]`}},
		{"event grid, match", `{"event_grid":{"includedEventTypes":["Microsoft.Storage.BlobCreated"],"subjectEndsWith":".jpg"},"event":` + egEvent + `}`, true, nil},
		{"event grid from az output, no match", `{"event_grid":{"filter":{"advancedFilters":[{"operatorType":"StringIn","key":"data.api","values":["CopyBlob"]}]}},"event":` + egEvent + `}`, false,
			[]string{`advanced_filters[0]: StringIn data.api ["CopyBlob"]: data.api is "PutBlob"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do("POST", "/v1/filters/test", auth, []byte(tc.body))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var v verdict
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if v.Match != tc.wantMatch || len(v.Reasons) != len(tc.wantReasons) {
				t.Fatalf("verdict %s, want match %v with %d reasons", b, tc.wantMatch, len(tc.wantReasons))
			}
			for i, want := range tc.wantReasons {
				if got := v.Reasons[i].Field + ": " + v.Reasons[i].Reason; !strings.Contains(got, want) {
					t.Errorf("reason %q, want %q", got, want)
				}
			}
		})
	}
	for _, tc := range []struct {
		name, body string
		header     map[string]string
		status     int
		want       string
	}{
		{"no token", `{"event_pattern":{"a":["b"]},"event":{}}`, nil, 401, "bearer token"},
		{"invalid pattern", `{"event_pattern":{"a":"b"},"event":{}}`, auth, 400, "event pattern: a: must be an array"},
		{"invalid filter", `{"event_grid":{"advancedFilters":[{"operatorType":"Nope","key":"k"}]},"event":{}}`, auth, 400, `event grid filter: advanced_filters[0].operator_type: unknown operator "Nope"`},
		{"invalid event", `{"event_pattern":{"a":["b"]},"event":[1]}`, auth, 400, "event: must be one JSON object"},
		{"both dialects", `{"event_pattern":{"a":["b"]},"event_grid":{},"event":{}}`, auth, 400, "exactly one of event_pattern and event_grid"},
		{"neither", `{"event":{}}`, auth, 400, "exactly one of event_pattern and event_grid"},
		{"no event", `{"event_pattern":{"a":["b"]}}`, auth, 400, "event: required"},
		{"unknown member", `{"pattern":{"a":["b"]},"event":{}}`, auth, 400, `unknown field "pattern"`},
		{"not JSON", `{`, auth, 400, "body:"},
		{"too large", `{"event_pattern":{"a":["b"]},"event":{"x":"` + strings.Repeat("x", 5000) + `"}}`, auth, 413, "max_body_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do("POST", "/v1/filters/test", tc.header, []byte(tc.body))
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != tc.status || !strings.Contains(e.Error, tc.want) {
				t.Errorf("status %d %s, want %d with %q", resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}
