package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"plumb/internal/findings"
)

// Route is a node of the routing tree, in the manner of Alertmanager: a
// finding enters at the root and goes down the first child whose matchers
// it passes (and on to later siblings when a child says continue). The
// deepest matching node's receiver gets it.
type Route struct {
	Receiver string   `yaml:"receiver"`
	Matchers []string `yaml:"matchers"`
	Continue bool     `yaml:"continue"`
	// GroupBy lists the labels whose values make a group (one
	// notification per group); ["..."] groups by every label, which is
	// one finding per notification.
	GroupBy []string `yaml:"group_by"`
	// GroupWait delays a new group's first notification so findings of
	// one scan or one incident arrive together.
	GroupWait *time.Duration `yaml:"group_wait"`
	// GroupInterval is the least time between two notifications of a
	// group that changed.
	GroupInterval *time.Duration `yaml:"group_interval"`
	// RepeatInterval re-sends an unchanged group (a reminder).
	RepeatInterval *time.Duration `yaml:"repeat_interval"`
	Routes         []Route        `yaml:"routes"`

	// Compiled holds the parsed matchers.
	Compiled []findings.Matcher `yaml:"-"`
}

// ReceiverConfig is one named receiver; exactly one kind is set.
type ReceiverConfig struct {
	Name           string                 `yaml:"name"`
	GitHubIssue    *GitHubIssueConfig     `yaml:"github_issue"`
	GitHubAdvisory *GitHubAdvisoryConfig  `yaml:"github_advisory"`
	Webhook        *WebhookReceiverConfig `yaml:"webhook"`
	Slack          *SlackConfig           `yaml:"slack"`
	Alertmanager   *AlertmanagerConfig    `yaml:"alertmanager"`
	Runbook        *RunbookReceiverConfig `yaml:"runbook"`
}

// GitHubAuth is a token or a GitHub App installation. An App is what
// security advisories need, so the integration holds no admin token.
type GitHubAuth struct {
	Token          Secret `yaml:"token"`
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKey     Secret `yaml:"private_key"`
}

// GitHubIssueConfig opens one issue per finding (or per group).
type GitHubIssueConfig struct {
	// Repository is OWNER/REPO.
	Repository string `yaml:"repository"`
	// BaseURL is the API root of GitHub Enterprise Server
	// (https://ghe.example.com/api/v3/); empty is github.com.
	BaseURL  string     `yaml:"base_url"`
	Labels   []string   `yaml:"labels"`
	PerGroup bool       `yaml:"per_group"`
	Auth     GitHubAuth `yaml:"auth"`
}

// GitHubAdvisoryConfig drafts repository security advisories for security
// findings at or above MinSeverity.
type GitHubAdvisoryConfig struct {
	Repository  string     `yaml:"repository"`
	BaseURL     string     `yaml:"base_url"`
	MinSeverity string     `yaml:"min_severity"`
	Auth        GitHubAuth `yaml:"auth"`
}

// WebhookReceiverConfig posts the notification as JSON, signed.
type WebhookReceiverConfig struct {
	URL string `yaml:"url"`
	// Secret signs the body (HMAC-SHA256 over timestamp and body).
	Secret  Secret        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
}

// SlackConfig posts to an incoming webhook; its URL is a secret.
type SlackConfig struct {
	URL Secret `yaml:"url"`
}

// AlertmanagerConfig posts alerts to Alertmanager's v2 API.
type AlertmanagerConfig struct {
	URL string `yaml:"url"`
}

// RunbookReceiverConfig runs a command with the notification on stdin.
type RunbookReceiverConfig struct {
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`
	Dir     string        `yaml:"dir"`
	// Env adds NAME=VALUE pairs; the command does not inherit plumb's
	// environment (its cloud credentials).
	Env []string `yaml:"env"`
}

// Routing defaults, Alertmanager's.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

func (v *validator) routing(c *Config) {
	names := map[string]bool{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		f := fmt.Sprintf("receivers[%d]", i)
		v.name(f+".name", r.Name)
		if names[r.Name] {
			v.errf(f+".name", "receiver %q is defined twice", r.Name)
		}
		names[r.Name] = true
		kinds := 0
		if g := r.GitHubIssue; g != nil {
			kinds++
			v.repository(f+".github_issue.repository", g.Repository)
			v.baseURL(f+".github_issue.base_url", g.BaseURL)
			v.githubAuth(f+".github_issue.auth", &g.Auth, false)
		}
		if g := r.GitHubAdvisory; g != nil {
			kinds++
			v.repository(f+".github_advisory.repository", g.Repository)
			v.baseURL(f+".github_advisory.base_url", g.BaseURL)
			v.githubAuth(f+".github_advisory.auth", &g.Auth, true)
			switch g.MinSeverity {
			case "":
				g.MinSeverity = "high"
			case "low", "medium", "high", "critical":
			default:
				v.errf(f+".github_advisory.min_severity", "%q: want low, medium, high or critical", g.MinSeverity)
			}
		}
		if w := r.Webhook; w != nil {
			kinds++
			v.httpURL(f+".webhook.url", w.URL)
			v.secret(f+".webhook.secret", &w.Secret, true)
			if w.Timeout == 0 {
				w.Timeout = 10 * time.Second
			}
		}
		if s := r.Slack; s != nil {
			kinds++
			v.secret(f+".slack.url", &s.URL, true)
		}
		if a := r.Alertmanager; a != nil {
			kinds++
			v.httpURL(f+".alertmanager.url", a.URL)
		}
		if rb := r.Runbook; rb != nil {
			kinds++
			if len(rb.Command) == 0 {
				v.errf(f+".runbook.command", "required: [program, arg, ...]")
			}
			if rb.Timeout == 0 {
				rb.Timeout = 5 * time.Minute
			}
			for j, e := range rb.Env {
				if !strings.Contains(e, "=") {
					v.errf(fmt.Sprintf("%s.runbook.env[%d]", f, j), "%q: want NAME=VALUE", e)
				}
			}
		}
		if kinds != 1 {
			v.errf(f, "set exactly one of github_issue, github_advisory, webhook, slack, alertmanager, runbook (found %d)", kinds)
		}
	}
	if c.Route == nil {
		if len(c.Receivers) > 0 {
			v.errf("route", "receivers are configured but no route sends findings to them")
		}
		return
	}
	root := c.Route
	if root.Receiver == "" {
		v.errf("route.receiver", "the root route needs a receiver (the default for findings no child matches)")
	}
	if len(root.Matchers) > 0 {
		v.errf("route.matchers", "the root route matches every finding; put matchers on child routes")
	}
	root.Inherit(nil)
	v.route("route", root, names, true)
}

// Inherit fills what a node leaves unset: from its parent (receiver,
// group_by and the three intervals), or, for the root (parent nil), from
// Alertmanager's defaults. The loader and the router both call it, so a
// tree behaves the same whether it came from plumb.yaml or was built by
// hand.
func (r *Route) Inherit(parent *Route) {
	if parent == nil {
		r.GroupWait = orDefault(r.GroupWait, DefaultGroupWait)
		r.GroupInterval = orDefault(r.GroupInterval, DefaultGroupInterval)
		r.RepeatInterval = orDefault(r.RepeatInterval, DefaultRepeatInterval)
		return
	}
	if r.Receiver == "" {
		r.Receiver = parent.Receiver
	}
	if r.GroupBy == nil {
		r.GroupBy = parent.GroupBy
	}
	r.GroupWait = orDefault(r.GroupWait, *parent.GroupWait)
	r.GroupInterval = orDefault(r.GroupInterval, *parent.GroupInterval)
	r.RepeatInterval = orDefault(r.RepeatInterval, *parent.RepeatInterval)
}

func orDefault(p *time.Duration, d time.Duration) *time.Duration {
	if p != nil {
		return p
	}
	return &d
}

// route validates a node whose fields are already inherited, then its
// children after they inherit from it. ownReceiver says the node names
// its receiver itself: one inherited from the parent was judged there.
func (v *validator) route(f string, r *Route, receivers map[string]bool, ownReceiver bool) {
	if ownReceiver && r.Receiver != "" && !receivers[r.Receiver] {
		v.unknownRef(f+".receiver", "receiver", r.Receiver, receivers)
	}
	ms, err := findings.ParseMatchers(r.Matchers)
	if err != nil {
		v.errf(f+".matchers", "%v", err)
	}
	r.Compiled = ms
	for _, d := range []struct {
		name string
		d    *time.Duration
	}{{"group_wait", r.GroupWait}, {"group_interval", r.GroupInterval}, {"repeat_interval", r.RepeatInterval}} {
		if d.d != nil && *d.d < 0 {
			v.errf(f+"."+d.name, "must not be negative")
		}
	}
	for i := range r.Routes {
		own := r.Routes[i].Receiver != ""
		r.Routes[i].Inherit(r)
		v.route(fmt.Sprintf("%s.routes[%d]", f, i), &r.Routes[i], receivers, own)
	}
}

func (v *validator) repository(field, repo string) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		v.errf(field, "%q: want OWNER/REPO", repo)
	}
}

func (v *validator) baseURL(field, u string) {
	if u == "" {
		return
	}
	v.httpURL(field, u)
}

func (v *validator) httpURL(field, u string) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		v.errf(field, "%q: want an http(s) URL", u)
	}
}

func (v *validator) githubAuth(field string, a *GitHubAuth, appOnly bool) {
	app := a.AppID != 0 || a.InstallationID != 0 || a.PrivateKey.Set()
	switch {
	case a.Token.Set() && app:
		v.errf(field, "set a token or a GitHub App (app_id, installation_id, private_key), not both")
	case app:
		if a.AppID == 0 {
			v.errf(field+".app_id", "required for a GitHub App")
		}
		if a.InstallationID == 0 {
			v.errf(field+".installation_id", "required for a GitHub App")
		}
		v.secret(field+".private_key", &a.PrivateKey, true)
	case a.Token.Set():
		if appOnly {
			v.errf(field+".token", "security advisories are written as a GitHub App (app_id, installation_id, private_key) so plumb holds no admin token")
			return
		}
		v.secret(field+".token", &a.Token, true)
	default:
		v.errf(field, "required: a token or a GitHub App")
	}
}
