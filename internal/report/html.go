package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"time"

	"plumb/internal/console/theme"
	"plumb/internal/model"
)

// FormatHTML is one self-contained page with the console's look: the
// stylesheet is inline, charts are inline SVG, there is no script and no
// reference to anything outside the file, so it opens offline, from a CI
// artefact or an e-mail attachment, exactly as it was written.
const FormatHTML = "html"

type htmlFinding struct {
	model.Finding
	Address string
}

// chunkRows is how many findings one table of the report holds.
const chunkRows = 250

type htmlChunk struct {
	From, To int
	Findings []htmlFinding
}

type htmlErrors struct {
	Scopes  []string
	Message string
}

type htmlView struct {
	R            *Report
	CSS          template.CSS
	Title        string
	Started      string
	Took         string
	Partial      bool
	NotEvaluated string
	Coverage     string
	Findings     []htmlFinding
	// Chunks split the findings into tables of chunkRows, so the browser
	// lays out only those on screen (content-visibility): a report of
	// 10,000 findings opens as fast as one of a few hundred.
	Chunks    []htmlChunk
	Errors    []htmlErrors
	KindChart template.HTML
	SevChart  template.HTML
}

// renderHTML writes the HTML report. Every string from the cloud or the
// code is escaped by html/template; values of changes are rendered as
// the other formats render them (JSON).
func renderHTML(w io.Writer, r *Report) error {
	v := htmlView{R: r, CSS: template.CSS(theme.CSS), Partial: r.Partial(), NotEvaluated: r.NotEvaluatedLine(), Coverage: coverageText(r.Summary),
		Took: (time.Duration(r.DurationMS) * time.Millisecond).String()}
	for _, g := range groupErrors(r.Errors) {
		v.Errors = append(v.Errors, htmlErrors{Scopes: g.scopes, Message: g.message})
	}
	v.Title = "plumb drift report"
	if r.PlanCheck {
		v.Title = "plumb check report"
	}
	if r.Environment != "" {
		v.Title += ": " + r.Environment
	}
	if !r.StartedAt.IsZero() {
		v.Started = r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	kinds := map[model.Kind]int{}
	sevs := map[model.Severity]int{}
	for _, f := range sortedFindings(r.Findings) {
		v.Findings = append(v.Findings, htmlFinding{Finding: f, Address: address(f)})
		kinds[f.Kind]++
		sevs[f.Severity]++
	}
	for i := 0; i < len(v.Findings); i += chunkRows {
		end := min(i+chunkRows, len(v.Findings))
		v.Chunks = append(v.Chunks, htmlChunk{From: i + 1, To: end, Findings: v.Findings[i:end]})
	}
	if len(v.Findings) > 0 {
		var kb, sb []theme.Bar
		for _, k := range []model.Kind{model.KindUnmanaged, model.KindMissing, model.KindChanged, model.KindConflict,
			model.KindPolicyViolation, model.KindUnexpectedWrite, model.KindAlert} {
			if kinds[k] > 0 {
				kb = append(kb, theme.Bar{Label: string(k), Value: kinds[k]})
			}
		}
		for _, s := range []model.Severity{model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow} {
			sb = append(sb, theme.Bar{Label: string(s), Value: sevs[s], Class: "fill-" + string(s)})
		}
		v.KindChart = theme.BarChart("Findings by kind", kb)
		v.SevChart = theme.BarChart("Findings by severity", sb)
	}
	bw := bufio.NewWriter(w)
	if err := htmlReport.Execute(bw, v); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return bw.Flush()
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"value": func(v any) string { return visible(formatValue(v)) },
	"vis":   visible,
	"num":   theme.Number,
	"lower": func(s any) string { return fmt.Sprint(s) },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="plumb">
<title>{{vis .Title}}</title>
<style>{{.CSS}}
.chunk { content-visibility: auto; contain-intrinsic-size: auto 9000px; margin-bottom: 0; border-radius: 0; border-top: 0; }
.chunk:first-of-type { border-top: 1px solid var(--line); }
table.findings { table-layout: fixed; min-width: 900px; }
table.findings td { overflow-wrap: anywhere; }
table.findings .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
col.c-sev { width: 7em; } col.c-kind { width: 10em; } col.c-type { width: 11em; } col.c-id { width: 14em; } col.c-addr { width: 16em; }
table.findings ul { margin: 4px 0 0; padding-left: 1.2em; }
</style>
</head>
<body>
<header class="top"><div class="bar"><span class="brand">plumb</span><span class="who">{{if .Started}}{{.Started}} · {{end}}took {{.Took}}</span></div></header>
<main id="main">
<h1>{{vis .Title}}</h1>
<p class="actions">{{if .Partial}}<span class="badge st-partial">partial</span>{{else}}<span class="badge st-complete">complete</span>{{end}} {{with .R.ToolVersion}}<span class="muted">plumb {{.}}</span>{{end}}</p>
{{if .NotEvaluated}}<p class="notice warn"><strong>{{vis .NotEvaluated}}</strong></p>{{end}}
{{if .R.PlanCheck}}
<div class="cards">
<div class="card"><span class="n">{{num .R.Summary.Managed}}</span><span class="l">planned resources checked</span></div>
<div class="card"><span class="n">{{num (len .R.Rules)}}</span><span class="l">rules</span></div>
<div class="card"><span class="n">{{num (len .Findings)}}</span><span class="l">violations</span></div>
</div>
{{else}}{{with .R.Summary}}
<div class="cards">
<div class="card"><span class="n">{{num .Managed}}</span><span class="l">managed</span></div>
<div class="card"><span class="n">{{num .InSync}}</span><span class="l">in sync</span></div>
<div class="card"><span class="n">{{num .Changed}}</span><span class="l">changed</span></div>
<div class="card"><span class="n">{{num .Missing}}</span><span class="l">missing</span></div>
<div class="card"><span class="n">{{num .Unmanaged}}</span><span class="l">unmanaged</span></div>
{{if .Conflicting}}<div class="card"><span class="n">{{num .Conflicting}}</span><span class="l">conflicting</span></div>{{end}}
<div class="card"><span class="n">{{$.Coverage}}</span><span class="l">coverage</span></div>
<div class="card"><span class="n">{{num .NotEvaluated}}</span><span class="l">not evaluated</span></div>
<div class="card"><span class="n">{{num .Unsupported}}</span><span class="l">unsupported</span></div>
<div class="card"><span class="n">{{num .Ignored}}</span><span class="l">ignored</span></div>
</div>
{{end}}{{end}}
{{if .Findings}}
<div class="charts">
<figure><figcaption class="muted">Findings by kind</figcaption>{{.KindChart}}</figure>
<figure><figcaption class="muted">Findings by severity</figcaption>{{.SevChart}}</figure>
</div>
<h2>Findings ({{num (len .Findings)}})</h2>
{{range $i, $chunk := .Chunks}}<div class="chunk table-wrap" role="region" aria-label="Findings {{$chunk.From}} to {{$chunk.To}}" tabindex="0">
<table class="findings">
<colgroup><col class="c-sev"><col class="c-kind"><col class="c-type"><col class="c-id"><col class="c-addr"><col></colgroup>
<thead{{if $i}} class="sr-only"{{end}}><tr><th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">Type</th><th scope="col">Id</th><th scope="col">Address</th><th scope="col">Finding and changes</th></tr></thead>
<tbody>
{{range $chunk.Findings}}<tr><td><span class="badge sev-{{lower .Severity}}">{{.Severity}}</span><td class="mono">{{.Kind}}<td class="mono">{{.Resource.Type}}<td class="mono">{{vis .Resource.ID}}<td class="mono">{{if .Address}}{{vis .Address}}{{else}}-{{end}}<td>{{vis .Message}}{{if .Changes}}<ul>{{range .Changes}}<li><code>{{vis .Path}}</code>: <code class="change-before">{{value .Before}}</code> → <code class="change-after">{{value .After}}</code></li>{{end}}</ul>{{end}}{{if .Declarations}}<ul>{{range .Declarations}}<li>declared as <code>{{vis .Address}}</code> in <code>{{vis .Source}}</code></li>{{end}}</ul>{{end}}</tr>
{{end}}</tbody>
</table>
</div>
{{end}}{{else}}
<p class="notice {{if .Partial}}warn{{else}}ok{{end}}">{{if .R.PlanCheck}}No violations: {{num .R.Summary.Managed}} planned resources checked.{{else if .Partial}}No findings in what could be read ({{num .R.Summary.InSync}} managed resources in sync); the scan is incomplete.{{else}}No drift: {{num .R.Summary.InSync}} managed resources in sync.{{end}}</p>
{{end}}
{{if .Errors}}
<h2>Not scanned ({{num (len .R.Errors)}})</h2>
<p>Findings do not cover these scopes; resources in them were neither confirmed nor reported missing.</p>
<div class="table-wrap" role="region" aria-label="Not scanned" tabindex="0">
<table><thead><tr><th scope="col">Scopes</th><th scope="col">Error</th></tr></thead>
<tbody>{{range .Errors}}<tr><td class="wrap">{{range .Scopes}}<code>{{vis .}}</code> {{end}}</td><td class="wrap">{{vis .Message}}</td></tr>{{end}}</tbody></table>
</div>
{{end}}
{{if .R.Notes}}<h2>Notes</h2><ul>{{range .R.Notes}}<li>{{vis .}}</li>{{end}}</ul>{{end}}
</main>
</body>
</html>
`))
