package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"plumb/internal/config"
	"plumb/internal/sqlbind"
)

// Cookie names. The session cookie holds a random id whose SHA-256 is the
// key of the session row, so the table never holds a usable credential.
const (
	sessionCookie = "plumb_session"
	// loginCSRFCookie guards the login form itself (double submit): a
	// page on another site cannot log a browser in as someone else.
	loginCSRFCookie = "plumb_login_csrf"
	csrfField       = "csrf_token"
)

// TokenUser is the name shown for a login with the API token.
const TokenUser = "api-token"

// session is one logged-in browser.
type session struct {
	idHash  string
	User    string
	Role    string
	Via     string // token, password, header
	CSRF    string
	Expires time.Time
}

// Operator reports whether the session may change things.
func (s *session) Operator() bool { return s != nil && s.Role == config.RoleOperator }

type sessionStore struct {
	db      *sql.DB
	dialect string
}

func openSessions(ctx context.Context, db *sql.DB, dialect string) (*sessionStore, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS plumb_console_session (
		id_hash TEXT PRIMARY KEY,
		username TEXT NOT NULL,
		role TEXT NOT NULL,
		via TEXT NOT NULL,
		csrf TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("console: create sessions table: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS plumb_console_session_expires ON plumb_console_session (expires_at)`); err != nil {
		return nil, fmt.Errorf("console: create sessions index: %w", err)
	}
	return &sessionStore{db: db, dialect: dialect}, nil
}

func (st *sessionStore) rebind(q string) string { return sqlbind.For(st.dialect, q) }

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// create stores a new session and returns its cookie value. Expired
// sessions are removed on the way, so the table stays small.
func (st *sessionStore) create(ctx context.Context, now time.Time, user, role, via string, ttl time.Duration) (string, *session, error) {
	id, err := randomToken()
	if err != nil {
		return "", nil, fmt.Errorf("new session: %w", err)
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, fmt.Errorf("new session: %w", err)
	}
	s := &session{idHash: hashID(id), User: user, Role: role, Via: via, CSRF: csrf, Expires: now.Add(ttl)}
	if _, err := st.db.ExecContext(ctx, st.rebind(`DELETE FROM plumb_console_session WHERE expires_at < ?`), now.UnixNano()); err != nil {
		return "", nil, fmt.Errorf("new session: %w", err)
	}
	if _, err := st.db.ExecContext(ctx, st.rebind(`INSERT INTO plumb_console_session (id_hash, username, role, via, csrf, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), s.idHash, user, role, via, csrf, now.UnixNano(), s.Expires.UnixNano()); err != nil {
		return "", nil, fmt.Errorf("new session: %w", err)
	}
	return id, s, nil
}

// get returns the live session of a cookie value, or nil.
func (st *sessionStore) get(ctx context.Context, now time.Time, id string) (*session, error) {
	if id == "" {
		return nil, nil
	}
	s := &session{idHash: hashID(id)}
	var exp int64
	err := st.db.QueryRowContext(ctx, st.rebind(`SELECT username, role, via, csrf, expires_at FROM plumb_console_session WHERE id_hash = ?`), s.idHash).
		Scan(&s.User, &s.Role, &s.Via, &s.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s.Expires = time.Unix(0, exp)
	if !now.Before(s.Expires) {
		return nil, nil
	}
	return s, nil
}

func (st *sessionStore) delete(ctx context.Context, s *session) error {
	_, err := st.db.ExecContext(ctx, st.rebind(`DELETE FROM plumb_console_session WHERE id_hash = ?`), s.idHash)
	return err
}

// handlerFunc is a console handler that knows who is asking.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// auth lets logged-in users through and sends everyone else to the login
// page (or, behind an authenticating proxy, logs them in from its header).
func (c *Console) auth(next handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.identify(w, r)
		if err != nil {
			c.internalError(w, r, nil, "check the login", err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				c.fail(w, r, nil, http.StatusUnauthorized, "Log in first: this action needs a login.")
				return
			}
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				// A link from another site (a GitHub issue, a chat) does
				// not carry SameSite=Strict cookies; a same-site reload
				// of the same address does, so a logged-in user lands on
				// the page instead of the login form.
				c.sameSiteReload(w, r)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r, s)
	})
}

// operator is auth plus the operator role and the CSRF token: the gate of
// every action that changes something.
func (c *Console) operator(next handlerFunc) http.Handler {
	return c.auth(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !c.checkCSRF(w, r, s) {
			return
		}
		if !s.Operator() {
			c.fail(w, r, s, http.StatusForbidden, "This needs the operator role; %s is a %s.", s.User, s.Role)
			return
		}
		next(w, r, s)
	})
}

// checkCSRF compares the form's token with the session's (synchronizer
// token); a missing or wrong one is refused with 403.
func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request, s *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	got := r.PostForm.Get(csrfField)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
		c.fail(w, r, s, http.StatusForbidden, "The form's security token is missing or out of date (CSRF protection). Reload the page and try again.")
		return false
	}
	return true
}

// identify returns the request's session: its cookie's, or, behind a
// trusted proxy, one made for the user the proxy names.
func (c *Console) identify(w http.ResponseWriter, r *http.Request) (*session, error) {
	now := c.now()
	var s *session
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if s, err = c.sessions.get(r.Context(), now, ck.Value); err != nil {
			return nil, err
		}
	}
	th := c.opts.Config.Console.TrustedHeader
	if th == nil {
		return s, nil
	}
	user, fromProxy := c.proxyUser(r, th)
	switch {
	case !fromProxy:
		return s, nil
	case user == "":
		// The proxy says nobody is logged in: a session made earlier from
		// its header no longer stands.
		if s != nil && s.Via == "header" {
			return nil, nil
		}
		return s, nil
	case s != nil && s.Via == "header" && s.User == user:
		return s, nil
	}
	role := config.RoleViewer
	if slices.Contains(th.Operators, user) {
		role = config.RoleOperator
	}
	id, ns, err := c.sessions.create(r.Context(), now, user, role, "header", c.opts.Config.Console.SessionTTL)
	if err != nil {
		return nil, err
	}
	c.setSessionCookie(w, r, id, ns.Expires)
	return ns, nil
}

// proxyUser reads the trusted header, if the request came from a trusted
// proxy; fromProxy is false for any other peer, whose header is ignored.
func (c *Console) proxyUser(r *http.Request, th *config.TrustedHeader) (user string, fromProxy bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", false
	}
	addr = addr.Unmap()
	for _, p := range th.ProxyPrefixes {
		if p.Contains(addr) {
			return strings.TrimSpace(r.Header.Get(th.Header)), true
		}
	}
	return "", false
}

func (c *Console) cookieSecure(r *http.Request) bool { return c.secure || r.TLS != nil }

func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Expires: expires, HttpOnly: true,
		Secure: c.cookieSecure(r), SameSite: http.SameSiteStrictMode})
}

// sameSiteReload answers a cross-site navigation with a page that reloads
// the same address from this site (no script: a meta refresh).
func (c *Console) sameSiteReload(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	target := html.EscapeString(r.URL.RequestURI())
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=%s"><title>plumb</title></head><body><p><a href="%s">Continue to plumb</a></p></body></html>`, target, target)
}

// loginMethods says which login forms the page offers.
type loginMethods struct {
	Token, Password, Header bool
}

func (c *Console) methods() loginMethods {
	cc := c.opts.Config
	return loginMethods{Token: cc.Server.APITokens.Value() != "", Password: len(cc.Console.Users) > 0, Header: cc.Console.TrustedHeader != nil}
}

type loginView struct {
	Methods loginMethods
	Next    string
	CSRF    string
	Error   string
	User    string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.identify(w, r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg, user string) {
	token, err := randomToken()
	if err != nil {
		c.internalError(w, r, nil, "show the login page", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/login", HttpOnly: true,
		Secure: c.cookieSecure(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	c.render(w, r, status, "login", page{Title: "Log in", Data: loginView{Methods: c.methods(), Next: safeNext(next), CSRF: token, Error: msg, User: user}})
}

// login checks a token or a name and password and starts a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.showLogin(w, r, http.StatusBadRequest, "The form could not be read.", "")
		return
	}
	ck, err := r.Cookie(loginCSRFCookie)
	got := r.PostForm.Get(csrfField)
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(got)) != 1 {
		c.showLogin(w, r, http.StatusForbidden, "The login form expired or came from elsewhere (CSRF protection). Try again.", "")
		return
	}
	cfg := c.opts.Config
	var user, role, via string
	switch {
	case r.PostForm.Get("token") != "":
		want := cfg.Server.APITokens.Value()
		if want != "" && subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(want)) == 1 {
			user, role, via = TokenUser, config.RoleOperator, "token"
		}
	case r.PostForm.Get("username") != "":
		name := r.PostForm.Get("username")
		// Compare against a hash even for an unknown name, so the answer
		// takes as long and does not tell which names exist.
		hash := c.decoyHash
		for _, u := range cfg.Console.Users {
			if u.Name == name {
				hash, role = u.PasswordHash, u.Role
			}
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(r.PostForm.Get("password"))) == nil && role != "" {
			user, via = name, "password"
		}
	}
	if user == "" {
		c.log.Warn("console: failed login", "remote", r.RemoteAddr, "user", r.PostForm.Get("username"))
		c.showLogin(w, r, http.StatusUnauthorized, "Wrong token, or wrong name or password.", r.PostForm.Get("username"))
		return
	}
	id, s, err := c.sessions.create(r.Context(), c.now(), user, role, via, cfg.Console.SessionTTL)
	if err != nil {
		c.internalError(w, r, nil, "start the session", err)
		return
	}
	c.setSessionCookie(w, r, id, s.Expires)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", MaxAge: -1})
	c.log.Info("console: login", "user", user, "role", role, "via", via)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// decoyHash makes a bcrypt hash of a random password, compared against
// when a login names no known user.
func decoyHash() (string, error) {
	pw, err := randomToken()
	if err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if !c.checkCSRF(w, r, s) {
		return
	}
	if err := c.sessions.delete(r.Context(), s); err != nil {
		c.internalError(w, r, s, "log out", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.cookieSecure(r), SameSite: http.SameSiteStrictMode})
	if s.Via == "header" {
		c.render(w, r, http.StatusOK, "message", page{Title: "Logged out", Data: map[string]any{"Status": 200,
			"Message": "You are logged out of plumb. Your proxy's login still stands: log out there too."}})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination on this site: a path, never
// another host (an open redirect would lend plumb's name to phishing).
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
