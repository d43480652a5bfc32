package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"plumb/internal/console/theme"
	"plumb/internal/findings"
	"plumb/internal/paging"
)

// FindingsPage is the console's page size: 50 by default, at most 500
// (?per=); a larger one is refused, never cut down, as in the API.
var FindingsPage = paging.Limits{Default: 50, Max: 500}

// statusAny is the status filter value for findings of every status; the
// list shows open findings when no status is given.
const statusAny = "any"

type option struct {
	Value, Label string
	N            int
	Selected     bool
}

type column struct {
	Label  string
	URL    string
	Sorted string // ascending, descending or ""
}

type pager struct {
	Range            string
	PrevURL, NextURL string
}

type filterView struct {
	Environment, Kind, Severity, Status, Type, Owner, Q, Sort, Dir string
	Per                                                            int
}

type findingsView struct {
	Action                                                   string
	Team                                                     string
	Filters                                                  filterView
	Environments, Kinds, Severities, Statuses, Types, Owners []option
	Rows                                                     []findings.Record
	Columns                                                  []column
	Pager                                                    pager
	Total                                                    int
}

// findingsPage lists findings with filters, sorting and numbered pages.
func (c *Console) findingsPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, status, msg, err := c.findingsList(r.Context(), r.URL.Query(), "/findings", "")
	if err != nil {
		c.internalError(w, r, s, "list the findings", err)
		return
	}
	if msg != "" {
		c.fail(w, r, s, status, "%s", msg)
		return
	}
	c.render(w, r, http.StatusOK, "findings", page{Title: "Findings", Nav: "findings", Session: s, Data: v})
}

// findingsList reads the filters of a findings listing from q and the
// page of findings they select. team fixes the owner filter (team pages).
// A bad parameter is a message for the user with a 400, not an error.
func (c *Console) findingsList(ctx context.Context, q url.Values, action, team string) (findingsView, int, string, error) {
	f := filterView{Environment: q.Get("environment"), Kind: q.Get("kind"), Severity: q.Get("severity"), Status: q.Get("status"),
		Type: q.Get("type"), Owner: q.Get("owner"), Q: q.Get("q"), Sort: q.Get("sort"), Dir: q.Get("dir")}
	if team != "" {
		f.Owner = team
	}
	if f.Status == "" {
		f.Status = findings.StatusOpen
	}
	switch f.Status {
	case findings.StatusOpen, findings.StatusResolved, findings.StatusSuppressed, statusAny:
	default:
		return findingsView{}, http.StatusBadRequest, fmt.Sprintf("status %q: choose open, resolved, suppressed or any.", f.Status), nil
	}
	if f.Sort != "" && !slices.Contains(findings.SortKeys(), f.Sort) {
		return findingsView{}, http.StatusBadRequest, fmt.Sprintf("sort %q: choose one of the column headings.", f.Sort), nil
	}
	if f.Dir != "" && f.Dir != "asc" && f.Dir != "desc" {
		return findingsView{}, http.StatusBadRequest, fmt.Sprintf("dir %q: asc or desc.", f.Dir), nil
	}
	per, err := FindingsPage.Parse(q.Get("per"))
	if err != nil {
		return findingsView{}, http.StatusBadRequest, err.Error(), nil
	}
	f.Per = per
	pageNo := 1
	if p := q.Get("page"); p != "" {
		if pageNo, err = strconv.Atoi(p); err != nil || pageNo < 1 {
			return findingsView{}, http.StatusBadRequest, fmt.Sprintf("page %q: want a page number from 1.", p), nil
		}
	}
	fq := findings.Query{Status: f.Status, Kind: f.Kind, Environment: f.Environment, Severity: f.Severity,
		Type: f.Type, Owner: f.Owner, Text: f.Q, Limit: per, Offset: (pageNo - 1) * per, Sort: f.Sort, Desc: f.Dir == "desc"}
	if fq.Status == statusAny {
		fq.Status = ""
	}
	if fq.Sort == "" {
		// The default order is the newest first; say so to the database
		// the same way a click on "First seen" would.
		fq.Sort, fq.Desc = "first_seen", true
	}
	pg, err := c.opts.Findings.List(ctx, fq)
	if err != nil {
		return findingsView{}, 0, "", err
	}
	v := findingsView{Action: action, Team: team, Filters: f, Rows: pg.Records, Total: pg.Total}

	// The choices of each select come from the store, with counts, so a
	// filter never offers a value that selects nothing.
	scope := findings.Query{}
	if team != "" {
		scope.Owner = team
	}
	for _, o := range []struct {
		col  string
		dst  *[]option
		cur  string
		none string
	}{
		{"environment", &v.Environments, f.Environment, ""},
		{"kind", &v.Kinds, f.Kind, ""},
		{"type", &v.Types, f.Type, ""},
		{"owner", &v.Owners, f.Owner, "(no owner)"},
	} {
		if o.col == "owner" && team != "" {
			continue
		}
		gs, err := c.choices.get(c.now(), scope.Owner+"\x00"+o.col, func() ([]findings.Group, error) {
			return c.opts.Findings.Count(ctx, scope, o.col)
		})
		if err != nil {
			return findingsView{}, 0, "", err
		}
		for _, g := range gs {
			val, lbl := g.Values[0], g.Values[0]
			if val == "" {
				if o.none == "" {
					continue
				}
				val, lbl = findings.Unowned, o.none
			}
			*o.dst = append(*o.dst, option{Value: val, Label: lbl, N: g.N, Selected: val == o.cur})
		}
	}
	for _, sv := range severities {
		v.Severities = append(v.Severities, option{Value: sv, Label: sv, Selected: sv == f.Severity})
	}
	for _, st := range []string{findings.StatusOpen, findings.StatusSuppressed, findings.StatusResolved, statusAny} {
		v.Statuses = append(v.Statuses, option{Value: st, Label: st, Selected: st == f.Status})
	}

	base := url.Values{}
	for k, val := range map[string]string{"environment": f.Environment, "kind": f.Kind, "severity": f.Severity, "status": f.Status,
		"type": f.Type, "q": f.Q} {
		if val != "" {
			base.Set(k, val)
		}
	}
	if team == "" && f.Owner != "" {
		base.Set("owner", f.Owner)
	}
	if per != FindingsPage.Default {
		base.Set("per", strconv.Itoa(per))
	}
	link := func(extra url.Values) string {
		u := url.Values{}
		for k, vs := range base {
			u[k] = vs
		}
		for k, vs := range extra {
			u[k] = vs
		}
		return action + "?" + u.Encode()
	}
	for _, col := range []struct{ label, key string }{
		{"Severity", "severity"}, {"Status", "status"}, {"Finding", ""}, {"Kind", "kind"}, {"Type", "type"},
		{"Environment", "environment"}, {"Owner", "owner"}, {"Seen", "count"}, {"Last seen", "last_seen"},
	} {
		cl := column{Label: col.label}
		if col.key != "" {
			dir := "asc"
			if col.key == "severity" || col.key == "count" || col.key == "last_seen" {
				dir = "desc" // the most urgent, most frequent, latest first
			}
			if f.Sort == col.key {
				cl.Sorted = map[bool]string{true: "descending", false: "ascending"}[f.Dir == "desc"]
				dir = map[bool]string{true: "asc", false: "desc"}[f.Dir == "desc"]
			}
			cl.URL = link(url.Values{"sort": {col.key}, "dir": {dir}})
		}
		v.Columns = append(v.Columns, cl)
	}
	if f.Sort != "" {
		base.Set("sort", f.Sort)
		if f.Dir != "" {
			base.Set("dir", f.Dir)
		}
	}
	v.Pager = pageLinks(pg.Total, len(pg.Records), pageNo, per, "findings", func(p int) string {
		return link(url.Values{"page": {strconv.Itoa(p)}})
	})
	return v, 0, "", nil
}

// pageLinks says which items a page shows ("51–100 of 2,002 findings")
// and links the neighbouring pages.
func pageLinks(total, shown, pageNo, per int, noun string, link func(int) string) pager {
	var p pager
	first := (pageNo-1)*per + 1
	switch {
	case total == 0:
		p.Range = "No " + noun
	case shown == 0:
		p.Range = fmt.Sprintf("Nothing on page %d: %s %s in all", pageNo, theme.Number(total), noun)
	default:
		p.Range = fmt.Sprintf("%s–%s of %s %s", theme.Number(first), theme.Number(first+shown-1), theme.Number(total), noun)
	}
	if pageNo > 1 {
		p.PrevURL = link(min(pageNo-1, max(1, (total+per-1)/per)))
	}
	if first+shown-1 < total {
		p.NextURL = link(pageNo + 1)
	}
	return p
}

// ChoicesTTL is how long the values offered in the findings filters (and
// their counts) are reused before being counted again. Counting them reads
// every finding; the listing itself and its total are always current.
const ChoicesTTL = 10 * time.Second

// choiceCache keeps the filters' choices for ChoicesTTL.
type choiceCache struct {
	mu      sync.Mutex
	entries map[string]choiceEntry
}

type choiceEntry struct {
	at     time.Time
	groups []findings.Group
}

func (cc *choiceCache) get(now time.Time, key string, load func() ([]findings.Group, error)) ([]findings.Group, error) {
	cc.mu.Lock()
	e, ok := cc.entries[key]
	cc.mu.Unlock()
	if ok && now.Sub(e.at) < ChoicesTTL && !now.Before(e.at) {
		return e.groups, nil
	}
	gs, err := load()
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.entries == nil {
		cc.entries = map[string]choiceEntry{}
	}
	cc.entries[key] = choiceEntry{at: now, groups: gs}
	cc.mu.Unlock()
	return gs, nil
}
