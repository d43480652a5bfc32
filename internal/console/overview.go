package console

import (
	"html/template"
	"net/http"
	"slices"
	"sort"
	"time"

	"plumb/internal/console/theme"
	"plumb/internal/findings"
	"plumb/internal/scanhistory"
)

// severities in the order pages show them, most urgent first.
var severities = []string{"critical", "high", "medium", "low"}

// TrendDays is how far back the overview's trend charts reach.
const TrendDays = 30

type sevCount struct {
	Severity string
	N        int
}

type packView struct {
	scanhistory.PackSummary
	Percent string // "" when no control was evaluated
}

type envView struct {
	Name      string
	Scan      *scanhistory.Scan
	Open      []sevCount
	OpenTotal int
	Packs     []packView
	Days      []scanhistory.Day
	PackNames []string
	// Charts are SVG, legends HTML; empty without history.
	DriftChart, DriftLegend           template.HTML
	ComplianceChart, ComplianceLegend template.HTML
}

type overviewView struct {
	Envs          []envView
	Open          []sevCount
	OpenTotal     int
	SeverityChart template.HTML
	TrendDays     int
}

// overview is the landing page: per environment the last scan's counts,
// coverage and compliance, open findings by severity and the trend.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	counts, err := c.opts.Findings.Count(ctx, findings.Query{Status: findings.StatusOpen}, "environment", "severity")
	if err != nil {
		c.internalError(w, r, s, "count the open findings", err)
		return
	}
	latest, err := c.opts.History.Latest(ctx)
	if err != nil {
		c.internalError(w, r, s, "read the scan history", err)
		return
	}
	since := c.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(TrendDays - 1))
	history, err := c.opts.History.DailyLatest(ctx, since)
	if err != nil {
		c.internalError(w, r, s, "read the scan history", err)
		return
	}

	envs := map[string]*envView{}
	env := func(name string) *envView {
		if e, ok := envs[name]; ok {
			return e
		}
		e := &envView{Name: name}
		envs[name] = e
		return e
	}
	for _, e := range c.opts.Config.Environments {
		env(e.Name)
	}
	for i := range latest {
		sc := latest[i]
		e := env(sc.Environment)
		e.Scan = &sc
		for _, p := range sc.Packs {
			pv := packView{PackSummary: p}
			if v, ok := p.Percent(); ok {
				pv.Percent = pct(v / 100)
			}
			e.Packs = append(e.Packs, pv)
		}
	}
	total := map[string]int{}
	perEnv := map[string]map[string]int{}
	for _, g := range counts {
		name, sev := g.Values[0], g.Values[1]
		env(name)
		if perEnv[name] == nil {
			perEnv[name] = map[string]int{}
		}
		perEnv[name][sev] += g.N
		total[sev] += g.N
	}
	byEnv := map[string][]scanhistory.Scan{}
	for _, sc := range history {
		byEnv[sc.Environment] = append(byEnv[sc.Environment], sc)
	}

	v := overviewView{TrendDays: TrendDays}
	v.Open, v.OpenTotal = orderSeverities(total)
	bars := make([]theme.Bar, 0, len(v.Open))
	for _, sc := range v.Open {
		bars = append(bars, theme.Bar{Label: sc.Severity, Value: sc.N, Class: "fill-" + sc.Severity})
	}
	v.SeverityChart = theme.BarChart("Open findings by severity, all environments", bars)
	names := make([]string, 0, len(envs))
	for n := range envs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := envs[n]
		e.Open, e.OpenTotal = orderSeverities(perEnv[n])
		e.Days = scanhistory.Trend(byEnv[n])
		if len(e.Days) > 0 {
			e.DriftChart, e.DriftLegend, e.ComplianceChart, e.ComplianceLegend, e.PackNames = trendCharts(n, e.Days)
		}
		v.Envs = append(v.Envs, *e)
	}
	c.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Session: s, Data: v})
}

// orderSeverities lists counts most urgent first, every known severity
// present (zero or not) and any other after them.
func orderSeverities(m map[string]int) ([]sevCount, int) {
	out := make([]sevCount, 0, len(severities))
	total := 0
	for _, sv := range severities {
		out = append(out, sevCount{sv, m[sv]})
		total += m[sv]
	}
	var other []string
	for sv := range m {
		if !slices.Contains(severities, sv) {
			other = append(other, sv)
		}
	}
	sort.Strings(other)
	for _, sv := range other {
		out = append(out, sevCount{sv, m[sv]})
		total += m[sv]
	}
	return out, total
}

// trendCharts draws an environment's drift and compliance per day.
func trendCharts(env string, days []scanhistory.Day) (drift, driftLegend, comp, compLegend template.HTML, packs []string) {
	d := theme.Series{Name: "Drifted resources"}
	seen := map[string]bool{}
	for _, day := range days {
		d.Points = append(d.Points, theme.Point{X: day.Date, Y: float64(day.Drift), Known: true})
		for p := range day.Compliance {
			if !seen[p] {
				seen[p] = true
				packs = append(packs, p)
			}
		}
	}
	sort.Strings(packs)
	drift, driftLegend = theme.LineChart("Drifted resources per day in "+env, []theme.Series{d}, 0, "")
	if len(packs) == 0 {
		return drift, driftLegend, "", "", nil
	}
	var series []theme.Series
	for _, p := range packs {
		s := theme.Series{Name: p}
		for _, day := range days {
			v, ok := day.Compliance[p]
			s.Points = append(s.Points, theme.Point{X: day.Date, Y: v, Known: ok})
		}
		series = append(series, s)
	}
	comp, compLegend = theme.LineChart("Compliance per pack per day in "+env+" (share of evaluated controls passing)", series, 100, "%")
	return drift, driftLegend, comp, compLegend, packs
}
