package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/model"
	"plumb/internal/receivers"
	"plumb/internal/receivers/github/githubtest"
)

const testToken = "ghp_testtoken0123456789"

// parseReceiver builds receiver config the way plumb does, through
// config.Parse, so secrets resolve like in production.
func parseReceiver(t *testing.T, body string, env map[string]string) config.ReceiverConfig {
	t.Helper()
	name := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(body, "\n", 2)[0], "  - name:"))
	yml := "route:\n  receiver: " + name + "\nreceivers:\n" + body
	cfg, err := config.Parse("plumb.yaml", []byte(yml), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg.Receivers[0]
}

func issueReceiver(t *testing.T, f *githubtest.Fake, baseURL string, perGroup bool, state receivers.State) *IssueReceiver {
	t.Helper()
	f.SetToken(testToken)
	rc := parseReceiver(t, fmt.Sprintf(`  - name: gh-issues
    github_issue:
      repository: %s/%s
      base_url: %s
      labels: [infra, on-call]
      per_group: %v
      auth:
        token: {env: GH_TOKEN}
`, f.Owner(), f.Repo(), baseURL, perGroup), map[string]string{"GH_TOKEN": testToken})
	r, err := NewIssueReceiver(rc.Name, *rc.GitHubIssue, state, nil)
	if err != nil {
		t.Fatalf("NewIssueReceiver: %v", err)
	}
	return r
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func driftFinding(id string) receivers.Finding {
	addr := "module.net.aws_security_group." + id
	return receivers.Finding{
		Finding: model.Finding{
			Kind:        model.KindChanged,
			Severity:    model.SeverityHigh,
			Fingerprint: model.Fingerprint(model.KindChanged, "prod", "aws", "aws_security_group", "eu-west-1", id, ""),
			Environment: "prod",
			Resource: model.Resource{
				Provider: "aws", Type: "aws_security_group", ID: id, Region: "eu-west-1",
				Account: "123456789012", Name: id + "-web",
			},
			Address: &addr,
			Changes: []model.Change{
				{Path: "ingress.0.cidr_blocks", Before: []any{"10.0.0.0/8"}, After: []any{"0.0.0.0/0"}},
				{Path: "description", Before: "web | internal", After: "web"},
			},
			Message: "Resource changed outside code (" + id + "-web)",
		},
		Status: "open", FirstSeen: t0, LastSeen: t0, Count: 1,
		Principal: "arn:aws:iam::123456789012:user/alice",
	}
}

func deliver(t *testing.T, r receivers.Receiver, n receivers.Notification) {
	t.Helper()
	if err := r.Deliver(context.Background(), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
}

func note(fs ...receivers.Finding) receivers.Notification {
	return receivers.Notification{Receiver: "gh-issues", GroupKey: "route0-env=prod", GroupLabels: map[string]string{"environment": "prod"}, Findings: fs}
}

func TestIssueLifecycle(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
	fnd := driftFinding("sg-0a1b")
	var number int

	steps := []struct {
		name       string
		mutate     func(*receivers.Finding)
		wantWrites int
		check      func(t *testing.T, iss githubtest.Issue)
	}{
		{
			name: "open creates one issue", wantWrites: 1,
			check: func(t *testing.T, iss githubtest.Issue) {
				if iss.Title != "[DRIFT DETECTED] Resource changed outside code (sg-0a1b-web)" {
					t.Errorf("title %q", iss.Title)
				}
				for _, want := range []string{
					findingMarker(fnd.Fingerprint),
					"| path | before (code) | after (live) |",
					"| `description` | `web \\| internal` | `web` |",
					"| `ingress.0.cidr_blocks` | `[\"10.0.0.0/8\"]` | `[\"0.0.0.0/0\"]` |",
					"arn:aws:iam::123456789012:user/alice",
					"123456789012", "eu-west-1", "prod", "2025-03-04T05:06:07Z",
				} {
					if !strings.Contains(iss.Body, want) {
						t.Errorf("body lacks %q:\n%s", want, iss.Body)
					}
				}
				if got, want := strings.Join(iss.Labels, ","), "infra,on-call,plumb,drift,severity:high"; got != want {
					t.Errorf("labels %s, want %s", got, want)
				}
			},
		},
		{
			name: "unchanged redelivery writes nothing", wantWrites: 0,
			mutate: func(f *receivers.Finding) { f.LastSeen = t0.Add(time.Hour); f.Count = 2 },
		},
		{
			name: "changed finding updates the body and comments once", wantWrites: 2,
			mutate: func(f *receivers.Finding) {
				f.Changes[0].After = []any{"0.0.0.0/0", "::/0"}
				f.Severity = model.SeverityCritical
			},
			check: func(t *testing.T, iss githubtest.Issue) {
				if !strings.Contains(iss.Body, `"::/0"`) || len(iss.Comments) != 1 {
					t.Errorf("body not updated or comments %d", len(iss.Comments))
				}
				if !strings.Contains(iss.Comments[0], "`ingress.0.cidr_blocks`") {
					t.Errorf("comment %q", iss.Comments[0])
				}
				if got := strings.Join(iss.Labels, ","); !strings.Contains(got, "severity:critical") || strings.Contains(got, "severity:high") {
					t.Errorf("labels %s", got)
				}
			},
		},
		{
			name: "resolved comments and closes as completed", wantWrites: 2,
			mutate: func(f *receivers.Finding) { at := t0.Add(3 * time.Hour); f.Status = "resolved"; f.ResolvedAt = &at },
			check: func(t *testing.T, iss githubtest.Issue) {
				if iss.State != "closed" || iss.StateReason == nil || *iss.StateReason != "completed" {
					t.Errorf("state %s reason %v", iss.State, iss.StateReason)
				}
				if c := iss.Comments[len(iss.Comments)-1]; !strings.HasPrefix(c, "Resolved:") || !strings.Contains(c, "no longer detected") {
					t.Errorf("comment %q", c)
				}
			},
		},
		{name: "resolved again writes nothing", wantWrites: 0},
		{
			name: "back open reopens the same issue", wantWrites: 2,
			mutate: func(f *receivers.Finding) { f.Status = "open"; f.ResolvedAt = nil; f.LastSeen = t0.Add(5 * time.Hour) },
			check: func(t *testing.T, iss githubtest.Issue) {
				if iss.State != "open" {
					t.Errorf("state %s", iss.State)
				}
				if c := iss.Comments[len(iss.Comments)-1]; !strings.HasPrefix(c, "Recurred") {
					t.Errorf("comment %q", c)
				}
			},
		},
		{name: "open again unchanged writes nothing", wantWrites: 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.mutate != nil {
				s.mutate(&fnd)
			}
			before, _ := f.Counts()
			deliver(t, r, note(fnd))
			after, n := f.Counts()
			if after-before != s.wantWrites {
				t.Errorf("writes %d, want %d", after-before, s.wantWrites)
			}
			if n != 1 {
				t.Fatalf("issues %d, want 1", n)
			}
			iss := f.Issue(1)
			if number == 0 {
				number = iss.Number
			}
			if s.check != nil {
				s.check(t, iss)
			}
		})
	}
}

// TestIssueStateLost checks that a wiped state store finds the issue by its
// marker instead of opening a duplicate: through search when the index has
// caught up, through the paginated label listing when it has not.
func TestIssueStateLost(t *testing.T) {
	cases := []struct {
		name         string
		searchLag    bool
		pageSize     int
		wantListings int
		wantSearches int
	}{
		// Two lookups, each answered by search.
		{name: "search finds the marker", pageSize: 100, wantListings: 0, wantSearches: 2},
		// The first miss lists all plumb issues (5 over 3 pages); the
		// second lookup uses that listing.
		{name: "search lags, listing over pages finds it", searchLag: true, pageSize: 2, wantListings: 3, wantSearches: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := githubtest.New(t, "acme", "infra")
			f.SetSearchLag(c.searchLag)
			f.SetPageSize(c.pageSize)
			first := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
			var fs []receivers.Finding
			for k := range 5 {
				fs = append(fs, driftFinding("sg-"+strconv.Itoa(k)))
			}
			deliver(t, first, note(fs...))
			if _, n := f.Counts(); n != 5 {
				t.Fatalf("issues %d", n)
			}
			f.ResetLookups()

			// A new database: same receiver name, empty state.
			second := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
			before, _ := f.Counts()
			deliver(t, second, note(fs[0], fs[4]))
			after, n := f.Counts()
			if n != 5 || after != before {
				t.Errorf("issues %d (want 5), writes %d (want 0)", n, after-before)
			}
			lists, searches := f.Lookups()
			if lists != c.wantListings {
				t.Errorf("listing requests %d, want %d", lists, c.wantListings)
			}
			if searches != c.wantSearches {
				t.Errorf("search requests %d, want %d", searches, c.wantSearches)
			}

			// The recovered mapping is used from now on: a change updates
			// the right issue without searching again.
			fs[4].Changes[0].After = []any{"192.0.2.0/24"}
			deliver(t, second, note(fs[4]))
			iss := f.Issue(5)
			if len(iss.Comments) != 1 || !strings.Contains(iss.Body, "192.0.2.0/24") {
				t.Errorf("issue 5 not updated: comments %d", len(iss.Comments))
			}
		})
	}
}

func TestIssuePerGroup(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	r := issueReceiver(t, f, f.BaseURL(), true, githubtest.NewMemState())
	a, b := driftFinding("sg-a"), driftFinding("sg-b")
	b.Severity = model.SeverityLow

	deliver(t, r, note(a, b))
	if w, n := f.Counts(); n != 1 || w != 1 {
		t.Fatalf("issues %d writes %d, want one issue for the group", n, w)
	}
	iss := f.Issue(1)
	if iss.Title != "[plumb] Findings (environment=prod)" {
		t.Errorf("title %q", iss.Title)
	}
	for _, want := range []string{groupMarker("route0-env=prod"), "sg-a-web", "sg-b-web"} {
		if !strings.Contains(iss.Body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if strings.Contains(iss.Body, "plumb:fingerprint=") {
		t.Errorf("per-group body carries finding markers")
	}

	// Same group, other order: nothing to do.
	deliver(t, r, note(b, a))
	if w, _ := f.Counts(); w != 1 {
		t.Errorf("reordered redelivery wrote %d", w-1)
	}

	// One resolved: body rewritten, one comment, still open.
	b.Status = "resolved"
	deliver(t, r, note(a, b))
	iss = f.Issue(1)
	if iss.State != "open" || len(iss.Comments) != 1 || !strings.Contains(iss.Body, "1 open, 1 resolved") {
		t.Errorf("state %s comments %d", iss.State, len(iss.Comments))
	}

	// All resolved: closed as completed.
	a.Status = "resolved"
	deliver(t, r, note(a, b))
	iss = f.Issue(1)
	if iss.State != "closed" || *iss.StateReason != "completed" {
		t.Errorf("state %s", iss.State)
	}
	if _, n := f.Counts(); n != 1 {
		t.Errorf("issues %d", n)
	}
}

func TestIssueSuppressedClosesNotPlanned(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
	fnd := driftFinding("sg-s")
	deliver(t, r, note(fnd))
	fnd.Status = "suppressed"
	deliver(t, r, note(fnd))
	iss := f.Issue(1)
	if iss.State != "closed" || *iss.StateReason != "not_planned" || len(iss.Comments) != 1 {
		t.Errorf("state %s reason %v comments %d", iss.State, iss.StateReason, len(iss.Comments))
	}
	// Resolved with no issue anywhere: nothing is created.
	other := driftFinding("sg-never")
	other.Status = "resolved"
	before, _ := f.Counts()
	deliver(t, r, note(other))
	if after, n := f.Counts(); after != before || n != 1 {
		t.Errorf("resolved-without-issue wrote %d, issues %d", after-before, n)
	}
}

func TestIssueErrors(t *testing.T) {
	secondary := `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}`
	reset := time.Now().Add(90 * time.Second).Unix()
	cases := []struct {
		name          string
		failure       githubtest.Failure
		badToken      bool
		wantPermanent bool
		wantAfter     [2]time.Duration // RetryAfterError.After within [lo, hi]; zero means not a RetryAfterError
		wantText      string
	}{
		{
			name:      "secondary rate limit with Retry-After",
			failure:   githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 403, Header: map[string]string{"Retry-After": "7"}, Body: secondary},
			wantAfter: [2]time.Duration{7 * time.Second, 7 * time.Second},
		},
		{
			name: "secondary rate limit as 429 without documentation_url",
			failure: githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 429,
				Header: map[string]string{"Retry-After": "12"}, Body: `{"message":"secondary rate limit"}`},
			wantAfter: [2]time.Duration{12 * time.Second, 12 * time.Second},
		},
		{
			name: "primary rate limit waits until reset",
			failure: githubtest.Failure{Method: "GET", PathPrefix: "/search/issues", Status: 403,
				Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": strconv.FormatInt(reset, 10), "X-RateLimit-Resource": "core"},
				Body:   `{"message":"API rate limit exceeded for installation ID 678.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits","status":"403"}`},
			wantAfter: [2]time.Duration{80 * time.Second, 91 * time.Second},
		},
		{
			name: "primary rate limit as 429 on a write",
			failure: githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 429,
				Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": strconv.FormatInt(reset, 10), "X-RateLimit-Resource": "core"},
				Body:   `{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"429"}`},
			wantAfter: [2]time.Duration{80 * time.Second, 91 * time.Second},
		},
		{
			name: "422 is permanent with details",
			failure: githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 422,
				Body: `{"message":"Validation Failed","errors":[{"value":"x","resource":"Label","field":"name","code":"invalid"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}`},
			wantPermanent: true, wantText: "Label name invalid",
		},
		{
			name:    "500 is retried",
			failure: githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 500, Body: `{"message":"Server Error"}`},
		},
		{
			name: "search of an unknown repository is permanent",
			failure: githubtest.Failure{Method: "GET", PathPrefix: "/search/issues", Status: 422,
				Body: `{"message":"Validation Failed","errors":[{"message":"The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.","resource":"Search","field":"q","code":"invalid"}],"documentation_url":"https://docs.github.com/v3/search/","status":"422"}`},
			wantPermanent: true, wantText: "cannot be searched",
		},
		{
			name:          "404 on the repository is permanent",
			failure:       githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 404, Body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"404"}`},
			wantPermanent: true, wantText: "not found",
		},
		{name: "bad credentials are permanent", badToken: true, wantPermanent: true, wantText: "credentials rejected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := githubtest.New(t, "acme", "infra")
			r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
			if c.failure.Status != 0 {
				f.Fail(c.failure)
			}
			if c.badToken {
				f.SetToken("ghp_other")
			}
			err := r.Deliver(context.Background(), note(driftFinding("sg-err")))
			if err == nil {
				t.Fatal("Deliver succeeded")
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
			var ra *receivers.RetryAfterError
			isRA := errors.As(err, &ra)
			if c.wantAfter[1] != 0 {
				if !isRA {
					t.Fatalf("want RetryAfterError, got %T %v", err, err)
				}
				if ra.After < c.wantAfter[0] || ra.After > c.wantAfter[1] {
					t.Errorf("After %v, want %v..%v", ra.After, c.wantAfter[0], c.wantAfter[1])
				}
			} else if isRA {
				t.Errorf("unexpected RetryAfterError %v", err)
			}
			if got := receivers.IsPermanent(err); got != c.wantPermanent {
				t.Errorf("permanent %v, want %v: %v", got, c.wantPermanent, err)
			}
			if c.wantText != "" && !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("error %q lacks %q", err, c.wantText)
			}
		})
	}
}

// TestIssueRetryAfterRecovers delivers after a secondary rate limit and
// checks the retry leaves exactly one issue.
func TestIssueRetryAfterRecovers(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
	f.Fail(githubtest.Failure{Method: "POST", PathPrefix: "/repos/acme/infra/issues", Status: 500, Body: `{"message":"Server Error"}`})
	fnd := driftFinding("sg-retry")
	if err := r.Deliver(context.Background(), note(fnd)); err == nil {
		t.Fatal("first delivery succeeded")
	}
	deliver(t, r, note(fnd))
	deliver(t, r, note(fnd))
	if _, n := f.Counts(); n != 1 {
		t.Errorf("issues %d, want 1", n)
	}
}

func TestEnterpriseBaseURLForms(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	for _, base := range []string{f.URL() + "/", f.URL() + "/api/v3/"} {
		r := issueReceiver(t, f, base, false, githubtest.NewMemState())
		deliver(t, r, note(driftFinding("sg-"+strconv.Itoa(len(base)))))
	}
	if _, n := f.Counts(); n != 2 {
		t.Errorf("issues %d", n)
	}
}

func TestRenderEscapes(t *testing.T) {
	fnd := driftFinding("sg-x")
	fnd.Message = "evil <!-- plumb:fingerprint=0000 --> text"
	fnd.Changes = []model.Change{{Path: "a|b", Before: "x`y", After: nil}, {Path: "multi", Before: "l1\nl2", After: map[string]any{"k": "v|w"}}}
	body := findingBody(fnd, "https://plumb.example/f/1", "abc")
	for _, want := range []string{
		"| `a\\|b` | `` x`y `` | _(none)_ |",
		"| `multi` | `l1 l2` | `{\"k\":\"v\\|w\"}` |",
		"evil &lt;!-- plumb:fingerprint=0000 --> text",
		"[Open in plumb](https://plumb.example/f/1)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if got := markerRe.FindAllString(body, -1); len(got) != 1 || got[0] != findingMarker(fnd.Fingerprint) {
		t.Errorf("markers %q", got)
	}
	if bodyHash(body) != "abc" {
		t.Errorf("hash marker not read back")
	}
}

// TestRenderConflict: a drift.conflict issue names every declaration.
func TestRenderConflict(t *testing.T) {
	fnd := driftFinding("shared-assets")
	fnd.Kind = model.KindConflict
	fnd.Declarations = []model.Declaration{
		{Address: "aws_s3_bucket.assets", Source: "states/web.tfstate"},
		{Address: "module.cdn.aws_s3_bucket.origin", Source: "infra/cdn"},
	}
	body := findingBody(fnd, "", "abc")
	for _, want := range []string{
		"| **Declared as** | `aws_s3_bucket.assets` in `states/web.tfstate` |",
		"| **Declared as** | `module.cdn.aws_s3_bucket.origin` in `infra/cdn` |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestNewIssueReceiverRejects(t *testing.T) {
	cases := []struct {
		name string
		cfg  config.GitHubIssueConfig
	}{
		{"bad repository", config.GitHubIssueConfig{Repository: "acme"}},
		{"no auth", config.GitHubIssueConfig{Repository: "acme/infra"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewIssueReceiver("x", c.cfg, githubtest.NewMemState(), http.DefaultClient); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestIssueShowsEnforcement: the issue body lists what plumb did, and a
// finding resolved by a plumb delete closes its issue saying so.
func TestIssueShowsEnforcement(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
	fnd := driftFinding("sg-e")
	deliver(t, r, note(fnd))
	at := t0.Add(2 * time.Hour)
	fnd.Enforcement = &model.Enforcement{Verb: "quarantine", Result: "isolated", ActionID: "act-q", At: at}
	deliver(t, r, note(fnd))
	if body := f.Issue(1).Body; !strings.Contains(body, "| **Enforcement** | quarantine: isolated (2025-03-04T07:06:07Z, action `act-q`) |") {
		t.Errorf("body lacks the enforcement row:\n%s", body)
	}
	fnd.Status = "resolved"
	fnd.ResolvedAt = &at
	fnd.Enforcement = &model.Enforcement{Verb: "delete", Result: "deleted", ActionID: "act-d", At: at}
	deliver(t, r, note(fnd))
	iss := f.Issue(1)
	last := iss.Comments[len(iss.Comments)-1]
	if iss.State != "closed" || !strings.HasPrefix(last, "Deleted by plumb enforce: `sg-e-web` deleted (2025-03-04T07:06:07Z, action `act-d`)") {
		t.Errorf("state %s, last comment %q", iss.State, last)
	}
}
