package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scanhistory"
)

// testToken is the API token of the test configurations.
const testToken = "test-token-0123456789"

// harness is a console over a real SQLite store in a temporary directory.
type harness struct {
	t     *testing.T
	cfg   *config.Config
	q     *queue.Queue
	store *findings.Store
	hist  *scanhistory.Store
	con   *Console
	srv   *httptest.Server
	now   time.Time
	// failing makes every delivery die at once (a permanent error) while
	// set; cleared, deliveries succeed.
	failing atomic.Bool
}

type dispatchFunc func(ctx context.Context, d queue.Delivery) error

func (f dispatchFunc) Dispatch(ctx context.Context, d queue.Delivery) error { return f(ctx, d) }

// deadEvents enqueues events for subscriptions (n each, one subscription
// per event), waits until every delivery is dead and returns the event
// ids per subscription. Later deliveries succeed (failing is cleared), so
// a re-run is seen to work.
func (h *harness) deadEvents(t *testing.T, n map[string]int) map[string][]int64 {
	t.Helper()
	ctx := context.Background()
	total := 0
	for sub, k := range n {
		for i := range k {
			ev := model.Event{Source: "cloudevents", ID: fmt.Sprintf("%s-%d", sub, i), Type: "test.write", Time: h.now, Raw: []byte(`{"x":1}`)}
			if _, err := h.q.Enqueue(ctx, []queue.Item{{Event: ev, Subscriptions: []string{sub}}}); err != nil {
				t.Fatal(err)
			}
			total++
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := h.q.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d[queue.StateDead] == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries did not die: %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.failing.Store(false)
	out := map[string][]int64{}
	page, err := h.q.DeadLetters(ctx, "", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range page.Letters {
		out[l.Delivery.Subscription] = append(out[l.Delivery.Subscription], l.EventID)
	}
	return out
}

// viewerPassword and operatorPassword are the passwords of the users
// "vera" (viewer) and "otto" (operator) in baseConfig.
const (
	viewerPassword   = "vera-password"
	operatorPassword = "otto-password"
)

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// baseConfig has the token, a viewer and an operator, two environments
// and ownership rules.
func baseConfig(t *testing.T) string {
	return fmt.Sprintf(`
server:
  api_token: {env: PLUMB_TEST_TOKEN}
environments:
  - name: prod
  - name: staging
console:
  users:
    - name: vera
      password_hash: %q
    - name: otto
      password_hash: %q
      role: operator
ownership:
  tags: [owner, team]
  rules:
    - type: aws_s3_*
      name: "billing-*"
      owner: billing
queue_alerts:
  - name: dead-letters
    state: dead
    threshold: 1
    for: 1m
`, hash(t, viewerPassword), hash(t, operatorPassword))
}

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	cfg, err := config.Parse("plumb.yaml", []byte(yaml), func(k string) string {
		if k == "PLUMB_TEST_TOKEN" {
			return testToken
		}
		return ""
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &harness{t: t, cfg: cfg, now: time.Now().UTC()}
	h.failing.Store(true)
	q, err := queue.Open(ctx, queue.Options{DataDir: t.TempDir(), Logger: logger, Workers: 2,
		Dispatch: dispatchFunc(func(ctx context.Context, d queue.Delivery) error {
			if h.failing.Load() {
				return queue.Permanent(errors.New("always fails"))
			}
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	store.SetOwnership(cfg.Resolver().Owner)
	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	h.q, h.store, h.hist = q, store, hist
	h.con, err = New(ctx, Options{Config: cfg, Findings: store, Queue: q, History: hist, DB: q.DB(), Dialect: q.Dialect(),
		Logger: logger, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.con.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// client is a browser-like HTTP client: cookies kept, redirects not
// followed (tests look at them).
type client struct {
	h   *harness
	hc  *http.Client
	url string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{h: h, url: h.srv.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values) response {
	c.h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.url+path, body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf is the token of the forms on page path.
func (c *client) csrf(path string) string {
	c.h.t.Helper()
	r := c.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		c.h.t.Fatalf("no csrf token on %s (status %d)", path, r.status)
	}
	return m[1]
}

// post submits a form of page from with its CSRF token.
func (c *client) post(from, path string, form url.Values) response {
	c.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, c.csrf(from))
	return c.do(http.MethodPost, path, form)
}

// login logs in with fields (token, or username and password) and fails
// the test unless the login succeeds.
func (c *client) login(fields url.Values) {
	c.h.t.Helper()
	r := c.post("/login", "/login", fields)
	if r.status != http.StatusSeeOther {
		c.h.t.Fatalf("login with %v: status %d: %s", fields.Get("username"), r.status, r.body)
	}
}

func (c *client) asOperator() *client {
	c.login(url.Values{"username": {"otto"}, "password": {operatorPassword}})
	return c
}

func (c *client) asViewer() *client {
	c.login(url.Values{"username": {"vera"}, "password": {viewerPassword}})
	return c
}

// finding makes a finding of environment env on a resource.
func finding(kind model.Kind, sev model.Severity, env, typ, id string, tags map[string]string) model.Finding {
	f := model.Finding{Kind: kind, Severity: sev, Environment: env,
		Resource: model.Resource{Provider: "aws", Type: typ, ID: id, Region: "eu-west-1", Tags: tags},
		Message:  fmt.Sprintf("Resource changed outside code (%s)", id), Changes: []model.Change{}}
	if kind == model.KindChanged {
		f.Changes = []model.Change{{Path: "tags.env", Before: "prod", After: "dev"}}
	}
	f.Fingerprint = model.Fingerprint(kind, env, "aws", typ, "eu-west-1", id, "")
	return f
}

func (h *harness) upsert(fs ...model.Finding) {
	h.t.Helper()
	if err := h.store.Upsert(context.Background(), h.now, fs); err != nil {
		h.t.Fatal(err)
	}
}
