package scan

import (
	"context"
	"errors"

	"plumb/internal/model"
	"plumb/internal/state"
	"plumb/internal/tfdrift"
)

// desiredSide is what the scan compares the estate with, read once
// whatever the sources.
type desiredSide struct {
	// resources are the declared resources, each state read once.
	resources []model.DesiredResource
	// refreshed are the resources a --terraform-dir's refresh-only plan
	// evaluates (drift.Merge counts those of types the inventory cannot
	// list as managed).
	refreshed []model.DesiredResource
	// notes say which sources reached the same state.
	notes []string
}

// readDesired reads --state sources and pulls the state of every
// --terraform-dir, then keeps one document per state (state.Dedupe): a
// root scanned both through a copy of its state file and as a Terraform
// directory is declared once, not twice. Empty states are an error unless
// AllowEmptyState; an empty state superseded by a newer serial is not.
func readDesired(ctx context.Context, opts Options, tfOpts tfdrift.Options) (*desiredSide, error) {
	var docs []*state.Document
	if len(opts.States) > 0 {
		d, err := state.LoadDocuments(ctx, opts.States, state.Options{Environment: opts.Environment})
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	pulled := map[*state.Document]bool{}
	for _, dir := range opts.TerraformDirs {
		d, err := pullState(ctx, dir, tfOpts)
		if err != nil {
			if opts.AllowEmptyState && errors.Is(err, state.ErrNoResources) {
				continue
			}
			return nil, err
		}
		docs = append(docs, d)
		pulled[d] = true
	}

	groups := state.Dedupe(docs)
	out := &desiredSide{}
	var empty []error
	out.resources, empty = state.Resources(groups)
	if len(empty) > 0 && !opts.AllowEmptyState {
		return nil, errors.Join(empty...)
	}
	for _, g := range groups {
		if n := g.Note(); n != "" {
			out.notes = append(out.notes, n)
		}
		// Terraform refreshed what the directory's own serial declares; when
		// a newer copy was kept, only the addresses both hold.
		addrs := map[string]bool{}
		for _, d := range g.Documents() {
			if !pulled[d] {
				continue
			}
			for _, r := range d.Resources {
				addrs[r.Address] = true
			}
		}
		if len(addrs) == 0 || g.Kept.Empty() != nil {
			continue
		}
		for _, r := range g.Kept.Resources {
			if addrs[r.Address] {
				out.refreshed = append(out.refreshed, r)
			}
		}
	}
	return out, nil
}
