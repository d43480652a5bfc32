// Package githubtest provides an in-memory fake of the GitHub (Enterprise
// Server) REST API for the endpoints plumb's GitHub receivers and pull
// requests (plumb codify --pr) use, and an in-memory receivers.State.
package githubtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fake is an in-memory GitHub Enterprise Server REST API for the
// endpoints plumb uses. It checks every request the way the real API
// would (path, method, the headers go-github sends, the credentials, the
// documented JSON body) and records protocol violations as test errors.
// Response bodies follow the shapes of GitHub's REST reference.
//
// Configure it (SetToken, SetApp, SetPageSize, SetSearchLag, ...) before
// the code under test talks to it, or while no request is in flight.
type Fake struct {
	t   testing.TB
	srv *httptest.Server

	owner, repo string

	// token is the personal access token accepted as "Bearer"; with an
	// App, installation tokens minted by access_tokens are accepted as
	// "token" (what ghinstallation sends).
	token          string
	appID          int64
	installationID int64
	appKey         *rsa.PublicKey

	mu             sync.Mutex
	installTokens  map[string]bool
	tokenRequests  int
	issues         []*Issue
	advisories     []*Advisory
	writes         int
	log            []string
	searchLag      bool // search does not see issues created after searchLag was set (eventual consistency)
	pageSize       int  // server-side cap on per_page, to force pagination
	failures       []Failure
	searchRequests int
	listRequests   int
	// badJWTExpected keeps a rejected JWT from counting as a violation,
	// for the test that signs with the wrong key.
	badJWTExpected bool
	// git is the repository content (SeedRepo); pulls its pull requests.
	git   *gitRepo
	pulls []*PullRequest
	// lastNumber numbers issues and pull requests from one sequence.
	lastNumber int
}

// Issue is an issue as the fake stores it.
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string
	StateReason *string
	Labels      []string
	Comments    []string
	Created     time.Time
	Updated     time.Time
	ClosedAt    *time.Time
	indexed     bool
}

// Advisory is a repository security advisory as the fake stores it.
type Advisory struct {
	GHSA        string
	Summary     string
	Description string
	Severity    string
	State       string
	Vulns       []map[string]any
	Created     time.Time
	Updated     time.Time
}

// Failure answers the next request matching Method and PathPrefix (the
// path below /api/v3) with a canned error.
type Failure struct {
	Method, PathPrefix string
	Status             int
	Header             map[string]string
	Body               string
}

const apiPrefix = "/api/v3"

// New starts a fake for the repository owner/repo; it stops when the test
// ends. It accepts no credentials until SetToken or SetApp.
func New(t testing.TB, owner, repo string) *Fake {
	f := &Fake{t: t, owner: owner, repo: repo, installTokens: map[string]bool{}, pageSize: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// NewApp starts a fake that accepts only installation tokens minted for a
// fresh GitHub App key, and returns that key as PEM (PKCS#1).
func NewApp(t testing.TB, owner, repo string, appID, installationID int64) (*Fake, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := New(t, owner, repo)
	f.SetApp(appID, installationID, &key.PublicKey)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	return f, pemKey
}

// BaseURL is what a GHES user puts in base_url.
func (f *Fake) BaseURL() string { return f.srv.URL + apiPrefix + "/" }

// URL is the server root, without the API prefix.
func (f *Fake) URL() string { return f.srv.URL }

// Owner and Repo name the repository the fake serves.
func (f *Fake) Owner() string { return f.owner }

// Repo is the repository name.
func (f *Fake) Repo() string { return f.repo }

// SetToken sets the personal access token accepted as "Bearer".
func (f *Fake) SetToken(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = tok
}

// SetApp switches the fake to GitHub App authentication: JWTs signed by
// key with iss appID are exchanged for installation tokens of
// installationID, and only those tokens are accepted.
func (f *Fake) SetApp(appID, installationID int64, key *rsa.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appID, f.installationID, f.appKey = appID, installationID, key
}

// ExpectBadJWT keeps a rejected JWT from counting as a protocol violation.
func (f *Fake) ExpectBadJWT() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.badJWTExpected = true
}

// SetPageSize caps per_page server-side, to force pagination.
func (f *Fake) SetPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSize = n
}

// SetSearchLag makes search miss issues created from now on while lag is
// set, like GitHub's eventually consistent index.
func (f *Fake) SetSearchLag(lag bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searchLag = lag
}

// Fail queues a canned failure.
func (f *Fake) Fail(ff Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, ff)
}

// Counts returns the number of accepted non-GET requests and of issues.
func (f *Fake) Counts() (writes, issues int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, len(f.issues)
}

// Issue returns a copy of issue n; the test fails if there is none.
func (f *Fake) Issue(n int) Issue {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range f.issues {
		if i.Number == n {
			return copyIssue(i)
		}
	}
	f.t.Fatalf("no issue #%d", n)
	return Issue{}
}

func copyIssue(i *Issue) Issue {
	c := *i
	c.Comments = append([]string(nil), i.Comments...)
	c.Labels = append([]string(nil), i.Labels...)
	return c
}

// Issues returns copies of all issues, oldest first.
func (f *Fake) Issues() []Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Issue, 0, len(f.issues))
	for _, i := range f.issues {
		out = append(out, copyIssue(i))
	}
	return out
}

// Advisories returns copies of all advisories, oldest first.
func (f *Fake) Advisories() []Advisory {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Advisory, 0, len(f.advisories))
	for _, a := range f.advisories {
		out = append(out, *a)
	}
	return out
}

// TokenRequests counts installation access token requests.
func (f *Fake) TokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests
}

// Lookups counts issue/advisory listing and search requests.
func (f *Fake) Lookups() (lists, searches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listRequests, f.searchRequests
}

// ResetLookups zeroes the counters Lookups returns.
func (f *Fake) ResetLookups() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listRequests, f.searchRequests = 0, 0
}

// Log returns every request seen, as "METHOD /request/uri".
func (f *Fake) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *Fake) violation(r *http.Request, format string, args ...any) {
	f.t.Errorf("fake GitHub: %s %s: %s", r.Method, r.URL.Path, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func basicError(w http.ResponseWriter, status int, msg, doc string) {
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, r.Method+" "+r.URL.RequestURI())

	if !strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
		f.violation(r, "path outside the GHES API root %s", apiPrefix)
		basicError(w, 404, "Not Found", "https://docs.github.com/rest")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")

	if m := regexp.MustCompile(`^/app/installations/(\d+)/access_tokens$`).FindStringSubmatch(path); m != nil {
		f.accessToken(w, r, m[1])
		return
	}
	if !f.checkHeaders(w, r, path) {
		return
	}
	for i, ff := range f.failures {
		if ff.Method == r.Method && strings.HasPrefix(path, ff.PathPrefix) {
			f.failures = append(f.failures[:i], f.failures[i+1:]...)
			for k, v := range ff.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(ff.Status)
			io.WriteString(w, ff.Body)
			return
		}
	}
	if r.Method != http.MethodGet {
		f.writes++
	}

	repoPath := "/repos/" + f.owner + "/" + f.repo
	switch {
	case path == "/search/issues" && r.Method == http.MethodGet:
		f.searchIssues(w, r)
	case path == repoPath:
		f.repoRoute(w, r, "")
	case !strings.HasPrefix(path, repoPath+"/"):
		basicError(w, 404, "Not Found", "https://docs.github.com/rest/issues/issues#create-an-issue")
	default:
		f.repoRoute(w, r, strings.TrimPrefix(path, repoPath))
	}
}

// checkHeaders verifies what go-github sends on every REST call.
func (f *Fake) checkHeaders(w http.ResponseWriter, r *http.Request, path string) bool {
	wantAccept := "application/vnd.github.v3+json"
	if r.Method == http.MethodGet && path == "/repos/"+f.owner+"/"+f.repo {
		// go-github asks for the previews that add fields to a repository.
		wantAccept = "application/vnd.github.scarlet-witch-preview+json, application/vnd.github.mercy-preview+json, application/vnd.github.baptiste-preview+json, application/vnd.github.nebula-preview+json"
	}
	if r.Method == http.MethodGet && (path == "/search/issues" || regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues(/\d+)?$`).MatchString(path)) {
		// go-github asks for reactions when it reads issues.
		wantAccept = "application/vnd.github.squirrel-girl-preview"
	}
	if got := r.Header.Get("Accept"); got != wantAccept {
		f.violation(r, "Accept = %q, want %q", got, wantAccept)
	}
	if got := r.Header.Get("X-GitHub-Api-Version"); got != "2022-11-28" {
		f.violation(r, "X-GitHub-Api-Version = %q, want 2022-11-28", got)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "go-github") {
		f.violation(r, "User-Agent = %q, want go-github's", ua)
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.violation(r, "Content-Type = %q", ct)
		}
	}
	auth := r.Header.Get("Authorization")
	ok := false
	if f.appID != 0 {
		tok, found := strings.CutPrefix(auth, "token ")
		ok = found && f.installTokens[tok]
	} else {
		ok = auth == "Bearer "+f.token
	}
	if !ok {
		basicError(w, 401, "Bad credentials", "https://docs.github.com/rest")
		return false
	}
	return true
}

// accessToken implements POST /app/installations/{id}/access_tokens: the
// JWT must be RS256-signed by the App key with iss = App id and a short,
// current validity window.
func (f *Fake) accessToken(w http.ResponseWriter, r *http.Request, inst string) {
	f.tokenRequests++
	if r.Method != http.MethodPost {
		f.violation(r, "want POST")
	}
	if got := r.Header.Get("Accept"); got != "application/vnd.github.v3+json" {
		f.violation(r, "Accept = %q", got)
	}
	if f.appKey == nil || inst != strconv.FormatInt(f.installationID, 10) {
		basicError(w, 404, "Not Found", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
		return
	}
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		basicError(w, 401, "A JSON web token could not be decoded", "https://docs.github.com/rest")
		return
	}
	if err := verifyAppJWT(jwt, f.appKey, f.appID); err != nil {
		if !f.badJWTExpected {
			f.violation(r, "JWT: %v", err)
		}
		basicError(w, 401, "A JSON web token could not be decoded", "https://docs.github.com/rest")
		return
	}
	tok := fmt.Sprintf("ghs_%036d", len(f.installTokens)+1)
	f.installTokens[tok] = true
	writeJSON(w, 201, map[string]any{
		"token":                tok,
		"expires_at":           time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"issues": "write", "repository_advisories": "write", "metadata": "read"},
		"repository_selection": "selected",
	})
}

// verifyAppJWT checks an App JWT as GitHub documents it: RS256, iss the
// App id, iat in the past (clock drift allowed), exp at most 10 minutes
// after iat and in the future.
func verifyAppJWT(tok string, key *rsa.PublicKey, appID int64) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("want 3 parts, got %d", len(parts))
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return fmt.Errorf("alg %q, want RS256", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature encoding: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	var claims struct {
		Iss any   `json:"iss"`
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if fmt.Sprint(claims.Iss) != strconv.FormatInt(appID, 10) {
		return fmt.Errorf("iss %v, want %d", claims.Iss, appID)
	}
	now := time.Now().Unix()
	if claims.Iat > now+60 || claims.Iat < now-120 {
		return fmt.Errorf("iat %d not around now %d", claims.Iat, now)
	}
	if claims.Exp <= now || claims.Exp-claims.Iat > 600 {
		return fmt.Errorf("exp %d: expired or more than 10 minutes after iat %d", claims.Exp, claims.Iat)
	}
	return nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// decodeBody decodes a JSON object body, rejecting unknown fields the
// endpoint does not document.
func (f *Fake) decodeBody(r *http.Request, allowed ...string) (map[string]any, bool) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.violation(r, "body is not a JSON object: %v", err)
		return nil, false
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for k := range body {
		if !ok[k] {
			f.violation(r, "undocumented body field %q", k)
		}
	}
	return body, true
}

func validationFailed(w http.ResponseWriter, resource, field, code, doc string) {
	writeJSON(w, 422, map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": resource, "field": field, "code": code}},
		"documentation_url": doc,
		"status":            "422",
	})
}

func (f *Fake) repoRoute(w http.ResponseWriter, r *http.Request, sub string) {
	issueRe := regexp.MustCompile(`^/issues/(\d+)$`)
	commentRe := regexp.MustCompile(`^/issues/(\d+)/comments$`)
	advRe := regexp.MustCompile(`^/security-advisories/(GHSA-[a-z0-9-]+)$`)
	if f.gitRoute(w, r, sub) {
		return
	}
	switch {
	case sub == "/issues" && r.Method == http.MethodPost:
		f.createIssue(w, r)
	case sub == "/issues" && r.Method == http.MethodGet:
		f.listIssues(w, r)
	case issueRe.MatchString(sub):
		n, _ := strconv.Atoi(issueRe.FindStringSubmatch(sub)[1])
		f.oneIssue(w, r, n)
	case commentRe.MatchString(sub) && r.Method == http.MethodPost:
		n, _ := strconv.Atoi(commentRe.FindStringSubmatch(sub)[1])
		f.createComment(w, r, n)
	case sub == "/security-advisories" && r.Method == http.MethodPost:
		f.createAdvisory(w, r)
	case sub == "/security-advisories" && r.Method == http.MethodGet:
		f.listAdvisories(w, r)
	case advRe.MatchString(sub):
		f.oneAdvisory(w, r, advRe.FindStringSubmatch(sub)[1])
	default:
		f.violation(r, "endpoint not implemented by the fake")
		basicError(w, 404, "Not Found", "https://docs.github.com/rest")
	}
}

func (f *Fake) findIssue(n int) *Issue {
	for _, i := range f.issues {
		if i.Number == n {
			return i
		}
	}
	return nil
}

// issueJSON renders an issue as the REST API does.
func (f *Fake) issueJSON(i *Issue) map[string]any {
	api := f.srv.URL + apiPrefix + "/repos/" + f.owner + "/" + f.repo
	labels := []map[string]any{}
	for k, l := range i.Labels {
		labels = append(labels, map[string]any{
			"id": 208045946 + k, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": api + "/labels/" + url.PathEscape(l),
			"name": l, "description": nil, "color": "f29513", "default": false,
		})
	}
	var closedAt any
	if i.ClosedAt != nil {
		closedAt = i.ClosedAt.UTC().Format(time.RFC3339)
	}
	var reason any
	if i.StateReason != nil {
		reason = *i.StateReason
	}
	return map[string]any{
		"id": 1000 + i.Number, "node_id": "MDU6SXNzdWUx", "url": fmt.Sprintf("%s/issues/%d", api, i.Number),
		"repository_url": api, "labels_url": fmt.Sprintf("%s/issues/%d/labels{/name}", api, i.Number),
		"comments_url": fmt.Sprintf("%s/issues/%d/comments", api, i.Number),
		"events_url":   fmt.Sprintf("%s/issues/%d/events", api, i.Number),
		"html_url":     fmt.Sprintf("%s/%s/%s/issues/%d", f.srv.URL, f.owner, f.repo, i.Number),
		"number":       i.Number, "state": i.State, "state_reason": reason, "title": i.Title, "body": i.Body,
		"user":   map[string]any{"login": "plumb[bot]", "id": 1, "type": "Bot", "site_admin": false},
		"labels": labels, "assignee": nil, "assignees": []any{}, "milestone": nil, "locked": false,
		"active_lock_reason": nil, "comments": len(i.Comments), "closed_at": closedAt,
		"created_at": i.Created.UTC().Format(time.RFC3339), "updated_at": i.Updated.UTC().Format(time.RFC3339),
		"author_association": "NONE",
	}
}

func (f *Fake) createIssue(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/issues#create-an-issue"
	body, ok := f.decodeBody(r, "title", "body", "assignee", "milestone", "labels", "assignees", "type")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	title, _ := body["title"].(string)
	if title == "" {
		validationFailed(w, "Issue", "title", "missing_field", doc)
		return
	}
	if len([]rune(title)) > 256 {
		validationFailed(w, "Issue", "title", "invalid", doc)
		return
	}
	text, isStr := body["body"].(string)
	if body["body"] != nil && !isStr {
		f.violation(r, "body must be a string")
	}
	labels, good := stringList(body["labels"])
	if !good {
		f.violation(r, "labels must be an array of strings")
	}
	now := time.Now()
	i := &Issue{Number: f.nextNumber(), Title: title, Body: text, State: "open", Labels: labels, Created: now, Updated: now, indexed: !f.searchLag}
	f.issues = append(f.issues, i)
	w.Header().Set("Location", fmt.Sprintf("%s%s/repos/%s/%s/issues/%d", f.srv.URL, apiPrefix, f.owner, f.repo, i.Number))
	writeJSON(w, 201, f.issueJSON(i))
}

func stringList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (f *Fake) oneIssue(w http.ResponseWriter, r *http.Request, n int) {
	const doc = "https://docs.github.com/rest/issues/issues#update-an-issue"
	i := f.findIssue(n)
	if i == nil {
		basicError(w, 404, "Not Found", doc)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.issueJSON(i))
	case http.MethodPatch:
		body, ok := f.decodeBody(r, "title", "body", "assignee", "state", "state_reason", "milestone", "labels", "assignees", "type")
		if !ok {
			basicError(w, 400, "Problems parsing JSON", doc)
			return
		}
		if v, ok := body["title"].(string); ok {
			i.Title = v
		}
		if v, ok := body["body"].(string); ok {
			i.Body = v
		}
		if v, present := body["labels"]; present {
			labels, good := stringList(v)
			if !good {
				f.violation(r, "labels must be an array of strings")
			}
			i.Labels = labels
		}
		if v, present := body["state"]; present {
			s, _ := v.(string)
			if s != "open" && s != "closed" {
				validationFailed(w, "Issue", "state", "invalid", doc)
				return
			}
			var reason *string
			if rv, present := body["state_reason"]; present && rv != nil {
				rs, _ := rv.(string)
				switch rs {
				case "completed", "not_planned", "reopened", "duplicate":
				default:
					validationFailed(w, "Issue", "state_reason", "invalid", doc)
					return
				}
				reason = &rs
			}
			if s != i.State {
				i.State = s
				i.StateReason = reason
				if s == "closed" {
					now := time.Now()
					i.ClosedAt = &now
					if reason == nil {
						c := "completed"
						i.StateReason = &c
					}
				} else {
					i.ClosedAt = nil
				}
			}
		}
		i.Updated = time.Now()
		writeJSON(w, 200, f.issueJSON(i))
	default:
		f.violation(r, "method not allowed")
		basicError(w, 404, "Not Found", doc)
	}
}

func (f *Fake) createComment(w http.ResponseWriter, r *http.Request, n int) {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	i := f.findIssue(n)
	if i == nil {
		basicError(w, 404, "Not Found", doc)
		return
	}
	body, ok := f.decodeBody(r, "body")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	text, _ := body["body"].(string)
	if text == "" {
		validationFailed(w, "IssueComment", "body", "missing_field", doc)
		return
	}
	i.Comments = append(i.Comments, text)
	i.Updated = time.Now()
	api := f.srv.URL + apiPrefix + "/repos/" + f.owner + "/" + f.repo
	writeJSON(w, 201, map[string]any{
		"id": 1000*n + len(i.Comments), "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
		"url":        fmt.Sprintf("%s/issues/comments/%d", api, 1000*n+len(i.Comments)),
		"html_url":   fmt.Sprintf("%s/%s/%s/issues/%d#issuecomment-%d", f.srv.URL, f.owner, f.repo, n, 1000*n+len(i.Comments)),
		"body":       text,
		"user":       map[string]any{"login": "plumb[bot]", "id": 1, "type": "Bot"},
		"created_at": time.Now().UTC().Format(time.RFC3339), "updated_at": time.Now().UTC().Format(time.RFC3339),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, n),
		"author_association": "NONE",
	})
}

// paginate slices items by page/per_page and writes GitHub's Link header.
func (f *Fake) paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int) {
	q := r.URL.Query()
	per := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	per = min(per, f.pageSize)
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := max(1, (total+per-1)/per)
	link := func(p int, rel string) string {
		u := *r.URL
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, f.srv.URL, u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((page-1)*per, total)
	hi = min(lo+per, total)
	return lo, hi
}

// listIssues implements GET /repos/{o}/{r}/issues with state and labels
// filters, newest first as GitHub sorts by default.
func (f *Fake) listIssues(w http.ResponseWriter, r *http.Request) {
	f.listRequests++
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var match []*Issue
	for k := len(f.issues) - 1; k >= 0; k-- {
		i := f.issues[k]
		if state != "all" && i.State != state {
			continue
		}
		if !hasAll(i.Labels, want) {
			continue
		}
		match = append(match, i)
	}
	lo, hi := f.paginate(w, r, len(match))
	out := []map[string]any{}
	for _, i := range match[lo:hi] {
		out = append(out, f.issueJSON(i))
	}
	writeJSON(w, 200, out)
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.EqualFold(h, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var searchTokenRe = regexp.MustCompile(`"[^"]*"|\S+`)

// searchIssues implements GET /search/issues for the qualifiers plumb
// uses: repo:, is:issue, in:body and a quoted phrase. Issues created while
// searchLag is set are not indexed yet, like GitHub's lagging index.
func (f *Fake) searchIssues(w http.ResponseWriter, r *http.Request) {
	f.searchRequests++
	q := r.URL.Query().Get("q")
	var repo, phrase string
	var isIssue, inBody bool
	for _, tok := range searchTokenRe.FindAllString(q, -1) {
		switch {
		case strings.HasPrefix(tok, "repo:"):
			repo = strings.TrimPrefix(tok, "repo:")
		case tok == "is:issue":
			isIssue = true
		case tok == "in:body":
			inBody = true
		case strings.HasPrefix(tok, `"`):
			phrase = strings.Trim(tok, `"`)
		default:
			f.violation(r, "unexpected search term %q in %q", tok, q)
		}
	}
	if repo != f.owner+"/"+f.repo || !isIssue || !inBody || phrase == "" {
		f.violation(r, "search query %q lacks repo:, is:issue, in:body or a phrase", q)
	}
	var items []map[string]any
	for _, i := range f.issues {
		if i.indexed && strings.Contains(i.Body, phrase) {
			item := f.issueJSON(i)
			item["score"] = 1.0
			items = append(items, item)
		}
	}
	if items == nil {
		items = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"total_count": len(items), "incomplete_results": false, "items": items})
}

var advisoryEcosystems = map[string]bool{
	"rubygems": true, "npm": true, "pip": true, "maven": true, "nuget": true, "composer": true,
	"go": true, "rust": true, "erlang": true, "actions": true, "pub": true, "other": true, "swift": true,
}

func (f *Fake) advisoryJSON(a *Advisory) map[string]any {
	api := f.srv.URL + apiPrefix + "/repos/" + f.owner + "/" + f.repo
	vulns := a.Vulns
	if vulns == nil {
		vulns = []map[string]any{}
	}
	return map[string]any{
		"ghsa_id": a.GHSA, "cve_id": nil,
		"url":         api + "/security-advisories/" + a.GHSA,
		"html_url":    fmt.Sprintf("%s/%s/%s/security/advisories/%s", f.srv.URL, f.owner, f.repo, a.GHSA),
		"summary":     a.Summary,
		"description": a.Description,
		"severity":    a.Severity,
		"author":      map[string]any{"login": "plumb[bot]", "id": 1, "type": "Bot"},
		"publisher":   nil,
		"identifiers": []map[string]any{{"type": "GHSA", "value": a.GHSA}},
		"state":       a.State,
		"created_at":  a.Created.UTC().Format(time.RFC3339), "updated_at": a.Updated.UTC().Format(time.RFC3339),
		"published_at": nil, "closed_at": nil, "withdrawn_at": nil, "submission": nil,
		"vulnerabilities": vulns, "cvss": map[string]any{"vector_string": nil, "score": nil},
		"cwes": []any{}, "cwe_ids": []any{}, "credits": []any{}, "credits_detailed": []any{},
		"collaborating_users": nil, "collaborating_teams": nil, "private_fork": nil,
	}
}

func (f *Fake) createAdvisory(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/security-advisories/repository-advisories#create-a-repository-security-advisory"
	body, ok := f.decodeBody(r, "summary", "description", "cve_id", "vulnerabilities", "cwe_ids", "credits", "severity", "cvss_vector_string", "start_private_fork")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	summary, _ := body["summary"].(string)
	desc, _ := body["description"].(string)
	if summary == "" || desc == "" {
		validationFailed(w, "RepositoryAdvisory", "summary/description", "missing_field", doc)
		return
	}
	sev, _ := body["severity"].(string)
	if (sev == "") == (body["cvss_vector_string"] == nil) {
		f.violation(r, "set exactly one of severity and cvss_vector_string")
	}
	switch sev {
	case "low", "medium", "high", "critical":
	default:
		validationFailed(w, "RepositoryAdvisory", "severity", "invalid", doc)
		return
	}
	rawVulns, _ := body["vulnerabilities"].([]any)
	if len(rawVulns) == 0 {
		validationFailed(w, "RepositoryAdvisory", "vulnerabilities", "missing_field", doc)
		return
	}
	var vulns []map[string]any
	for _, rv := range rawVulns {
		v, _ := rv.(map[string]any)
		pkg, _ := v["package"].(map[string]any)
		eco, _ := pkg["ecosystem"].(string)
		if !advisoryEcosystems[eco] {
			validationFailed(w, "RepositoryAdvisory", "vulnerabilities.package.ecosystem", "invalid", doc)
			return
		}
		for k := range v {
			switch k {
			case "package", "vulnerable_version_range", "patched_versions", "vulnerable_functions":
			default:
				f.violation(r, "undocumented vulnerability field %q", k)
			}
		}
		vulns = append(vulns, map[string]any{
			"package":                  map[string]any{"ecosystem": eco, "name": pkg["name"]},
			"vulnerable_version_range": v["vulnerable_version_range"], "patched_versions": v["patched_versions"],
			"vulnerable_functions": v["vulnerable_functions"],
		})
	}
	now := time.Now()
	a := &Advisory{
		GHSA:    fmt.Sprintf("GHSA-%04x-%04x-%04x", len(f.advisories)+1, 0xabcd, 0x1234),
		Summary: summary, Description: desc, Severity: sev, State: "draft", Vulns: vulns, Created: now, Updated: now,
	}
	f.advisories = append(f.advisories, a)
	writeJSON(w, 201, f.advisoryJSON(a))
}

// listAdvisories implements GET /repos/{o}/{r}/security-advisories with
// cursor pagination (after=), which this endpoint uses instead of pages.
func (f *Fake) listAdvisories(w http.ResponseWriter, r *http.Request) {
	f.listRequests++
	q := r.URL.Query()
	if q.Get("page") != "" {
		f.violation(r, "this endpoint paginates with cursors, not page=")
	}
	var match []*Advisory
	for _, a := range f.advisories {
		if s := q.Get("state"); s == "" || s == a.State {
			match = append(match, a)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].GHSA < match[j].GHSA })
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(match)
		for k, a := range match {
			if a.GHSA == after {
				start = k + 1
			}
		}
	}
	per := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	per = min(per, f.pageSize)
	end := min(start+per, len(match))
	if end < len(match) {
		u := *r.URL
		qq := u.Query()
		qq.Set("after", match[end-1].GHSA)
		u.RawQuery = qq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.srv.URL, u.RequestURI()))
	}
	out := []map[string]any{}
	for _, a := range match[start:end] {
		out = append(out, f.advisoryJSON(a))
	}
	writeJSON(w, 200, out)
}

func (f *Fake) oneAdvisory(w http.ResponseWriter, r *http.Request, ghsa string) {
	const doc = "https://docs.github.com/rest/security-advisories/repository-advisories#update-a-repository-security-advisory"
	var a *Advisory
	for _, x := range f.advisories {
		if x.GHSA == ghsa {
			a = x
		}
	}
	if a == nil {
		basicError(w, 404, "Not Found", doc)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.advisoryJSON(a))
	case http.MethodPatch:
		body, ok := f.decodeBody(r, "summary", "description", "cve_id", "vulnerabilities", "cwe_ids", "credits", "severity", "cvss_vector_string", "state", "collaborating_users", "collaborating_teams")
		if !ok {
			basicError(w, 400, "Problems parsing JSON", doc)
			return
		}
		if s, ok := body["summary"].(string); ok {
			a.Summary = s
		}
		if s, ok := body["description"].(string); ok {
			a.Description = s
		}
		if s, ok := body["severity"].(string); ok {
			a.Severity = s
		}
		if s, ok := body["state"].(string); ok {
			a.State = s
		}
		a.Updated = time.Now()
		writeJSON(w, 200, f.advisoryJSON(a))
	default:
		f.violation(r, "method not allowed")
		basicError(w, 404, "Not Found", doc)
	}
}

// MemState is an in-memory receivers.State.
type MemState struct {
	mu sync.Mutex
	m  map[string]string
}

func NewMemState() *MemState { return &MemState{m: map[string]string{}} }

func (s *MemState) Get(_ context.Context, receiver, key string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[receiver+"\x00"+key]
	return v, ok, nil
}

func (s *MemState) Put(_ context.Context, receiver, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[receiver+"\x00"+key] = value
	return nil
}
