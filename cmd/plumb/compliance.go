package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"plumb/internal/policy"
	"plumb/internal/report"
)

type complianceFlags struct {
	pack      string
	policies  []string
	plan      string
	configDir string
	outputs   []string
}

func newReportCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render reports for auditors and reviewers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newComplianceCmd(stdout))
	return cmd
}

func newComplianceCmd(stdout io.Writer) *cobra.Command {
	var f complianceFlags
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "Per-control pass/fail report of a compliance pack",
		Long: `Evaluate a compliance pack and report, per control of the standard, whether
it passes, fails or was not evaluated, with the resources behind each
verdict. The HTML output is a single self-contained page an auditor can
read; markdown suits a pull request or a wiki.

A control fails when any resource breaks one of its rules, passes when
every evaluated resource meets them, is "error" when some resource could
not be decided (an attribute unknown until apply), and is not evaluated
when no resource of its rules' types was present.

Exit codes: 0 every evaluated control passes, 2 some control fails,
1 error.`,
		Example: `  terraform show -json tfplan > plan.json
  plumb report compliance --pack pci-dss-4.0 --plan plan.json -o html=pci.html -o markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompliance(cmd, f, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.pack, "pack", "", "compliance pack to report on: "+strings.Join(policy.Packs(), ", "))
	fl.StringArrayVar(&f.policies, "policy", nil, "extra rule files or directories; a rule with a pack rule's id replaces it (repeatable)")
	fl.StringVar(&f.plan, "plan", "", "plan JSON (terraform show -json PLAN) whose resources to evaluate")
	fl.StringVar(&f.configDir, "config-dir", "", "root module directory, to point at .tf files and lines (default: the plan's directory)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "markdown or html, optionally =PATH (repeatable; default: markdown to stdout)")
	return cmd
}

type complianceOutput struct{ format, path string }

func parseComplianceOutputs(specs []string) ([]complianceOutput, error) {
	if len(specs) == 0 {
		return []complianceOutput{{format: report.ComplianceMarkdown}}, nil
	}
	var outs []complianceOutput
	stdout := 0
	for _, spec := range specs {
		format, path, _ := strings.Cut(spec, "=")
		if format != report.ComplianceMarkdown && format != report.ComplianceHTML {
			return nil, fmt.Errorf("-o %q: compliance reports are markdown or html", spec)
		}
		if path == "" || path == "-" {
			stdout++
			path = ""
		}
		outs = append(outs, complianceOutput{format: format, path: path})
	}
	if stdout > 1 {
		return nil, fmt.Errorf("only one output can go to standard output")
	}
	return outs, nil
}

func runCompliance(cmd *cobra.Command, f complianceFlags, stdout io.Writer) error {
	ctx := cmd.Context()
	outs, err := parseComplianceOutputs(f.outputs)
	if err != nil {
		return usageErr(err)
	}
	if !slices.Contains(policy.Packs(), f.pack) {
		return usageErr(fmt.Errorf("--pack %q: choose one of %s", f.pack, strings.Join(policy.Packs(), ", ")))
	}
	if f.plan == "" {
		return usageErr(fmt.Errorf("--plan is required: the resources to evaluate come from a plan JSON (terraform show -json PLAN)"))
	}
	set, err := policy.LoadPacks([]string{f.pack}, f.policies)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("load policies: %w", err)}
	}
	subjects, err := planSubjects(f.plan, f.configDir)
	if err != nil {
		return err
	}
	outcomes, err := set.Evaluate(ctx, subjects)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("evaluate policies: %w", err)}
	}
	summary := policy.Summarize(f.pack, set, outcomes)
	for _, o := range outs {
		var buf bytes.Buffer
		if err := report.RenderCompliance(&buf, o.format, summary); err != nil {
			return &exitCodeError{code: exitError, err: err}
		}
		if o.path == "" {
			if _, err := stdout.Write(buf.Bytes()); err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			continue
		}
		if err := writeAtomic(o.path, buf.Bytes()); err != nil {
			return &exitCodeError{code: exitError, err: err}
		}
	}
	if summary.Counts()[policy.StatusFail] > 0 {
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

// writeAtomic writes a file through a temporary file in the same
// directory, so a failed run never leaves half a report.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
