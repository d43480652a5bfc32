// Package scan runs one drift scan end to end: read the desired state,
// list the live estate, compare, and assemble the report. The CLI's
// `plumb scan` and, later, the server's scheduled scans share it, so both
// see the same findings for the same estate.
package scan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"plumb/internal/drift"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/report"
	"plumb/internal/state"
)

// Options describe one scan.
type Options struct {
	Environment string
	// States are state sources: paths, globs, s3:// URLs.
	States []string
	// Regions to list; empty means the AWS configuration's region.
	Regions []string
	// Types restricts the inventory to these Terraform types.
	Types []string
	// Concurrency bounds parallel (service, region) listings.
	Concurrency int
	Ignore      *drift.Ignore
	// AllowEmptyState accepts state files without resources (a workspace
	// that was initialised but never applied) instead of failing.
	AllowEmptyState bool
	// Progress is called as inventory units finish.
	Progress func(done, total int, unit string)
}

// Outcome is a finished scan: the report plus figures for benchmarks.
type Outcome struct {
	Report   *report.Report
	APICalls int64
	// Listed is the number of live resources the inventory returned.
	Listed int
}

// Partial reports whether some part of the estate could not be read.
func (o *Outcome) Partial() bool { return len(o.Report.Errors) > 0 }

// Run performs the scan. Errors are returned only when nothing useful can
// be reported (unreadable state, no AWS configuration); failures of single
// services or regions end up in the report's errors instead.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	start := time.Now()
	if len(opts.States) == 0 {
		return nil, errors.New("no desired state: pass --state PATH (a file, a glob with **, or s3://bucket/key)")
	}
	desired, err := state.Load(ctx, opts.States, state.Options{Environment: opts.Environment})
	if err != nil {
		if !opts.AllowEmptyState || !onlyEmptyStates(err) {
			return nil, err
		}
	}
	mapper := awsinv.NewMapper()
	scanner, err := awsinv.New(ctx, awsinv.Options{
		Regions:     opts.Regions,
		Types:       opts.Types,
		Concurrency: opts.Concurrency,
		Progress:    opts.Progress,
		Declared:    declaredSet(desired, mapper),
	})
	if err != nil {
		return nil, err
	}
	inv, err := scanner.Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan AWS: %w", err)
	}
	return Assemble(start, opts, desired, inv, mapper), nil
}

// onlyEmptyStates reports whether every error Load returned is an empty
// state, the one problem --allow-empty-state forgives.
func onlyEmptyStates(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyEmptyStates(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, state.ErrNoResources)
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

// Assemble compares an already loaded state and inventory. It is separate
// from Run so tests and benchmarks can feed synthetic inventories.
func Assemble(start time.Time, opts Options, desired []model.DesiredResource, inv *inventory.Result, mapper inventory.StateMapper) *Outcome {
	res := drift.Diff(desired, inv, mapper, drift.Options{Environment: opts.Environment, Ignore: opts.Ignore})
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
	return &Outcome{Report: rep, APICalls: inv.APICalls, Listed: len(inv.Resources)}
}
