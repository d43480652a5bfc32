package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
)

// TestEveryPageRenders walks the console's pages as an operator over a
// store with findings and checks each answers 200 with its heading.
func TestEveryPageRenders(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	f := finding(model.KindChanged, model.SeverityHigh, "prod", "aws_vpc", "vpc-1", map[string]string{"owner": "team-a"})
	h.upsert(f, finding(model.KindUnmanaged, model.SeverityMedium, "staging", "aws_s3_bucket", "billing-logs", map[string]string{}))
	c := h.client().asOperator()
	for _, tc := range []struct{ path, want string }{
		{"/", "<h1>Overview</h1>"},
		{"/findings", "<h1>Findings</h1>"},
		{"/findings/" + f.Fingerprint, "Resource changed outside code (vpc-1)"},
		{"/teams", "<h1>Teams</h1>"},
		{"/teams/team-a", "<h1>Team team-a</h1>"},
		{"/teams/-", "<h1>Team (no owner)</h1>"},
		{"/events", "<h1>Events and queue</h1>"},
		{"/compliance", "<h1>Compliance</h1>"},
	} {
		r := c.get(tc.path)
		if r.status != http.StatusOK || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s: status %d, want 200 and %q in:\n%s", tc.path, r.status, tc.want, r.body)
		}
	}
}

// TestFindingShowsEnforcement checks that the finding page tells what
// enforcement did to the resource, and says nothing when it did nothing.
func TestFindingShowsEnforcement(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	acted := finding(model.KindUnmanaged, model.SeverityHigh, "prod", "aws_instance", "i-0abc", map[string]string{})
	acted.Enforcement = &model.Enforcement{Verb: "delete", Result: "terminated", ActionID: "act-42",
		At: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}
	untouched := finding(model.KindUnmanaged, model.SeverityHigh, "prod", "aws_instance", "i-0def", map[string]string{})
	h.upsert(acted, untouched)
	c := h.client().asViewer()
	for _, tc := range []struct {
		name, fp string
		want     bool
	}{
		{"acted on", acted.Fingerprint, true},
		{"never acted on", untouched.Fingerprint, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/findings/" + tc.fp)
			if r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			line := "<dt>Enforcement</dt><dd><strong>delete</strong>: terminated (2026-12-01 09:30 UTC; <code>plumb enforce log</code> action <code>act-42</code>)</dd>"
			if got := strings.Contains(r.body, line); got != tc.want {
				t.Errorf("enforcement line shown = %v, want %v; page:\n%s", got, tc.want, r.body)
			}
			if !tc.want && strings.Contains(r.body, "<dt>Enforcement</dt>") {
				t.Errorf("an enforcement entry on a finding never acted on:\n%s", r.body)
			}
		})
	}
}
