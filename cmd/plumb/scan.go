package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"plumb/internal/config"
	"plumb/internal/drift"
	"plumb/internal/policy"
	"plumb/internal/progress"
	"plumb/internal/report"
	"plumb/internal/scan"
	"plumb/internal/scanhistory"
	"plumb/internal/server"
)

type scanFlags struct {
	states       []string
	tfDirs       []string
	tfBin        string
	workspace    string
	plans        []string
	whatifs      []string
	clouds       []string
	azureSubs    []string
	azureGroups  []string
	regions      []string
	types        []string
	env          string
	ignore       string
	outputs      []string
	allowPartial bool
	progress     bool
	concurrency  int
	allowEmpty   bool
	packs        []string
	policies     []string
	configPath   string
	notify       bool
	dataDir      string
	notifyWait   time.Duration
	timeout      time.Duration
}

func newScanCmd(stdout, stderr io.Writer) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Compare infrastructure code with the live cloud estate and report drift",
		Long: `Compare what the code declares with what exists in AWS and Azure.

Desired state comes from any mix of:
  --state         Terraform/OpenTofu state files (local, globs, s3://)
  --terraform-dir a Terraform working directory: its state is pulled and a
                  refresh-only plan reports every attribute changed outside
                  Terraform (nothing is applied or written)
  --plan          a saved plan JSON (terraform show -json) with resource_drift
  --whatif        ARM what-if output (az deployment group what-if --mode
                  Complete --no-pretty-print, or the REST result)

A state reached through several sources (two globs, a copy of the file,
s3:// and --terraform-dir of the same root) is read once: documents with
one lineage are versions of one state, and only the newest serial counts;
a note names the sources merged.

Every resource of a supported type ends up as one of:
  in sync     declared and identical (tags and compared attributes)
  changed     declared, but changed outside the code   -> drift.changed
  missing     declared, but gone                       -> drift.missing
  unmanaged   exists, but declared nowhere             -> drift.unmanaged
  conflicting declared more than once (two states, or
              two blocks, own one object)              -> drift.conflict

Resources AWS creates by itself (default VPC, subnets and security groups,
main route tables, AWS-managed policies, service-linked roles, SSO roles)
are never reported as unmanaged. A part of the estate that could not be read
(access denied, throttled past the retry budget) is listed under errors, and
resources declared there are never reported missing.

Credentials, profile, region and endpoint come from the standard AWS SDK
chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...); Azure credentials
from DefaultAzureCredential (environment, workload identity, managed
identity, az login). Clouds are chosen from the state's resources and the
cloud flags, or with --cloud. Before listing anything the scan checks the
credentials (STS GetCallerIdentity, an Azure token): an unreachable
endpoint, missing or refused credentials stop it within seconds with one
message. Connection failures are retried 3 times, throttling up to 8;
--timeout bounds the whole scan, which then reports what it read.

With --config plumb.yaml and no --state, --terraform-dir, --plan or
--whatif, the environment named by --env is scanned as plumb serve's
scheduled scan reads it: its states, regions, azure_subscriptions and
cloud (flags given still win). The environment may also list
accounts with a role_arn, or an organization to discover: the scan then
reads every account through STS AssumeRole from the account of plumb's
own credentials (see docs/accounts.md), in the environment's regions
unless --region is given, at most scan_limits.account parts of one
account and scan_limits.service of one service at once. Findings carry
their account, and ignore rules may name one (111111111111:aws_s3_bucket.*).
An account whose role cannot be assumed is listed under errors as
aws/ACCOUNT, and the resources declared there are not evaluated, never
missing.

A scan in which declared resources were not evaluated (a scope could not
be read, --cloud none, another region or type) is partial: its report
leads with "N of M declared resources not evaluated" and never says
"No drift".

With --pack and/or --policy, the compliance rules 'plumb check' runs on a
plan are also evaluated on the live resources (declared or not), and each
violation is a policy.violation finding. Rules needing an attribute the
inventory does not read are skipped and counted in a note; a rule that
fails to evaluate is listed under errors as policy/RULE/ID.

Exit codes: 0 no drift, 2 drift or violations found, 1 error or partial
scan (unless --allow-partial).`,
		Example: `  # one state file, the region from your AWS config
  plumb scan --state terraform.tfstate

  # every state below a directory, two regions, JSON for a pipeline
  plumb scan --state 'envs/**/*.tfstate' --region eu-west-1 --region us-east-1 -o json=drift.json -o table

  # states kept in an S3 backend
  plumb scan --state 's3://tf-states/prod/**.tfstate'

  # Terraform's own refresh for every attribute, plus the inventory
  plumb scan --terraform-dir infra/prod --workspace prod

  # drift plus the CIS and PCI DSS rules on the live estate
  plumb scan --state terraform.tfstate --pack cis-aws-3.0 --pack pci-dss-4.0 --policy policies/

  # a Bicep deployment's drift, as predicted by what-if
  az deployment group what-if -g app -f main.bicep --mode Complete --no-pretty-print > whatif.json
  plumb scan --whatif whatif.json --azure-subscription "$SUB"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.states, "state", nil, "Terraform state to compare: a path, a glob (** matches directories), s3://bucket/key or s3://bucket/prefix/**.tfstate (repeatable)")
	fl.StringArrayVar(&f.tfDirs, "terraform-dir", nil, "Terraform working directory: pull its state and run a refresh-only plan for attribute drift (repeatable)")
	fl.StringVar(&f.tfBin, "terraform-bin", "terraform", "terraform binary for --terraform-dir (e.g. tofu)")
	fl.StringVar(&f.workspace, "workspace", "", "Terraform workspace for --terraform-dir (default: the directory's current one)")
	fl.StringArrayVar(&f.plans, "plan", nil, "saved plan JSON (terraform show -json PLAN) whose resource_drift to report (repeatable)")
	fl.StringArrayVar(&f.whatifs, "whatif", nil, "ARM what-if result, REST or az CLI JSON (repeatable)")
	fl.StringArrayVar(&f.clouds, "cloud", nil, "inventory to run: aws, azure or none (repeatable; default: decided from the state and the cloud flags)")
	fl.StringArrayVar(&f.azureSubs, "azure-subscription", nil, "Azure subscription id to list (repeatable; default: AZURE_SUBSCRIPTION_ID or every enabled subscription)")
	fl.StringArrayVar(&f.azureGroups, "azure-resource-group", nil, "only list these Azure resource groups (repeatable)")
	fl.StringArrayVar(&f.regions, "region", nil, "AWS region to scan (repeatable; default: the region of the AWS configuration)")
	fl.StringArrayVar(&f.types, "type", nil, "only scan this Terraform resource type (repeatable; default: all supported types)")
	fl.StringVar(&f.env, "env", "default", "environment name stamped on findings (part of their fingerprint); with --config, the environment whose accounts are scanned")
	fl.StringVar(&f.ignore, "ignore", "", "ignore file (default: .plumbignore in the current directory, if present)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "report format table|json|markdown|sarif|html, optionally =PATH to write a file (repeatable; default: table)")
	fl.BoolVar(&f.allowPartial, "allow-partial", false, "exit 0/2 even when part of the estate could not be read (it is still listed under errors)")
	fl.BoolVar(&f.progress, "progress", false, "show progress on stderr even when it is not a terminal")
	fl.BoolVar(&f.allowEmpty, "allow-empty-state", false, "accept state files without resources instead of failing (everything live is then unmanaged)")
	fl.StringArrayVar(&f.packs, "pack", nil, "built-in policy pack to evaluate on the live resources: "+strings.Join(policy.Packs(), ", ")+" (repeatable)")
	fl.StringArrayVar(&f.policies, "policy", nil, "YAML rule file or directory of them to evaluate on the live resources (repeatable)")
	fl.IntVar(&f.concurrency, "concurrency", 8, "how many services and regions are listed at once")
	fl.StringVar(&f.configPath, "config", "", "plumb.yaml: routes and receivers for --notify, and the accounts (role_arn, organization, scan_limits, regions) of the --env environment to scan")
	fl.BoolVar(&f.notify, "notify", false, "update the findings store in --data-dir (open, resolve, reopen) and send what changed to the receivers of --config, as plumb serve does")
	fl.StringVar(&f.dataDir, "data-dir", ".plumb", "directory of the SQLite store used by --notify (keep it between runs: it remembers which issues exist)")
	envDefault(fl, "data-dir", "PLUMB_DATA_DIR", ".plumb")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "stop the scan after this long and report what was read (exit 1); 0 means no limit")
	fl.DurationVar(&f.notifyWait, "notify-wait", 2*time.Minute, "how long --notify waits for receivers; undelivered notifications are retried by the next run")
	return cmd
}

func runScan(cmd *cobra.Command, f scanFlags, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	outs, err := report.ParseOutputs(f.outputs)
	if err != nil {
		return usageErr(err)
	}
	if f.timeout < 0 {
		return usageErr(fmt.Errorf("--timeout must not be negative, got %s", f.timeout))
	}
	if f.concurrency < 1 {
		return usageErr(fmt.Errorf("--concurrency must be at least 1, got %d", f.concurrency))
	}
	var ig *drift.Ignore
	if f.ignore != "" {
		ig, err = drift.LoadIgnore(f.ignore, false)
	} else {
		ig, err = drift.LoadIgnore(".plumbignore", true)
	}
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}

	tty := false
	if file, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	var prog *progress.Reporter
	if tty || f.progress {
		prog = progress.New(stderr, tty, time.Second, 5*time.Second, "plumb scan")
		defer prog.Stop()
	}
	for _, c := range f.clouds {
		if c != scan.CloudAWS && c != scan.CloudAzure && c != scan.CloudNone {
			return usageErr(fmt.Errorf("--cloud %q: want aws, azure or none", c))
		}
	}
	if f.notify && f.configPath == "" {
		return usageErr(fmt.Errorf("--notify needs --config plumb.yaml with a route and receivers"))
	}
	// The config is checked before the scan: a scan of a large estate
	// must not run for minutes only to fail on a typo in plumb.yaml.
	var notifyCfg *config.Config
	if f.configPath != "" {
		notifyCfg, err = config.Load(f.configPath, os.Getenv)
		if err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("--config (nothing was scanned):\n%w", err)}
		}
	}
	var set *policy.Set
	if len(f.packs)+len(f.policies) > 0 {
		for _, p := range f.packs {
			if !slices.Contains(policy.Packs(), p) {
				return usageErr(fmt.Errorf("--pack %q: unknown pack (built-in: %s)", p, strings.Join(policy.Packs(), ", ")))
			}
		}
		set, err = policy.LoadPacks(f.packs, f.policies)
		if err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("load policies: %w", err)}
		}
	}
	opts := scan.Options{
		Environment:         f.env,
		States:              f.states,
		TerraformDirs:       f.tfDirs,
		TerraformBin:        f.tfBin,
		Workspace:           f.workspace,
		Plans:               f.plans,
		WhatIfs:             f.whatifs,
		Clouds:              f.clouds,
		AzureSubscriptions:  f.azureSubs,
		AzureResourceGroups: f.azureGroups,
		Regions:             f.regions,
		Types:               f.types,
		Concurrency:         f.concurrency,
		Ignore:              ig,

		AllowEmptyState: f.allowEmpty,
		Policy:          set,
		Timeout:         f.timeout,
	}
	if notifyCfg != nil {
		env, ok := notifyCfg.Environment(f.env)
		noDesired := len(f.states)+len(f.tfDirs)+len(f.plans)+len(f.whatifs) == 0
		if !ok && noDesired {
			return usageErr(fmt.Errorf("--env %s: no such environment in %s (it has %s); name one, or pass --state", f.env, f.configPath, strings.Join(envNamesOf(notifyCfg), ", ")))
		}
		if ok && noDesired {
			// No desired state on the command line: the environment's
			// own, as its scheduled scan in plumb serve reads it.
			useEnvironment(&opts, env)
		}
		// The environment's accounts (role_arn, organization) make the
		// scan read every account, as plumb serve's scheduled scan does.
		if ok {
			if opts.Accounts = scan.AccountsOf(env); opts.Accounts != nil && len(opts.Regions) == 0 {
				opts.Regions = env.Regions
			}
		}
	}
	if prog != nil {
		opts.Observer = prog
	}
	out, err := scan.Run(ctx, opts)
	if prog != nil {
		prog.Stop()
	}
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if err := report.WriteAll(ctx, outs, out.Report, stdout); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if f.notify {
		if err := notifyScan(ctx, notifyCfg, f, out, set, stderr); err != nil {
			return &exitCodeError{code: exitError, err: err}
		}
	}
	switch {
	case out.TimedOut:
		return &exitCodeError{code: exitError, err: fmt.Errorf("the scan stopped after --timeout %s; the report shows what was read and which parts were still running", f.timeout)}
	case out.Partial() && !f.allowPartial:
		return &exitCodeError{code: exitError, err: partialErr(out.Report)}
	case len(out.Report.Findings) > 0:
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

// partialErr explains why a partial scan exits 1.
func partialErr(rep *report.Report) error {
	var what []string
	if n := rep.Summary.NotEvaluated; n > 0 {
		what = append(what, fmt.Sprintf("%d of %d declared resources not evaluated", n, rep.Summary.Managed))
	}
	if n := len(rep.Errors); n > 0 {
		what = append(what, fmt.Sprintf("%d part(s) of the estate could not be read", n))
	}
	return fmt.Errorf("incomplete scan: %s (see the report); pass --allow-partial to accept a partial scan", strings.Join(what, ", "))
}

// usageErr marks a mistake in the command line itself.
func usageErr(err error) error {
	return &exitCodeError{code: exitError, err: err}
}

// notifyScan runs the findings lifecycle and routing for a one-shot scan.
// The scan is also added to the store's scan history, with the per-control
// results of the packs it evaluated.
func notifyScan(ctx context.Context, cfg *config.Config, f scanFlags, out *scan.Outcome, set *policy.Set, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rec := server.NewScanRecord(scanhistory.SourceCLI, out, set, f.packs)
	res, err := server.NotifyOnce(ctx, cfg, f.dataDir, f.env, out.Report.Findings, out.Covered, rec, f.notifyWait, logger)
	if err != nil {
		return fmt.Errorf("--notify: %w", err)
	}
	lc := res.Lifecycle
	fmt.Fprintf(stderr, "findings: %d opened, %d reopened, %d still open, %d resolved, %d kept open (scope not read); %d notification(s) sent",
		lc.Opened, lc.Reopened, lc.Updated, lc.Resolved, lc.Kept, res.Sent)
	if res.Pending > 0 {
		fmt.Fprintf(stderr, ", %d not delivered yet (kept in %s, retried by the next run)", res.Pending, f.dataDir)
	}
	fmt.Fprintln(stderr)
	return nil
}

// useEnvironment fills what the command line left out from a configured
// environment: its states, regions, Azure subscriptions and cloud.
func useEnvironment(opts *scan.Options, env config.Environment) {
	opts.States = env.States
	if len(opts.Regions) == 0 {
		opts.Regions = env.Regions
	}
	if len(opts.AzureSubscriptions) == 0 {
		opts.AzureSubscriptions = env.AzureSubscriptions
	}
	if len(opts.Clouds) == 0 && env.Cloud != "" {
		opts.Clouds = []string{env.Cloud}
	}
}

// envNamesOf lists a configuration's environments, for errors.
func envNamesOf(cfg *config.Config) []string {
	names := make([]string, len(cfg.Environments))
	for i, e := range cfg.Environments {
		names[i] = e.Name
	}
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}
