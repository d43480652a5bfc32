package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"plumb/internal/codify"
	"plumb/internal/drift"
	"plumb/internal/model"
	"plumb/internal/receivers/github"
	"plumb/internal/scan"
)

type codifyFlags struct {
	dir           string
	from          string
	env           string
	dataDir       string
	states        []string
	tfDirs        []string
	plans         []string
	regions       []string
	ignore        string
	allowEmpty    bool
	concurrency   int
	tfBin         string
	workspace     string
	findings      []string
	types         []string
	kinds         []string
	acceptMissing bool
	allowPartial  bool
	patch         string
	dryRun        bool
	pr            bool
	repo          string
	base          string
	githubURL     string
	repoPath      string
	labels        []string
	progress      bool
}

func newCodifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var f codifyFlags
	cmd := &cobra.Command{
		Use:   "codify",
		Short: "Adopt drift into code: import blocks and generated HCL for unmanaged resources, accepted changes, as files or a pull request",
		Long: `Write the drift plumb found into the Terraform code of a root module:

  drift.unmanaged  an import block and the resource's configuration, generated
                   by terraform plan -generate-config-out with the real
                   provider, then cleaned (defaults, computed values and nulls
                   left out, references instead of literal ids, readable names)
  drift.changed    the live value written into the existing resource block
                   (tags and top-level arguments; values from variables,
                   locals or modules are left for a person, with the reason)
  drift.missing    with --accept-missing only: the resource block deleted and
                   a removed block that forgets it from the state

Before anything is proposed, terraform plan in a scratch copy of the root
module must show the imports and no other change for these resources;
whatever does not converge is left out and named.

Findings come from one of:
  --from FILE                     a JSON report (plumb scan -o json=FILE)
  --state/--terraform-dir/--plan  a fresh scan, as plumb scan does
  --env NAME (alone)              the open findings of NAME in --data-dir
  nothing                         a fresh scan of --dir (its state and a
                                  refresh-only plan)

Without --pr the files are written into --dir and a patch next to it
(--patch). With --pr they are committed on a branch and proposed as one
pull request per finding set; running again updates the same pull request.

Exit codes: 0 every chosen finding was codified (or none was chosen),
2 some were left for a person (listed), 1 error.`,
		Example: `  # from a report, into the root module infra/prod, as files and a patch
  plumb scan --terraform-dir infra/prod -o json=drift.json
  plumb codify --from drift.json --dir infra/prod

  # only the unmanaged security groups, as a pull request
  GITHUB_TOKEN=... plumb codify --dir infra/prod --kind drift.unmanaged \
    --type aws_security_group --pr --repo acme/infra

  # the stored findings of environment prod, one finding
  plumb codify --env prod --data-dir /var/lib/plumb --finding 3f2a9c1b --dir infra/prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCodify(cmd, f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", ".", "the Terraform root module to write into (initialised with terraform init)")
	fl.StringVar(&f.from, "from", "", "read findings from this JSON report (plumb scan -o json=FILE)")
	fl.StringVar(&f.env, "env", "", "environment: alone, read its open findings from --data-dir; with scan flags, the environment stamped on the scan's findings (default \"default\")")
	fl.StringVar(&f.dataDir, "data-dir", ".plumb", "directory of the findings store read with --env")
	envDefault(fl, "data-dir", "PLUMB_DATA_DIR", ".plumb")
	fl.StringArrayVar(&f.states, "state", nil, "scan: Terraform state to compare, as plumb scan --state (repeatable)")
	fl.StringArrayVar(&f.tfDirs, "terraform-dir", nil, "scan: Terraform working directory, as plumb scan --terraform-dir (repeatable)")
	fl.StringArrayVar(&f.plans, "plan", nil, "scan: saved plan JSON with resource_drift, as plumb scan --plan (repeatable)")
	fl.StringArrayVar(&f.regions, "region", nil, "scan: AWS region to list (repeatable; default: the region of the AWS configuration)")
	fl.StringVar(&f.ignore, "ignore", "", "scan: ignore file (default: .plumbignore in the current directory, if present)")
	fl.BoolVar(&f.allowEmpty, "allow-empty-state", false, "scan: accept state files without resources")
	fl.IntVar(&f.concurrency, "concurrency", 8, "scan: how many services and regions are listed at once")
	fl.StringVar(&f.tfBin, "terraform-bin", "terraform", "terraform binary (e.g. tofu) for the scan and for codify's own runs")
	fl.StringVar(&f.workspace, "workspace", "", "Terraform workspace of --dir (default: the directory's current one)")
	fl.StringArrayVar(&f.findings, "finding", nil, "codify this finding: its fingerprint or a prefix of at least 8 characters (repeatable)")
	fl.StringArrayVar(&f.types, "type", nil, "codify findings of this Terraform resource type only (repeatable)")
	fl.StringArrayVar(&f.kinds, "kind", nil, "codify findings of this kind only: drift.unmanaged, drift.changed or drift.missing (repeatable; default the first two)")
	fl.BoolVar(&f.acceptMissing, "accept-missing", false, "also codify drift.missing findings: delete the resource block and add a removed block (Terraform >= 1.7); nothing is destroyed")
	fl.BoolVar(&f.allowPartial, "allow-partial", false, "codify findings of a scan that could not read part of the estate")
	fl.StringVar(&f.patch, "patch", "plumb-codify.patch", "write the change as a unified diff to this file (- for standard output, empty for none)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "prove the change and write the patch, but leave --dir untouched and open no pull request")
	fl.BoolVar(&f.pr, "pr", false, "commit the change on a branch and open or update a pull request (needs --repo and GITHUB_TOKEN); --dir is left untouched")
	fl.StringVar(&f.repo, "repo", "", "GitHub repository OWNER/REPO for --pr")
	fl.StringVar(&f.base, "base", "", "branch the pull request merges into (default: the repository's default branch)")
	fl.StringVar(&f.githubURL, "github-url", "", "GitHub Enterprise Server API root, e.g. https://ghe.example.com/api/v3/ (default github.com)")
	fl.StringVar(&f.repoPath, "repo-path", "", "path of --dir inside the repository (default: found from the .git directory above --dir)")
	fl.StringArrayVar(&f.labels, "label", []string{"plumb", "codify"}, "label of the pull request (repeatable)")
	fl.BoolVar(&f.progress, "progress", false, "show Terraform progress on stderr every few seconds even when it is not a terminal")
	return cmd
}

func runCodify(cmd *cobra.Command, f codifyFlags, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	sel := codify.Selection{Fingerprints: f.findings, Types: f.types, AcceptMissing: f.acceptMissing}
	for _, k := range f.kinds {
		sel.Kinds = append(sel.Kinds, model.Kind(k))
	}
	if f.pr && f.dryRun {
		return usageErr(errors.New("--pr and --dry-run exclude each other"))
	}
	var prs *github.PullRequests
	if f.pr {
		if f.repo == "" {
			return usageErr(errors.New("--pr needs --repo OWNER/REPO"))
		}
		token := os.Getenv("GITHUB_TOKEN")
		if token == "" {
			token = os.Getenv("GH_TOKEN")
		}
		var err error
		if prs, err = github.NewPullRequests(f.repo, f.githubURL, token, nil); err != nil {
			return usageErr(fmt.Errorf("--pr: %w", err))
		}
		if f.repoPath == "" {
			if f.repoPath, err = codify.RepoPath(f.dir); err != nil {
				return usageErr(fmt.Errorf("--pr: %w: pass --repo-path, the path of --dir inside %s", err, f.repo))
			}
		}
	}
	if err := codify.CheckRoot(f.dir, nil); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	in, err := codifyInput(ctx, cmd, f, stderr)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if in.Partial() && !f.allowPartial {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s comes from a partial scan: %d part(s) of the estate could not be read (first: %s: %s); a resource there may look unmanaged or missing only because it was not seen. Scan again, or pass --allow-partial to codify these findings anyway",
			in.Source, len(in.Errors), in.Errors[0].Scope, in.Errors[0].Message)}
	}
	chosen, err := codify.Select(in.Findings, sel, in.Source)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if len(chosen) == 0 {
		fmt.Fprintf(stdout, "nothing to codify: no finding of %s matches the choice\n", in.Source)
		return nil
	}
	tty := false
	if file, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	env := in.Environment
	res, err := codify.Run(ctx, chosen, codify.Options{
		Dir: f.dir, Bin: f.tfBin, Workspace: f.workspace, Environment: env,
		Progress: codify.ProgressPrinter(stderr, tty, tty || f.progress, 5*time.Second),
	})
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if err := codify.WriteSummary(stdout, res); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if res.Empty() {
		fmt.Fprintln(stdout, "nothing written: no chosen finding could be codified")
	} else if err := deliverCodify(ctx, f, res, chosen, env, prs, stdout, stderr); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	fmt.Fprintf(stderr, "terraform: %s in %d runs; plumb's own work: %s\n",
		res.Terraform.Round(100*time.Millisecond), res.TerraformRuns, (res.Total - res.Terraform).Round(time.Millisecond))
	if len(res.Skipped) > 0 {
		return &exitCodeError{code: exitFindings}
	}
	return nil
}

// deliverCodify writes the files and the patch, or opens the pull request.
func deliverCodify(ctx context.Context, f codifyFlags, res *codify.Result, chosen []model.Finding, env string, prs *github.PullRequests, stdout, stderr io.Writer) error {
	if f.patch != "" {
		patch := res.Patch(patchPrefix(f.dir))
		if f.patch == "-" {
			if _, err := stdout.Write(patch); err != nil {
				return err
			}
		} else if err := os.WriteFile(f.patch, patch, 0o644); err != nil {
			return fmt.Errorf("write the patch: %w", err)
		} else {
			fmt.Fprintf(stdout, "patch written to %s\n", f.patch)
		}
	}
	switch {
	case f.dryRun:
		fmt.Fprintf(stdout, "dry run: %d file(s) not written into %s\n", len(res.Files), f.dir)
		return nil
	case prs == nil:
		if err := res.Write(); err != nil {
			return err
		}
		for _, file := range res.Files {
			fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(f.dir, file.Path))
		}
		return nil
	}
	var fps []string
	for _, c := range chosen {
		fps = append(fps, c.Fingerprint)
	}
	issues, err := prs.FindingIssues(ctx, fps)
	if err != nil {
		fmt.Fprintf(stderr, "warning: the pull request will not link the findings' issues: %v\n", err)
	}
	key := codify.SetKey(chosen)
	p := codify.Proposal(res, key, codify.PROptions{RepoPath: f.repoPath, Base: f.base, Labels: f.labels, Environment: env, Issues: issues})
	out, err := prs.Publish(ctx, p)
	if err != nil {
		return fmt.Errorf("--pr: %w", err)
	}
	verb := "updated"
	switch {
	case out.Created:
		verb = "opened"
	case !out.Committed:
		verb = "unchanged"
	}
	fmt.Fprintf(stdout, "pull request #%d %s: %s (branch %s into %s)\n", out.Number, verb, out.URL, p.Branch, out.Base)
	return nil
}

// patchPrefix is --dir relative to the current directory, where the patch
// is applied from.
func patchPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	cwd, err := os.Getwd()
	if err != nil {
		return dir
	}
	rel, err := filepath.Rel(cwd, abs)
	if err != nil {
		return dir
	}
	if rel == "." {
		return ""
	}
	return rel
}

// codifyInput loads the findings from the source the flags name.
func codifyInput(ctx context.Context, cmd *cobra.Command, f codifyFlags, stderr io.Writer) (*codify.Input, error) {
	scanFlags := len(f.states)+len(f.tfDirs)+len(f.plans) > 0
	envSet := cmd.Flags().Changed("env")
	switch {
	case f.from != "" && (scanFlags || envSet):
		return nil, errors.New("--from reads findings from a report; it cannot be combined with --env, --state, --terraform-dir or --plan")
	case f.from != "":
		data, err := os.ReadFile(f.from)
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		return codify.ReadReport(f.from, data)
	case envSet && !scanFlags:
		if f.env == "" {
			return nil, errors.New("--env: empty environment name")
		}
		return codify.ReadStore(ctx, f.dataDir, f.env)
	}
	env := f.env
	if env == "" {
		env = "default"
	}
	if f.concurrency < 1 {
		return nil, fmt.Errorf("--concurrency must be at least 1, got %d", f.concurrency)
	}
	var ig *drift.Ignore
	var err error
	if f.ignore != "" {
		ig, err = drift.LoadIgnore(f.ignore, false)
	} else {
		ig, err = drift.LoadIgnore(".plumbignore", true)
	}
	if err != nil {
		return nil, err
	}
	opts := scan.Options{
		Environment: env, States: f.states, TerraformDirs: f.tfDirs, Plans: f.plans,
		TerraformBin: f.tfBin, Workspace: f.workspace, Regions: f.regions, Types: f.types,
		Concurrency: f.concurrency, Ignore: ig, AllowEmptyState: f.allowEmpty,
	}
	source := "the scan"
	if !scanFlags {
		opts.TerraformDirs = []string{f.dir}
		source = "the scan of " + f.dir
	}
	fmt.Fprintf(stderr, "scanning (%s)...\n", source)
	out, err := scan.Run(ctx, opts)
	if err != nil {
		return nil, err
	}
	in := &codify.Input{Source: source, Environment: env, Findings: out.Report.Findings}
	for _, e := range out.Report.Errors {
		in.Errors = append(in.Errors, codify.ScopeError{Scope: e.Scope, Message: e.Message})
	}
	return in, nil
}
