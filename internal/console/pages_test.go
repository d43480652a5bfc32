package console

import (
	"net/http"
	"strings"
	"testing"

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
