package console

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// manyFindings stores n open findings of environment prod, owners
// alternating team-a and team-b, one second apart so the newest-first
// order is known: finding i is "web-i".
func (h *harness) manyFindings(n int) []model.Finding {
	h.t.Helper()
	var fs []model.Finding
	base := h.now.Add(-time.Duration(n) * time.Second)
	for i := range n {
		owner := []string{"team-a", "team-b"}[i%2]
		f := finding(model.KindUnmanaged, model.SeverityMedium, "prod", "aws_instance", fmt.Sprintf("web-%d", i), map[string]string{"owner": owner})
		if err := h.store.Upsert(context.Background(), base.Add(time.Duration(i)*time.Second), []model.Finding{f}); err != nil {
			h.t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

var rowRE = regexp.MustCompile(`<a href="/findings/([0-9a-f]+)">`)

func rows(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestFindingsPaging walks the pages: each says which items it shows of
// how many, the pages together list every finding once, and a page size
// above the maximum is refused rather than cut.
func TestFindingsPaging(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	fs := h.manyFindings(120)
	c := h.client().asViewer()
	seen := map[string]bool{}
	for page, want := range []string{"1–50 of 120 findings", "51–100 of 120 findings", "101–120 of 120 findings"} {
		r := c.get(fmt.Sprintf("/findings?page=%d", page+1))
		if r.status != 200 || !strings.Contains(r.body, want) {
			t.Fatalf("page %d: status %d, want %q", page+1, r.status, want)
		}
		hasNext := strings.Contains(r.body, `rel="next"`)
		if hasNext != (page < 2) {
			t.Errorf("page %d: next link %v", page+1, hasNext)
		}
		for _, fp := range rows(r.body) {
			if seen[fp] {
				t.Errorf("finding %s on two pages", fp)
			}
			seen[fp] = true
		}
	}
	if len(seen) != len(fs) {
		t.Errorf("pages listed %d findings, want %d", len(seen), len(fs))
	}
	// Newest first: the first row of page 1 is the last stored.
	if got := rows(c.get("/findings").body)[0]; got != fs[len(fs)-1].Fingerprint {
		t.Errorf("first row %s, want the newest %s", got, fs[len(fs)-1].Fingerprint)
	}
	if r := c.get("/findings?per=20&page=2"); !strings.Contains(r.body, "21–40 of 120 findings") {
		t.Errorf("per=20 page 2 does not show 21–40")
	}
	for _, tc := range []struct{ q, want string }{
		{"per=501", "above the maximum of 500"},
		{"per=0", "want a whole number from 1 to 500"},
		{"page=0", "want a page number from 1"},
		{"status=closed", `status "closed"`},
		{"sort=fingerprint", `sort "fingerprint"`},
		{"dir=up", `dir "up"`},
	} {
		r := c.get("/findings?" + tc.q)
		if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), tc.want) {
			t.Errorf("?%s: status %d, want 400 saying %q", tc.q, r.status, tc.want)
		}
	}
	if r := c.get("/findings?page=9"); r.status != 200 || !strings.Contains(r.body, "Nothing on page 9: 120 findings in all") {
		t.Errorf("a page past the end does not say so")
	}
}

// TestFindingsFilters checks each filter against the store's own count.
func TestFindingsFilters(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	h.manyFindings(10)
	billing := finding(model.KindChanged, model.SeverityHigh, "staging", "aws_s3_bucket", "billing-exports", map[string]string{})
	untagged := finding(model.KindMissing, model.SeverityLow, "staging", "aws_sqs_queue", "jobs", map[string]string{})
	h.upsert(billing, untagged)
	if err := h.store.Suppress(context.Background(), h.now, untagged.Fingerprint, "test"); err != nil {
		t.Fatal(err)
	}
	c := h.client().asViewer()
	for _, tc := range []struct {
		q    string
		want findings.Query
	}{
		{"owner=team-a", findings.Query{Status: "open", Owner: "team-a"}},
		{"owner=billing", findings.Query{Status: "open", Owner: "billing"}},
		{"owner=-&status=any", findings.Query{Owner: findings.Unowned}},
		{"environment=staging&status=any", findings.Query{Environment: "staging"}},
		{"kind=drift.changed", findings.Query{Status: "open", Kind: "drift.changed"}},
		{"severity=high", findings.Query{Status: "open", Severity: "high"}},
		{"type=aws_s3_bucket", findings.Query{Status: "open", Type: "aws_s3_bucket"}},
		{"status=suppressed", findings.Query{Status: "suppressed"}},
		{"q=BILLING", findings.Query{Status: "open", Text: "billing"}},
		{"q=web-1", findings.Query{Status: "open", Text: "web-1"}},
		{"q=100%25", findings.Query{Status: "open", Text: "100%"}},
	} {
		t.Run(tc.q, func(t *testing.T) {
			want, err := h.store.List(context.Background(), tc.want)
			if err != nil {
				t.Fatal(err)
			}
			r := c.get("/findings?" + tc.q)
			got := rows(r.body)
			if len(got) != want.Total {
				t.Errorf("%d rows, store has %d", len(got), want.Total)
			}
			if want.Total > 0 && !strings.Contains(r.body, fmt.Sprintf("1–%d of %d findings", want.Total, want.Total)) {
				t.Errorf("range line missing for %d findings", want.Total)
			}
			for _, rec := range want.Records {
				if !strings.Contains(r.body, rec.Finding.Fingerprint) {
					t.Errorf("finding %s (%s) not listed", rec.Finding.Fingerprint, rec.Finding.Resource.ID)
				}
			}
		})
	}
	// The ownership rule made billing-exports billing's; the owner is a
	// routing label too.
	rec, err := h.store.Get(context.Background(), billing.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if l := findings.Labels(rec.Finding, rec.Status); l["owner"] != "billing" {
		t.Errorf("owner label %q, want billing", l["owner"])
	}
	// Sorting by severity puts the high finding first.
	if got := rows(c.get("/findings?status=any&sort=severity&dir=desc").body); len(got) == 0 || got[0] != billing.Fingerprint {
		t.Errorf("sorted by severity, first row %v, want %s", got[:min(1, len(got))], billing.Fingerprint)
	}
	r := c.get("/teams/billing")
	if r.status != 200 || !strings.Contains(r.body, billing.Fingerprint) || strings.Contains(r.body, untagged.Fingerprint) {
		t.Errorf("team page of billing does not show exactly billing's findings")
	}
}

// TestAccessControl: pages need a login, actions need an operator and a
// CSRF token, a viewer's actions are refused and change nothing.
func TestAccessControl(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	f := finding(model.KindChanged, model.SeverityHigh, "prod", "aws_vpc", "vpc-1", map[string]string{"owner": "team-a"})
	h.upsert(f)
	anon := h.client()
	for _, p := range []string{"/", "/findings", "/findings/" + f.Fingerprint, "/teams", "/events", "/compliance", "/nowhere"} {
		r := anon.get(p)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
			t.Errorf("anonymous GET %s: %d to %q, want 303 to /login", p, r.status, r.header.Get("Location"))
		}
	}
	if r := anon.do(http.MethodPost, "/findings/"+f.Fingerprint+"/suppress", url.Values{"reason": {"x"}}); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d, want 401", r.status)
	}

	viewer := h.client().asViewer()
	page := viewer.get("/findings/" + f.Fingerprint)
	if strings.Contains(page.body, `action="/findings/`+f.Fingerprint+`/suppress"`) {
		t.Error("a viewer is offered the suppress form")
	}
	for _, p := range []string{"/suppress", "/silence", "/unsuppress"} {
		r := viewer.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+p, url.Values{"reason": {"x"}, "matcher": {`kind="drift.changed"`}, "duration": {"1h"}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "operator role") {
			t.Errorf("viewer POST %s: %d, want 403 naming the operator role", p, r.status)
		}
	}
	if r := viewer.post("/events", "/events/1/retry", nil); r.status != http.StatusForbidden {
		t.Errorf("viewer re-run: %d, want 403", r.status)
	}
	if rec, _ := h.store.Get(context.Background(), f.Fingerprint); rec.Status != findings.StatusOpen {
		t.Errorf("after the viewer's attempts the finding is %s", rec.Status)
	}

	op := h.client().asOperator()
	r := op.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+"/suppress", url.Values{"reason": {"accepted"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=suppressed") {
		t.Fatalf("operator suppress: %d %s", r.status, r.header.Get("Location"))
	}
	hist, _ := h.store.History(context.Background(), f.Fingerprint, 10)
	if last := hist[len(hist)-1]; last.Action != findings.ActionSuppressed || last.Detail != "accepted (by otto)" {
		t.Errorf("history %+v, want suppressed with the reason and who", last)
	}
	if r := op.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+"/suppress", url.Values{}); r.status != http.StatusBadRequest {
		t.Errorf("suppress without a reason: %d, want 400", r.status)
	}
	r = op.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+"/silence", url.Values{"matcher": {`environment="prod"`, `type="aws_vpc"`}, "duration": {"4h"}, "comment": {"window"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("silence: %d %s", r.status, r.body)
	}
	sil, err := h.store.PageSilences(context.Background(), findings.SilenceQuery{ActiveOnly: true, Now: h.now, Limit: 10})
	if err != nil || sil.Total != 1 || sil.Silences[0].CreatedBy != "otto" || sil.Silences[0].EndsAt.Sub(sil.Silences[0].StartsAt) != 4*time.Hour {
		t.Errorf("silences after the form: %+v, %v", sil.Silences, err)
	}
	if r := op.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+"/silence", url.Values{"duration": {"1h"}}); r.status != http.StatusBadRequest {
		t.Errorf("silence without a label: %d, want 400", r.status)
	}
	if r := op.post("/findings/"+f.Fingerprint, "/findings/"+f.Fingerprint+"/silence", url.Values{"matcher": {`kind=~"(("`}, "duration": {"1h"}}); r.status != http.StatusBadRequest {
		t.Errorf("silence with a bad matcher: %d, want 400", r.status)
	}
	if r := op.post("/findings/"+f.Fingerprint, "/findings/nope/suppress", url.Values{"reason": {"x"}}); r.status != http.StatusNotFound {
		t.Errorf("suppress of an unknown finding: %d, want 404", r.status)
	}
	// Logging out ends the session on the server, not only in the browser.
	old := op.hc.Jar.Cookies(mustURL(h.srv.URL))
	if r := op.post("/", "/logout", nil); r.status != http.StatusSeeOther {
		t.Errorf("logout: %d", r.status)
	}
	replay := h.client()
	replay.hc.Jar.SetCookies(mustURL(h.srv.URL), old)
	if r := replay.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("the session cookie still works after logout: %d", r.status)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestCSRF: a state-changing form without the session's token, with
// another session's token, or from another site is refused and changes
// nothing; the login form has its own token.
func TestCSRF(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	f := finding(model.KindChanged, model.SeverityHigh, "prod", "aws_vpc", "vpc-1", nil)
	h.upsert(f)
	op := h.client().asOperator()
	other := h.client().asOperator()
	path := "/findings/" + f.Fingerprint + "/suppress"
	for name, token := range map[string]string{"missing": "", "other session's": other.csrf("/"), "forged": "AAAA"} {
		form := url.Values{"reason": {"x"}}
		if token != "" {
			form.Set(csrfField, token)
		}
		r := op.do(http.MethodPost, path, form)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "CSRF") {
			t.Errorf("%s token: %d, want 403 naming CSRF", name, r.status)
		}
	}
	// A cross-site form post is refused before the token is even read.
	form := url.Values{"reason": {"x"}, csrfField: {op.csrf("/")}}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	for _, ck := range op.hc.Jar.Cookies(mustURL(h.srv.URL)) {
		req.AddCookie(ck)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.StatusCode)
	}
	if rec, _ := h.store.Get(context.Background(), f.Fingerprint); rec.Status != findings.StatusOpen {
		t.Errorf("a refused form changed the finding to %s", rec.Status)
	}
	// Login: without the login form's token, or with a token not matching
	// the cookie, nobody is logged in.
	anon := h.client()
	r := anon.do(http.MethodPost, "/login", url.Values{"token": {testToken}})
	if r.status != http.StatusForbidden {
		t.Errorf("login without the form's token: %d, want 403", r.status)
	}
	anon.csrf("/login") // sets the cookie
	r = anon.do(http.MethodPost, "/login", url.Values{"token": {testToken}, csrfField: {"not-the-cookie"}})
	if r.status != http.StatusForbidden {
		t.Errorf("login with a token not matching the cookie: %d, want 403", r.status)
	}
}

// TestSecurityHeaders: every answer, the login page and errors included,
// has the CSP without inline scripts and the framing and sniffing guards;
// cookies are HttpOnly and SameSite=Strict, Secure when external_url is
// https.
func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	c := h.client()
	for _, p := range []string{"/login", "/static/console.css", "/"} {
		r := c.get(p)
		csp := r.header.Get("Content-Security-Policy")
		if csp != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: framing or sniffing guard missing: %v", p, r.header)
		}
	}
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "default-src 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe-inline") || strings.Contains(ContentSecurityPolicy, "unsafe-eval") {
		t.Error("CSP allows inline or eval'd code")
	}
	// No page carries inline script, inline style or event handlers the
	// CSP would have to allow.
	op := h.client().asOperator()
	h.upsert(finding(model.KindChanged, model.SeverityHigh, "prod", "aws_vpc", "vpc-1", nil))
	for _, p := range []string{"/", "/findings", "/teams", "/events", "/compliance", "/login"} {
		body := op.get(p).body
		for _, bad := range []string{"<script", "style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
	r := h.client().post("/login", "/login", url.Values{"token": {testToken}})
	ck := r.header.Get("Set-Cookie")
	for _, want := range []string{"plumb_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie is Secure on plain HTTP without an https external_url: %q", ck)
	}
	hs := newHarness(t, baseConfig(t)+"\n")
	hs.con.secure = true // as with server.external_url: https://...
	if ck := hs.client().post("/login", "/login", url.Values{"token": {testToken}}).header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Errorf("behind https, the cookie is not Secure: %q", ck)
	}
}

// TestLogin covers the login methods and what they grant.
func TestLogin(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	for _, tc := range []struct {
		name   string
		fields url.Values
		ok     bool
		role   string
	}{
		{"token", url.Values{"token": {testToken}}, true, "operator"},
		{"wrong token", url.Values{"token": {"nope"}}, false, ""},
		{"viewer", url.Values{"username": {"vera"}, "password": {viewerPassword}}, true, "viewer"},
		{"operator", url.Values{"username": {"otto"}, "password": {operatorPassword}}, true, "operator"},
		{"wrong password", url.Values{"username": {"otto"}, "password": {viewerPassword}}, false, ""},
		{"unknown user", url.Values{"username": {"mallory"}, "password": {"x"}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client()
			r := c.post("/login", "/login", tc.fields)
			if !tc.ok {
				if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong token, or wrong name or password") {
					t.Errorf("status %d, want 401 with one message for every failure", r.status)
				}
				return
			}
			if r.status != http.StatusSeeOther {
				t.Fatalf("status %d", r.status)
			}
			if page := c.get("/").body; !strings.Contains(page, ">"+tc.role+"</span>") {
				t.Errorf("logged in, the header does not show the role %s", tc.role)
			}
		})
	}
	// After login the user lands where they were going, never elsewhere.
	for next, want := range map[string]string{"/findings?owner=team-a": "/findings?owner=team-a", "https://evil.example/": "/", "//evil.example": "/", `/\evil`: "/"} {
		c := h.client()
		c.csrf("/login")
		form := url.Values{"token": {testToken}, "next": {next}, csrfField: {c.csrf("/login")}}
		if r := c.do(http.MethodPost, "/login", form); r.header.Get("Location") != want {
			t.Errorf("next=%q went to %q, want %q", next, r.header.Get("Location"), want)
		}
	}
	// A link from another site gets a same-site reload, so a logged-in
	// user's Strict cookie is sent.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/findings?owner=team-a", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := res.Body.Read(buf)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(buf[:n]), `http-equiv="refresh" content="0;url=/findings?owner=team-a"`) {
		t.Errorf("cross-site link: %d %s", res.StatusCode, buf[:n])
	}
}

// TestTrustedHeader: the proxy's header logs a user in only from the
// proxy's address, with the operator role only for the listed users.
func TestTrustedHeader(t *testing.T) {
	for _, tc := range []struct {
		name, proxies, user string
		wantRole            string
	}{
		{"operator from the proxy", "127.0.0.1", "alice@example.com", "operator"},
		{"viewer from the proxy", "127.0.0.0/8", "bob@example.com", "viewer"},
		{"header from elsewhere is ignored", "10.9.9.9", "alice@example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf(`
console:
  trusted_header:
    header: x-forwarded-email
    proxies: [%q]
    operators: [alice@example.com]
`, tc.proxies))
			c := h.client()
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/", nil)
			req.Header.Set("X-Forwarded-Email", tc.user)
			res, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1<<16)
			n, _ := res.Body.Read(buf)
			res.Body.Close()
			if tc.wantRole == "" {
				if res.StatusCode != http.StatusSeeOther {
					t.Errorf("status %d, want a redirect to the login page", res.StatusCode)
				}
				return
			}
			body := string(buf[:n])
			if res.StatusCode != 200 || !strings.Contains(body, tc.user) || !strings.Contains(body, ">"+tc.wantRole+"</span>") {
				t.Errorf("status %d; page does not show %s as %s", res.StatusCode, tc.user, tc.wantRole)
			}
		})
	}
}

// TestDeadLetterActions re-runs a dead event and all dead deliveries of a
// subscription from the events page, as an operator.
func TestDeadLetterActions(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	ids := h.deadEvents(t, map[string]int{"sub-a": 3, "sub-b": 2})
	c := h.client().asOperator()
	page := c.get("/events")
	for _, want := range []string{`data-k="state-dead">5<`, "sub-a (3)", "sub-b (2)", "1–5 of 5 dead deliveries", "always fails"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("events page lacks %q", want)
		}
	}
	if r := c.get("/events?subscription=sub-a"); !strings.Contains(r.body, "1–3 of 3 dead deliveries") || !strings.Contains(r.body, "Re-run all 3 dead deliveries of sub-a") {
		t.Errorf("filtered by subscription: missing range or the re-run-all button")
	}
	r := c.post("/events", "/events/retry-dead", url.Values{"subscription": {"sub-a"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=retried-dead") {
		t.Fatalf("retry-dead: %d %s", r.status, r.header.Get("Location"))
	}
	// The re-run deliveries now succeed.
	deadline := time.Now().Add(60 * time.Second)
	for {
		dead, err := h.q.DeadBySubscription(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d, _ := h.q.Depth(context.Background())
		if dead["sub-a"] == 0 && dead["sub-b"] == 2 && d[queue.StateSucceeded] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after re-running sub-a: dead by subscription %v, depth %v", dead, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = c.post("/events", fmt.Sprintf("/events/%d/retry", ids["sub-b"][0]), nil)
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=retried") {
		t.Errorf("retry one: %d %s", r.status, r.header.Get("Location"))
	}
	if r := c.post("/events", "/events/999999/retry", nil); r.status != http.StatusNotFound {
		t.Errorf("retry of an unknown event: %d", r.status)
	}
	if r := c.get(fmt.Sprintf("/events/%d", ids["sub-b"][1])); r.status != 200 || !strings.Contains(r.body, "always fails") || !strings.Contains(r.body, `id="retry"`) {
		t.Errorf("event page: %d, no error or no re-run button", r.status)
	}
	if r := c.get("/events/abc"); r.status != http.StatusBadRequest {
		t.Errorf("event abc: %d", r.status)
	}
}

// TestInvisibleCharacters: a bidi override in a resource id is shown as
// an escape, so it cannot reorder what an operator reads.
func TestInvisibleCharacters(t *testing.T) {
	h := newHarness(t, baseConfig(t))
	f := finding(model.KindUnmanaged, model.SeverityHigh, "prod", "aws_s3_bucket", "evil\u202etxt.exe", nil)
	f.Message = "Undefined resource exists (evil\u202etxt.exe)"
	h.upsert(f)
	c := h.client().asViewer()
	for _, p := range []string{"/findings", "/findings/" + f.Fingerprint} {
		body := c.get(p).body
		if strings.ContainsRune(body, '\u202e') || !strings.Contains(body, `evil\u202etxt.exe`) {
			t.Errorf("%s shows the bidi override raw", p)
		}
	}
}
