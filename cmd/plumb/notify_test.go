package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/config"
	"plumb/internal/queue"
	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/report"
	"plumb/internal/scanhistory"
	"plumb/internal/testenv"
)

const (
	notifyGHToken = "ghp_notifytest0123456789"
	notifyAPITok  = "notify-api-token"
	notifyHookKey = "notify-webhook-key"
	// notifyIntruder is a principal outside the pipeline identities.
	notifyIntruder = "99999999-9999-9999-9999-999999999999"
)

// notifyConfig writes testdata/notify/NAME with BASE_URL replaced by the
// fake GitHub's API root into dir, and returns its path.
func notifyConfig(t *testing.T, dir, name string, fake *githubtest.Fake) string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "notify", name+".yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(p, bytes.ReplaceAll(tmpl, []byte("BASE_URL"), []byte(fake.BaseURL())), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// notifyBuckets is a fixture S3 client on moto.
type notifyBuckets struct {
	t *testing.T
	c *s3.Client
}

func newNotifyBuckets(t *testing.T, m *testenv.Moto) *notifyBuckets {
	return &notifyBuckets{t: t, c: s3.NewFromConfig(m.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })}
}

func (b *notifyBuckets) create(name string) {
	b.t.Helper()
	if _, err := b.c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		b.t.Fatalf("create bucket %s: %v", name, err)
	}
}

func (b *notifyBuckets) delete(name string) {
	b.t.Helper()
	if _, err := b.c.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		b.t.Fatalf("delete bucket %s: %v", name, err)
	}
}

// notifyScanner runs `plumb scan --notify` on the declared-bucket state,
// S3 in us-east-1, environment prod.
type notifyScanner struct {
	t                           *testing.T
	cfgPath, dataDir, statePath string
}

func newNotifyScanner(t *testing.T, fake *githubtest.Fake) *notifyScanner {
	t.Helper()
	dir := t.TempDir()
	statePath, err := filepath.Abs(filepath.Join("testdata", "notify", "declared-bucket.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PLUMB_TEST_GH_TOKEN", notifyGHToken)
	return &notifyScanner{t: t, cfgPath: notifyConfig(t, dir, "plumb", fake), dataDir: filepath.Join(dir, "data"), statePath: statePath}
}

// scan runs the scan, checks its exit code and returns the JSON report and
// stderr (where --notify prints its summary).
func (s *notifyScanner) scan(wantCode int, extra ...string) (*report.Report, string) {
	s.t.Helper()
	args := append([]string{"scan", "--config", s.cfgPath, "--notify", "--data-dir", s.dataDir, "--notify-wait", "60s",
		"--env", "prod", "--state", s.statePath, "--type", "aws_s3_bucket", "--region", "us-east-1", "-o", "json"}, extra...)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(args, &stdout, &stderr)
	s.t.Logf("plumb scan --notify %v: exit %d in %s\n%s", extra, code, time.Since(start).Round(time.Millisecond), stderr.String())
	if code != wantCode {
		s.t.Fatalf("exit code %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, stderr.String(), stdout.String())
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		s.t.Fatalf("decode report: %v\n%s", err, stdout.String())
	}
	return &rep, stderr.String()
}

// wantSummary checks the --notify summary line on stderr.
func wantSummary(t *testing.T, stderr, want string) {
	t.Helper()
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr, "not delivered yet") {
		t.Errorf("notifications left undelivered:\n%s", stderr)
	}
}

func notifyMarker(fp string) string { return "<!-- plumb:fingerprint=" + fp + " -->" }

// issueOf returns the one issue carrying fp's marker.
func issueOf(t *testing.T, fake *githubtest.Fake, fp string) githubtest.Issue {
	t.Helper()
	var found []githubtest.Issue
	for _, iss := range fake.Issues() {
		if strings.Contains(iss.Body, notifyMarker(fp)) {
			found = append(found, iss)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d issues carry the marker of %s, want 1", len(found), fp)
	}
	return found[0]
}

func stateReason(iss githubtest.Issue) string {
	if iss.StateReason == nil {
		return "<nil>"
	}
	return *iss.StateReason
}

func lastComment(iss githubtest.Issue) string {
	if len(iss.Comments) == 0 {
		return ""
	}
	return iss.Comments[len(iss.Comments)-1]
}

// TestNotifyScanIssueLifecycle drives the whole life of a drift finding
// through `plumb scan --notify` against moto and a fake GitHub: an
// undeclared bucket opens exactly one issue; scanning again changes
// nothing; deleting the bucket closes the issue as completed; recreating
// it reopens the same issue; and with the data directory lost, the issue
// is found again by its marker instead of being duplicated. The exit codes
// stay the scan's.
func TestNotifyScanIssueLifecycle(t *testing.T) {
	m := testenv.StartMoto(t)
	buckets := newNotifyBuckets(t, m)
	buckets.create("plumb-declared")
	buckets.create("plumb-stray")
	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken(notifyGHToken)
	sc := newNotifyScanner(t, fake)

	// 1. The drift opens one issue.
	rep, stderr := sc.scan(exitFindings)
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "drift.unmanaged" || rep.Findings[0].Resource.ID != "plumb-stray" {
		t.Fatalf("findings = %s", describe(rep))
	}
	fp := rep.Findings[0].Fingerprint
	wantSummary(t, stderr, "findings: 1 opened, 0 reopened, 0 still open, 0 resolved, 0 kept open (scope not read); 1 notification(s) sent")
	if _, n := fake.Counts(); n != 1 {
		t.Fatalf("issues %d, want 1", n)
	}
	iss := issueOf(t, fake, fp)
	if iss.Title != "[DRIFT DETECTED] Undefined resource exists (plumb-stray)" || iss.State != "open" {
		t.Errorf("issue #%d: title %q state %s", iss.Number, iss.Title, iss.State)
	}
	number := iss.Number

	// 2. The same drift again: no new issue, nothing written.
	writes, _ := fake.Counts()
	_, stderr = sc.scan(exitFindings)
	wantSummary(t, stderr, "findings: 0 opened, 0 reopened, 1 still open, 0 resolved, 0 kept open (scope not read); 0 notification(s) sent")
	if w, n := fake.Counts(); n != 1 || w != writes {
		t.Errorf("second scan: issues %d (want 1), writes %d (want 0)", n, w-writes)
	}

	// 3. The bucket is gone: a complete scan resolves the finding and the
	// issue is closed as completed, with a comment.
	buckets.delete("plumb-stray")
	rep, stderr = sc.scan(exitOK)
	if len(rep.Findings) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("clean scan = %s", describe(rep))
	}
	wantSummary(t, stderr, "findings: 0 opened, 0 reopened, 0 still open, 1 resolved, 0 kept open (scope not read); 1 notification(s) sent")
	iss = fake.Issue(number)
	if iss.State != "closed" || stateReason(iss) != "completed" {
		t.Errorf("after resolution: state %s reason %s", iss.State, stateReason(iss))
	}
	if c := lastComment(iss); !strings.HasPrefix(c, "Resolved:") || !strings.Contains(c, "plumb-stray") {
		t.Errorf("resolution comment %q", c)
	}
	if _, n := fake.Counts(); n != 1 {
		t.Errorf("issues %d, want 1", n)
	}

	// 4. It is back: the same issue reopens.
	buckets.create("plumb-stray")
	rep, stderr = sc.scan(exitFindings)
	if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != fp {
		t.Fatalf("findings = %s", describe(rep))
	}
	wantSummary(t, stderr, "findings: 0 opened, 1 reopened, 0 still open, 0 resolved, 0 kept open (scope not read); 1 notification(s) sent")
	iss = fake.Issue(number)
	if iss.State != "open" || !strings.HasPrefix(lastComment(iss), "Recurred") {
		t.Errorf("after recurrence: state %s, last comment %q", iss.State, lastComment(iss))
	}
	if _, n := fake.Counts(); n != 1 {
		t.Errorf("issues %d, want the same one reopened", n)
	}

	// 5. The data directory is lost: the finding is new to plumb, but the
	// issue is found by its marker, not opened twice.
	if err := os.RemoveAll(sc.dataDir); err != nil {
		t.Fatal(err)
	}
	fake.ResetLookups()
	_, stderr = sc.scan(exitFindings)
	wantSummary(t, stderr, "findings: 1 opened, 0 reopened, 0 still open, 0 resolved, 0 kept open (scope not read); 1 notification(s) sent")
	if _, n := fake.Counts(); n != 1 {
		t.Errorf("after losing the store: issues %d, want 1", n)
	}
	if lists, searches := fake.Lookups(); lists+searches == 0 {
		t.Errorf("the lost mapping was not looked up by marker (lists %d, searches %d)", lists, searches)
	}
	if iss := issueOf(t, fake, fp); iss.Number != number || iss.State != "open" {
		t.Errorf("issue #%d state %s, want #%d open", iss.Number, iss.State, number)
	}
}

// s3AccessDenied is S3's REST-XML answer to a caller without permission.
func s3AccessDenied() *testenv.Fault {
	return &testenv.Fault{
		Status:  403,
		Headers: map[string]string{"Content-Type": "application/xml"},
		Body:    `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>6B8A0E7C1D2F3A4B</RequestId><HostId>aG9zdGlk</HostId></Error>`,
	}
}

// TestNotifyScanPartialKeepsIssueOpen: once the drift is reported, a scan
// that cannot list S3 (AccessDenied through a proxy in front of moto) must
// not close the issue, even though the bucket is really gone, with or
// without --allow-partial. A complete scan afterwards does close it, which
// shows the partial scans were the only reason it stayed open.
func TestNotifyScanPartialKeepsIssueOpen(t *testing.T) {
	m := testenv.StartMoto(t)
	buckets := newNotifyBuckets(t, m)
	buckets.create("plumb-declared")
	buckets.create("plumb-stray")
	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken(notifyGHToken)
	sc := newNotifyScanner(t, fake)

	rep, _ := sc.scan(exitFindings)
	if len(rep.Findings) != 1 {
		t.Fatalf("findings = %s", describe(rep))
	}
	iss := issueOf(t, fake, rep.Findings[0].Fingerprint)
	buckets.delete("plumb-stray")

	denied := 0
	proxy := testenv.FaultProxy(t, m.Endpoint, func(service string, n int) *testenv.Fault {
		if service == "s3" {
			denied++
			return s3AccessDenied()
		}
		return nil
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	writes, _ := fake.Counts()
	for _, tc := range []struct {
		name  string
		extra []string
		code  int
	}{
		{"allow partial", []string{"--allow-partial"}, exitOK},
		{"partial is an error", nil, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc.t = t
			rep, stderr := sc.scan(tc.code, tc.extra...)
			if len(rep.Errors) != 1 || rep.Errors[0].Scope != "aws/us-east-1/s3" || !strings.Contains(rep.Errors[0].Message, "AccessDenied") {
				t.Errorf("errors = %+v", rep.Errors)
			}
			if len(rep.Findings) != 0 {
				t.Errorf("findings = %s", describe(rep))
			}
			wantSummary(t, stderr, "findings: 0 opened, 0 reopened, 0 still open, 0 resolved, 1 kept open (scope not read); 0 notification(s) sent")
			if got := fake.Issue(iss.Number); got.State != "open" {
				t.Errorf("a partial scan closed issue #%d (%s)", got.Number, stateReason(got))
			}
			if w, n := fake.Counts(); w != writes || n != 1 {
				t.Errorf("writes %d (want 0), issues %d (want 1)", w-writes, n)
			}
		})
	}
	sc.t = t
	if denied == 0 {
		t.Fatal("the proxy denied no S3 request")
	}

	t.Setenv("AWS_ENDPOINT_URL", m.Endpoint)
	_, stderr := sc.scan(exitOK)
	wantSummary(t, stderr, "1 resolved")
	if got := fake.Issue(iss.Number); got.State != "closed" || stateReason(got) != "completed" {
		t.Errorf("complete scan: issue state %s reason %s", got.State, stateReason(got))
	}

	// Every run is in the scan history the console reads: the partial
	// ones with the scope they could not read.
	hist := scanHistoryOf(t, sc.dataDir)
	if len(hist) != 4 {
		t.Fatalf("%d scans in the history, want 4", len(hist))
	}
	for i, want := range []bool{true, false, false, true} {
		sc := hist[i]
		if sc.Complete != want || sc.Environment != "prod" || sc.Source != scanhistory.SourceCLI {
			t.Errorf("scan %d: complete %v env %s source %s, want complete %v", i, sc.Complete, sc.Environment, sc.Source, want)
		}
		if !want && (len(sc.Unread) != 1 || sc.Unread[0].Scope != "aws/us-east-1/s3") {
			t.Errorf("partial scan %d: unread %+v", i, sc.Unread)
		}
	}
}

// scanHistoryOf reads every scan recorded in a --notify data directory.
func scanHistoryOf(t *testing.T, dataDir string) []scanhistory.Scan {
	t.Helper()
	q, err := queue.Open(context.Background(), queue.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	hist, err := scanhistory.Open(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	scans, err := hist.Since(context.Background(), "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return scans
}

// notifyServe runs plumb serve in-process (server.Run, as the serve
// command does) with cfgPath, and returns its base URL. It stops when the
// test ends.
func notifyServe(t *testing.T, cfgPath string, env map[string]string) string {
	t.Helper()
	cfg, err := config.Load(cfgPath, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return runServer(t, cfg)
}

// nsgWrite is an Event Grid write of network security group nsg by
// principal; id is the event's own id, so two events may write the same
// resource (and so make the same finding).
func nsgWrite(id, nsg, principal string) map[string]any {
	rid := "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/" + nsg
	return map[string]any{
		"id": id, "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": rid, "eventTime": "2026-11-22T10:00:00Z",
		"dataVersion": "2", "metadataVersion": "1", "topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
		"data": map[string]any{
			"operationName": "Microsoft.Network/networkSecurityGroups/write", "resourceUri": rid,
			"subscriptionId": "00000000-0000-0000-0000-000000000001", "status": "Succeeded",
			"authorization": map[string]any{"action": "Microsoft.Network/networkSecurityGroups/write", "scope": rid,
				"evidence": map[string]any{"role": "Contributor", "principalId": principal, "principalType": "User"}},
			"claims": map[string]any{"http://schemas.microsoft.com/identity/claims/objectidentifier": principal},
		},
	}
}

func postEvents(t *testing.T, base string, events ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/events/eventgrid?key="+notifyHookKey, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post events: status %d", resp.StatusCode)
	}
}

// pollUntil polls cond every 50ms until it holds or the deadline passes.
func pollUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notifyCLI runs a plumb client command against base and fails on a
// non-zero exit.
func notifyCLI(t *testing.T, base string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--server", base, "--token", notifyAPITok)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("plumb %v: exit %d\n%s", args, code, stderr.String())
	}
	return stdout.String()
}

type cliFinding struct {
	Status  string `json:"status"`
	Count   int    `json:"count"`
	Finding struct {
		Fingerprint string `json:"fingerprint"`
		Kind        string `json:"kind"`
		Resource    struct {
			ID string `json:"id"`
		} `json:"resource"`
	} `json:"finding"`
}

type cliShow struct {
	Finding cliFinding `json:"finding"`
	History []struct {
		Action string `json:"action"`
		Detail string `json:"detail"`
	} `json:"history"`
}

func showFinding(t *testing.T, base, fp string) cliShow {
	t.Helper()
	var v cliShow
	out := notifyCLI(t, base, "findings", "show", fp)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("findings show: %v\n%s", err, out)
	}
	return v
}

func (s cliShow) actions() string {
	var a []string
	for _, h := range s.History {
		a = append(a, h.Action)
	}
	return strings.Join(a, ",")
}

// TestNotifyFindingsCLI drives the findings lifecycle by hand through the
// CLI against plumb serve with a GitHub issue receiver: show prints the
// history, suppress closes the issue as not planned and keeps the finding
// from being routed when it is seen again, resolve closes as completed.
func TestNotifyFindingsCLI(t *testing.T) {
	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken(notifyGHToken)
	env := map[string]string{"PLUMB_TEST_API_TOKEN": notifyAPITok, "PLUMB_TEST_WEBHOOK_KEY": notifyHookKey, "PLUMB_TEST_GH_TOKEN": notifyGHToken}
	base := notifyServe(t, notifyConfig(t, t.TempDir(), "serve", fake), env)

	postEvents(t, base, nsgWrite("ev-a1", "nsg-a", notifyIntruder), nsgWrite("ev-b1", "nsg-b", notifyIntruder))
	pollUntil(t, 30*time.Second, "two issues", func() bool { _, n := fake.Counts(); return n == 2 })

	var list []cliFinding
	if err := json.Unmarshal([]byte(notifyCLI(t, base, "findings", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	fps := map[string]string{}
	for _, f := range list {
		fps[f.Finding.Resource.ID] = f.Finding.Fingerprint
	}
	var fpA, fpB string
	for id, fp := range fps {
		switch {
		case strings.HasSuffix(id, "/nsg-a"):
			fpA = fp
		case strings.HasSuffix(id, "/nsg-b"):
			fpB = fp
		}
	}
	if len(list) != 2 || fpA == "" || fpB == "" {
		t.Fatalf("findings list: %+v", list)
	}
	issA, issB := issueOf(t, fake, fpA), issueOf(t, fake, fpB)

	// show: the finding and its history. The delivery is recorded right
	// after the issue is written.
	pollUntil(t, 30*time.Second, "the delivered notification in the history", func() bool { return showFinding(t, base, fpA).actions() == "opened,notified" })
	sh := showFinding(t, base, fpA)
	// The delivered notification is in the history (enforcement's grace
	// period counts from it).
	if sh.Finding.Status != "open" || sh.Finding.Finding.Kind != "audit.unexpected_write" || sh.actions() != "opened,notified" || sh.History[1].Detail != "gh-issues" {
		t.Errorf("show %s: status %s kind %s history %s", fpA, sh.Finding.Status, sh.Finding.Finding.Kind, sh.actions())
	}

	// suppress: accepted risk. The issue closes as not planned.
	if out := notifyCLI(t, base, "findings", "suppress", fpA, "--reason", "accepted risk: lab NSG"); out != "finding "+fpA+": suppressed\n" {
		t.Errorf("suppress printed %q", out)
	}
	pollUntil(t, 30*time.Second, "the suppressed finding's issue to close", func() bool { return fake.Issue(issA.Number).State == "closed" })
	if got := fake.Issue(issA.Number); stateReason(got) != "not_planned" {
		t.Errorf("suppressed: issue closed as %s, want not_planned", stateReason(got))
	}
	sh = showFinding(t, base, fpA)
	if sh.Finding.Status != "suppressed" || sh.actions() != "opened,notified,suppressed" || sh.History[2].Detail != "accepted risk: lab NSG" {
		t.Errorf("after suppress: status %s history %+v", sh.Finding.Status, sh.History)
	}

	// Seen again while suppressed: counted, not routed. A new finding
	// posted afterwards proves a routing pass ran after the sighting.
	postEvents(t, base, nsgWrite("ev-a2", "nsg-a", notifyIntruder))
	pollUntil(t, 30*time.Second, "the second sighting to be counted", func() bool { return showFinding(t, base, fpA).Finding.Count == 2 })
	postEvents(t, base, nsgWrite("ev-c1", "nsg-c", notifyIntruder))
	pollUntil(t, 30*time.Second, "the issue of a new finding", func() bool { _, n := fake.Counts(); return n == 3 })
	if got := fake.Issue(issA.Number); got.State != "closed" || len(got.Comments) != 1 {
		t.Errorf("suppressed finding was routed: issue #%d state %s comments %q", got.Number, got.State, got.Comments)
	}
	if sh := showFinding(t, base, fpA); sh.Finding.Status != "suppressed" {
		t.Errorf("seen again: status %s, want suppressed", sh.Finding.Status)
	}

	// resolve: the operator fixed it; the issue closes as completed.
	if out := notifyCLI(t, base, "findings", "resolve", fpB); out != "finding "+fpB+": resolved\n" {
		t.Errorf("resolve printed %q", out)
	}
	pollUntil(t, 30*time.Second, "the resolved finding's issue to close", func() bool { return fake.Issue(issB.Number).State == "closed" })
	if got := fake.Issue(issB.Number); stateReason(got) != "completed" || !strings.HasPrefix(lastComment(got), "Resolved:") {
		t.Errorf("resolved: reason %s comment %q", stateReason(got), lastComment(got))
	}
	sh = showFinding(t, base, fpB)
	if sh.Finding.Status != "resolved" || sh.actions() != "opened,notified,resolved" || sh.History[2].Detail != "manual" {
		t.Errorf("after resolve: status %s history %+v", sh.Finding.Status, sh.History)
	}
	out := notifyCLI(t, base, "findings", "list", "--status", "suppressed")
	if rows := strings.Split(strings.TrimSpace(out), "\n"); len(rows) != 2 || !strings.Contains(rows[1], "suppressed") {
		t.Errorf("findings list --status suppressed:\n%s", out)
	}
	if _, n := fake.Counts(); n != 3 {
		t.Errorf("issues %d, want 3", n)
	}
}
