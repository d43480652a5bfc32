package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"plumb/internal/model"
)

// tableValueWidth caps each before/after value in the table so a changed
// policy document does not wrap a terminal many times over.
const tableValueWidth = 40

// renderTable writes the terminal format: two header lines, the findings
// aligned with text/tabwriter (one row per change for changed resources),
// then what could not be scanned, then notes. It is plain ASCII apart from
// what the cloud itself contains, and never coloured, so it survives any
// terminal, log collector or copy and paste.
func renderTable(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	writeTableHeader(bw, r)
	fmt.Fprintln(bw)
	if line := r.NotEvaluatedLine(); line != "" {
		fmt.Fprintln(bw, visible(line))
		fmt.Fprintln(bw)
	}

	findings := sortedFindings(r.Findings)
	if len(findings) == 0 && r.PlanCheck {
		fmt.Fprintf(bw, "No violations: %d planned %s checked.\n", r.Summary.Managed, plural(r.Summary.Managed, "resource", "resources"))
	} else if len(findings) == 0 {
		n := r.Summary.InSync
		res := plural(n, "resource", "resources")
		if r.Partial() {
			fmt.Fprintf(bw, "No findings in what could be read (%d managed %s in sync); the scan is incomplete.\n", n, res)
		} else {
			fmt.Fprintf(bw, "No drift: %d managed %s in sync.\n", n, res)
		}
	} else {
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tSEVERITY\tTYPE\tID\tADDRESS\tDETAIL")
		for _, f := range findings {
			details := tableDetails(f)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
				orDash(visible(string(f.Kind))), orDash(visible(string(f.Severity))),
				orDash(visible(f.Resource.Type)), orDash(visible(f.Resource.ID)),
				orDash(visible(address(f))), details[0])
			for _, d := range details[1:] {
				fmt.Fprintf(tw, "\t\t\t\t\t%s\n", d)
			}
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("align findings: %w", err)
		}
	}

	if groups := groupErrors(r.Errors); len(groups) > 0 {
		fmt.Fprintln(bw)
		for _, g := range groups {
			fmt.Fprintf(bw, "Not scanned: %s: %s\n", visible(strings.Join(g.scopes, ", ")), visible(g.message))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "Note: %s\n", visible(n))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeTableHeader writes the environment line and the counts line.
func writeTableHeader(w io.Writer, r *Report) {
	var head []string
	if r.Environment != "" {
		head = append(head, "Environment "+visible(r.Environment))
	} else {
		head = append(head, "No environment")
	}
	if !r.StartedAt.IsZero() {
		head = append(head, "started "+r.StartedAt.UTC().Format(time.RFC3339))
	}
	head = append(head, "took "+(time.Duration(r.DurationMS)*time.Millisecond).String())
	fmt.Fprintln(w, strings.Join(head, ", "))

	s := r.Summary
	if r.PlanCheck {
		fmt.Fprintf(w, "Checked %d planned %s against %d %s: %d %s\n",
			s.Managed, plural(s.Managed, "resource", "resources"),
			len(r.Rules), plural(len(r.Rules), "rule", "rules"),
			len(r.Findings), plural(len(r.Findings), "violation", "violations"))
		return
	}
	fmt.Fprintf(w, "Managed %d, in sync %d, changed %d, missing %d, unmanaged %d, coverage %s, not evaluated %d, unsupported %d, ignored %d",
		s.Managed, s.InSync, s.Changed, s.Missing, s.Unmanaged, coverageText(s),
		s.NotEvaluated, s.Unsupported, s.Ignored)
	if s.Conflicting > 0 {
		fmt.Fprintf(w, ", conflicting %d", s.Conflicting)
	}
	fmt.Fprintln(w)
}

// tableDetails returns the DETAIL cells of a finding, at least one: one
// per change (path: before -> after) for changed resources, the message
// otherwise.
func tableDetails(f model.Finding) []string {
	if len(f.Declarations) > 0 {
		// A conflict: the message, then every declaration.
		out := []string{orDash(visible(f.Message))}
		for _, d := range f.Declarations {
			out = append(out, fmt.Sprintf("declared as %s in %s", orDash(visible(d.Address)), orDash(visible(d.Source))))
		}
		return out
	}
	if len(f.Changes) == 0 {
		return []string{orDash(visible(f.Message))}
	}
	out := make([]string, 0, len(f.Changes))
	for _, c := range f.Changes {
		out = append(out, fmt.Sprintf("%s: %s -> %s",
			orDash(visible(c.Path)),
			truncate(visible(formatValue(c.Before)), tableValueWidth),
			truncate(visible(formatValue(c.After)), tableValueWidth)))
	}
	return out
}

// orDash fills an empty cell so columns stay aligned and no line ends in
// padding.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
