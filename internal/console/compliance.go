package console

import (
	"net/http"
	"net/url"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/scanhistory"
)

type packChoice struct {
	Environment, Pack, URL string
	Percent                string
	Selected               bool
	scanhistory.PackSummary
}

type controlRow struct {
	scanhistory.Control
	URL string
}

type complianceView struct {
	Choices     []packChoice
	Environment string
	Pack        string
	Found       bool
	Scan        scanhistory.Scan
	Summary     scanhistory.PackSummary
	Percent     string
	Controls    []controlRow
}

// compliancePage shows, per environment and pack, every control's verdict
// from the latest scan that evaluated the pack.
func (c *Console) compliancePage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	latest, err := c.opts.History.Latest(ctx)
	if err != nil {
		c.internalError(w, r, s, "read the scan history", err)
		return
	}
	q := r.URL.Query()
	v := complianceView{Environment: q.Get("environment"), Pack: q.Get("pack")}
	for _, sc := range latest {
		for _, p := range sc.Packs {
			ch := packChoice{Environment: sc.Environment, Pack: p.Pack, PackSummary: p,
				URL: "/compliance?" + url.Values{"environment": {sc.Environment}, "pack": {p.Pack}}.Encode()}
			if pc, ok := p.Percent(); ok {
				ch.Percent = pct(pc / 100)
			}
			v.Choices = append(v.Choices, ch)
		}
	}
	if v.Environment == "" && v.Pack == "" && len(v.Choices) > 0 {
		v.Environment, v.Pack = v.Choices[0].Environment, v.Choices[0].Pack
	}
	for i := range v.Choices {
		v.Choices[i].Selected = v.Choices[i].Environment == v.Environment && v.Choices[i].Pack == v.Pack
	}
	if v.Environment != "" && v.Pack != "" {
		p, sc, ok, err := c.opts.History.Compliance(ctx, v.Environment, v.Pack)
		if err != nil {
			c.internalError(w, r, s, "read the compliance results", err)
			return
		}
		v.Found, v.Scan, v.Summary = ok, sc, p.PackSummary
		if pc, ok := p.Percent(); ok {
			v.Percent = pct(pc / 100)
		}
		for _, ctl := range p.Controls {
			v.Controls = append(v.Controls, controlRow{Control: ctl,
				URL: "/compliance/" + url.PathEscape(v.Environment) + "/" + url.PathEscape(v.Pack) + "/" + url.PathEscape(ctl.Control)})
		}
	}
	c.render(w, r, http.StatusOK, "compliance", page{Title: "Compliance", Nav: "compliance", Session: s, Data: v})
}

type controlView struct {
	Environment, Pack string
	Scan              scanhistory.Scan
	Control           scanhistory.Control
	FindingsURL       string
}

// controlPage drills down from a control to its resources.
func (c *Console) controlPage(w http.ResponseWriter, r *http.Request, s *session) {
	env, pack, ctlID := r.PathValue("environment"), r.PathValue("pack"), r.PathValue("control")
	p, sc, ok, err := c.opts.History.Compliance(r.Context(), env, pack)
	if err != nil {
		c.internalError(w, r, s, "read the compliance results", err)
		return
	}
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "No scan of %s evaluated %s.", env, pack)
		return
	}
	for _, ctl := range p.Controls {
		if ctl.Control != ctlID {
			continue
		}
		v := controlView{Environment: env, Pack: pack, Scan: sc, Control: ctl,
			FindingsURL: "/findings?" + url.Values{"kind": {string(model.KindPolicyViolation)}, "environment": {env}, "status": {findings.StatusOpen}}.Encode()}
		c.render(w, r, http.StatusOK, "control", page{Title: pack + " " + ctlID, Nav: "compliance", Session: s, Data: v})
		return
	}
	c.fail(w, r, s, http.StatusNotFound, "The latest scan of %s with %s has no control %s.", env, pack, ctlID)
}
