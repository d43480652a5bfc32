package receivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"plumb/internal/config"
)

// DefaultAlertValidity is how long Alertmanager keeps an open finding's
// alert firing after a delivery without hearing from plumb again. It is
// three default repeat intervals, so two lost reminders do not resolve a
// finding that is still open, while an alert plumb stopped sending (plumb
// removed, the route changed) still resolves on its own within half a
// day.
const DefaultAlertValidity = 3 * config.DefaultRepeatInterval

const alertmanagerTimeout = 10 * time.Second

// Alertmanager pushes findings to Prometheus Alertmanager's v2 API, so
// teams that already route, silence and inhibit alerts there treat drift
// like any other alert.
//
// Each finding is one alert. Its labels identify it and are the same on
// every delivery, which is what makes Deliver idempotent: Alertmanager
// merges alerts with equal label sets, so a retry or a reminder updates
// the one alert instead of adding another.
//
//	alertname    plumb_<kind with non-alphanumerics as "_">, e.g.
//	             plumb_drift_unmanaged, plumb_policy_violation; routable
//	             per kind with the usual alertname matchers
//	kind         the finding kind as plumb names it (drift.unmanaged)
//	fingerprint  the finding's fingerprint (the identity)
//	environment, severity, provider, type, id, region, account, rule
//	             when not empty
//
// Annotations: summary (Title), description (the message), status,
// principal and address when known. startsAt is the finding's first
// sighting; generatorURL is the notification's ExternalURL when it is a
// valid URL.
//
// endsAt decides the alert's state, following Alertmanager's client
// contract (an alert without endsAt resolves resolve_timeout, 5m by
// default, after it was last received):
//
//   - open: now + Validity. The alert stays firing between plumb's
//     notifications as long as the route's repeat_interval (default 4h)
//     is shorter than Validity; set a longer Validity for a longer
//     repeat_interval.
//   - resolved: ResolvedAt (now when unknown), in the past, so
//     Alertmanager resolves the alert at once.
//   - suppressed: now; a finding suppressed in plumb stops firing (a
//     silence in Alertmanager is the alternative).
//
// A severity that changes for the same fingerprint (a policy rule made
// stricter) changes the label set: the old alert then expires after
// Validity instead of resolving at once.
type Alertmanager struct {
	name     string
	endpoint string
	poster   *httpPoster
	now      func() time.Time
	// Validity is how far in the future an open finding's endsAt is set;
	// DefaultAlertValidity unless changed before the first Deliver.
	Validity time.Duration
}

// NewAlertmanager builds an Alertmanager receiver posting to
// {url}/api/v2/alerts; url may carry a path prefix (--web.route-prefix).
// client may be nil.
func NewAlertmanager(name string, cfg config.AlertmanagerConfig, client *http.Client) (*Alertmanager, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("alertmanager receiver %s: url: %w", name, redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("alertmanager receiver %s: url %s: want http(s)://host[:port][/prefix]", name, displayURL(u))
	}
	var hide []string
	if u.User != nil {
		hide = append(hide, u.User.String())
	}
	if u.RawQuery != "" {
		hide = append(hide, u.RawQuery)
	}
	ep := *u
	ep.Path = strings.TrimRight(u.Path, "/") + "/api/v2/alerts"
	ep.RawPath = ""
	return &Alertmanager{
		name:     name,
		endpoint: ep.String(),
		poster:   newHTTPPoster(client, "alertmanager receiver "+name+" ("+displayURL(&ep)+")", alertmanagerTimeout, hide...),
		now:      time.Now,
		Validity: DefaultAlertValidity,
	}, nil
}

// Name is the configured receiver name.
func (a *Alertmanager) Name() string { return a.name }

// Deliver posts one alert per finding in a single request. Alertmanager
// answers 200, or 400 with the reason when an alert is invalid
// (permanent).
func (a *Alertmanager) Deliver(ctx context.Context, n Notification) error {
	if len(n.Findings) == 0 {
		return nil
	}
	now := a.now()
	alerts := make([]postableAlert, 0, len(n.Findings))
	for _, f := range n.Findings {
		alerts = append(alerts, a.alert(n, f, now))
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return Permanent(fmt.Errorf("alertmanager receiver %s: encode alerts: %w", a.name, err))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	resp, err := a.poster.post(ctx, a.endpoint, h, body)
	if err != nil {
		return err
	}
	return a.poster.classify(resp, now)
}

// postableAlert is one element of POST /api/v2/alerts.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     *time.Time        `json:"startsAt,omitempty"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (a *Alertmanager) alert(n Notification, f Finding, now time.Time) postableAlert {
	labels := AlertLabels(f)
	ann := map[string]string{
		"summary": Title(f),
		"status":  f.Status,
	}
	if f.Message != "" {
		ann["description"] = f.Message
	}
	if f.Principal != "" {
		ann["principal"] = f.Principal
	}
	if f.Address != nil && *f.Address != "" {
		ann["address"] = *f.Address
	}

	validity := a.Validity
	if validity <= 0 {
		validity = DefaultAlertValidity
	}
	var end time.Time
	switch f.Status {
	case "resolved":
		end = now
		if f.ResolvedAt != nil && !f.ResolvedAt.IsZero() {
			end = *f.ResolvedAt
		}
	case "suppressed":
		end = now
	default:
		end = now.Add(validity)
	}
	end = end.UTC()
	pa := postableAlert{Labels: labels, Annotations: ann, EndsAt: &end}
	if !f.FirstSeen.IsZero() {
		start := f.FirstSeen.UTC()
		// Alertmanager rejects an alert that ends before it starts
		// (clock skew between plumb replicas).
		if start.After(end) {
			start = end
		}
		pa.StartsAt = &start
	}
	if u, err := url.ParseRequestURI(n.ExternalURL); err == nil && u.Scheme != "" && u.Host != "" {
		pa.GeneratorURL = n.ExternalURL
	}
	return pa
}

// AlertLabels are the identifying labels of a finding's alert (see
// Alertmanager). Exported so silences and inhibition rules can be
// written, and tested, against the exact label set.
func AlertLabels(f Finding) map[string]string {
	l := map[string]string{
		"alertname":   "plumb_" + labelSafe(string(f.Kind)),
		"kind":        string(f.Kind),
		"fingerprint": f.Fingerprint,
	}
	add := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	add("environment", f.Environment)
	add("severity", string(f.Severity))
	add("provider", f.Resource.Provider)
	add("type", f.Resource.Type)
	add("id", f.Resource.ID)
	add("region", f.Resource.Region)
	add("account", f.Resource.Account)
	add("rule", f.Rule)
	return l
}

// labelSafe maps s to [a-zA-Z0-9_], the classic Prometheus name
// alphabet, so the alertname works with every matcher syntax.
func labelSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
