// Package github delivers findings to GitHub: one issue per finding (or per
// routing group) that plumb opens, updates, closes and reopens as the
// finding's lifecycle moves, and draft repository security advisories for
// security findings. Every artefact carries a hidden marker with the
// finding's fingerprint, so a lost plumb database finds its issues again
// instead of opening duplicates.
package github

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v92/github"

	"plumb/internal/config"
	"plumb/internal/receivers"
)

// defaultTimeout bounds one HTTP call when the caller gives no client, so
// a hung GitHub connection cannot hold a queue worker forever.
const defaultTimeout = 30 * time.Second

// defaultSecondaryWait is how long to back off after a secondary rate limit
// (or a bare 429) that names no Retry-After: GitHub's guidance is to wait
// at least a minute.
const defaultSecondaryWait = time.Minute

// credentials are the resolved secrets of a GitHubAuth; kept apart from
// the config so the constructor is testable and secrets never travel in
// structs that get printed.
type credentials struct {
	token          string
	appID          int64
	installationID int64
	privateKey     []byte
}

func (c credentials) isApp() bool { return c.appID != 0 }

func credentialsFrom(a config.GitHubAuth) credentials {
	key := a.PrivateKey.Value()
	// A PEM key passed through an environment variable often arrives with
	// literal "\n" sequences instead of newlines.
	if key != "" && !strings.Contains(key, "\n") && strings.Contains(key, `\n`) {
		key = strings.ReplaceAll(key, `\n`, "\n")
	}
	c := credentials{token: a.Token.Value(), appID: a.AppID, installationID: a.InstallationID}
	if key != "" {
		c.privateKey = []byte(key)
	}
	return c
}

// repoRef is OWNER/REPO split, because every REST path needs both parts.
type repoRef struct{ owner, name string }

func (r repoRef) String() string { return r.owner + "/" + r.name }

func parseRepo(s string) (repoRef, error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return repoRef{}, fmt.Errorf("repository %q: want OWNER/REPO", s)
	}
	return repoRef{owner: owner, name: name}, nil
}

// newClient builds a go-github client for github.com or, with baseURL, a
// GitHub Enterprise Server API root (https://ghe.example.com/api/v3/).
// With App credentials every request carries an installation token that
// ghinstallation obtains (JWT signed with the App key, exchanged at
// /app/installations/{id}/access_tokens) and refreshes before it expires.
func newClient(baseURL string, creds credentials, httpClient *http.Client) (*gh.Client, error) {
	base := http.Client{Timeout: defaultTimeout}
	if httpClient != nil {
		// A copy: go-github installs its auth transport on the client it
		// is given, and the caller's client must stay as it was.
		base = *httpClient
	}
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}

	var opts []gh.ClientOptionsFunc
	if baseURL != "" {
		opts = append(opts, gh.WithEnterpriseURLs(baseURL, baseURL))
	}
	switch {
	case creds.isApp():
		if creds.installationID == 0 || len(creds.privateKey) == 0 {
			return nil, errors.New("GitHub App auth needs app_id, installation_id and private_key")
		}
		itr, err := ghinstallation.New(transport, creds.appID, creds.installationID, creds.privateKey)
		if err != nil {
			// The error names the key's format, never its content.
			return nil, fmt.Errorf("GitHub App %d: read private key: %w", creds.appID, err)
		}
		hc := base
		hc.Transport = itr
		opts = append(opts, gh.WithHTTPClient(&hc))
		c, err := gh.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("GitHub client: %w", err)
		}
		// ghinstallation wants scheme, host and API path without the
		// trailing slash; go-github's BaseURL is the same root with it.
		itr.BaseURL = strings.TrimSuffix(c.BaseURL(), "/")
		return c, nil
	case creds.token != "":
		hc := base
		opts = append(opts, gh.WithHTTPClient(&hc), gh.WithAuthToken(creds.token))
		c, err := gh.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("GitHub client: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("GitHub auth: set a token or a GitHub App")
}

// classify turns a GitHub API error into what the delivery queue needs:
// RetryAfterError for rate limits (primary and secondary), Permanent for
// what retrying cannot fix (bad credentials, missing repository, a 422),
// and a plain error for the rest (5xx, network), which the queue retries.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("%s: %w", op, err)

	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return &receivers.RetryAfterError{After: untilReset(rl.Rate.Reset.Time), Err: wrapped}
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		after := defaultSecondaryWait
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			after = *abuse.RetryAfter
		}
		return &receivers.RetryAfterError{After: after, Err: wrapped}
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return classifyStatus(er.Response, wrapped, validationDetails(er))
	}
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		// The installation token could not be obtained.
		return classifyStatus(he.Response, wrapped, "")
	}
	return wrapped
}

func classifyStatus(resp *http.Response, err error, details string) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests || (code == http.StatusForbidden && resp.Header.Get("Retry-After") != ""):
		after := defaultSecondaryWait
		if s, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && s > 0 {
			after = time.Duration(s) * time.Second
		} else if reset := resp.Header.Get("X-RateLimit-Reset"); reset != "" {
			if v, perr := strconv.ParseInt(reset, 10, 64); perr == nil {
				after = untilReset(time.Unix(v, 0))
			}
		}
		return &receivers.RetryAfterError{After: after, Err: err}
	case code == http.StatusUnprocessableEntity:
		if details != "" {
			err = fmt.Errorf("%w (%s)", err, details)
		}
		return receivers.Permanent(err)
	case code == http.StatusUnauthorized:
		return receivers.Permanent(fmt.Errorf("%w (credentials rejected)", err))
	case code == http.StatusNotFound:
		return receivers.Permanent(fmt.Errorf("%w (repository not found or not accessible to these credentials)", err))
	case code == http.StatusForbidden || code == http.StatusGone || code == http.StatusBadRequest:
		return receivers.Permanent(err)
	}
	return err
}

// validationDetails spells out a 422's errors array, which says which
// field GitHub refused (a label name too long, an unknown ecosystem).
func validationDetails(er *gh.ErrorResponse) string {
	var parts []string
	for _, e := range er.Errors {
		var p []string
		for _, s := range []string{e.Resource, e.Field, e.Code, e.Message} {
			if s != "" {
				p = append(p, s)
			}
		}
		if len(p) > 0 {
			parts = append(parts, strings.Join(p, " "))
		}
	}
	return strings.Join(parts, "; ")
}

// untilReset is the wait until a rate-limit window reopens, at least one
// second so the queue never spins.
func untilReset(reset time.Time) time.Duration {
	d := time.Until(reset)
	if d < time.Second {
		return time.Second
	}
	return d.Round(time.Second)
}

// isGone reports a 404 or 410 on a single issue or advisory: it was
// deleted or transferred, so the stored mapping is stale.
func isGone(err error) bool {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode == http.StatusNotFound || er.Response.StatusCode == http.StatusGone
	}
	return false
}
