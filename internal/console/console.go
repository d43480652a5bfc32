// Package console is plumb's web UI: the overview of every environment,
// findings with filters and a detail page, team pages, compliance, and the
// operators' screen for the event queue. It is mounted by plumb serve at /
// on the API's listener and reads the same store through the same
// packages as the API (internal/findings, internal/queue,
// internal/scanhistory): it has no logic of its own beyond presenting
// them. Pages are rendered on the server with html/template and need no
// JavaScript; charts are SVG drawn by package theme.
package console

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/console/theme"
	"plumb/internal/findings"
	"plumb/internal/queue"
	"plumb/internal/scanhistory"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the console reads and who may log in.
type Options struct {
	Config   *config.Config
	Findings *findings.Store
	Queue    *queue.Queue
	History  *scanhistory.Store
	// DB and Dialect hold the login sessions (the store's database, so
	// replicas on PostgreSQL share them).
	DB      *sql.DB
	Dialect string
	Logger  *slog.Logger
	Now     func() time.Time
	// Actions add enforcement's state and buttons to a finding's page:
	// the hook plumb serve's approve, reject and release plug into (see
	// ActionProvider).
	Actions []ActionProvider
}

// Console serves the web UI.
type Console struct {
	opts     Options
	pages    map[string]*template.Template
	sessions *sessionStore
	log      *slog.Logger
	now      func() time.Time
	// secure marks cookies Secure even on plain HTTP requests: the console
	// is reached through HTTPS (server.external_url says so).
	secure bool
	// decoyHash is compared against when a login names an unknown user.
	decoyHash string
	// choices are the findings filters' values, counted at most every
	// ChoicesTTL; stats the queue's counts, at most every StatsTTL.
	choices choiceCache
	stats   statsCache
}

// pageNames are the templates, one per page (templates/NAME.tmpl), each
// rendered inside layout.tmpl.
var pageNames = []string{"overview", "findings", "finding", "teams", "team", "events", "event", "compliance", "control", "login", "message"}

// New prepares the templates and the sessions table.
func New(ctx context.Context, o Options) (*Console, error) {
	if o.Config == nil || o.Findings == nil || o.Queue == nil || o.History == nil || o.DB == nil {
		return nil, errors.New("console: config, findings, queue, history and database are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{opts: o, pages: map[string]*template.Template{}, log: o.Logger, now: o.Now,
		secure: strings.HasPrefix(strings.ToLower(o.Config.Server.ExternalURL), "https://")}
	base, err := template.New("layout.tmpl").Funcs(funcs).ParseFS(templateFS, "templates/layout.tmpl", "templates/parts.tmpl")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	if c.sessions, err = openSessions(ctx, o.DB, o.Dialect); err != nil {
		return nil, err
	}
	if c.decoyHash, err = decoyHash(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return c, nil
}

// Handler routes the console's pages. Every response carries the security
// headers; every page but the login page and the stylesheet needs a login;
// every POST needs an operator (except logging in and out) and the
// session's CSRF token.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.Handle("POST /logout", c.auth(c.logout))
	mux.Handle("GET /{$}", c.auth(c.overview))
	mux.Handle("GET /findings", c.auth(c.findingsPage))
	mux.Handle("GET /findings/{fingerprint}", c.auth(c.findingPage))
	mux.Handle("POST /findings/{fingerprint}/suppress", c.operator(c.suppress))
	mux.Handle("POST /findings/{fingerprint}/unsuppress", c.operator(c.unsuppress))
	mux.Handle("POST /findings/{fingerprint}/silence", c.operator(c.silence))
	mux.Handle("POST /findings/{fingerprint}/actions/{action}", c.operator(c.findingAction))
	mux.Handle("GET /teams", c.auth(c.teamsPage))
	mux.Handle("GET /teams/{owner}", c.auth(c.teamPage))
	mux.Handle("GET /events", c.auth(c.eventsPage))
	mux.Handle("GET /events/{id}", c.auth(c.eventPage))
	mux.Handle("POST /events/{id}/retry", c.operator(c.retryEvent))
	mux.Handle("POST /events/retry-dead", c.operator(c.retryDead))
	mux.Handle("GET /compliance", c.auth(c.compliancePage))
	mux.Handle("GET /compliance/{environment}/{pack}/{control}", c.auth(c.controlPage))
	mux.Handle("/", c.auth(func(w http.ResponseWriter, r *http.Request, s *session) {
		c.fail(w, r, s, http.StatusNotFound, "There is no page at %s.", r.URL.Path)
	}))
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// ContentSecurityPolicy is sent with every console response: nothing is
// loaded from anywhere but the console itself, no inline script or style
// runs, no other site may frame it, and forms post only to it.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.URL.Path != "/static/console.css" {
			// Pages show the estate's weak spots: no shared cache keeps them.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// staticHandler serves the embedded assets with a short cache.
func staticHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "console.css" {
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Header().Set("Cache-Control", "private, max-age=300")
			_, _ = w.Write([]byte(theme.CSS))
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// page is what every template receives.
type page struct {
	Title string
	// Nav is the top navigation entry to mark current.
	Nav     string
	Session *session
	// Notice is a one-line message after an action (from ?done=).
	Notice      string
	NoticeClass string
	Data        any
}

// render writes a page; a template error is logged and answered 500
// without a half-written page (pages are rendered to a buffer first).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no such page template", http.StatusInternalServerError)
		return
	}
	if p.Notice == "" {
		p.Notice, p.NoticeClass = notice(r.URL.Query().Get("done"))
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.tmpl", p); err != nil {
		c.log.Error("console: render page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error page in the console's frame.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, format string, args ...any) {
	c.render(w, r, status, "message", page{Title: http.StatusText(status), Session: s,
		Data: map[string]any{"Status": status, "Message": fmt.Sprintf(format, args...)}})
}

// internalError logs err and answers 500 without showing it: errors may
// name tables, paths or hosts a viewer has no business seeing.
func (c *Console) internalError(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	c.log.Error("console: "+what, "path", r.URL.Path, "error", err)
	c.fail(w, r, s, http.StatusInternalServerError, "Could not %s. The server log has the details.", what)
}

// notices are the messages after actions, by the ?done= code the action
// redirects with, so a reload does not repeat the action and the message
// cannot be forged into arbitrary text.
var notices = map[string][2]string{
	"suppressed":   {"The finding is suppressed: it stays in the store and is no longer routed.", "ok"},
	"unsuppressed": {"The suppression is lifted: the finding is open again.", "ok"},
	"silenced":     {"Silence added: matching findings are not notified until it ends.", "ok"},
	"retried":      {"Re-run scheduled: the dead and retrying deliveries run again now.", "ok"},
	"retried-dead": {"Re-run scheduled for every dead delivery of the subscription.", "ok"},
	"nothing":      {"Nothing to re-run: no delivery was dead or waiting to retry.", "warn"},
	"action":       {"Done: the enforcement section shows where the action stands now.", "ok"},
}

func notice(code string) (string, string) {
	if n, ok := notices[code]; ok {
		return n[0], n[1]
	}
	return "", ""
}

// redirect sends the browser to path with a notice code (303 after a POST).
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	u := path
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}
