package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
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

	if line := r.NotEvaluatedLine(); line != "" {
		fmt.Fprintf(bw, "**%s**\n\n", mdText(line))
	}

	s := r.Summary
	// Conflicting gets a column only when there are any, like the table.
	head, align, conflicting := "", "", ""
	if s.Conflicting > 0 {
		head, align, conflicting = " Conflicting |", "--:|", fmt.Sprintf(" %d |", s.Conflicting)
	}
	fmt.Fprintln(bw, "| Managed | In sync | Changed | Missing | Unmanaged | Coverage | Not evaluated | Unsupported | Ignored |"+head)
	fmt.Fprintln(bw, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|"+align)
	fmt.Fprintf(bw, "| %d | %d | %d | %d | %d | %s | %d | %d | %d |%s\n\n",
		s.Managed, s.InSync, s.Changed, s.Missing, s.Unmanaged, coverageText(s),
		s.NotEvaluated, s.Unsupported, s.Ignored, conflicting)

	findings := sortedFindings(r.Findings)
	if len(findings) == 0 {
		n := s.InSync
		res := plural(n, "resource", "resources")
		if r.Partial() {
			fmt.Fprintf(bw, "No findings in what could be read (%d managed %s in sync); the scan is incomplete.\n", n, res)
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
		writeMarkdownDeclarations(bw, findings)
	}

	if groups := groupErrors(r.Errors); len(groups) > 0 {
		fmt.Fprintf(bw, "\n### Not scanned (%d)\n\n", len(r.Errors))
		fmt.Fprintln(bw, "Findings do not cover these scopes; resources in them were neither confirmed nor reported missing.")
		fmt.Fprintln(bw)
		for _, g := range groups {
			scopes := make([]string, 0, len(g.scopes))
			for _, sc := range g.scopes {
				scopes = append(scopes, mdCode(sc))
			}
			fmt.Fprintf(bw, "- %s: %s\n", strings.Join(scopes, ", "), mdText(g.message))
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

// writeMarkdownDeclarations lists, for each resource defined more than
// once (drift.conflict), every address and state that declares it.
func writeMarkdownDeclarations(w io.Writer, findings []model.Finding) {
	var conflicts []model.Finding
	for _, f := range findings {
		if len(f.Declarations) > 0 {
			conflicts = append(conflicts, f)
		}
	}
	if len(conflicts) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### Defined more than once (%d)\n\n", len(conflicts))
	fmt.Fprintln(w, "Each of these cloud objects is declared in several places, so every apply of one undoes the others. Keep each in one state (`terraform state rm` it from the others); until then plumb does not compare it with either declaration.")
	for _, f := range conflicts {
		fmt.Fprintf(w, "\n%s %s: %s\n\n", mdCode(f.Resource.Type), mdCode(f.Resource.ID), mdText(f.Message))
		fmt.Fprintln(w, "| Address | State |")
		fmt.Fprintln(w, "|---|---|")
		for _, d := range f.Declarations {
			fmt.Fprintf(w, "| %s | %s |\n", orDash(mdCode(d.Address)), orDash(mdCode(d.Source)))
		}
	}
}
