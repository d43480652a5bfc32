package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/gate"
	"plumb/internal/queue"
)

type gateFlags struct {
	env, configPath, dataDir, database, actor, output, comment string
	recordApplied, approve, reject                             bool
}

func newGateCmd(stdout io.Writer) *cobra.Command {
	var f gateFlags
	cmd := &cobra.Command{
		Use:   "gate --env ENV PLAN_JSON",
		Short: "Decide whether a Terraform plan may be applied to an environment (for CI, before terraform apply)",
		Long: `Check a plan (terraform show -json PLANFILE) against an environment's
controls in plumb.yaml and exit 0 only if all of these hold:

  policy     the plan passes the environment's packs and policies (none
             configured: passes);
  promotion  with promotes_from: the same change set was applied to that
             environment (recorded by --record-applied there), and that
             environment was scanned since and has no open drift finding;
  approval   with approval: peer or management: an approver (not the one
             running the gate, --actor) approved this change set with
             --approve within approval_ttl, and nobody rejected it.

The change set is what the plan changes, the same in every environment:
each changed resource's address, its actions and the names of the
attributes that change (values differ between environments and are left
out). Its hash is printed; a different plan has a different hash and needs
its own promotion and approval.

--record-applied records that the plan's change set was applied to --env
(run it after terraform apply succeeded there). --approve and --reject
record --actor's decision on the change set for --env.

The records, scans and findings are read from the store of --data-dir, or
of --database (the PostgreSQL database plumb serve uses).

Exit codes: 0 the plan may be applied (or the record was stored), 2 it may
not (the failed checks are printed), 1 an error.`,
		Example: `  terraform show -json tfplan > plan.json
  plumb gate --env prod --config plumb.yaml --database "$PLUMB_DATABASE_URL" plan.json

  # after terraform apply in staging succeeded
  plumb gate --env staging --record-applied --config plumb.yaml --database "$PLUMB_DATABASE_URL" plan.json

  # an approver of prod approves the change set
  plumb gate --env prod --approve --actor alice --config plumb.yaml --database "$PLUMB_DATABASE_URL" plan.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGate(cmd, f, args[0], stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", "", "environment the plan is for (required)")
	fl.StringVar(&f.configPath, "config", "", "plumb.yaml with the environment's controls (required)")
	fl.StringVar(&f.dataDir, "data-dir", ".plumb", "directory of the SQLite store (when --database is not given)")
	envDefault(fl, "data-dir", "PLUMB_DATA_DIR", ".plumb")
	fl.StringVar(&f.database, "database", "", "PostgreSQL URL of the store plumb serve uses, instead of --data-dir")
	fl.StringVar(&f.actor, "actor", "cli", "who runs the gate (their own approval does not count) or who approves")
	envDefault(fl, "actor", "USER", "cli")
	fl.BoolVar(&f.recordApplied, "record-applied", false, "record that the plan's change set was applied to --env, instead of checking")
	fl.BoolVar(&f.approve, "approve", false, "record --actor's approval of the plan's change set for --env, instead of checking")
	fl.BoolVar(&f.reject, "reject", false, "record --actor's rejection of the plan's change set for --env, instead of checking")
	fl.StringVar(&f.comment, "comment", "", "with --approve or --reject: why")
	fl.StringVarP(&f.output, "output", "o", "table", "table or json")
	return cmd
}

func runGate(cmd *cobra.Command, f gateFlags, planPath string, stdout io.Writer) error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	modes := 0
	for _, b := range []bool{f.recordApplied, f.approve, f.reject} {
		if b {
			modes++
		}
	}
	switch {
	case modes > 1:
		return usageErr(errors.New("give at most one of --record-applied, --approve and --reject"))
	case f.env == "":
		return usageErr(errors.New("--env is required"))
	case f.configPath == "":
		return usageErr(errors.New("--config plumb.yaml is required (it holds the environment's controls)"))
	}
	fail := func(err error) error { return &exitCodeError{code: exitError, err: err} }
	cfg, err := config.Load(f.configPath, os.Getenv)
	if err != nil {
		return fail(err)
	}
	env, ok := cfg.Environment(f.env)
	if !ok {
		return usageErr(fmt.Errorf("--env %q: no such environment in %s", f.env, f.configPath))
	}
	plan, err := os.ReadFile(planPath)
	if err != nil {
		return fail(fmt.Errorf("read plan: %w", err))
	}
	cs, err := gate.ReadChangeSet(plan)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", planPath, err))
	}
	ctx := cmd.Context()
	o := queue.Options{DataDir: f.dataDir, DatabaseURL: f.database, Logger: slog.New(slog.DiscardHandler)}
	if f.database == "" {
		if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
			return fail(fmt.Errorf("create data dir: %w", err))
		}
	}
	q, err := queue.Open(ctx, o)
	if err != nil {
		return fail(fmt.Errorf("open store: %w", err))
	}
	defer q.Close()
	fs, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return fail(err)
	}
	actions, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return fail(err)
	}
	applied, err := gate.NewApplied(ctx, q.DB(), q.Dialect())
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	switch {
	case f.recordApplied:
		if err := applied.Record(ctx, env.Name, cs.Hash, f.actor, now); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "change set %s recorded as applied to %s by %s\n", cs.Hash, env.Name, f.actor)
		return nil
	case f.approve || f.reject:
		decision := enforce.DecisionApprove
		if f.reject {
			decision = enforce.DecisionReject
		}
		if err := gate.Approve(ctx, actions, env, cs, f.actor, decision, f.comment, now); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "change set %s: %s by %s recorded for %s (valid for %s)\n", cs.Hash, decision, f.actor, env.Name, env.ApprovalTTL)
		return nil
	}
	v, err := gate.Evaluate(ctx, gate.Inputs{Config: cfg, Environment: env, PlanPath: planPath, Plan: plan, Requester: f.actor,
		Findings: fs, Applied: applied, Decisions: actions, Now: now})
	if err != nil {
		return fail(err)
	}
	if f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		word := "may be applied"
		if !v.Passed {
			word = "may NOT be applied"
		}
		fmt.Fprintf(stdout, "change set %s (%d resource change(s)) %s to %s\n", v.ChangeSet.Hash, len(v.ChangeSet.Changes), word, v.Environment)
		for _, c := range v.Checks {
			mark := "pass"
			if !c.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(stdout, "  %-4s %-9s %s\n", mark, c.Name, c.Detail)
		}
	}
	if !v.Passed {
		return &exitCodeError{code: exitFindings}
	}
	return nil
}
