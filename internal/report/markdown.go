package report

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"plumb/internal/model"
)

// markdownValueWidth caps before/after values in Markdown. It is wider
// than the terminal's because a rendered table wraps, but still bounded:
// GitHub comments and step summaries have size limits.
const markdownValueWidth = 120

// renderMarkdown writes the GitHub-flavoured Markdown format used for PR
// comments, issues and $GITHUB_STEP_SUMMARY: a heading, a summary table, a
// findings table, a table of changes per changed resource, then what could
// not be scanned and notes. Every string that comes from the cloud or the
// code goes through mdCode or mdText, so a hostile resource id or tag
// value cannot break a table, inject HTML or links, or mention anyone.
func renderMarkdown(w io.Writer, r *Report) error {
	if r.PlanCheck {
		return renderCheckMarkdown(w, r)
	}
	bw := bufio.NewWriter(w)
	if r.Environment != "" {
		fmt.Fprintf(bw, "## plumb drift report: %s\n\n", mdText(r.Environment))
	} else {
		fmt.Fprintf(bw, "## plumb drift report\n\n")
	}
	took := (time.Duration(r.DurationMS) * time.Millisecond).String()
	if r.StartedAt.IsZero() {
		fmt.Fprintf(bw, "Took %s.\n\n", took)
	} else {
		fmt.Fprintf(bw, "Started %s, took %s.\n\n", r.StartedAt.UTC().Format(time.RFC3339), took)
	}

	s := r.Summary
	fmt.Fprintln(bw, "| Managed | In sync | Changed | Missing | Unmanaged | Coverage | Not evaluated | Unsupported | Ignored |")
	fmt.Fprintln(bw, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	fmt.Fprintf(bw, "| %d | %d | %d | %d | %d | %s | %d | %d | %d |\n\n",
		s.Managed, s.InSync, s.Changed, s.Missing, s.Unmanaged, coverageText(s),
		s.NotEvaluated, s.Unsupported, s.Ignored)

	findings := sortedFindings(r.Findings)
	if len(findings) == 0 {
		n := s.InSync
		res := plural(n, "resource", "resources")
		if r.Partial() {
			fmt.Fprintf(bw, "No drift in the parts that could be scanned: %d managed %s in sync.\n", n, res)
		} else {
			fmt.Fprintf(bw, "No drift: %d managed %s in sync.\n", n, res)
		}
	} else {
		fmt.Fprintf(bw, "### Findings (%d)\n\n", len(findings))
		fmt.Fprintln(bw, "| Severity | Kind | Type | ID | Address | Message |")
		fmt.Fprintln(bw, "|---|---|---|---|---|---|")
		for _, f := range findings {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n",
				mdText(string(f.Severity)), mdText(string(f.Kind)),
				mdCode(f.Resource.Type), mdCode(f.Resource.ID),
				orDash(mdCode(address(f))), mdText(f.Message))
		}
		writeMarkdownChanges(bw, findings)
	}

	if errs := sortedErrors(r.Errors); len(errs) > 0 {
		fmt.Fprintf(bw, "\n### Not scanned (%d)\n\n", len(errs))
		fmt.Fprintln(bw, "Findings do not cover these scopes; resources in them were neither confirmed nor reported missing.")
		fmt.Fprintln(bw)
		for _, e := range errs {
			fmt.Fprintf(bw, "- %s: %s\n", mdCode(e.Scope), mdText(e.Message))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(bw, "\n### Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "- %s\n", mdText(n))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeMarkdownChanges writes one small table per finding that has
// changes, titled with the resource so the reader can find it in code.
func writeMarkdownChanges(w io.Writer, findings []model.Finding) {
	first := true
	for _, f := range findings {
		if len(f.Changes) == 0 {
			continue
		}
		if first {
			fmt.Fprintf(w, "\n### Changes\n")
			first = false
		}
		title := mdCode(address(f))
		if title == "" {
			title = mdCode(f.Resource.Type + " " + f.Resource.ID)
		}
		fmt.Fprintf(w, "\n#### %s\n\n", title)
		fmt.Fprintf(w, "%s %s: %s\n\n", mdCode(f.Resource.Type), mdCode(f.Resource.ID), mdText(f.Message))
		fmt.Fprintln(w, "| Path | Before (code) | After (live) |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, c := range f.Changes {
			fmt.Fprintf(w, "| %s | %s | %s |\n",
				mdCode(c.Path),
				mdCode(truncate(formatValue(c.Before), markdownValueWidth)),
				mdCode(truncate(formatValue(c.After), markdownValueWidth)))
		}
	}
}
