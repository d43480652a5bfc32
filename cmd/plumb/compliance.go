package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"plumb/internal/drift"
	"plumb/internal/policy"
	"plumb/internal/report"
	"plumb/internal/scan"
)

type complianceFlags struct {
	pack      string
	policies  []string
	plan      string
	configDir string
	outputs   []string

	// Live mode: the scan engine's desired-state and inventory flags.
	states       []string
	regions      []string
	clouds       []string
	types        []string
	env          string
	ignore       string
	allowPartial bool
	allowEmpty   bool
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

The resources come from a plan (--plan: before the apply) or from the live
estate (--state: the plumb scan engine lists the inventory and evaluates
the pack on every resource it reads, declared or not; --state says which
resources the code declares and, with the cloud flags, which cloud to
list).

A control fails when any resource breaks one of its rules; is "error" when
a rule failed to run on some resource (bad JSON in a policy document, the
cost limit); passes only when every rule under it was evaluated on every
resource it applies to and none failed; and is "Not evaluated" otherwise:
no resource of its rules' types was present, or some rule could not be
decided on some resource. The "Not evaluated" column says why: a value
known only after apply (at plan time), an attribute the live inventory
does not read, a related resource type that was not read (a rule about a
companion such as a VPC's flow log), or a type the live inventory does
not list at all.

Exit codes: 0 every evaluated control passes, 2 some control fails,
1 error (live: also when part of the estate could not be read or a
declared resource was not evaluated, as with --cloud none, unless
--allow-partial).`,
		Example: `  terraform show -json tfplan > plan.json
  plumb report compliance --pack pci-dss-4.0 --plan plan.json -o html=pci.html -o markdown

  # the live estate
  plumb report compliance --pack cis-aws-3.0 --state terraform.tfstate --region eu-west-1 -o html=cis.html`,
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
	fl.StringArrayVar(&f.states, "state", nil, "live mode: Terraform state of the estate: a path, a glob, or s3://... (repeatable)")
	fl.StringArrayVar(&f.regions, "region", nil, "live mode: AWS region to list (repeatable; default: the region of the AWS configuration)")
	fl.StringArrayVar(&f.clouds, "cloud", nil, "live mode: inventory to run: aws, azure or none (repeatable; default: decided from the state and the cloud flags)")
	fl.StringArrayVar(&f.types, "type", nil, "live mode: only list this Terraform resource type (repeatable; default: all supported types)")
	fl.StringVar(&f.env, "env", "default", "live mode: environment name")
	fl.StringVar(&f.ignore, "ignore", "", "live mode: ignore file (default: .plumbignore in the current directory, if present)")
	fl.BoolVar(&f.allowPartial, "allow-partial", false, "live mode: exit 0/2 even when part of the estate could not be read")
	fl.BoolVar(&f.allowEmpty, "allow-empty-state", false, "live mode: accept state files without resources")
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
	live := len(f.states) > 0
	switch {
	case f.plan != "" && live:
		return usageErr(fmt.Errorf("--plan and --state are two modes: report on a plan or on the live estate, not both"))
	case f.plan == "" && !live:
		return usageErr(fmt.Errorf("--plan is required: the resources to evaluate come from a plan JSON (terraform show -json PLAN), or from the live estate with --state"))
	case !live && len(f.regions)+len(f.clouds)+len(f.types) > 0:
		return usageErr(fmt.Errorf("--region, --cloud and --type select the live inventory: pass --state too"))
	}
	for _, c := range f.clouds {
		if c != scan.CloudAWS && c != scan.CloudAzure && c != scan.CloudNone {
			return usageErr(fmt.Errorf("--cloud %q: want aws, azure or none", c))
		}
	}
	set, err := policy.LoadPacks([]string{f.pack}, f.policies)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("load policies: %w", err)}
	}
	var (
		summary *policy.Compliance
		render  func(io.Writer, string) error
		unread  []string
	)
	if live {
		lc, u, err := liveCompliance(ctx, f, set)
		if err != nil {
			return err
		}
		summary, unread = lc, u
	} else {
		subjects, err := planSubjects(f.plan, f.configDir)
		if err != nil {
			return err
		}
		outcomes, err := set.Evaluate(ctx, subjects)
		if err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("evaluate policies: %w", err)}
		}
		summary = policy.Summarize(f.pack, set, outcomes)
	}
	render = func(w io.Writer, format string) error { return report.RenderCompliance(w, format, summary) }
	for _, o := range outs {
		var buf bytes.Buffer
		if err := render(&buf, o.format); err != nil {
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
	if len(unread) > 0 && !f.allowPartial {
		// The report is still written: what was read is evidence. But a
		// control judged on part of its resources must not exit 0
		// unnoticed.
		return &exitCodeError{code: exitError, err: fmt.Errorf("the live scan is incomplete (%d problem(s)), so controls are judged on what was read; pass --allow-partial to accept a partial report:\n  %s",
			len(unread), strings.Join(unread, "\n  "))}
	}
	if summary.Counts()[policy.StatusFail] > 0 {
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

// liveCompliance runs the scan engine with the pack on the live inventory
// and summarises its evaluation per control. Resources the ignore file
// excludes are left out, as `plumb scan` leaves out their findings. It
// also returns the parts of the estate that could not be read (scope:
// message).
func liveCompliance(ctx context.Context, f complianceFlags, set *policy.Set) (*policy.Compliance, []string, error) {
	var (
		ig  *drift.Ignore
		err error
	)
	if f.ignore != "" {
		ig, err = drift.LoadIgnore(f.ignore, false)
	} else {
		ig, err = drift.LoadIgnore(".plumbignore", true)
	}
	if err != nil {
		return nil, nil, &exitCodeError{code: exitError, err: err}
	}
	out, err := scan.Run(ctx, scan.Options{
		Environment:     f.env,
		States:          f.states,
		Clouds:          f.clouds,
		Regions:         f.regions,
		Types:           f.types,
		Ignore:          ig,
		AllowEmptyState: f.allowEmpty,
		Policy:          set,
	})
	if err != nil {
		return nil, nil, &exitCodeError{code: exitError, err: err}
	}
	res := out.Policy
	if res == nil {
		res = &policy.LiveResult{}
	}
	keep := func(in []policy.Outcome) []policy.Outcome {
		var kept []policy.Outcome
		for _, o := range in {
			if o.Subject != nil && !ig.Resource(o.Subject.Type, o.Subject.ID) {
				kept = append(kept, o)
			}
		}
		return kept
	}
	res = &policy.LiveResult{Decided: keep(res.Decided), Errors: keep(res.Errors), Skipped: keep(res.Skipped), Unlisted: res.Unlisted}
	// Rule errors are shown per control ("Error"); only unread parts of
	// the estate make the report partial.
	var unread []string
	for _, e := range out.Report.Errors {
		if !strings.HasPrefix(e.Scope, "policy/") {
			unread = append(unread, e.Scope+": "+e.Message)
		}
	}
	// Declared resources no inventory read (--cloud none, a region or
	// type left out) are as unknown as an unreadable scope.
	if line := out.Report.NotEvaluatedLine(); line != "" && len(out.Report.Errors) == 0 {
		unread = append(unread, line)
	}
	return policy.SummarizeLive(f.pack, set, res), unread, nil
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
