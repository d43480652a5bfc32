package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scanhistory"
	"plumb/internal/server"
	"plumb/internal/testenv"
)

const (
	browserToken = "browser-token-0123456789"
	browserKey   = "browser-intake-key-0123"
	ottoPassword = "otto-password"
	veraPassword = "vera-password"
)

// browserConfig is plumb.yaml of the browser test: two users, ownership
// rules, a CloudEvents source and two subscriptions whose runbooks fail:
// "fixable" until the flag file exists, "broken" always.
func browserConfig(t *testing.T, flag string) string {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	return fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    accounts: ["123456789012"]
    approval: peer
    approvers: [otto, alice]
    enforcement: {changed: revert, dry_run: true}
  - name: staging
sources:
  cloudevents: {key: {env: KEY}}
subscriptions:
  - name: fixable
    environment: prod
    sources: [cloudevents]
    event_pattern: {type: [prefix: "fixable."]}
    handlers:
      - type: runbook
        command: [sh, -c, "test -f %s || { echo 'the flag file is missing: nothing to act on' >&2; exit 1; }"]
    retry: {max_attempts: 1}
  - name: broken
    environment: prod
    sources: [cloudevents]
    event_pattern: {type: [prefix: "broken."]}
    handlers:
      - type: runbook
        command: [sh, -c, "echo 'always fails' >&2; exit 3"]
    retry: {max_attempts: 1}
queue_alerts:
  - name: dead-letters
    state: dead
    threshold: 100
    for: 5m
console:
  users:
    - name: otto
      password_hash: %q
      role: operator
    - name: vera
      password_hash: %q
ownership:
  rules:
    - type: aws_s3_bucket
      name: "billing-*"
      owner: billing
`, flag, hash(ottoPassword), hash(veraPassword))
}

func loadConfig(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) string {
		return map[string]string{"TOKEN": browserToken, "KEY": browserKey}[k]
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// expected are the numbers the overview must show, read from the store.
type expected struct {
	open      map[string]map[string]int // environment -> severity -> open findings
	openTotal int
	latest    map[string]scanhistory.Scan
	teamA     int // open findings of team-a
	ownerOf   map[string]string
	someTeamA string // fingerprint of one open team-a finding
	awaiting  string // fingerprint of the finding whose revert awaits approval
}

// awaitingID is the revert alice asked for, waiting for a peer's approval.
const awaitingID = "act-browser-revert-1"

// seed fills the data directory the server will open: findings of two
// environments and four owners (tags, a rule, none), and ten days of scan
// history with a compliance pack. The numbers the pages must show are read
// back from the store, not computed here.
func seed(t *testing.T, dir string, cfg *config.Config) expected {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := queue.Open(ctx, queue.Options{DataDir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	store.SetOwnership(cfg.Resolver().Owner)
	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	sevs := []model.Severity{model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow}
	kinds := []model.Kind{model.KindChanged, model.KindUnmanaged, model.KindMissing}
	var fs []model.Finding
	for i := range 130 {
		env := []string{"prod", "staging"}[i%2]
		kind := kinds[i%3]
		typ, id := "aws_instance", fmt.Sprintf("i-%04d", i)
		tags := map[string]string{"Name": fmt.Sprintf("web-%d", i)}
		switch (i / 5) % 4 {
		case 0:
			tags["owner"] = "team-a"
		case 1:
			tags["team"] = "team-b"
		case 2:
			typ, id, tags = "aws_s3_bucket", fmt.Sprintf("billing-exports-%d", i), map[string]string{}
		}
		f := model.Finding{Kind: kind, Severity: sevs[(i/2)%4], Environment: env,
			Resource: model.Resource{Provider: "aws", Type: typ, ID: id, Region: "eu-west-1", Tags: tags},
			Changes:  []model.Change{}}
		switch kind {
		case model.KindChanged:
			f.Message = "Resource changed outside code (" + f.Resource.DisplayName() + ")"
			f.Changes = []model.Change{{Path: "tags.env", Before: "prod", After: "hotfix"}, {Path: "instance_type", Before: "t3.micro", After: "t3.large"}}
			addr := "module.web.aws_instance.web[" + strconv.Itoa(i) + "]"
			f.Address = &addr
		case model.KindUnmanaged:
			f.Message = "Undefined resource exists (" + f.Resource.DisplayName() + ")"
		default:
			f.Message = "Defined resource doesn't exist (" + f.Resource.DisplayName() + ")"
		}
		f.Fingerprint = model.Fingerprint(kind, env, "aws", typ, "eu-west-1", id, "")
		fs = append(fs, f)
	}
	if err := store.Upsert(ctx, now.Add(-time.Hour), fs); err != nil {
		t.Fatal(err)
	}
	// A revert of a changed prod finding (team-b's) alice asked for waits
	// for a peer's approval.
	actions, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	changed := fs[6]
	if err := actions.Put(ctx, &enforce.Action{ID: awaitingID, RunID: "run-browser", Fingerprint: changed.Fingerprint, Environment: "prod",
		Kind: changed.Kind, Verb: enforce.VerbRevert, State: enforce.StateAwaiting, Guard: enforce.GuardApproval, Actor: "alice",
		Reason: "waits for peer approval by one of otto (requested by alice)", Resource: changed.Resource,
		Revert:    &enforce.RevertPlan{Method: enforce.MethodBuiltin, Hash: "h-browser", Summary: "tags.env: hotfix -> prod"},
		Approval:  &enforce.ApprovalStatus{Required: "peer", Approvers: []string{"otto", "alice"}, Requesters: []string{"alice"}, PlanHash: "h-browser"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Some findings are resolved: they must not count as open.
	if err := store.Resolve(ctx, now, []string{fs[3].Fingerprint, fs[10].Fingerprint}); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"prod", "staging"} {
		for d := 9; d >= 0; d-- {
			sum := model.Summary{Managed: 400 + d, InSync: 380 - 2*d, Changed: 10 + d, Missing: 3, Unmanaged: 20 + 2*d}
			sum.SetCoverage()
			sc := scanhistory.Scan{Environment: env, StartedAt: now.Add(-time.Duration(d)*24*time.Hour - time.Minute),
				Duration: 42 * time.Second, Source: scanhistory.SourceSchedule, Summary: sum, Complete: true,
				Findings: map[string]int{"drift.changed": sum.Changed}}
			pack := scanhistory.Pack{PackSummary: scanhistory.PackSummary{Pack: "cis-aws-3.0", Pass: 30 + (9-d)%4, Fail: 6 - (9-d)%4, NotEvaluated: 4}}
			pack.Controls = []scanhistory.Control{
				{Control: "2.1.1", Status: "fail", Rules: []string{"s3-encryption"}, Failing: []scanhistory.Resource{{Rule: "s3-encryption", Type: "aws_s3_bucket", Label: "billing-exports-2"}},
					Passing: []scanhistory.Resource{{Rule: "s3-encryption", Type: "aws_s3_bucket", Label: "logs"}}, PassingTotal: 1},
				{Control: "5.2", Status: "pass", Rules: []string{"no-open-ssh"}, Passing: []scanhistory.Resource{{Rule: "no-open-ssh", Type: "aws_security_group", Label: "sg-1"}}, PassingTotal: 1},
				{Control: "3.1", Status: "not_evaluated", Rules: []string{"trail-enabled"}},
			}
			sc.Packs = []scanhistory.PackSummary{pack.PackSummary}
			if env == "staging" && d == 0 {
				sc.Complete = false
				sc.Unread = nil
				sc.Summary.NotEvaluated = 12
				sc.Summary.SetCoverage()
				sc.NotEvaluatedReasons = []string{"ec2/eu-central-1 could not be read"}
			}
			if _, err := hist.Record(ctx, sc, []scanhistory.Pack{pack}); err != nil {
				t.Fatal(err)
			}
		}
	}

	exp := expected{open: map[string]map[string]int{}, latest: map[string]scanhistory.Scan{}, ownerOf: map[string]string{}, awaiting: changed.Fingerprint}
	gs, err := store.Count(ctx, findings.Query{Status: findings.StatusOpen}, "environment", "severity")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if exp.open[g.Values[0]] == nil {
			exp.open[g.Values[0]] = map[string]int{}
		}
		exp.open[g.Values[0]][g.Values[1]] = g.N
		exp.openTotal += g.N
	}
	latest, err := hist.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range latest {
		exp.latest[sc.Environment] = sc
	}
	page, err := store.List(ctx, findings.Query{Status: findings.StatusOpen, Owner: "team-a", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	exp.teamA = page.Total
	exp.someTeamA = page.Records[0].Finding.Fingerprint
	if exp.teamA == 0 || exp.openTotal == 0 {
		t.Fatalf("seed: %d open, %d of team-a", exp.openTotal, exp.teamA)
	}
	return exp
}

// serve runs plumb serve on dir and returns its address.
func serve(t *testing.T, dir string, cfg *config.Config) string {
	t.Helper()
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	go func() {
		// No AWS here: prod's enforcement is a dry run with no executor.
		done <- server.Run(ctx, server.Options{Config: cfg, DataDir: dir, Listen: "127.0.0.1:0", Logger: logger, Executors: map[string]enforce.Executor{},
			ShutdownTimeout: 10 * time.Second, OnListen: func(a string) { addr <- a }})
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("plumb serve stopped: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("plumb serve did not listen within 60s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("plumb serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("plumb serve did not stop within 30s")
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("plumb serve log (end):\n%s", b)
		}
	})
	return "http://" + a
}

// postEvent sends one CloudEvent to the intake.
func postEvent(t *testing.T, base, id, typ string) {
	t.Helper()
	body := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test/console","type":%q,"subject":"vm-1","time":%q,"data":{"note":"from the browser test"}}`,
		id, typ, time.Now().UTC().Format(time.RFC3339))
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/events/cloudevents?key="+browserKey, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("post event %s: %d", id, res.StatusCode)
	}
}

// eventID waits until the event with the sender's id is in state and
// returns plumb's id for it, through the API.
func eventID(t *testing.T, base, senderID, state string) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/events?state="+state, nil)
		req.Header.Set("Authorization", "Bearer "+browserToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if i := bytes.Index(b, []byte(`"id":"`+senderID+`"`)); i > 0 {
			// The event's plumb id is the first "id" of its object.
			j := bytes.LastIndex(b[:i], []byte(`{"id":`))
			if j >= 0 {
				rest := b[j+len(`{"id":`):]
				end := bytes.IndexByte(rest, ',')
				if n, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil {
					return n
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("event %s did not reach state %s within 60s", senderID, state)
	return 0
}

// browser drives one Chromium tab against the console.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open loads a page and waits for its main heading.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// text is the trimmed text of the first element matching a CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {textContent: "<missing>"}).textContent`, sel)))
}

// screenshot saves the page at a laptop and a phone width, whole pages.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	for _, vp := range []struct {
		label         string
		width, height int64
		mobile        bool
	}{{"laptop", 1366, 800, false}, {"phone", 390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{}
		if vp.mobile {
			opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		png, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				return nil, err
			}
			return chromedp.Run(ctx, chromedp.FullScreenshot(100))
		})
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s (%s): %v", name, vp.label, err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, name+"-"+vp.label+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.run("reset viewport", chromedp.EmulateViewport(1366, 800), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// a11y are accessibility basics checked on every page: every form
// control has a label, headings start at one h1 and never skip a level,
// every badge (status and severity are colour-coded) says its meaning in
// text, every chart has a name and the page has a language.
const a11y = `(() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("html has no lang");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const byFor = el.id && document.querySelector('label[for="' + el.id + '"]');
    if (!byFor && !el.closest("label") && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      problems.push("unlabelled " + el.tagName.toLowerCase() + " " + (el.name || el.id));
  }
  const hs = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => +h.tagName[1]);
  if (hs.filter(l => l === 1).length !== 1) problems.push("want exactly one h1, have " + hs.filter(l => l === 1).length);
  if (hs[0] !== 1) problems.push("first heading is h" + hs[0]);
  for (let i = 1; i < hs.length; i++) if (hs[i] > hs[i-1] + 1) problems.push("heading h" + hs[i] + " after h" + hs[i-1]);
  for (const el of document.querySelectorAll(".badge")) if (!el.textContent.trim()) problems.push("badge without text");
  for (const svg of document.querySelectorAll("svg.chart")) if (svg.getAttribute("role") !== "img" || !svg.getAttribute("aria-label")) problems.push("chart without a name");
  for (const a of document.querySelectorAll("a")) if (!a.textContent.trim() && !a.getAttribute("aria-label")) problems.push("link without text: " + a.href);
  for (const b of document.querySelectorAll("button")) if (!b.textContent.trim() && !b.getAttribute("aria-label")) problems.push("button without text");
  return problems;
})()`

func (b *browser) checkA11y(page string) {
	b.t.Helper()
	if problems := eval[[]string](b, a11y); len(problems) > 0 {
		b.t.Errorf("accessibility on %s: %s", page, strings.Join(problems, "; "))
	}
}

// visit opens a page, checks its accessibility and screenshots it.
func (b *browser) visit(name, path string) {
	b.t.Helper()
	b.open(path)
	b.checkA11y(name)
	b.screenshot(name)
}

// login fills the name and password form.
func (b *browser) login(user, password string) {
	b.t.Helper()
	b.run("log in as "+user,
		chromedp.Navigate(b.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`#username`)),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("nav")),
	)
}

func (b *browser) logout() {
	b.t.Helper()
	b.run("log out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS("#username")))
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("PLUMB_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// TestConsoleInBrowser drives the console in a real Chromium: an operator
// logs in, finds the overview's numbers equal to the store's, filters the
// findings by team, opens one and suppresses it, and re-runs a dead event
// until it succeeds; a viewer sees no re-run button and has the POST
// refused. Every page is checked for accessibility basics and saved as a
// screenshot at a laptop and a phone width.
func TestConsoleInBrowser(t *testing.T) {
	ctx := testenv.StartBrowser(t)
	dir := t.TempDir()
	flag := filepath.Join(dir, "runbook-ok")
	cfg := loadConfig(t, dir, browserConfig(t, flag))
	exp := seed(t, dir, cfg)
	base := serve(t, dir, cfg)
	b := &browser{t: t, ctx: ctx, base: base, shots: screenshotDir(t)}
	t.Logf("screenshots in %s", b.shots)

	// An event the "fixable" runbook will fail until the flag exists, and
	// one "broken" always fails; both die after their single attempt.
	postEvent(t, base, "evt-fixable-1", "fixable.write")
	postEvent(t, base, "evt-broken-1", "broken.write")
	fixable := eventID(t, base, "evt-fixable-1", "dead")
	broken := eventID(t, base, "evt-broken-1", "dead")

	t.Run("login", func(t *testing.T) {
		b.t = t
		b.run("open / logged out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username")))
		if loc := eval[string](b, "location.pathname"); loc != "/login" {
			t.Errorf("logged out, / went to %s, want /login", loc)
		}
		b.checkA11y("login")
		b.screenshot("login")
		b.login("otto", ottoPassword)
		if who := b.text("header .who span"); !strings.Contains(who, "otto") || !strings.Contains(who, "operator") {
			t.Errorf("header says %q, want otto and operator", who)
		}
	})

	t.Run("overview numbers equal the store's", func(t *testing.T) {
		b.t = t
		b.visit("overview", "/")
		if got := b.text(`[data-k="open-total"]`); got != fmt.Sprint(exp.openTotal) {
			t.Errorf("open total %q, store has %d", got, exp.openTotal)
		}
		for env, sc := range exp.latest {
			sel := func(k string) string { return fmt.Sprintf(`section[data-env=%q] [data-k=%q]`, env, k) }
			for k, want := range map[string]int{"managed": sc.Summary.Managed, "in_sync": sc.Summary.InSync, "changed": sc.Summary.Changed,
				"missing": sc.Summary.Missing, "unmanaged": sc.Summary.Unmanaged} {
				if got := b.text(sel(k)); got != fmt.Sprint(want) {
					t.Errorf("%s %s: page %q, store %d", env, k, got, want)
				}
			}
			if got, want := b.text(sel("coverage")), fmt.Sprintf("%.1f%%", sc.Summary.Coverage*100); got != want {
				t.Errorf("%s coverage: page %q, store %s", env, got, want)
			}
			pct, _ := sc.Packs[0].Percent()
			if got, want := b.text(sel("compliance-cis-aws-3.0")), fmt.Sprintf("%.1f%%", pct); got != want {
				t.Errorf("%s compliance: page %q, store %s", env, got, want)
			}
			for _, sev := range []string{"critical", "high", "medium", "low"} {
				if got := b.text(sel("env-open-" + sev)); got != fmt.Sprint(exp.open[env][sev]) {
					t.Errorf("%s open %s: page %q, store %d", env, sev, got, exp.open[env][sev])
				}
			}
		}
		if got := b.text(`section[data-env="staging"] .notice.warn strong`); got != "Partial scan." {
			t.Errorf("staging's partial scan is not flagged: %q", got)
		}
		if n := eval[int](b, `document.querySelectorAll("svg.chart polyline").length`); n < 4 {
			t.Errorf("%d trend lines drawn, want drift and compliance for both environments", n)
		}
	})

	t.Run("filter findings by team", func(t *testing.T) {
		b.t = t
		b.visit("findings", "/findings")
		b.run("filter by team-a",
			chromedp.SetValue(chromedp.CSS("#f-owner"), "team-a"),
			chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
			chromedp.WaitReady(chromedp.CSS(`#f-owner option[value="team-a"][selected]`)),
		)
		rangeText := b.text(".pager strong")
		if want := fmt.Sprintf("1–%d of %d findings", min(50, exp.teamA), exp.teamA); rangeText != want {
			t.Errorf("range %q, want %q", rangeText, want)
		}
		owners := eval[[]string](b, `[...document.querySelectorAll("tbody tr td:nth-child(7)")].map(td => td.textContent.trim())`)
		if len(owners) == 0 {
			t.Fatal("no rows")
		}
		for _, o := range owners {
			if o != "team-a" {
				t.Errorf("row of owner %q in the team-a listing", o)
			}
		}
		b.screenshot("findings-team-a")
		b.visit("teams", "/teams")
		if got := b.text(`tr[data-team="team-a"] [data-k="open"]`); got != fmt.Sprint(exp.teamA) {
			t.Errorf("teams page: team-a has %q open, store %d", got, exp.teamA)
		}
		b.visit("team", "/teams/team-a")
		if got := b.text(`[data-k="team-open"]`); got != fmt.Sprint(exp.teamA) {
			t.Errorf("team page: %q open, store %d", got, exp.teamA)
		}
	})

	t.Run("open a finding and suppress it", func(t *testing.T) {
		b.t = t
		b.open("/findings?owner=team-a")
		b.run("open the first finding", chromedp.Click(chromedp.CSS(`tbody tr:first-child td:nth-child(3) a`)), chromedp.WaitVisible(chromedp.CSS("#h-changes")))
		b.checkA11y("finding")
		b.screenshot("finding")
		b.run("suppress",
			chromedp.SendKeys(chromedp.CSS("#reason"), "accepted: migrating next sprint"),
			chromedp.Click(chromedp.CSS(`form[action$="/suppress"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice.ok`)),
		)
		if got := b.text(`.actions .badge:nth-child(2)`); got != "suppressed" {
			t.Errorf("status after suppressing: %q", got)
		}
		if hist := b.text(`#h-history + div tbody tr:last-child`); !strings.Contains(hist, "accepted: migrating next sprint") || !strings.Contains(hist, "otto") {
			t.Errorf("history does not record the reason and who: %q", hist)
		}
	})

	t.Run("approve an action awaiting approval", func(t *testing.T) {
		b.t = t
		b.open("/findings/" + exp.awaiting)
		if note := b.text(`p.enforcement-note`); !strings.Contains(note, "Action "+awaitingID) || !strings.Contains(note, "awaiting approval") ||
			!strings.Contains(note, "requested by alice") {
			t.Errorf("enforcement note %q", note)
		}
		b.checkA11y("finding-awaiting")
		b.screenshot("finding-awaiting")
		b.run("approve",
			chromedp.Click(chromedp.CSS(`#do-approve-`+awaitingID)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice.ok`)),
		)
		if note := b.text(`p.enforcement-note`); !strings.Contains(note, "is approved and has not run: environment prod has dry_run: true") {
			t.Errorf("after approving, the note says %q", note)
		}
		b.checkA11y("finding-approved")
		b.screenshot("finding-approved")
		// The decision is the API's: recorded with otto as the approver.
		var page struct {
			Actions []enforce.Action `json:"actions"`
		}
		apiGet(t, base, "/v1/actions?finding="+exp.awaiting, &page)
		if len(page.Actions) != 1 || page.Actions[0].Approval == nil || !page.Actions[0].Approval.Approved ||
			len(page.Actions[0].Approval.Decisions) != 1 || page.Actions[0].Approval.Decisions[0].Approver != "otto" ||
			page.Actions[0].Approval.Decisions[0].Via != enforce.ViaConsole {
			t.Errorf("action after approving in the browser: %+v", page.Actions)
		}
	})

	t.Run("re-run a dead event and watch it succeed", func(t *testing.T) {
		b.t = t
		b.visit("events", "/events")
		if got := b.text(`[data-k="state-dead"]`); got != "2" {
			t.Errorf("dead deliveries %q, want 2", got)
		}
		b.open(fmt.Sprintf("/events/%d", fixable))
		b.checkA11y("event")
		b.screenshot("event")
		if err := os.WriteFile(flag, []byte("ok"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.run("re-run", chromedp.Click(chromedp.CSS(`#retry`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
		deadline := time.Now().Add(60 * time.Second)
		state := ""
		for time.Now().Before(deadline) {
			b.open(fmt.Sprintf("/events/%d", fixable))
			if state = b.text(`[data-k="delivery-state"]`); state == "succeeded" {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if state != "succeeded" {
			t.Fatalf("after the re-run the delivery is %q, want succeeded", state)
		}
		b.screenshot("event-succeeded")
	})

	t.Run("compliance", func(t *testing.T) {
		b.t = t
		b.visit("compliance", "/compliance?environment=prod&pack=cis-aws-3.0")
		b.visit("control", "/compliance/prod/cis-aws-3.0/2.1.1")
		if got := b.text("main section h2"); got != "Failing: 1" {
			t.Errorf("control page: %q", got)
		}
	})

	t.Run("viewer cannot re-run", func(t *testing.T) {
		b.t = t
		b.logout()
		b.login("vera", veraPassword)
		b.open(fmt.Sprintf("/events/%d", broken))
		if n := eval[int](b, `document.querySelectorAll("#retry, form[action*='/retry']").length`); n != 0 {
			t.Errorf("a viewer sees %d re-run forms on the event page", n)
		}
		b.open("/events")
		if n := eval[int](b, `document.querySelectorAll("form[action*='retry']").length`); n != 0 {
			t.Errorf("a viewer sees %d re-run forms on the events page", n)
		}
		b.screenshot("events-viewer")
		// The POST itself, from the viewer's browser with the viewer's
		// valid CSRF token (the logout form's), is refused.
		b.run("post a re-run as the viewer", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const f = document.createElement("form");
			f.method = "post";
			f.action = "/events/%d/retry";
			const i = document.createElement("input");
			i.type = "hidden"; i.name = "csrf_token";
			i.value = document.querySelector('input[name="csrf_token"]').value;
			f.append(i);
			document.body.append(f);
			f.submit();
		})()`, broken)), chromedp.WaitVisible(chromedp.CSS(`p.notice.error`)))
		if h := b.text("h1"); !strings.HasPrefix(h, "403") {
			t.Errorf("viewer's re-run POST answered %q, want a 403 page", h)
		}
		if msg := b.text("p.notice.error"); !strings.Contains(msg, "operator role") {
			t.Errorf("refusal says %q, want it to name the operator role", msg)
		}
		if state := eventState(t, base, broken); state != "dead" {
			t.Errorf("after the viewer's attempt the event is %q, want still dead", state)
		}
		// The viewer sees where the approval stands, without buttons.
		b.open("/findings/" + exp.awaiting)
		if note := b.text(`p.enforcement-note`); !strings.Contains(note, awaitingID) {
			t.Errorf("the viewer does not see the awaiting action: %q", note)
		}
		if n := eval[int](b, `document.querySelectorAll("form[action*='/actions/']").length`); n != 0 {
			t.Errorf("a viewer sees %d enforcement forms", n)
		}
		b.screenshot("finding-viewer")
	})
}

// apiGet reads an API answer into out.
func apiGet(t *testing.T, base, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+browserToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// eventState reads an event's state through the API.
func eventState(t *testing.T, base string, id int64) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/events/%d", base, id), nil)
	req.Header.Set("Authorization", "Bearer "+browserToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	i := bytes.Index(b, []byte(`"state":"`))
	if i < 0 {
		return ""
	}
	rest := b[i+len(`"state":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}
