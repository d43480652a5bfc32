package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strings"

	"plumb/internal/policy"
)

// Compliance report formats.
const (
	ComplianceMarkdown = "markdown"
	ComplianceHTML     = "html"
)

// complianceListLimit caps the resources listed per control and status.
// An auditor needs the failing resources in full, but a pass over 10,000
// volumes is evidence by count; the cap keeps reports readable and within
// GitHub's comment size.
const complianceListLimit = 50

// RenderCompliance writes a per-control compliance summary: a count of
// controls by status, then one row per control with its status, the rules
// behind it and the resources that failed, could not be decided (rule
// errors), passed, or were not evaluated and why (a value known only after
// apply, an attribute or a related type the live inventory does not read).
// A control is "Pass" only when nothing is listed as not evaluated: the
// column shows an auditor exactly what a verdict does not cover.
// "markdown" suits PR comments and step summaries; "html" is one
// self-contained page (no scripts, no external assets) to hand to an
// auditor. Every string from rules or resources is escaped.
func RenderCompliance(w io.Writer, format string, c *policy.Compliance) error {
	if c == nil {
		return fmt.Errorf("report: no compliance summary to render")
	}
	switch format {
	case ComplianceMarkdown:
		return renderComplianceMarkdown(w, c)
	case ComplianceHTML:
		if err := complianceTmpl.Execute(w, complianceView(c)); err != nil {
			return fmt.Errorf("report: rendering compliance html: %w", err)
		}
		return nil
	}
	return fmt.Errorf("report: unknown compliance format %q (want %s or %s)", format, ComplianceMarkdown, ComplianceHTML)
}

var statusLabel = map[string]string{
	policy.StatusPass:         "Pass",
	policy.StatusFail:         "Fail",
	policy.StatusError:        "Error",
	policy.StatusNotEvaluated: "Not evaluated",
}

func label(status string) string {
	if l, ok := statusLabel[status]; ok {
		return l
	}
	return status
}

func renderComplianceMarkdown(w io.Writer, c *policy.Compliance) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## plumb compliance: %s\n\n", mdText(c.Pack))
	n := c.Counts()
	fmt.Fprintln(bw, "| Controls | Pass | Fail | Error | Not evaluated |")
	fmt.Fprintln(bw, "|--:|--:|--:|--:|--:|")
	fmt.Fprintf(bw, "| %d | %d | %d | %d | %d |\n\n", len(c.Controls),
		n[policy.StatusPass], n[policy.StatusFail], n[policy.StatusError], n[policy.StatusNotEvaluated])
	if len(c.Controls) == 0 {
		fmt.Fprintln(bw, "No rule of this set maps to a control of this standard.")
		return bw.Flush()
	}
	fmt.Fprintln(bw, "| Control | Status | Rules | Failing | Errors | Passing | Not evaluated |")
	fmt.Fprintln(bw, "|---|---|---|---|---|---|---|")
	for _, cr := range c.Controls {
		rules := make([]string, len(cr.Rules))
		for i, r := range cr.Rules {
			rules[i] = mdCode(r)
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s |\n",
			mdCode(cr.Control), label(cr.Status), strings.Join(rules, " "),
			mdResources(cr.Failing, false), mdResources(cr.Errored, true), mdResources(cr.Passing, false),
			mdResources(cr.NotEvaluated, true))
	}
	return bw.Flush()
}

// mdResources lists resources in one table cell, separated by <br> (the
// only line break a GitHub table cell has).
func mdResources(rs []policy.ResourceResult, withMessage bool) string {
	if len(rs) == 0 {
		return "–"
	}
	parts := make([]string, 0, min(len(rs), complianceListLimit)+1)
	for i, r := range rs {
		if i == complianceListLimit {
			parts = append(parts, fmt.Sprintf("… and %d more", len(rs)-i))
			break
		}
		s := mdCode(r.Label) + " (" + mdCode(r.Rule) + ")"
		if r.Label == "" {
			// A whole type the rule could not be evaluated on.
			s = "every " + mdCode(r.Type) + " (" + mdCode(r.Rule) + ")"
		}
		if withMessage && r.Message != "" {
			s += ": " + mdText(truncate(r.Message, markdownValueWidth))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "<br>")
}

type htmlResources struct {
	Items []policy.ResourceResult
	More  int
}

type htmlControl struct {
	policy.ControlResult
	Label                                   string
	Failing, Errored, Passing, NotEvaluated htmlResources
}

type htmlCompliance struct {
	Pack     string
	Total    int
	Counts   map[string]int
	Controls []htmlControl
}

func capped(rs []policy.ResourceResult) htmlResources {
	if len(rs) > complianceListLimit {
		return htmlResources{Items: rs[:complianceListLimit], More: len(rs) - complianceListLimit}
	}
	return htmlResources{Items: rs}
}

func complianceView(c *policy.Compliance) htmlCompliance {
	v := htmlCompliance{Pack: c.Pack, Total: len(c.Controls), Counts: c.Counts()}
	for _, cr := range c.Controls {
		v.Controls = append(v.Controls, htmlControl{
			ControlResult: cr, Label: label(cr.Status),
			Failing: capped(cr.Failing), Errored: capped(cr.Errored), Passing: capped(cr.Passing),
			NotEvaluated: capped(cr.NotEvaluated),
		})
	}
	return v
}

var complianceTmpl = template.Must(template.New("compliance").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>plumb compliance: {{.Pack}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
code{font-size:.9em}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}.error{color:#9a6700}.not_evaluated{color:#57606a}
ul{margin:0;padding-left:1.2em}
</style>
</head>
<body>
<h1>plumb compliance: {{.Pack}}</h1>
<table>
<tr><th>Controls</th><th>Pass</th><th>Fail</th><th>Error</th><th>Not evaluated</th></tr>
<tr><td>{{.Total}}</td><td>{{index .Counts "pass"}}</td><td>{{index .Counts "fail"}}</td><td>{{index .Counts "error"}}</td><td>{{index .Counts "not_evaluated"}}</td></tr>
</table>
{{- if not .Controls}}
<p>No rule of this set maps to a control of this standard.</p>
{{- else}}
<table>
<tr><th>Control</th><th>Status</th><th>Rules</th><th>Failing</th><th>Errors</th><th>Passing</th><th>Not evaluated</th></tr>
{{- range .Controls}}
<tr><td><code>{{.Control}}</code></td><td class="{{.Status}}">{{.Label}}</td><td>{{range $i, $r := .Rules}}{{if $i}}<br>{{end}}<code>{{$r}}</code>{{end}}</td><td>{{template "resources" .Failing}}</td><td>{{template "resources" .Errored}}</td><td>{{template "resources" .Passing}}</td><td>{{template "resources" .NotEvaluated}}</td></tr>
{{- end}}
</table>
{{- end}}
</body>
</html>
{{define "resources"}}{{if .Items}}<ul>{{range .Items}}<li>{{if .Label}}<code>{{.Label}}</code>{{else}}every <code>{{.Type}}</code>{{end}} ({{.Rule}}){{if .Message}}: {{.Message}}{{end}}</li>{{end}}{{if .More}}<li>… and {{.More}} more</li>{{end}}</ul>{{else}}–{{end}}{{end}}`))
