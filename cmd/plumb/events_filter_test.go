package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const (
	cliEvent = `{"version":"0","id":"1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2",
	  "account":"123456789012","time":"2017-10-02T16:24:49Z","region":"us-east-1","resources":[],
	  "detail":{"instance-id":"i-1","state":"running","owner-id":12345678901234567890}}`
	cliGridEvent = `{"id":"1","topic":"/subscriptions/s","subject":"/blobServices/default/containers/images/blobs/a.jpg",
	  "eventType":"Microsoft.Storage.BlobCreated","eventTime":"2024-01-02T03:04:05Z","dataVersion":"1","data":{"api":"PutBlob","counter":5}}`
)

// cliStdin runs the CLI like cli, with stdin.
func cliStdin(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb, enforceDeps{})
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	var ec *exitCodeError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ec):
		if ec.err != nil {
			errb.WriteString(ec.err.Error())
		}
		return ec.code, out.String(), errb.String()
	}
	errb.WriteString(err.Error())
	return 1, out.String(), errb.String()
}

func TestEventsTestPattern(t *testing.T) {
	dir := t.TempDir()
	event := writeFile(t, dir, "event.json", cliEvent)
	match := writeFile(t, dir, "match.json", `{"source":["aws.ec2"],"detail":{"state":[{"anything-but":{"prefix":["stop","term"]}}]}}`)
	noMatch := writeFile(t, dir, "nomatch.json", `{"source":["aws.ec2"],"detail":{"state":["stopped"],"owner-id":[12345678901234567891]}}`)
	invalid := writeFile(t, dir, "invalid.json", `{"detail":{"state":"running"}}`)
	tooBig := writeFile(t, dir, "big.json", `{"a":["`+strings.Repeat("x", 2100)+`"]}`)
	notJSON := writeFile(t, dir, "bad-event.json", `{"source":`)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // exact stdout
		wantErr  string // part of stderr
	}{
		{"match", []string{"--pattern", match, "--event", event}, 0, "match\n", ""},
		{"no match with the reasons", []string{"--pattern", noMatch, "--event", event}, 1,
			"no match\n  detail.owner-id: 12345678901234567890 matches none of [12345678901234567891]\n  detail.state: \"running\" matches none of [\"stopped\"]\n", ""},
		{"json", []string{"--pattern", noMatch, "--event", event, "--json"}, 1,
			`{"match":false,"reasons":[{"field":"detail.owner-id","reason":"12345678901234567890 matches none of [12345678901234567891]"},{"field":"detail.state","reason":"\"running\" matches none of [\"stopped\"]"}]}` + "\n", ""},
		{"json match", []string{"--pattern", match, "--event", event, "--json"}, 0, `{"match":true}` + "\n", ""},
		{"invalid pattern", []string{"--pattern", invalid, "--event", event}, 2, "",
			invalid + `: event pattern: detail.state: must be an array of values or an object, got string "running"`},
		{"pattern above the size quota", []string{"--pattern", tooBig, "--event", event}, 2, "",
			"event pattern: 2110 characters as compact JSON, above EventBridge's event pattern size quota of 2048 characters"},
		{"invalid event", []string{"--pattern", match, "--event", notJSON}, 2, "", notJSON + ": event: invalid JSON: truncated"},
		{"unreadable file", []string{"--pattern", filepath.Join(dir, "nope.json"), "--event", event}, 2, "", "nope.json: no such file or directory"},
		{"missing --pattern", []string{"--event", event}, 2, "", "--pattern is required"},
		{"missing --event", []string{"--pattern", match}, 2, "", "--event is required"},
		{"both on stdin", []string{"--pattern", "-", "--event", "-"}, 2, "", "only one of --pattern and --event can read stdin"},
		{"unknown flag", []string{"--patern", match}, 2, "", "unknown flag: --patern"},
		{"stray argument", []string{"--pattern", match, "--event", event, "extra"}, 2, "", `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(append([]string{"events", "test-pattern"}, tc.args...)...)
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}

	// stdin, for either input.
	code, out, errOut := cliStdin(`{"detail":{"state":["running"]}}`, "events", "test-pattern", "--pattern", "-", "--event", event)
	if code != 0 || out != "match\n" {
		t.Errorf("pattern on stdin: exit %d %q %s", code, out, errOut)
	}
	code, out, errOut = cliStdin(`{"source":"aws.ec2","detail":{"state":"pending"}}`, "events", "test-pattern", "--pattern", match, "--event", "-")
	if code != 0 || out != "match\n" {
		t.Errorf("event on stdin: exit %d %q %s", code, out, errOut)
	}
	code, _, errOut = cliStdin(`[]`, "events", "test-pattern", "--pattern", match, "--event", "-")
	if code != 2 || !strings.Contains(errOut, "stdin: event: must be one JSON object") {
		t.Errorf("bad event on stdin: exit %d %s", code, errOut)
	}
}

func TestEventsTestFilter(t *testing.T) {
	dir := t.TempDir()
	event := writeFile(t, dir, "event.json", cliGridEvent)
	match := writeFile(t, dir, "match.json", `{"includedEventTypes":["Microsoft.Storage.BlobCreated"],"subjectEndsWith":".JPG",
	  "advancedFilters":[{"operatorType":"NumberInRange","key":"data.counter","values":[[1,10]]}]}`)
	azShow := writeFile(t, dir, "show.json", `{"name":"s","filter":{"subjectBeginsWith":"/blobServices/default/containers/logs/",
	  "isSubjectCaseSensitive":true,"advancedFilters":[{"operatorType":"StringIn","key":"data.api","values":["CopyBlob"]}]}}`)
	invalid := writeFile(t, dir, "invalid.json", `{"advancedFilters":[{"operatorType":"NumberIn","key":"data.counter","values":["5"]}]}`)
	typo := writeFile(t, dir, "typo.json", `{"includedEventType":["Microsoft.Storage.BlobCreated"]}`)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"delivered", []string{"--filter", match, "--event", event}, 0, "match\n", ""},
		{"not delivered, with the reasons", []string{"--filter", azShow, "--event", event}, 1,
			"no match\n  subject_begins_with: subject \"/blobServices/default/containers/images/blobs/a.jpg\" does not begin with \"/blobServices/default/containers/logs/\" (case-sensitive)\n" +
				"  advanced_filters[0]: StringIn data.api [\"CopyBlob\"]: data.api is \"PutBlob\", which does not match\n", ""},
		{"invalid filter", []string{"--filter", invalid, "--event", event}, 2, "",
			invalid + `: event grid filter: advanced_filters[0].values[0]: NumberIn: needs a number, got string "5"`},
		{"misspelt member", []string{"--filter", typo, "--event", event}, 2, "", `event grid filter: json: unknown field "includedEventType"`},
		{"missing --filter", []string{"--event", event}, 2, "", "--filter is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(append([]string{"events", "test-filter"}, tc.args...)...)
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
	code, out, errOut := cliStdin(`{"includedEventTypes":["Microsoft.Storage.BlobDeleted"]}`, "events", "test-filter", "--filter", "-", "--event", event, "--json")
	var v struct {
		Match   bool `json:"match"`
		Reasons []struct{ Field, Reason string }
	}
	if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.Match || len(v.Reasons) != 1 || v.Reasons[0].Field != "included_event_types" {
		t.Errorf("filter on stdin, --json: exit %d %q %s", code, out, errOut)
	}
}
