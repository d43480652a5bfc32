// Package scan runs one drift scan end to end: read the desired state,
// list the live estate, compare, add what Terraform and ARM what-if see,
// and assemble the report. The CLI's `plumb scan` and, later, the
// server's scheduled scans share it, so both see the same findings for the
// same estate.
package scan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"plumb/internal/drift"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	azureinv "plumb/internal/inventory/azure"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/report"
	"plumb/internal/tfdrift"
	"plumb/internal/whatif"
)

// Clouds plumb can inventory.
const (
	CloudAWS   = "aws"
	CloudAzure = "azure"
	CloudNone  = "none"
)

// Options describe one scan.
type Options struct {
	Environment string
	// States are state sources: paths, globs, s3:// URLs.
	States []string
	// TerraformDirs are Terraform working directories: their state is
	// pulled and a refresh-only plan reports every drifted attribute.
	TerraformDirs []string
	// TerraformBin is the terraform (or tofu) binary.
	TerraformBin string
	// Workspace selects a Terraform workspace in TerraformDirs.
	Workspace string
	// Plans are saved plan JSON files (terraform show -json) whose
	// resource_drift is read instead of running Terraform.
	Plans []string
	// WhatIfs are ARM what-if results (REST or az CLI shape).
	WhatIfs []string
	// Clouds to inventory; empty means decided from the desired state and
	// the cloud flags.
	Clouds []string
	// Regions to list; empty means the AWS configuration's region.
	Regions []string
	// AzureSubscriptions and AzureResourceGroups scope the Azure inventory.
	AzureSubscriptions  []string
	AzureResourceGroups []string
	// Types restricts the inventory to these Terraform types.
	Types []string
	// Concurrency bounds parallel (service, region) listings.
	Concurrency int
	Ignore      *drift.Ignore
	// AllowEmptyState accepts state files without resources (a workspace
	// that was initialised but never applied) instead of failing.
	AllowEmptyState bool
	// Observer, when set, follows the inventory's units (service/region,
	// subscription) and what they wait on, for progress displays.
	Observer inventory.Observer
	// Timeout bounds the whole scan (0: no bound but the context's). When
	// it expires the scan stops listing and reports what it read: the
	// units still running become errors naming what they were waiting
	// for, their declared resources are not evaluated, and
	// Outcome.TimedOut is set.
	Timeout time.Duration
	// Policy, when set, is evaluated on the live inventory after the
	// drift comparison: the same rules `plumb check` runs on a plan, so a
	// control broken after the apply (by hand, or by a resource no code
	// declares) is reported too. Setting it also makes the AWS inventory
	// read the attributes only rules check (awsinv.Options.PolicyAttributes),
	// at one call per queue, topic, table and customer key. Nil leaves
	// policies out of the scan.
	Policy *policy.Set
	// Accounts, when set, makes the AWS inventory read several accounts
	// through assumed roles (and organization discovery) instead of the
	// one account of the credentials: findings then carry their account,
	// ignore rules may name it, and an account that cannot be read is a
	// partial scan of that account only.
	Accounts *Accounts
}

// Outcome is a finished scan: the report plus figures for benchmarks.
type Outcome struct {
	Report *report.Report
	// Covered reports whether this scan read a finding's scope completely,
	// so that the finding's absence means the problem is gone. The
	// findings lifecycle resolves only covered findings: a region or
	// service that could not be read never resolves anything.
	Covered  func(model.Finding) bool
	APICalls int64
	// Listed is the number of live resources the inventory returned.
	Listed int
	// Policy is the live policy evaluation (nil without Options.Policy):
	// passes and skipped evaluations too, which findings do not carry and
	// a per-control compliance report needs.
	Policy *policy.LiveResult
	// TimedOut is set when Options.Timeout expired before the inventory
	// (or Terraform's refresh) finished; the report holds what was read.
	TimedOut bool
}

// Partial reports whether some part of the estate could not be read or
// some declared resource was not evaluated: such a scan must not be taken
// for a clean one.
func (o *Outcome) Partial() bool { return o.Report.Partial() }

// Notes the report carries so readers know what each source can see.
const (
	noteRefreshOnly = "Terraform drift comes from refresh-only plans: it shows changes made outside Terraform. Code merged but not yet applied is not drift and is not shown here (terraform plan shows it)."
	noteWhatIf      = "ARM what-if predicts changes and is known to report some that do not happen; its findings carry confidence \"low\"."
)

// Run performs the scan. Errors are returned only when nothing useful can
// be reported (unreadable state, no cloud configuration); failures of
// single services, regions or subscriptions end up in the report's errors.
//
// An *inventory.AccessError is returned when a cloud cannot be used at all
// (unreachable, no credentials, credentials refused): the identity check
// before any listing says so in one sentence.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	start := time.Now()
	outer := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	// limited reports whether ctx ended because of Options.Timeout.
	limited := func() bool { return ctx.Err() != nil && outer.Err() == nil }
	limitErr := func(err error) error {
		if limited() && !inventory.IsAccessError(err) {
			return fmt.Errorf("the scan's time limit (%s) was reached: %w", opts.Timeout, err)
		}
		return err
	}
	if len(opts.States)+len(opts.TerraformDirs)+len(opts.Plans)+len(opts.WhatIfs) == 0 {
		return nil, errors.New("no desired state: pass --state PATH (a file, a glob with **, or s3://bucket/key), --terraform-dir DIR, --plan FILE or --whatif FILE")
	}
	tfOpts := tfdrift.Options{Bin: opts.TerraformBin, Workspace: opts.Workspace}
	side, err := readDesired(ctx, opts, tfOpts)
	if err != nil {
		return nil, limitErr(err)
	}
	desired := side.resources
	if opts.Accounts != nil {
		inferAccounts(desired)
	}

	mapper := inventory.MultiMapper{awsinv.NewMapper(), azureinv.NewMapper()}
	inv := inventory.NewResult(nil)
	clouds := chooseClouds(opts, desired)
	if slices.Contains(clouds, CloudAWS) {
		if err := scanAWS(ctx, opts, desired, mapper, inv); err != nil {
			return nil, limitErr(err)
		}
	}
	if slices.Contains(clouds, CloudAzure) {
		if err := scanAzure(ctx, opts, inv); err != nil {
			return nil, limitErr(err)
		}
	}
	inv.Sort()
	return compare(ctx, outer, start, opts, side, clouds, inv, limited)
}

// compare is the scan after the inventory: the drift comparison,
// Terraform's and ARM what-if's views, the live policy evaluation and the
// report. Run calls it on the inventory it read; Join on one assembled
// from parts read by several replicas. limited reports whether ctx ended
// because of the scan's own time limit (outer is the caller's context).
func compare(ctx, outer context.Context, start time.Time, opts Options, side *desiredSide, clouds []string,
	inv *inventory.Result, limited func() bool) (*Outcome, error) {
	desired := side.resources
	timedOut := limited()
	mapper := inventory.MultiMapper{awsinv.NewMapper(), azureinv.NewMapper()}
	tfOpts := tfdrift.Options{Bin: opts.TerraformBin, Workspace: opts.Workspace}

	dopts := drift.Options{Environment: opts.Environment, Ignore: opts.Ignore, Mergeable: len(opts.TerraformDirs)+len(opts.Plans) > 0,
		ByAccount: opts.Accounts != nil}
	res := drift.Diff(desired, inv, mapper, dopts)

	// Terraform's own view: every attribute of every resource type.
	var notes []string
	var ext []drift.External
	// judged marks the desired resources Terraform's refresh evaluated.
	judged := make([]bool, len(desired))
	for _, dir := range opts.TerraformDirs {
		r, err := tfdrift.Run(ctx, dir, tfOpts)
		if err != nil {
			if limited() {
				// Stop, but report what the inventory read.
				timedOut = true
				res.Errors = append(res.Errors, inventory.ScopeError{Scope: "terraform/" + dir,
					Message: "the scan's time limit was reached before Terraform's refresh-only plan finished"})
				continue
			}
			return nil, err
		}
		markJudged(judged, desired, r.Refreshed, side.fromDir(dir))
		ext = append(ext, external(r)...)
	}
	for _, p := range opts.Plans {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read plan %s: %w", p, err)
		}
		r, err := tfdrift.ReadPlan(p, data)
		if err != nil {
			return nil, err
		}
		markJudged(judged, desired, r.Refreshed, nil)
		ext = append(ext, external(r)...)
	}
	if len(opts.TerraformDirs)+len(opts.Plans) > 0 {
		var covered []model.DesiredResource
		for i, d := range desired {
			if judged[i] {
				covered = append(covered, d)
			}
		}
		drift.Merge(res, ext, covered, mapper, dopts)
		notes = append(notes, noteRefreshOnly)
	}

	// ARM what-if: predicted drift of Bicep/ARM deployments.
	for _, p := range opts.WhatIfs {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read what-if %s: %w", p, err)
		}
		w, err := whatif.Parse(p, data)
		if err != nil {
			return nil, err
		}
		fs, errs, sum := whatif.Findings(w, opts.Environment)
		for _, f := range fs {
			if !opts.Ignore.ResourceIn(f.Resource.Account, f.Resource.Type, f.Resource.ID) {
				res.Findings = append(res.Findings, f)
			} else {
				sum.Ignored++
			}
		}
		res.Errors = append(res.Errors, errs...)
		addSummary(&res.Summary, sum)
	}
	if len(opts.WhatIfs) > 0 {
		notes = append(notes, noteWhatIf)
		drift.SortFindings(res.Findings)
	}

	var live *liveEvaluation
	if opts.Policy != nil {
		// On the caller's context: rules run on what was read even when
		// the time limit stopped the listing.
		ev, err := evaluateLive(outer, opts.Policy, inv, declaredAddress(res, desired, mapper), opts.Environment)
		if err != nil {
			return nil, err
		}
		live = ev
		for _, f := range ev.findings {
			if !opts.Ignore.ResourceIn(f.Resource.Account, f.Resource.Type, f.Resource.ID) {
				res.Findings = append(res.Findings, f)
			}
		}
		drift.SortFindings(res.Findings)
	}

	out := assemble(start, opts, res, inv)
	out.Report.Notes = append(append(side.notes, notes...), out.Report.Notes...)
	out.TimedOut = timedOut
	out.Report.NotEvaluatedReasons = notEvaluatedReasons(opts, clouds, desired, res.Errors, timedOut)
	// Terraform's refresh and ARM what-if either run whole or fail the
	// scan, so whatever they evaluate is covered.
	whole := map[string]bool{}
	if len(opts.TerraformDirs)+len(opts.Plans) > 0 {
		for _, d := range desired {
			whole[d.Type] = true
		}
	}
	inventoryCovered := out.Covered
	out.Covered = func(f model.Finding) bool {
		return inventoryCovered(f) || whole[f.Resource.Type] || (len(opts.WhatIfs) > 0 && f.Confidence == "low")
	}
	if live != nil {
		addPolicy(out.Report, opts.Policy, live)
		kept := out.Report.NotEvaluated[:0]
		for _, n := range out.Report.NotEvaluated {
			if !opts.Ignore.Resource(n.Type, n.ID) {
				kept = append(kept, n)
			}
		}
		out.Report.NotEvaluated = kept
		out.Policy = live.result
	}
	return out, nil
}

// addPolicy records a live policy evaluation in the report: the rules (for
// the compliance and SARIF formats), rules that could not be evaluated as
// errors, and how many evaluations the inventory could not support. It
// runs after assemble so rule errors are not counted as unreadable parts
// of the estate.
func addPolicy(rep *report.Report, set *policy.Set, ev *liveEvaluation) {
	rep.Errors = append(rep.Errors, ev.errors...)
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
	if ev.skipped > 0 {
		rep.Notes = append(rep.Notes, noteSkipped(ev.skipped))
		rep.NotEvaluated = append(rep.NotEvaluated, report.PolicyNotEvaluated(ev.result.Skipped)...)
	}
}

// chooseClouds decides which inventories to run: those asked for, else
// those the desired state or the cloud flags point at.
func chooseClouds(opts Options, desired []model.DesiredResource) []string {
	if len(opts.Clouds) > 0 {
		if slices.Contains(opts.Clouds, CloudNone) {
			return nil
		}
		return opts.Clouds
	}
	aws := len(opts.Regions) > 0 || opts.Accounts != nil
	azure := len(opts.AzureSubscriptions)+len(opts.AzureResourceGroups) > 0
	for _, t := range opts.Types {
		aws = aws || strings.HasPrefix(t, "aws_")
		azure = azure || strings.HasPrefix(t, "azurerm_")
	}
	for _, d := range desired {
		aws = aws || d.Provider == "aws"
		azure = azure || d.Provider == "azurerm"
	}
	var out []string
	if aws {
		out = append(out, CloudAWS)
	}
	if azure {
		out = append(out, CloudAzure)
	}
	return out
}

// typesFor keeps the --type values that belong to one cloud.
func typesFor(types []string, prefix string) []string {
	var out []string
	for _, t := range types {
		if strings.HasPrefix(t, prefix) {
			out = append(out, t)
		}
	}
	return out
}

func scanAWS(ctx context.Context, opts Options, desired []model.DesiredResource, mapper inventory.StateMapper, inv *inventory.Result) error {
	types := typesFor(opts.Types, "aws_")
	if len(opts.Types) > 0 && len(types) == 0 {
		return nil
	}
	if err := rejectForeignTypes(opts.Types); err != nil {
		return err
	}
	scanner, err := awsinv.New(ctx, awsinv.Options{
		Regions:     opts.Regions,
		Types:       types,
		Concurrency: opts.Concurrency,
		Observer:    opts.Observer,
		Declared:    declaredSet(desired, mapper),
		// Encryption and rotation settings cost a call per resource;
		// read them only when rules will check them.
		PolicyAttributes: opts.Policy != nil,
		Roles:            rolesOf(opts.Accounts),
	})
	if err != nil {
		return err
	}
	var r *inventory.Result
	if a := opts.Accounts; a != nil {
		r, err = scanner.ScanAccounts(ctx, a.Targets, a.Organization, a.Limits)
	} else {
		r, err = scanner.Scan(ctx)
	}
	if err != nil {
		if inventory.IsAccessError(err) {
			return err
		}
		return fmt.Errorf("scan AWS: %w", err)
	}
	inv.Absorb(r)
	return nil
}

func scanAzure(ctx context.Context, opts Options, inv *inventory.Result) error {
	if len(opts.Types) > 0 && len(typesFor(opts.Types, "azurerm_")) == 0 {
		return nil
	}
	scanner, err := azureinv.New(ctx, azureinv.Options{
		Subscriptions:  opts.AzureSubscriptions,
		ResourceGroups: opts.AzureResourceGroups,
		Concurrency:    opts.Concurrency,
		Observer:       opts.Observer,
	})
	if err != nil {
		return err
	}
	r, err := scanner.Scan(ctx)
	if err != nil {
		return fmt.Errorf("scan Azure: %w", err)
	}
	inv.Absorb(r)
	return nil
}

// rejectForeignTypes catches --type values no inventory knows.
func rejectForeignTypes(types []string) error {
	var bad []string
	for _, t := range types {
		if !strings.HasPrefix(t, "aws_") && !strings.HasPrefix(t, "azurerm_") {
			bad = append(bad, t)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("unsupported resource types: %s", strings.Join(bad, ", "))
	}
	return nil
}

// external converts Terraform's drift into the drift engine's terms.
func external(r *tfdrift.Result) []drift.External {
	out := make([]drift.External, 0, len(r.Drift))
	for _, d := range r.Drift {
		out = append(out, drift.External{Desired: d.Desired, Missing: d.Missing, Changes: d.Changes})
	}
	return out
}

func addSummary(dst *model.Summary, s model.Summary) {
	dst.Managed += s.Managed
	dst.InSync += s.InSync
	dst.Changed += s.Changed
	dst.Missing += s.Missing
	dst.Unmanaged += s.Unmanaged
	dst.NotEvaluated += s.NotEvaluated
	dst.Conflicting += s.Conflicting
	dst.Unsupported += s.Unsupported
	dst.Ignored += s.Ignored
	dst.SetCoverage()
}

// Assemble compares an already loaded state and inventory. It is separate
// from Run so tests and benchmarks can feed synthetic inventories.
func Assemble(start time.Time, opts Options, desired []model.DesiredResource, inv *inventory.Result, mapper inventory.StateMapper) *Outcome {
	res := drift.Diff(desired, inv, mapper, drift.Options{Environment: opts.Environment, Ignore: opts.Ignore})
	return assemble(start, opts, res, inv)
}

func assemble(start time.Time, opts Options, res *drift.Result, inv *inventory.Result) *Outcome {
	rep := &report.Report{
		Version:     report.Version,
		Environment: opts.Environment,
		StartedAt:   start.UTC().Truncate(time.Second),
		DurationMS:  time.Since(start).Milliseconds(),
		Summary:     res.Summary,
		Findings:    res.Findings,
		Errors:      res.Errors,
	}
	if rep.Findings == nil {
		rep.Findings = []model.Finding{}
	}
	if rep.Errors == nil {
		rep.Errors = []inventory.ScopeError{}
	}
	if len(rep.Errors) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d part(s) of the estate could not be read; resources declared there are counted as not evaluated, never as missing.", len(rep.Errors)))
	}
	covered := func(f model.Finding) bool {
		// A conflict comes from the states alone, which are always read
		// whole (an unreadable state fails the scan). In a multi-account
		// scan the finding's own account must have been read.
		if f.Kind == model.KindConflict {
			return true
		}
		if acct := f.Resource.Account; opts.Accounts != nil && acct != "" {
			return inv.CompleteIn(acct, f.Resource.Type, f.Resource.Region) || inv.CompleteIn(acct, f.Resource.Type, "")
		}
		return inv.Complete(f.Resource.Type, f.Resource.Region) || inv.Complete(f.Resource.Type, "")
	}
	return &Outcome{Report: rep, Covered: covered, APICalls: inv.APICalls, Listed: len(inv.Resources)}
}

// declaredSet answers "does the code declare this live resource?", so the
// inventory spends per-resource API calls only where they are compared.
func declaredSet(desired []model.DesiredResource, mapper inventory.StateMapper) func(typ, id string) bool {
	set := make(map[string]struct{}, len(desired))
	for _, d := range desired {
		if r, ok := mapper.FromState(d.Type, d.Raw); ok {
			set[r.Type+"\x00"+r.ID] = struct{}{}
		}
	}
	return func(typ, id string) bool {
		_, ok := set[typ+"\x00"+id]
		return ok
	}
}

func rolesOf(a *Accounts) *awsinv.RoleCache {
	if a == nil {
		return nil
	}
	return a.Roles
}
