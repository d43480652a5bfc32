package github

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/model"
	"plumb/internal/receivers"
	"plumb/internal/receivers/github/githubtest"
)

const (
	testAppID          = 424242
	testInstallationID = 678
)

// appFake is a fake GitHub that accepts only installation tokens minted
// for a fresh test App key, plus that key as PEM.
func appFake(t *testing.T) (*githubtest.Fake, string) {
	t.Helper()
	return githubtest.NewApp(t, "acme", "infra", testAppID, testInstallationID)
}

func appAuthYAML() string {
	return fmt.Sprintf(`      auth:
        app_id: %d
        installation_id: %d
        private_key: {env: GH_APP_KEY}
`, testAppID, testInstallationID)
}

func advisoryReceiver(t *testing.T, f *githubtest.Fake, pemKey string, state receivers.State) *AdvisoryReceiver {
	t.Helper()
	rc := parseReceiver(t, fmt.Sprintf(`  - name: gh-advisories
    github_advisory:
      repository: acme/infra
      base_url: %s
      min_severity: high
%s`, f.BaseURL(), appAuthYAML()), map[string]string{"GH_APP_KEY": pemKey})
	r, err := NewAdvisoryReceiver(rc.Name, *rc.GitHubAdvisory, state, nil)
	if err != nil {
		t.Fatalf("NewAdvisoryReceiver: %v", err)
	}
	return r
}

func unexpectedWrite(role string) receivers.Finding {
	return receivers.Finding{
		Finding: model.Finding{
			Kind:        model.KindUnexpectedWrite,
			Severity:    model.SeverityCritical,
			Fingerprint: model.Fingerprint(model.KindUnexpectedWrite, "prod", "aws", "aws_iam_role", "", role, ""),
			Environment: "prod",
			Resource:    model.Resource{Provider: "aws", Type: "aws_iam_role", ID: role, Account: "123456789012"},
			Message:     "AttachRolePolicy on " + role + " by a principal outside the pipelines",
		},
		Status: "open", FirstSeen: t0, LastSeen: t0, Count: 1,
		Principal: "arn:aws:iam::123456789012:user/mallory",
	}
}

func TestIssueReceiverAppAuth(t *testing.T) {
	f, pemKey := appFake(t)
	// The key as an environment variable with literal \n, as it often
	// arrives from CI secrets.
	flat := strings.ReplaceAll(strings.TrimSpace(pemKey), "\n", `\n`)
	rc := parseReceiver(t, fmt.Sprintf(`  - name: gh-issues
    github_issue:
      repository: acme/infra
      base_url: %s
%s`, f.BaseURL(), appAuthYAML()), map[string]string{"GH_APP_KEY": flat})
	r, err := NewIssueReceiver(rc.Name, *rc.GitHubIssue, githubtest.NewMemState(), nil)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, r, note(driftFinding("sg-app")))
	deliver(t, r, note(driftFinding("sg-app2")))
	if n := len(f.Issues()); n != 2 {
		t.Errorf("issues %d", n)
	}
	// Every API call was accepted with an installation token (the fake
	// answers 401 otherwise), and the token was minted once and reused.
	if n := f.TokenRequests(); n != 1 {
		t.Errorf("access token requests %d, want 1", n)
	}
}

func TestAppAuthBadKeyIsPermanent(t *testing.T) {
	f, _ := appFake(t)
	_, otherKey := appFake(t) // signed by a key GitHub does not know
	f.ExpectBadJWT()
	rc := parseReceiver(t, fmt.Sprintf(`  - name: gh-issues
    github_issue:
      repository: acme/infra
      base_url: %s
%s`, f.BaseURL(), appAuthYAML()), map[string]string{"GH_APP_KEY": otherKey})
	r, err := NewIssueReceiver(rc.Name, *rc.GitHubIssue, githubtest.NewMemState(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Deliver(context.Background(), note(driftFinding("sg-x")))
	if err == nil || !receivers.IsPermanent(err) {
		t.Fatalf("want a permanent error, got %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error leaks key material: %v", err)
	}
}

func TestAdvisoryLifecycle(t *testing.T) {
	f, pemKey := appFake(t)
	r := advisoryReceiver(t, f, pemKey, githubtest.NewMemState())
	fnd := unexpectedWrite("admin")
	low := driftFinding("sg-low")
	low.Security = true
	low.Severity = model.SeverityMedium // below min_severity high
	plain := driftFinding("sg-plain")   // not security relevant

	advisories := f.Advisories

	steps := []struct {
		name       string
		state      receivers.State // non-nil: swap in (a lost database)
		mutate     func(*receivers.Finding)
		wantWrites int
		check      func(t *testing.T, a githubtest.Advisory)
	}{
		{
			name: "security finding drafts one advisory", wantWrites: 1,
			check: func(t *testing.T, a githubtest.Advisory) {
				if a.State != "draft" || a.Severity != "critical" {
					t.Errorf("state %s severity %s", a.State, a.Severity)
				}
				if !strings.HasPrefix(a.Summary, "[UNEXPECTED WRITE] AttachRolePolicy on admin") {
					t.Errorf("summary %q", a.Summary)
				}
				if !strings.Contains(a.Description, findingMarker(fnd.Fingerprint)) || !strings.Contains(a.Description, "mallory") {
					t.Errorf("description:\n%s", a.Description)
				}
				if len(a.Vulns) != 1 {
					t.Fatalf("vulnerabilities %v", a.Vulns)
				}
				pkg := a.Vulns[0]["package"].(map[string]any)
				if pkg["ecosystem"] != "other" || pkg["name"] != "aws/aws_iam_role/admin" {
					t.Errorf("package %v", pkg)
				}
			},
		},
		{name: "unchanged redelivery writes nothing", wantWrites: 0, mutate: func(f *receivers.Finding) { f.LastSeen = t0.Add(time.Hour) }},
		{name: "lost state finds the advisory by marker", state: githubtest.NewMemState(), wantWrites: 0},
		{
			name: "changed finding rewrites the draft", wantWrites: 1,
			mutate: func(f *receivers.Finding) { f.Principal = "arn:aws:iam::123456789012:user/eve" },
			check: func(t *testing.T, a githubtest.Advisory) {
				if !strings.Contains(a.Description, "eve") {
					t.Errorf("description not updated")
				}
			},
		},
		{
			name: "resolved notes it in the description, stays a draft", wantWrites: 1,
			mutate: func(f *receivers.Finding) { f.Status = "resolved" },
			check: func(t *testing.T, a githubtest.Advisory) {
				if a.State != "draft" || !strings.Contains(a.Description, "**Resolved**") {
					t.Errorf("state %s description:\n%s", a.State, a.Description)
				}
			},
		},
		{name: "resolved again writes nothing", wantWrites: 0},
		{name: "resolved again after state loss writes nothing", state: githubtest.NewMemState(), wantWrites: 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.state != nil {
				r.state = s.state
			}
			if s.mutate != nil {
				s.mutate(&fnd)
			}
			before, _ := f.Counts()
			deliver(t, r, note(plain, fnd, low))
			after, _ := f.Counts()
			if after-before != s.wantWrites {
				t.Errorf("writes %d, want %d", after-before, s.wantWrites)
			}
			as := advisories()
			if len(as) != 1 {
				t.Fatalf("advisories %d, want 1", len(as))
			}
			if s.check != nil {
				s.check(t, as[0])
			}
		})
	}
	if _, n := f.Counts(); n != 0 {
		t.Errorf("the advisory receiver opened %d issues", n)
	}
}

// TestAdvisoryListingPaginates loses the state with several advisories in
// the repository and a page size of 1, so the marker is found only by
// following the cursor Link headers.
func TestAdvisoryListingPaginates(t *testing.T) {
	f, pemKey := appFake(t)
	f.SetPageSize(1)
	r := advisoryReceiver(t, f, pemKey, githubtest.NewMemState())
	var fs []receivers.Finding
	for _, role := range []string{"a", "b", "c"} {
		fs = append(fs, unexpectedWrite(role))
	}
	deliver(t, r, note(fs...))
	r.state = githubtest.NewMemState()
	f.ResetLookups()
	before, _ := f.Counts()
	deliver(t, r, note(fs[2]))
	after, _ := f.Counts()
	lists, _ := f.Lookups()
	n := len(f.Advisories())
	if after != before || n != 3 {
		t.Errorf("writes %d advisories %d", after-before, n)
	}
	if lists != 3 {
		t.Errorf("list requests %d, want 3 pages", lists)
	}
}

func TestNewAdvisoryReceiverNeedsApp(t *testing.T) {
	cfg := config.GitHubAdvisoryConfig{Repository: "acme/infra", MinSeverity: "high"}
	if _, err := NewAdvisoryReceiver("adv", cfg, githubtest.NewMemState(), nil); err == nil {
		t.Error("accepted an advisory receiver without GitHub App auth")
	}
}
