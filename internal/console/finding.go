package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"plumb/internal/findings"
)

// historyShown is how many of a finding's latest transitions the page
// lists; it says how many there are in all.
const historyShown = 200

type link struct{ Label, URL string }

type labelChoice struct {
	Name, Value, Matcher string
	Checked              bool
}

type controlLink struct {
	Pack, Control, URL string
}

type findingView struct {
	Rec          findings.Record
	Title        string
	History      []findings.HistoryEntry
	HistoryTotal int
	Links        []link
	Controls     []controlLink
	Labels       []labelChoice
	Durations    []string
	Actions      []Action
	Notes        []string
	Address      string
}

// silenceLabels are the labels "silence like this" offers, with those
// checked by default: this kind of problem on this resource.
var silenceLabels = []struct {
	name    string
	checked bool
}{
	{"environment", true}, {"kind", true}, {"type", true}, {"name", true}, {"id", false}, {"region", false},
	{"account", false}, {"owner", false}, {"severity", false}, {"rule", false},
}

// silenceDurations are the lengths offered for a silence.
var silenceDurations = []string{"1h", "4h", "24h", "168h", "720h"}

func (c *Console) findingPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	fp := r.PathValue("fingerprint")
	rec, err := c.opts.Findings.Get(ctx, fp)
	if errors.Is(err, findings.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "No finding has the fingerprint %s.", fp)
		return
	}
	if err != nil {
		c.internalError(w, r, s, "read the finding", err)
		return
	}
	v := findingView{Rec: rec, Durations: silenceDurations}
	if v.History, err = c.opts.Findings.History(ctx, fp, historyShown); err != nil {
		c.internalError(w, r, s, "read the finding's history", err)
		return
	}
	if v.HistoryTotal, err = c.opts.Findings.HistoryLen(ctx, fp); err != nil {
		c.internalError(w, r, s, "read the finding's history", err)
		return
	}
	v.HistoryTotal = max(v.HistoryTotal, len(v.History))
	if v.Links, err = c.githubLinks(ctx, fp); err != nil {
		c.internalError(w, r, s, "read the receivers' state", err)
		return
	}
	if rec.Finding.Address != nil {
		v.Address = *rec.Finding.Address
	}
	packs := make([]string, 0, len(rec.Finding.Controls))
	for p := range rec.Finding.Controls {
		packs = append(packs, p)
	}
	sort.Strings(packs)
	for _, p := range packs {
		for _, ctl := range rec.Finding.Controls[p] {
			v.Controls = append(v.Controls, controlLink{Pack: p, Control: ctl,
				URL: "/compliance/" + url.PathEscape(rec.Finding.Environment) + "/" + url.PathEscape(p) + "/" + url.PathEscape(ctl)})
		}
	}
	labels := findings.Labels(rec.Finding, rec.Status)
	for _, l := range silenceLabels {
		val := labels[l.name]
		if val == "" {
			continue
		}
		m := findings.Matcher{Label: l.name, Op: "=", Value: val}
		v.Labels = append(v.Labels, labelChoice{Name: l.name, Value: val, Matcher: m.String(), Checked: l.checked})
	}
	notes, acts, err := c.offers(ctx, rec)
	if err != nil {
		c.internalError(w, r, s, "list the finding's actions", err)
		return
	}
	v.Notes = notes
	for _, a := range acts {
		v.Actions = append(v.Actions, a.Action)
	}
	v.Title = rec.Finding.Message
	c.render(w, r, http.StatusOK, "finding", page{Title: "Finding " + shorten(fp, 12), Nav: "findings", Session: s, Data: v})
}

// githubLinks finds the GitHub issues and advisories receivers opened for
// the finding, from what they remembered in the store.
func (c *Console) githubLinks(ctx context.Context, fp string) ([]link, error) {
	state := c.opts.Findings.ReceiverState()
	var out []link
	for _, rc := range c.opts.Config.Receivers {
		switch {
		case rc.GitHubIssue != nil && !rc.GitHubIssue.PerGroup:
			num, ok, err := state.Get(ctx, rc.Name, fp)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, link{Label: fmt.Sprintf("GitHub issue %s#%s", rc.GitHubIssue.Repository, num),
					URL: githubWeb(rc.GitHubIssue.BaseURL, rc.GitHubIssue.Repository, "issues/"+num)})
			}
		case rc.GitHubAdvisory != nil:
			ghsa, ok, err := state.Get(ctx, rc.Name, fp)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, link{Label: "Security advisory " + ghsa,
					URL: githubWeb(rc.GitHubAdvisory.BaseURL, rc.GitHubAdvisory.Repository, "security/advisories/"+ghsa)})
			}
		}
	}
	return out, nil
}

// githubWeb turns an API root (empty for github.com, or a GitHub
// Enterprise Server's https://host/api/v3/) into a page address.
func githubWeb(apiBase, repo, path string) string {
	host := "https://github.com"
	if apiBase != "" {
		if u, err := url.Parse(apiBase); err == nil && u.Host != "" {
			host = u.Scheme + "://" + u.Host
		}
	}
	return host + "/" + strings.Trim(repo, "/") + "/" + path
}

func (c *Console) suppress(w http.ResponseWriter, r *http.Request, s *session) {
	fp := r.PathValue("fingerprint")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		c.fail(w, r, s, http.StatusBadRequest, "Suppressing needs a reason: it is kept in the finding's history.")
		return
	}
	c.transition(w, r, s, fp, "suppressed", func(ctx context.Context, now time.Time) error {
		return c.opts.Findings.Suppress(ctx, now, fp, reason+" (by "+s.User+")")
	})
}

func (c *Console) unsuppress(w http.ResponseWriter, r *http.Request, s *session) {
	fp := r.PathValue("fingerprint")
	c.transition(w, r, s, fp, "unsuppressed", func(ctx context.Context, now time.Time) error {
		return c.opts.Findings.Unsuppress(ctx, now, fp)
	})
}

func (c *Console) transition(w http.ResponseWriter, r *http.Request, s *session, fp, done string, fn func(context.Context, time.Time) error) {
	err := fn(r.Context(), c.now())
	if errors.Is(err, findings.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "No finding has the fingerprint %s.", fp)
		return
	}
	if err != nil {
		c.internalError(w, r, s, "change the finding", err)
		return
	}
	c.log.Info("console: finding "+done, "fingerprint", fp, "user", s.User)
	redirect(w, r, "/findings/"+url.PathEscape(fp), done)
}

// silence adds a silence from the labels ticked on a finding's page.
func (c *Console) silence(w http.ResponseWriter, r *http.Request, s *session) {
	fp := r.PathValue("fingerprint")
	matchers := r.PostForm["matcher"]
	if len(matchers) == 0 {
		c.fail(w, r, s, http.StatusBadRequest, "Tick at least one label: a silence of everything would mute every team.")
		return
	}
	d, err := time.ParseDuration(r.PostForm.Get("duration"))
	if err != nil || d <= 0 {
		c.fail(w, r, s, http.StatusBadRequest, "Duration %q: choose one of the offered lengths.", r.PostForm.Get("duration"))
		return
	}
	now := c.now()
	_, err = c.opts.Findings.AddSilence(r.Context(), now, findings.Silence{Matchers: matchers, StartsAt: now, EndsAt: now.Add(d),
		CreatedBy: s.User, Comment: strings.TrimSpace(r.PostForm.Get("comment"))})
	if err != nil {
		// The store's message names the bad matcher or window.
		c.fail(w, r, s, http.StatusBadRequest, "The silence was not added: %v", err)
		return
	}
	c.log.Info("console: silence added", "matchers", matchers, "duration", d, "user", s.User)
	redirect(w, r, "/findings/"+url.PathEscape(fp), "silenced")
}
