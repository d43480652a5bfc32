package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/crypto/bcrypt"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// consoleActionsConfig: prod needs a peer's approval by alice or bob;
// carol is an operator but no approver, vera a viewer.
const consoleActionsConfig = `
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    accounts: ["123456789012"]
    approval: peer
    approvers: [alice, bob]
    enforcement: {changed: revert, unmanaged: quarantine, dry_run: true}
  - name: sandbox
    accounts: ["123456789012"]
    regions: [us-east-1]
    enforcement: {unmanaged: quarantine, grace: 0s, dry_run: false}
console:
  users:
    - {name: alice, password_hash: "HASH", role: operator}
    - {name: bob, password_hash: "HASH", role: operator}
    - {name: carol, password_hash: "HASH", role: operator}
    - {name: vera, password_hash: "HASH"}
`

const consolePassword = "console-password-1"

// consoleUser is a logged-in browser without JavaScript: a cookie jar.
type consoleUser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (u *consoleUser) do(method, path string, form url.Values) (int, string) {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.base+path, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// post submits a form of page from with the page's CSRF token.
func (u *consoleUser) post(from, path string, form url.Values) (int, string) {
	u.t.Helper()
	_, page := u.do(http.MethodGet, from, nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		u.t.Fatalf("no CSRF token on %s", from)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", m[1])
	return u.do(http.MethodPost, path, form)
}

func loginConsole(t *testing.T, base, name string) *consoleUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &consoleUser{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if code, body := u.post("/login", "/login", url.Values{"username": {name}, "password": {consolePassword}}); code != http.StatusSeeOther {
		t.Fatalf("log in %s: %d %s", name, code, body)
	}
	return u
}

// consoleWithActions starts a server whose console has enforcement's
// actions, over the given executors.
func consoleWithActions(t *testing.T, execs map[string]enforce.Executor) (*testServer, *enforcement, string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, strings.ReplaceAll(consoleActionsConfig, "HASH", string(h)), nil)
	ctx := context.Background()
	enf, err := newEnforcement(ctx, ts.srv.cfg, ts.queue, ts.store, execs, time.Now, ts.srv.logger, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.pipelineEnforcer(enf)
	_, con, err := openConsoleStores(ctx, ts.srv.cfg, ts.queue, ts.store, enf, ts.srv.logger)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.enforcement, ts.srv.console = enf, con
	hs := httptest.NewServer(ts.srv.Handler())
	t.Cleanup(hs.Close)
	return ts, enf, hs.URL
}

// pipelineEnforcer lets the test server's queue run enforcement's jobs.
func (ts *testServer) pipelineEnforcer(enf *enforcement) {
	ts.srv.pipeline.SetEnforcer(enf.runner)
	ts.srv.pipeline.SetService(enf.service)
}

func consoleFinding(t *testing.T, ts *testServer, kind model.Kind, id string) string {
	return consoleFindingIn(t, ts, "prod", kind, id)
}

func consoleFindingIn(t *testing.T, ts *testServer, env string, kind model.Kind, id string) string {
	t.Helper()
	f := model.Finding{Kind: kind, Severity: "high", Environment: env, Message: "finding of " + id,
		Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: id, Region: "us-east-1", Account: "123456789012"}}
	f.Fingerprint = model.Fingerprint(kind, env, "aws", f.Resource.Type, "us-east-1", id, "")
	if err := ts.store.Upsert(context.Background(), time.Now(), []model.Finding{f}); err != nil {
		t.Fatal(err)
	}
	return f.Fingerprint
}

// awaitingAction parks a revert of fp requested by alice for approval.
func awaitingAction(t *testing.T, enf *enforcement, id, fp string) {
	t.Helper()
	now := time.Now().UTC()
	a := &enforce.Action{ID: id, RunID: "run-" + id, Fingerprint: fp, Environment: "prod", Kind: model.KindChanged,
		Verb: enforce.VerbRevert, State: enforce.StateAwaiting, Guard: enforce.GuardApproval, Actor: "alice",
		Reason:    "waits for peer approval by one of bob (requested by alice)",
		Resource:  model.Resource{Provider: "aws", Type: "aws_instance", ID: "i-changed", Region: "us-east-1"},
		Revert:    &enforce.RevertPlan{Method: enforce.MethodBuiltin, Hash: "h-" + id, Summary: "tags.env: hotfix -> prod"},
		Approval:  &enforce.ApprovalStatus{Required: "peer", Approvers: []string{"alice", "bob"}, Requesters: []string{"alice"}, PlanHash: "h-" + id},
		CreatedAt: now, UpdatedAt: now}
	if err := enf.actions.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// quarantined records a quarantine of fp that took effect.
func quarantined(t *testing.T, enf *enforcement, id, fp, resID string, kind model.Kind) {
	t.Helper()
	now := time.Now().UTC()
	a := &enforce.Action{ID: id, RunID: "run-" + id, Fingerprint: fp, Environment: "prod", Kind: kind, Why: "unmanaged instance",
		Verb: enforce.VerbQuarantine, State: enforce.StateSucceeded, Actor: "schedule", Before: json.RawMessage(`{"groups":["sg-1"]}`),
		Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: resID, Region: "us-east-1"}, CreatedAt: now, UpdatedAt: now}
	if err := enf.actions.Insert(context.Background(), []*enforce.Action{a}); err != nil {
		t.Fatal(err)
	}
}

func actionState(t *testing.T, enf *enforcement, id string) *enforce.Action {
	t.Helper()
	a, err := enf.actions.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestConsoleApprovals: on a finding's page an action awaiting approval is
// described to everyone; operators get approve and reject, decided with
// their console name exactly as the API decides for a named token (the
// requester cannot approve, only approvers decide); viewers get no
// buttons and have the POST refused; a POST without the CSRF token is
// refused.
func TestConsoleApprovals(t *testing.T) {
	ctx := context.Background()
	ts, enf, base := consoleWithActions(t, map[string]enforce.Executor{})
	fp := consoleFinding(t, ts, model.KindChanged, "i-changed")
	other := consoleFinding(t, ts, model.KindChanged, "i-other")
	awaitingAction(t, enf, "act-approve-1", fp)
	awaitingAction(t, enf, "act-reject-1", other)
	page := "/findings/" + fp
	approve := page + "/actions/approve-act-approve-1"

	users := map[string]*consoleUser{}
	for _, n := range []string{"alice", "bob", "carol", "vera"} {
		users[n] = loginConsole(t, base, n)
	}

	// Everyone sees the state; only operators see buttons.
	for n, u := range users {
		code, body := u.do(http.MethodGet, page, nil)
		if code != 200 || !strings.Contains(body, "Action act-approve-1 (revert of aws_instance i-changed) is awaiting approval") ||
			!strings.Contains(body, "tags.env: hotfix -&gt; prod") {
			t.Errorf("%s: page %d does not describe the awaiting action", n, code)
		}
		buttons := strings.Contains(body, `action="`+approve+`"`) && strings.Contains(body, `action="`+page+`/actions/reject-act-approve-1"`)
		if want := n != "vera"; buttons != want {
			t.Errorf("%s sees approve and reject buttons: %v, want %v", n, buttons, want)
		}
	}

	refused := []struct {
		name, who, path string
		form            url.Values
		want            int
		says            string
	}{
		{"viewer", "vera", approve, nil, http.StatusForbidden, "operator role"},
		{"requester approves own action", "alice", approve, nil, http.StatusForbidden, "alice requested action act-approve-1 and cannot approve it"},
		{"operator who is no approver", "carol", approve, nil, http.StatusForbidden, "carol is not an approver of environment prod"},
		{"reject without a reason", "bob", page + "/actions/reject-act-approve-1", nil, http.StatusBadRequest, "needs a reason"},
		{"action of another finding", "bob", page + "/actions/approve-act-reject-1", nil, http.StatusNotFound, "not offered"},
	}
	for _, tc := range refused {
		code, body := users[tc.who].post(page, tc.path, tc.form)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q: %s", tc.name, code, tc.want, tc.says, body)
		}
	}
	// Without the CSRF token (another site's form) nothing is decided.
	if code, _ := users["bob"].do(http.MethodPost, approve, url.Values{}); code != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", code)
	}
	if ds, err := enf.actions.Decisions(ctx, "act-approve-1", "h-act-approve-1"); err != nil || len(ds) != 0 {
		t.Fatalf("refused decisions were recorded: %+v %v", ds, err)
	}

	// bob approves: recorded in his name, via the console; prod is a dry
	// run, so the action stays waiting for the next armed apply.
	if code, body := users["bob"].post(page, approve, nil); code != http.StatusSeeOther {
		t.Fatalf("bob approves: %d %s", code, body)
	}
	ds, err := enf.actions.Decisions(ctx, "act-approve-1", "h-act-approve-1")
	if err != nil || len(ds) != 1 || ds[0].Approver != "bob" || ds[0].Via != enforce.ViaConsole || ds[0].Decision != enforce.DecisionApprove {
		t.Fatalf("decisions after bob's approval: %+v %v", ds, err)
	}
	a := actionState(t, enf, "act-approve-1")
	if a.Approval == nil || !a.Approval.Approved || !strings.Contains(a.Reason, "dry_run: true") {
		t.Errorf("approved action: %+v %+v", a, a.Approval)
	}
	_, body := users["vera"].do(http.MethodGet, page+"?done=action", nil)
	if !strings.Contains(body, "Action act-approve-1 (revert of aws_instance i-changed) is approved and has not run: environment prod has dry_run: true") {
		t.Errorf("the page does not show the approval's outcome to the viewer")
	}
	// Approved, it is not offered for approval again; reject still is.
	_, body = users["bob"].do(http.MethodGet, page, nil)
	if strings.Contains(body, `action="`+approve+`"`) || !strings.Contains(body, "/actions/reject-act-approve-1") {
		t.Error("after the approval the page still offers approve, or no longer reject")
	}

	// bob rejects the other action with a reason: it will not run.
	if code, body := users["bob"].post("/findings/"+other, "/findings/"+other+"/actions/reject-act-reject-1", url.Values{"reason": {"wrong window"}}); code != http.StatusSeeOther {
		t.Fatalf("bob rejects: %d %s", code, body)
	}
	if a := actionState(t, enf, "act-reject-1"); a.State != enforce.StateBlocked || !strings.Contains(a.Reason, "rejected: by bob") || !strings.Contains(a.Reason, "wrong window") {
		t.Errorf("rejected action: %s %q", a.State, a.Reason)
	}
	// Rejected, it is no longer offered.
	if _, body := users["bob"].do(http.MethodGet, "/findings/"+other, nil); strings.Contains(body, "actions/approve-act-reject-1") {
		t.Error("a rejected action is still offered for approval")
	}
}

// TestConsoleReleaseRefusals: a quarantine's release is offered to
// operators (never viewers) and goes through enforcement's guards (here no
// AWS executor is configured, so the release is refused with the guard's
// reason and the quarantine stays); an isolation is described with why it
// is not offered, and a release posted anyway is refused.
func TestConsoleReleaseRefusals(t *testing.T) {
	ts, enf, base := consoleWithActions(t, map[string]enforce.Executor{})
	quar := consoleFinding(t, ts, model.KindUnmanaged, "i-quarantined")
	iso := consoleFinding(t, ts, model.KindIsolated, "i-isolated")
	quarantined(t, enf, "act-quar-1", quar, "i-quarantined", model.KindUnmanaged)
	quarantined(t, enf, "act-iso-1", iso, "i-isolated", model.KindIsolated)
	op, vera := loginConsole(t, base, "bob"), loginConsole(t, base, "vera")

	release := "/findings/" + quar + "/actions/release"
	for _, tc := range []struct {
		who     *consoleUser
		name    string
		buttons bool
	}{{op, "operator", true}, {vera, "viewer", false}} {
		_, body := tc.who.do(http.MethodGet, "/findings/"+quar, nil)
		if !strings.Contains(body, "The resource is quarantined by action act-quar-1") {
			t.Errorf("%s: the quarantine is not described", tc.name)
		}
		if got := strings.Contains(body, `action="`+release+`"`); got != tc.buttons {
			t.Errorf("%s sees the release button: %v", tc.name, got)
		}
		_, body = tc.who.do(http.MethodGet, "/findings/"+iso, nil)
		if !strings.Contains(body, "held in isolation by action act-iso-1") || !strings.Contains(body, "server.operator_token") {
			t.Errorf("%s: the isolation and why it is not released here are not shown", tc.name)
		}
		if strings.Contains(body, "/actions/release") {
			t.Errorf("%s is offered the release of an isolation", tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		who  *consoleUser
		path string
		form url.Values
		want int
		says string
	}{
		{"viewer", vera, release, url.Values{"reason": {"fixed"}}, http.StatusForbidden, "operator role"},
		{"no reason", op, release, nil, http.StatusBadRequest, "needs a reason"},
		{"isolation", op, "/findings/" + iso + "/actions/release", url.Values{"reason": {"fixed"}}, http.StatusNotFound, "not offered"},
		{"guard stops it", op, release, url.Values{"reason": {"fixed"}}, http.StatusConflict, "guard"},
	} {
		code, body := tc.who.post("/findings/"+quar, tc.path, tc.form)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q: %s", tc.name, code, tc.want, tc.says, body)
		}
	}
	// While another action on a quarantined resource runs, the release
	// waits, and the page says why.
	busy := consoleFinding(t, ts, model.KindUnmanaged, "i-busy")
	quarantined(t, enf, "act-quar-busy", busy, "i-busy", model.KindUnmanaged)
	now := time.Now().UTC()
	if err := enf.actions.Put(context.Background(), &enforce.Action{ID: "act-running", RunID: "run-2", Fingerprint: busy, Environment: "prod",
		Kind: model.KindUnmanaged, Verb: enforce.VerbDelete, State: enforce.StateRunning, Actor: "schedule",
		Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: "i-busy"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	_, body := op.do(http.MethodGet, "/findings/"+busy, nil)
	if !strings.Contains(body, "release is not offered while enforcement acts on the finding") || strings.Contains(body, "/actions/release") {
		t.Errorf("a busy quarantined finding: release offered, or no word why not")
	}
	for _, id := range []string{"act-quar-1", "act-iso-1"} {
		if a := actionState(t, enf, id); a.State != enforce.StateSucceeded {
			t.Errorf("quarantine %s is %s after refused releases, want still succeeded", id, a.State)
		}
	}
}

// TestConsoleRelease: an instance in moto quarantined by plumb's real AWS
// executor is released from the console by an operator: the release runs
// on the durable queue, gives the instance its security groups back and
// records the quarantine as released by the console user, with the reason.
func TestConsoleRelease(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	awsCfg := moto.Config(t, "us-east-1")
	instance := runInstance(t, ctx, awsCfg, map[string]string{"Name": "by-hand"})
	groups := func() []string {
		var out []string
		for _, g := range describeInstance(t, ctx, awsCfg, instance).SecurityGroups {
			out = append(out, aws.ToString(g.GroupId))
		}
		slices.Sort(out)
		return out
	}
	before := groups()
	h, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(consoleActionsConfig, "HASH", string(h))
	parsed, err := config.Parse("plumb.yaml", []byte(cfg), func(string) string { return testToken })
	if err != nil {
		t.Fatal(err)
	}
	execs, err := Executors(ctx, parsed, ExecutorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts, enf, base := consoleWithActions(t, execs)
	fp := consoleFindingIn(t, ts, "sandbox", model.KindUnmanaged, instance)

	// plumb quarantines the instance (the runner, the real executor).
	now := time.Now().UTC()
	q := &enforce.Action{ID: "act-quarantine-" + instance, RunID: "run-q", Fingerprint: fp, Environment: "sandbox", Kind: model.KindUnmanaged,
		Verb: enforce.VerbQuarantine, State: enforce.StatePlanned, Actor: "schedule", Why: "unmanaged instance",
		Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: instance, Region: "us-east-1"}, CreatedAt: now, UpdatedAt: now}
	if err := enf.runner.Submit(ctx, &enforce.Plan{RunID: "run-q", Environment: "sandbox", Apply: true, At: now, Actions: []*enforce.Action{q}}); err != nil {
		t.Fatal(err)
	}
	waitForDeadline(t, 60*time.Second, "the quarantine", func() bool { return actionState(t, enf, q.ID).State == enforce.StateSucceeded })
	if got := groups(); slices.Equal(got, before) {
		t.Fatalf("the quarantine left the instance's groups as they were: %v", got)
	}

	bob := loginConsole(t, base, "bob")
	if _, body := bob.do(http.MethodGet, "/findings/"+fp, nil); !strings.Contains(body, "The resource is quarantined by action "+q.ID) {
		t.Fatalf("the finding page does not describe the quarantine")
	}
	if code, body := bob.post("/findings/"+fp, "/findings/"+fp+"/actions/release", url.Values{"reason": {"owner codified it"}}); code != http.StatusSeeOther {
		t.Fatalf("release: %d %s", code, body)
	}
	waitForDeadline(t, 60*time.Second, "the release", func() bool { return actionState(t, enf, q.ID).State == enforce.StateReleased })
	if a := actionState(t, enf, q.ID); !strings.Contains(a.Reason, "released by bob") {
		t.Errorf("quarantine after the release: %q", a.Reason)
	}
	if got := groups(); !slices.Equal(got, before) {
		t.Errorf("after the release the instance has groups %v, want %v back", got, before)
	}
	page, err := enf.actions.List(ctx, enforce.Query{Fingerprint: fp, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var rel *enforce.Action
	for _, a := range page.Actions {
		if a.Verb == enforce.VerbRelease {
			rel = a
		}
	}
	if rel == nil || rel.Actor != "bob" || !strings.Contains(rel.Why, "owner codified it") || rel.State != enforce.StateSucceeded {
		t.Errorf("release action %+v", rel)
	}
	// Released, it is offered no more.
	if _, body := bob.do(http.MethodGet, "/findings/"+fp, nil); strings.Contains(body, "/actions/release") {
		t.Error("the release is still offered after the quarantine was released")
	}
}
