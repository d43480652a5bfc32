package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// renderCheckMarkdown writes the Markdown of plumb check: a plan's
// resources checked against policy rules. It speaks of checked resources
// and violations, not drift (a plan says nothing about what exists
// outside the code), and every violation names the .tf file and line
// that declares the resource, which is where the reviewer of the pull
// request will fix it.
func renderCheckMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	if r.Environment != "" {
		fmt.Fprintf(bw, "## plumb policy check: %s\n\n", mdText(r.Environment))
	} else {
		fmt.Fprintf(bw, "## plumb policy check\n\n")
	}
	took := (time.Duration(r.DurationMS) * time.Millisecond).String()
	if r.StartedAt.IsZero() {
		fmt.Fprintf(bw, "Took %s.\n\n", took)
	} else {
		fmt.Fprintf(bw, "Started %s, took %s.\n\n", r.StartedAt.UTC().Format(time.RFC3339), took)
	}
	n := r.Summary.Managed
	fmt.Fprintf(bw, "Checked %d planned %s against %d %s: %d %s.\n\n",
		n, plural(n, "resource", "resources"), len(r.Rules), plural(len(r.Rules), "rule", "rules"),
		len(r.Findings), plural(len(r.Findings), "violation", "violations"))

	findings := sortedFindings(r.Findings)
	if len(findings) == 0 {
		if r.Partial() {
			fmt.Fprintf(bw, "No violations among the rules that could be evaluated (see below).\n")
		} else {
			fmt.Fprintf(bw, "No violations.\n")
		}
	} else {
		fmt.Fprintf(bw, "### Violations (%d)\n\n", len(findings))
		fmt.Fprintln(bw, "| Severity | Rule | Resource | Location | Message |")
		fmt.Fprintln(bw, "|---|---|---|---|---|")
		for _, f := range findings {
			loc := ""
			if f.File != "" {
				loc = f.File
				if f.Line > 0 {
					loc += ":" + strconv.Itoa(f.Line)
				}
			}
			res := address(f)
			if res == "" {
				res = f.Resource.Type + "." + f.Resource.ID
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n",
				mdText(string(f.Severity)), orDash(mdCode(f.Rule)), mdCode(res), orDash(mdCode(loc)), mdText(f.Message))
		}
	}
	if errs := sortedErrors(r.Errors); len(errs) > 0 {
		fmt.Fprintf(bw, "\n### Not evaluated (%d)\n\n", len(errs))
		fmt.Fprintln(bw, "These rules could not be decided on these resources; they are neither passed nor failed.")
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
