package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/server"
)

// actFlags are the flags release and isolate add to enforce's.
type actFlags struct {
	actor, reason, cve, region string
	wait                       time.Duration
}

func (a *actFlags) register(cmd *cobra.Command, reasonHelp string) {
	cmd.Flags().StringVar(&a.actor, "actor", "cli", "who is acting, recorded on the action")
	envDefault(cmd.Flags(), "actor", "USER", "cli")
	cmd.Flags().StringVar(&a.reason, "reason", "", reasonHelp)
	cmd.Flags().DurationVar(&a.wait, "wait", 10*time.Minute, "how long to wait for the action to finish")
}

func newEnforceReleaseCmd(stdout, stderr io.Writer, f *enforceFlags, deps enforceDeps) *cobra.Command {
	var a actFlags
	cmd := &cobra.Command{
		Use:   "release FINGERPRINT",
		Short: "Undo the quarantine (or isolation) of a finding's resource, restoring its saved state",
		Long: `Undo the quarantine of a finding's resource: put back exactly the state
saved before the quarantine (security groups, rules, bucket policy and
public access block, access key status, tags, whether the instance ran).
The release is an action of its own, recorded in plumb enforce log, and the
finding's routes hear of it ("released"). A released finding that stays
open is not quarantined again by later runs.

With --config and --data-dir the release runs in this process; with
--server, plumb serve runs it. Releasing an isolation (plumb enforce
isolate) needs the security operator's credential: --token, or
$PLUMB_OPERATOR_TOKEN, else $PLUMB_API_TOKEN.

Exit codes: 0 released, 2 queued but not finished within --wait or stopped
by a guard, 1 an error (nothing to release, an action still running, a
failed release).`,
		Example: `  plumb enforce release 3f2a9c... --config plumb.yaml --data-dir .plumb --reason "codified in #412"
  plumb enforce release 3f2a9c... --server https://plumb.internal`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "table" && f.output != "json" {
				return usageErr(fmt.Errorf("--output %q: want table or json", f.output))
			}
			req := enforce.ReleaseRequest{Fingerprint: args[0], Actor: a.actor, Reason: a.reason}
			var (
				plan    *enforce.Plan
				actions []*enforce.Action
				note    string
				err     error
			)
			if f.serverMode() {
				if f.api.token == "" {
					f.api.token = os.Getenv("PLUMB_OPERATOR_TOKEN")
				}
				var p enforce.Plan
				err = f.api.send(cmd, "POST", "/v1/enforce/release", map[string]string{"finding": req.Fingerprint, "actor": req.Actor, "reason": req.Reason}, &p)
				var blocked *apiStatusError
				if asStatus(err, &blocked) && blocked.status == 409 && json.Unmarshal(blocked.body, &p) == nil && len(p.Actions) > 0 {
					err = nil // a guard stopped it: the answer is the plan
				}
				if err == nil {
					ff := *f
					ff.wait = a.wait
					plan, actions, note, err = awaitRemote(cmd, ff, &p)
				}
			} else {
				plan, actions, note, err = releaseLocal(cmd, f, a, req, deps, stderr)
			}
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			return printActed(stdout, stderr, f.output, plan, actions, note)
		},
	}
	a.register(cmd, "why the quarantine can end, recorded on the release")
	return cmd
}

func releaseLocal(cmd *cobra.Command, f *enforceFlags, a actFlags, req enforce.ReleaseRequest, deps enforceDeps, stderr io.Writer) (*enforce.Plan, []*enforce.Action, string, error) {
	if f.configPath == "" {
		return nil, nil, "", fmt.Errorf("--config plumb.yaml is required with --data-dir (or pass --server)")
	}
	cfg, err := config.Load(f.configPath, os.Getenv)
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := os.Stat(f.dataDir); err != nil {
		return nil, nil, "", fmt.Errorf("--data-dir %s: %w (the quarantine was recorded in another store, or pass --server)", f.dataDir, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := server.EnforceOnce(cmd.Context(), server.EnforceOptions{Config: cfg, DataDir: f.dataDir, Wait: a.wait, Logger: logger,
		Executors: deps.executors, ExecutorOptions: deps.execOpts, Now: deps.now, Release: &req})
	if err != nil {
		return nil, nil, "", err
	}
	var note string
	if res.Unfinished > 0 {
		note = fmt.Sprintf("the release is not finished after --wait %s: it stays queued in %s and runs on the next plumb enforce --apply or release", a.wait, f.dataDir)
	}
	return res.Plan, res.Actions, note, nil
}

// printActed prints a release's or an isolation's action and returns the
// exit code: 0 done, 2 still queued or stopped by a guard, 1 failed.
func printActed(stdout, stderr io.Writer, output string, plan *enforce.Plan, actions []*enforce.Action, note string) error {
	if output == "json" {
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

func newEnforceIsolateCmd(stdout, stderr io.Writer, f *enforceFlags) *cobra.Command {
	var a actFlags
	cmd := &cobra.Command{
		Use:   "isolate TYPE.ID",
		Short: "Isolate a managed resource at a security operator's request (through plumb serve)",
		Long: `Isolate a resource the code declares, because it is threatened (a new CVE,
an indicator of compromise): plumb quarantines it as enforcement would
(instance: isolation security group, stopped with stop_quarantined_instances;
security group: the rules the code does not declare revoked; bucket:
public access blocked and a deny-all policy sparing the break-glass roles;
IAM user or role: deny-all policy, keys deactivated) and opens a critical
security finding (kind enforce.isolated) with the reason, the CVE, the
resource's other open findings and how to release it. The routes deliver it
to the owning team: a github_advisory receiver drafts a security advisory
in their repository through plumb's GitHub App.

This is the one path that acts on a managed resource, so it runs only
through plumb serve (--server) and only with the security operator's own
credential (server.operator_token): --token, or $PLUMB_OPERATOR_TOKEN. The
API token is refused. plumb enforce release FINGERPRINT undoes it.

Exit codes: 0 isolated, 2 queued but not finished within --wait or stopped
by a guard, 1 an error.`,
		Example: `  plumb enforce isolate aws_instance.i-0abc123 --env prod --reason "C2 traffic seen by GuardDuty" \
      --cve CVE-2026-12345 --server https://plumb.internal`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "table" && f.output != "json" {
				return usageErr(fmt.Errorf("--output %q: want table or json", f.output))
			}
			if !f.serverMode() {
				return usageErr(fmt.Errorf("isolate runs through plumb serve: pass --server URL (or set PLUMB_SERVER)"))
			}
			if f.env == "" {
				return usageErr(fmt.Errorf("--env is required"))
			}
			if strings.TrimSpace(a.reason) == "" {
				return usageErr(fmt.Errorf("--reason is required: the owning team reads it first"))
			}
			if _, ok := server.ParseResourceRef(args[0]); !ok {
				return usageErr(fmt.Errorf("resource %q: want TYPE.ID such as aws_instance.i-0123456789abcdef0", args[0]))
			}
			if f.api.token == "" {
				f.api.token = os.Getenv("PLUMB_OPERATOR_TOKEN")
			}
			var ans struct {
				Finding string        `json:"finding"`
				Plan    *enforce.Plan `json:"plan"`
			}
			body := map[string]string{"environment": f.env, "resource": args[0], "region": a.region, "reason": a.reason, "cve": a.cve, "actor": a.actor}
			err := f.api.send(cmd, "POST", "/v1/isolate", body, &ans)
			var blocked *apiStatusError
			if asStatus(err, &blocked) && blocked.status == 409 && blocked.body != nil {
				// A guard stopped it: the answer still holds the plan.
				if jerr := json.Unmarshal(blocked.body, &ans); jerr == nil && ans.Plan != nil {
					err = nil
				}
			}
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			ff := *f
			ff.wait = a.wait
			plan, actions, note, err := awaitRemote(cmd, ff, ans.Plan)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if ans.Finding != "" {
				note = strings.TrimSpace(fmt.Sprintf("finding %s tells the owning team; release with: plumb enforce release %s --server %s\n%s",
					ans.Finding, ans.Finding, f.api.base, note))
			}
			return printActed(stdout, stderr, f.output, plan, actions, note)
		},
	}
	a.register(cmd, "why the resource is isolated (required): the owning team reads it first")
	cmd.Flags().StringVar(&a.cve, "cve", "", "the CVE behind the request (CVE-2026-12345)")
	cmd.Flags().StringVar(&a.region, "region", "", "the resource's region (default: the environment's only region)")
	return cmd
}
