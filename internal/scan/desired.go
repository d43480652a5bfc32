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
	// byDir holds, per --terraform-dir, the kept resources (by address and
	// source) that the directory's pulled state declares, so a refresh of
	// one root never vouches for the same address in another root.
	byDir map[string]map[string]bool
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
		dirs := map[string]map[string]bool{}
		for _, d := range g.Documents() {
			if !pulled[d] {
				continue
			}
			in := map[string]bool{}
			for _, r := range d.Resources {
				in[r.Address] = true
			}
			dirs[d.Source] = in
		}
		if len(dirs) == 0 || g.Kept.Empty() != nil {
			continue
		}
		for _, r := range g.Kept.Resources {
			for dir, in := range dirs {
				if !in[r.Address] {
					continue
				}
				if out.byDir == nil {
					out.byDir = map[string]map[string]bool{}
				}
				if out.byDir[dir] == nil {
					out.byDir[dir] = map[string]bool{}
				}
				out.byDir[dir][resourceKey(r)] = true
			}
		}
	}
	return out, nil
}

// resourceKey identifies a declared resource within one scan.
func resourceKey(r model.DesiredResource) string { return r.Source + "\x00" + r.Address }

// fromDir reports whether a declared resource is one the pulled state of
// dir declares (after deduplication its Source may name a --state copy).
func (s *desiredSide) fromDir(dir string) func(model.DesiredResource) bool {
	in := s.byDir[dir]
	return func(d model.DesiredResource) bool { return in[resourceKey(d)] }
}
