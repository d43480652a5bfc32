package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
	"plumb/internal/server"
)

// enforceDeps are what the enforce command takes from outside the
// flags: the clock (tests move it past the grace period), the executors
// (nil: server.Executors builds them, as plumb serve does) and how those
// reach the clouds (tests point Azure at the ARM test server).
type enforceDeps struct {
	now       func() time.Time
	executors map[string]enforce.Executor
	execOpts  server.ExecutorOptions
}

type enforceFlags struct {
	env, kind, finding, configPath, dataDir, actor, output, tfBin string
	apply                                                         bool
	wait                                                          time.Duration
	api                                                           apiClient
}

func newEnforceCmd(stdout, stderr io.Writer, deps enforceDeps) *cobra.Command {
	var f enforceFlags
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "Plan (and with --apply, take) the actions an environment's enforcement settings call for",
		Long: `Plan the actions an environment's enforcement settings (plumb.yaml,
environments[].enforcement) call for on its open findings, and with --apply
take those that pass every guard: account allow-list, declared in any
environment's state, AWS defaults, protect tags and patterns, complete scan
scope, grace period after notification, circuit breaker, dry run.

The plan lists every candidate: what (verb and resource), why (the finding)
and which guard stopped it. Without --apply nothing is changed and no write
call is made. Findings come from the store that 'plumb scan --notify' (with
--data-dir) or 'plumb serve' (with --server) fills; run a scan first.

With --apply and --data-dir the actions run through the durable queue in
this process until they finish or --wait elapses (unfinished ones run on the
next call), then the finding updates go to the receivers of --config. With
--server, plumb serve runs them and this command waits up to --wait.

Exit codes: 0 nothing to do or every action done, 2 actions planned but not
taken (dry run) or stopped by a guard, 1 an error or a failed action.`,
		Example: `  # what would happen in prod
  plumb enforce --env prod --config plumb.yaml --data-dir .plumb

  # do it
  plumb enforce --env prod --apply --config plumb.yaml --data-dir .plumb

  # one finding, through a running plumb serve
  plumb enforce --env prod --finding 3f2a... --apply --server https://plumb.internal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEnforce(cmd, f, deps, stdout, stderr)
		},
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.env, "env", "", "environment to enforce (default: the only one in --config)")
	fl.StringVar(&f.configPath, "config", "", "plumb.yaml with the environments' enforcement settings (with --data-dir)")
	fl.StringVar(&f.dataDir, "data-dir", ".plumb", "directory of the SQLite store 'plumb scan --notify' fills")
	envDefault(fl, "data-dir", "PLUMB_DATA_DIR", ".plumb")
	fl.StringVar(&f.api.base, "server", "", "plumb serve URL: plan and apply through its API instead of --data-dir (env PLUMB_SERVER)")
	fl.StringVar(&f.api.token, "token", "", "API bearer token for --server (default env PLUMB_API_TOKEN)")
	fl.StringVarP(&f.output, "output", "o", "table", "table or json")
	cf := cmd.Flags()
	cf.BoolVar(&f.apply, "apply", false, "take the actions that pass every guard (the environment must also have dry_run: false)")
	cf.StringVar(&f.kind, "kind", "", "only findings of this kind: unmanaged, changed, or a full kind such as drift.unmanaged")
	cf.StringVar(&f.finding, "finding", "", "only this finding (fingerprint)")
	cf.StringVar(&f.actor, "actor", "cli", "who is acting, recorded on every action")
	envDefault(cf, "actor", "USER", "cli")
	cf.StringVar(&f.tfBin, "terraform-bin", "terraform", "terraform binary (e.g. tofu) that reverts run in an environment's terraform_dir")
	cf.DurationVar(&f.wait, "wait", 10*time.Minute, "with --apply, how long to wait for the actions and the notifications that follow")
	cmd.AddCommand(newEnforceLogCmd(stdout, &f), newEnforceReleaseCmd(stdout, stderr, &f, deps), newEnforceIsolateCmd(stdout, stderr, &f),
		newDecideCmd(stdout, &f, enforce.DecisionApprove), newDecideCmd(stdout, &f, enforce.DecisionReject))
	return cmd
}

// serverMode reports whether the command talks to a plumb serve.
func (f *enforceFlags) serverMode() bool {
	if f.api.base == "" {
		f.api.base = os.Getenv("PLUMB_SERVER")
	}
	return f.api.base != ""
}

func runEnforce(cmd *cobra.Command, f enforceFlags, deps enforceDeps, stdout, stderr io.Writer) error {
	if f.output != "table" && f.output != "json" {
		return usageErr(fmt.Errorf("--output %q: want table or json", f.output))
	}
	kind, err := parseKind(f.kind)
	if err != nil {
		return usageErr(err)
	}
	var (
		plan    *enforce.Plan
		actions []*enforce.Action
		note    string
	)
	if f.serverMode() {
		if f.env == "" {
			return usageErr(fmt.Errorf("--env is required with --server"))
		}
		plan, actions, note, err = enforceRemote(cmd, f, kind)
	} else {
		plan, actions, note, err = enforceLocal(cmd.Context(), f, kind, deps, stderr)
	}
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if f.output == "json" {
		out := *plan
		out.Actions = actions
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printPlan(stdout, plan, actions)
	}
	if note != "" {
		fmt.Fprintln(stderr, note)
	}
	return enforceExit(plan, actions)
}

// parseKind takes unmanaged, changed or a full kind.
func parseKind(s string) (model.Kind, error) {
	switch s {
	case "":
		return "", nil
	case "unmanaged":
		return model.KindUnmanaged, nil
	case "changed":
		return model.KindChanged, nil
	}
	if strings.Contains(s, ".") {
		return model.Kind(s), nil
	}
	return "", fmt.Errorf("--kind %q: want unmanaged, changed or a finding kind such as drift.unmanaged", s)
}

// enforceExit is the exit code contract: 1 error or failure, 2 something
// planned or stopped, 0 nothing to do or everything done.
func enforceExit(plan *enforce.Plan, actions []*enforce.Action) error {
	if len(plan.Errors) > 0 {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%d guard(s) could not judge: %s", len(plan.Errors), strings.Join(plan.Errors, "; "))}
	}
	failed, waiting := 0, 0
	for _, a := range actions {
		switch a.State {
		case enforce.StateFailed:
			failed++
		case enforce.StateBlocked, enforce.StatePlanned, enforce.StateRunning:
			waiting++
		}
	}
	switch {
	case failed > 0:
		return &exitCodeError{code: exitError, err: fmt.Errorf("%d action(s) failed (see plumb enforce log)", failed)}
	case waiting > 0:
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

func loadEnforceConfig(f enforceFlags) (*config.Config, config.Environment, error) {
	if f.configPath == "" {
		return nil, config.Environment{}, fmt.Errorf("--config plumb.yaml is required (it holds the environments' enforcement settings)")
	}
	cfg, err := config.Load(f.configPath, os.Getenv)
	if err != nil {
		return nil, config.Environment{}, err
	}
	name := f.env
	if name == "" {
		if len(cfg.Environments) != 1 {
			return nil, config.Environment{}, fmt.Errorf("--env is required: %s has %d environments", f.configPath, len(cfg.Environments))
		}
		name = cfg.Environments[0].Name
	}
	env, ok := cfg.Environment(name)
	if !ok {
		return nil, config.Environment{}, fmt.Errorf("--env %q: no such environment in %s", name, f.configPath)
	}
	return cfg, env, nil
}

func enforceLocal(ctx context.Context, f enforceFlags, kind model.Kind, deps enforceDeps, stderr io.Writer) (*enforce.Plan, []*enforce.Action, string, error) {
	cfg, env, err := loadEnforceConfig(f)
	if err != nil {
		return nil, nil, "", err
	}
	if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
		return nil, nil, "", fmt.Errorf("create data dir: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := server.EnforceOnce(ctx, server.EnforceOptions{Config: cfg, DataDir: f.dataDir, Wait: f.wait, Logger: logger,
		Executors: deps.executors, ExecutorOptions: deps.execOpts, Now: deps.now, TerraformBin: f.tfBin,
		Request: enforce.Request{Environment: env, Apply: f.apply, Actor: f.actor, Kind: kind, Fingerprint: f.finding}})
	if err != nil {
		return nil, nil, "", err
	}
	var note string
	if f.apply && res.Unfinished > 0 {
		note = fmt.Sprintf("%d action(s) not finished after --wait %s: they stay queued in %s and run on the next plumb enforce --apply (plumb enforce log shows them)",
			res.Unfinished, f.wait, f.dataDir)
	}
	if res.Sent > 0 || res.Pending > 0 {
		note = strings.TrimSpace(note + fmt.Sprintf("\n%d notification(s) sent, %d not delivered yet", res.Sent, res.Pending))
	}
	return res.Plan, res.Actions, note, nil
}

func enforceRemote(cmd *cobra.Command, f enforceFlags, kind model.Kind) (*enforce.Plan, []*enforce.Action, string, error) {
	path := "/v1/enforce/plan"
	if f.apply {
		path = "/v1/enforce/apply"
	}
	var plan enforce.Plan
	body := map[string]string{"environment": f.env, "kind": string(kind), "finding": f.finding, "actor": f.actor}
	if err := f.api.send(cmd, "POST", path, body, &plan); err != nil {
		return nil, nil, "", err
	}
	if !f.apply {
		return &plan, plan.Actions, "", nil
	}
	return awaitRemote(cmd, f, &plan)
}

// awaitRemote waits up to --wait for the runnable actions of a plan the
// server queued, and returns them as they stand.
func awaitRemote(cmd *cobra.Command, f enforceFlags, plan *enforce.Plan) (*enforce.Plan, []*enforce.Action, string, error) {
	actions := plan.Actions
	if len(plan.Runnable()) == 0 {
		return plan, actions, "", nil
	}
	deadline := time.Now().Add(f.wait)
	for {
		var page struct {
			Actions []*enforce.Action `json:"actions"`
		}
		v := url.Values{"run": {plan.RunID}, "limit": {"1000"}}
		if err := f.api.do(cmd, "GET", "/v1/actions?"+v.Encode(), &page); err != nil {
			return nil, nil, "", err
		}
		byID := map[string]*enforce.Action{}
		unfinished := 0
		for _, a := range page.Actions {
			byID[a.ID] = a
			if a.State == enforce.StatePlanned || a.State == enforce.StateRunning {
				unfinished++
			}
		}
		for i, a := range plan.Actions {
			if s, ok := byID[a.ID]; ok {
				actions[i] = s
			}
		}
		if unfinished == 0 {
			return plan, actions, "", nil
		}
		if time.Now().After(deadline) || cmd.Context().Err() != nil {
			return plan, actions, fmt.Sprintf("%d action(s) still running on the server after --wait %s (plumb enforce log --server ... shows them)", unfinished, f.wait), nil
		}
		time.Sleep(time.Second)
	}
}

// printPlan writes the plan as a table: what, why and what stopped it.
func printPlan(w io.Writer, plan *enforce.Plan, actions []*enforce.Action) {
	mode := "dry run (pass --apply to act)"
	switch {
	case plan.Apply && plan.DryRun:
		mode = "apply, but the environment has dry_run: true"
	case plan.Apply:
		mode = "apply"
	}
	fmt.Fprintf(w, "environment %s, run %s, %s\n", plan.Environment, plan.RunID, mode)
	for _, n := range plan.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if plan.Circuit != nil {
		fmt.Fprintf(w, "CIRCUIT BREAKER: %s: no action taken\n", plan.Circuit.Reason)
	}
	for _, e := range plan.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if len(actions) == 0 {
		fmt.Fprintln(w, "nothing to do: no open finding calls for an action")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tRESOURCE\tREGION\tWHY\tOUTCOME")
	for _, a := range actions {
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s [%s]\t%s\n", a.Verb, a.Resource.Type, a.Resource.ID, orDash(a.Resource.Region),
			a.Why, short(a.Fingerprint), outcomeText(a))
	}
	_ = tw.Flush()
	counts := map[enforce.State]int{}
	for _, a := range actions {
		counts[a.State]++
	}
	var parts []string
	for _, s := range []enforce.State{enforce.StatePlanned, enforce.StateAwaiting, enforce.StateRunning, enforce.StateSucceeded, enforce.StateBlocked, enforce.StateFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintln(w, strings.Join(parts, ", "))
}

func outcomeText(a *enforce.Action) string {
	switch a.State {
	case enforce.StateBlocked:
		return "stopped by " + a.Guard + ": " + a.Reason
	case enforce.StateSucceeded:
		return "done: " + a.Result
	case enforce.StateFailed:
		return "failed: " + a.Error
	case enforce.StateRunning:
		if a.Error != "" {
			return "retrying: " + a.Error
		}
		return "running"
	case enforce.StatePlanned:
		return "passes every guard"
	case enforce.StateReleased:
		return a.Reason // released by WHO (action ID)
	case enforce.StateAwaiting:
		return "awaiting approval as " + a.ID + ": " + a.Reason
	}
	return string(a.State)
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newEnforceLogCmd(stdout io.Writer, f *enforceFlags) *cobra.Command {
	var state string
	var limit int
	cmd := &cobra.Command{
		Use:   "log",
		Short: "List action records: what was done or stopped, by whom, when, with what result",
		Long: `List the action records of enforcement runs, newest first: the verb and
resource, the finding, who acted, the state (planned, blocked, running,
succeeded, failed, released), the guard that stopped it or the result.
-o json prints the full records (before-state and API calls included).`,
		Example: "  plumb enforce log --env prod\n  plumb enforce log --finding 3f2a... -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.output != "table" && f.output != "json" {
				return usageErr(fmt.Errorf("--output %q: want table or json", f.output))
			}
			if limit < 1 || limit > 1000 {
				return usageErr(fmt.Errorf("--limit %d: want 1 to 1000", limit))
			}
			var acts []*enforce.Action
			var err error
			if f.serverMode() {
				acts, err = remoteLog(cmd, f, state, limit)
			} else {
				acts, err = localLog(cmd.Context(), f, state, limit)
			}
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if f.output == "json" {
				if acts == nil {
					acts = []*enforce.Action{}
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(acts)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UPDATED\tSTATE\tACTION\tRESOURCE\tFINDING\tACTOR\tDETAIL")
			for _, a := range acts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", a.UpdatedAt.UTC().Format(time.RFC3339), a.State, a.Verb,
					a.Resource.Type, a.Resource.ID, short(a.Fingerprint), a.Actor, outcomeText(a))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "planned, awaiting_approval, blocked, running, succeeded, failed or released")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many records (1 to 1000)")
	cmd.Flags().StringVar(&f.finding, "finding", "", "only this finding (fingerprint)")
	return cmd
}

func localLog(ctx context.Context, f *enforceFlags, state string, limit int) ([]*enforce.Action, error) {
	var actions []*enforce.Action
	err := withLocalActions(ctx, f.dataDir, "plumb enforce --apply", func(s *enforce.Store) error {
		page, err := s.List(ctx, enforce.Query{Environment: f.env, Fingerprint: f.finding, State: enforce.State(state), Limit: limit})
		if err != nil {
			return err
		}
		actions = page.Actions
		return nil
	})
	return actions, err
}

func remoteLog(cmd *cobra.Command, f *enforceFlags, state string, limit int) ([]*enforce.Action, error) {
	v := url.Values{"limit": {fmt.Sprint(limit)}}
	for k, val := range map[string]string{"environment": f.env, "finding": f.finding, "state": state} {
		if val != "" {
			v.Set(k, val)
		}
	}
	var out struct {
		Actions []*enforce.Action `json:"actions"`
	}
	if err := f.api.do(cmd, "GET", "/v1/actions?"+v.Encode(), &out); err != nil {
		return nil, err
	}
	return out.Actions, nil
}
