package console

import (
	"net/http"
	"net/url"
	"sort"

	"plumb/internal/findings"
)

type teamRow struct {
	Owner, Label, URL    string
	Open                 []sevCount
	OpenTotal            int
	Suppressed, Resolved int
}

type teamView struct {
	Owner, Label string
	Open         []sevCount
	OpenTotal    int
	ByEnv        []envCount
	List         findingsView
}

type envCount struct {
	Environment string
	N           int
}

// teamsPage lists every owner with their findings, unowned ones last.
func (c *Console) teamsPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	bySev, err := c.opts.Findings.Count(ctx, findings.Query{Status: findings.StatusOpen}, "owner", "severity")
	if err != nil {
		c.internalError(w, r, s, "count the findings by team", err)
		return
	}
	byStatus, err := c.opts.Findings.Count(ctx, findings.Query{}, "owner", "status")
	if err != nil {
		c.internalError(w, r, s, "count the findings by team", err)
		return
	}
	rows := map[string]*teamRow{}
	row := func(owner string) *teamRow {
		if t, ok := rows[owner]; ok {
			return t
		}
		t := &teamRow{Owner: owner, Label: owner, URL: "/teams/" + url.PathEscape(owner)}
		if owner == "" {
			t.Label, t.URL = "(no owner)", "/teams/"+findings.Unowned
		}
		rows[owner] = t
		return t
	}
	sev := map[string]map[string]int{}
	for _, g := range bySev {
		row(g.Values[0])
		if sev[g.Values[0]] == nil {
			sev[g.Values[0]] = map[string]int{}
		}
		sev[g.Values[0]][g.Values[1]] += g.N
	}
	for _, g := range byStatus {
		t := row(g.Values[0])
		switch g.Values[1] {
		case findings.StatusSuppressed:
			t.Suppressed += g.N
		case findings.StatusResolved:
			t.Resolved += g.N
		}
	}
	var out []teamRow
	for owner, t := range rows {
		t.Open, t.OpenTotal = orderSeverities(sev[owner])
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Owner == "") != (out[j].Owner == "") {
			return out[j].Owner == ""
		}
		return out[i].Owner < out[j].Owner
	})
	c.render(w, r, http.StatusOK, "teams", page{Title: "Teams", Nav: "teams", Session: s, Data: out})
}

// teamPage is one team's part of the estate: a page a team can bookmark.
func (c *Console) teamPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	owner := r.PathValue("owner")
	v := teamView{Owner: owner, Label: owner}
	if owner == findings.Unowned {
		v.Label = "(no owner)"
	}
	bySev, err := c.opts.Findings.Count(ctx, findings.Query{Status: findings.StatusOpen, Owner: owner}, "environment", "severity")
	if err != nil {
		c.internalError(w, r, s, "count the team's findings", err)
		return
	}
	sev := map[string]int{}
	env := map[string]int{}
	for _, g := range bySev {
		env[g.Values[0]] += g.N
		sev[g.Values[1]] += g.N
	}
	v.Open, v.OpenTotal = orderSeverities(sev)
	for e, n := range env {
		v.ByEnv = append(v.ByEnv, envCount{e, n})
	}
	sort.Slice(v.ByEnv, func(i, j int) bool { return v.ByEnv[i].Environment < v.ByEnv[j].Environment })
	list, status, msg, err := c.findingsList(ctx, r.URL.Query(), "/teams/"+url.PathEscape(owner), owner)
	if err != nil {
		c.internalError(w, r, s, "list the team's findings", err)
		return
	}
	if msg != "" {
		c.fail(w, r, s, status, "%s", msg)
		return
	}
	v.List = list
	c.render(w, r, http.StatusOK, "team", page{Title: "Team " + v.Label, Nav: "teams", Session: s, Data: v})
}
