package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/inventory"
	"plumb/internal/policy"
	"plumb/internal/report"
	"plumb/internal/tfplan"
)

type checkFlags struct {
	packs        []string
	policies     []string
	configDir    string
	env          string
	outputs      []string
	allowPartial bool
}

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check PLAN_JSON",
		Short: "Check a Terraform plan against compliance policies before it is applied",
		Long: `Evaluate compliance rules (CEL, see docs) on every resource a saved
Terraform plan would create, update or keep, so a violation is caught in
the pull request instead of in production.

PLAN_JSON is the output of 'terraform show -json PLANFILE'. Resources the
plan only destroys are not checked. Values Terraform only knows after the
apply (ids, ARNs, a kms_key_id that refers to a key created in the same
plan, a bucket policy built with jsonencode() from ARNs) are unknown: a
rule whose verdict depends on one is not evaluated on that resource
(neither a violation nor a pass; the report names the attribute), and a
rule that does not depend on it still decides. Sensitive values are
replaced by "(sensitive)".

Rules come from built-in packs (--pack) and your own YAML files or
directories (--policy); at least one is required. A rule of yours with the
id of a pack rule replaces it.

Each violation is a policy.violation finding that points at the .tf file
and line declaring the resource (found by reading the .tf files of
--config-dir, which defaults to the plan file's directory; local modules
are followed). -o sarif writes SARIF 2.1.0 for GitHub code scanning, which
shows the findings as annotations on the pull request.

Exit codes: 0 no violations, 2 violations found, 1 error, or a rule that
failed to run on some resource (listed under errors as policy/RULE/ADDRESS)
unless --allow-partial. Rules not evaluated for lack of a value known only
after apply do not change the exit code; they are listed in the notes and
under policy_not_evaluated in -o json.`,
		Example: `  # the usual pipeline step
  terraform plan -out=tfplan && terraform show -json tfplan > plan.json
  plumb check plan.json --pack pci-dss-4.0

  # your own rules next to a pack, JSON for a gate and a table for the log
  plumb check plan.json --pack cis-aws-3.0 --policy policies/ -o table -o json=check.json

  # plan.json written elsewhere: say where the .tf files are
  plumb check /tmp/plan.json --policy rules.yaml --config-dir infra/prod

  # GitHub code scanning (in a workflow with security-events: write)
  plumb check plan.json --pack pci-dss-4.0 -o table -o sarif=plumb.sarif
  #   - uses: github/codeql-action/upload-sarif@v3
  #     if: always()
  #     with: {sarif_file: plumb.sarif, category: plumb}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, args[0], f, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.packs, "pack", nil, "built-in policy pack to apply: "+strings.Join(policy.Packs(), ", ")+" (repeatable)")
	fl.StringArrayVar(&f.policies, "policy", nil, "YAML rule file or directory of them (repeatable)")
	fl.StringVar(&f.configDir, "config-dir", "", "Terraform root module whose .tf files locate each resource (default: the plan file's directory)")
	fl.StringVar(&f.env, "env", "default", "environment name stamped on findings (part of their fingerprint)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "report format "+strings.Join(report.Formats(), "|")+", optionally =PATH to write a file (repeatable; default: table)")
	fl.BoolVar(&f.allowPartial, "allow-partial", false, "exit 0/2 even when a rule could not be evaluated on some resource (it is still listed under errors)")
	return cmd
}

func runCheck(cmd *cobra.Command, planPath string, f checkFlags, stdout io.Writer) error {
	ctx := cmd.Context()
	start := time.Now()
	outs, err := report.ParseOutputs(f.outputs)
	if err != nil {
		return usageErr(err)
	}
	if len(f.packs) == 0 && len(f.policies) == 0 {
		return usageErr(fmt.Errorf("no policies to check: give --pack NAME (built-in: %s) and/or --policy PATH", strings.Join(policy.Packs(), ", ")))
	}
	for _, p := range f.packs {
		if !slices.Contains(policy.Packs(), p) {
			return usageErr(fmt.Errorf("--pack %q: unknown pack (built-in: %s)", p, strings.Join(policy.Packs(), ", ")))
		}
	}
	set, err := policy.LoadPacks(f.packs, f.policies)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("load policies: %w", err)}
	}
	subjects, err := planSubjects(planPath, f.configDir)
	if err != nil {
		return err
	}
	outcomes, err := set.Evaluate(ctx, subjects)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("evaluate policies: %w", err)}
	}
	rep := checkReport(f.env, start, set, subjects, outcomes)
	if err := report.WriteAll(ctx, outs, rep, stdout); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	switch {
	case rep.Partial() && !f.allowPartial:
		return &exitCodeError{code: exitError, err: fmt.Errorf("%d rule evaluation(s) failed (see errors in the report); pass --allow-partial to accept a partial check", len(rep.Errors))}
	case len(rep.Findings) > 0:
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

// planSubjects reads a plan JSON into policy subjects, locating each
// resource's declaration in configDir (default: the plan's directory).
func planSubjects(planPath, configDir string) ([]policy.Subject, error) {
	data, err := os.ReadFile(planPath)
	if err != nil {
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("read plan: %w", err)}
	}
	if configDir != "" {
		if st, err := os.Stat(configDir); err != nil || !st.IsDir() {
			return nil, usageErr(fmt.Errorf("--config-dir %s: not a directory", configDir))
		}
	} else {
		configDir = filepath.Dir(planPath)
	}
	subjects, err := tfplan.Read(planPath, data, configDir)
	if err != nil {
		return nil, &exitCodeError{code: exitError, err: err}
	}
	return subjects, nil
}

// checkReport builds the report of a plan check. The summary counts the
// planned resources that were checked as managed (they are all declared in
// code); the drift counts stay zero and coverage is 1, because a plan says
// nothing about what exists outside the code.
func checkReport(env string, start time.Time, set *policy.Set, subjects []policy.Subject, outcomes []policy.Outcome) *report.Report {
	rep := &report.Report{
		Version:     report.Version,
		Environment: env,
		StartedAt:   start.UTC().Truncate(time.Second),
		Findings:    policy.Findings(outcomes, env),
		ToolVersion: version,
		PlanCheck:   true,
	}
	rep.Summary.Managed = len(subjects)
	rep.Summary.Coverage = 1
	for _, o := range outcomes {
		if o.Err == nil || o.Rule == nil || o.Subject == nil {
			continue
		}
		rep.Errors = append(rep.Errors, inventory.ScopeError{
			Scope:   "policy/" + o.Rule.ID + "/" + o.Subject.Label(),
			Message: o.Err.Error(),
		})
	}
	for _, r := range set.Rules {
		rep.Rules = append(rep.Rules, report.RuleInfo{
			ID:          r.ID,
			Title:       r.Title,
			Remediation: r.Remediation,
			Severity:    string(r.Severity),
			Controls:    r.Controls,
			Security:    r.Security,
		})
	}
	rep.NotEvaluated = report.PolicyNotEvaluated(outcomes)
	checked := fmt.Sprintf("Checked %d planned %s against %d %s",
		len(subjects), pluralize(len(subjects), "resource", "resources"), len(set.Rules), pluralize(len(set.Rules), "rule", "rules"))
	if n := len(rep.NotEvaluated); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s; %d %s depend on values known only after apply and were not evaluated (neither passed nor violated; -o json lists them under policy_not_evaluated).",
			checked, n, pluralize(n, "evaluation", "evaluations")))
		rep.Notes = append(rep.Notes, notEvaluatedNotes(rep.NotEvaluated)...)
	} else {
		rep.Notes = append(rep.Notes, checked+"; no verdict depended on a value known only after apply.")
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep
}

// notEvaluatedLimit caps the not-evaluated rules named in the human
// formats' notes; JSON and SARIF list them all.
const notEvaluatedLimit = 20

// notEvaluatedNotes names the rules that could not be decided, one note
// each, for the table and markdown formats.
func notEvaluatedNotes(ne []report.NotEvaluated) []string {
	var out []string
	for i, n := range ne {
		if i == notEvaluatedLimit {
			out = append(out, fmt.Sprintf("... and %d more not evaluated", len(ne)-i))
			break
		}
		who := n.Address
		if who == "" {
			who = n.Type + " " + n.ID
		}
		out = append(out, fmt.Sprintf("Not evaluated: %s on %s: %s", n.Rule, who, n.Reason))
	}
	return out
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
