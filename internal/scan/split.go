package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/tfdrift"
)

// A split scan reads its inventory in parts, possibly on several
// replicas: a planner reads the desired side once (Prepare) and stores it,
// parts list the estate, and a join compares what they read with the
// stored desired side (Join). The comparison is Run's own, so a split scan
// and a one-process scan of the same estate give the same findings.

// Splittable reports whether a scan's inventory can be read in parts: it
// compares state sources with AWS only. Terraform directories, saved plans
// and ARM what-if results are read whole, and Azure is listed by one
// process, so such scans run in one piece.
func Splittable(opts Options) bool {
	if len(opts.States) == 0 || len(opts.TerraformDirs)+len(opts.Plans)+len(opts.WhatIfs) > 0 {
		return false
	}
	if len(opts.AzureSubscriptions)+len(opts.AzureResourceGroups)+len(opts.Types) > 0 {
		return false
	}
	return len(opts.Clouds) == 0 || slices.Equal(opts.Clouds, []string{CloudAWS})
}

// Desired is the desired side of a split scan, read once by its planner.
type Desired struct {
	side   *desiredSide
	clouds []string
}

// Prepare reads the desired side of a split scan. Its error is one that
// fails the whole scan (an unreadable state).
func Prepare(ctx context.Context, opts Options) (*Desired, error) {
	if !Splittable(opts) {
		return nil, errors.New("scan cannot be split: it reads Terraform directories, plans, what-if results or Azure")
	}
	side, err := readDesired(ctx, opts, tfdrift.Options{})
	if err != nil {
		return nil, err
	}
	if opts.Accounts != nil {
		inferAccounts(side.resources)
	}
	return &Desired{side: side, clouds: chooseClouds(opts, side.resources)}, nil
}

// AWSOnly reports whether the estate to list is AWS alone, the only one
// whose parts can be read apart; otherwise the scan runs in one piece.
func (d *Desired) AWSOnly() bool { return slices.Equal(d.clouds, []string{CloudAWS}) }

// Len is the number of declared resources.
func (d *Desired) Len() int { return len(d.side.resources) }

// DeclaredKeys lists the live resources the code declares, as the
// inventory asks about them (type and id), so that the parts spend
// per-resource API calls only where they will be compared.
func (d *Desired) DeclaredKeys() []string {
	mapper := awsinv.NewMapper()
	var out []string
	for _, r := range d.side.resources {
		if lr, ok := mapper.FromState(r.Type, r.Raw); ok {
			out = append(out, lr.Type+"\x00"+lr.ID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DeclaredFunc answers the inventory's "is this resource declared?" from
// DeclaredKeys.
func DeclaredFunc(keys []string) func(typ, id string) bool {
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	return func(typ, id string) bool {
		_, ok := set[typ+"\x00"+id]
		return ok
	}
}

// storedDesired keeps what a declared resource's JSON form leaves out.
type storedDesired struct {
	model.DesiredResource
	Raw            map[string]any `json:"raw,omitempty"`
	ProviderConfig string         `json:"provider_config,omitempty"`
	Default        string         `json:"default,omitempty"`
}

type storedSide struct {
	Resources []storedDesired `json:"resources"`
	Notes     []string        `json:"notes,omitempty"`
	Clouds    []string        `json:"clouds"`
}

// MarshalJSON stores the desired side whole, so a join on another
// replica compares with exactly what the planner read.
func (d *Desired) MarshalJSON() ([]byte, error) {
	s := storedSide{Notes: d.side.notes, Clouds: d.clouds, Resources: make([]storedDesired, len(d.side.resources))}
	for i, r := range d.side.resources {
		s.Resources[i] = storedDesired{DesiredResource: r, Raw: r.Raw, ProviderConfig: r.ProviderConfig, Default: r.Default}
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads a desired side stored by MarshalJSON.
func (d *Desired) UnmarshalJSON(b []byte) error {
	var s storedSide
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("stored desired state: %w", err)
	}
	side := &desiredSide{notes: s.Notes, resources: make([]model.DesiredResource, len(s.Resources))}
	for i, r := range s.Resources {
		side.resources[i] = r.DesiredResource
		side.resources[i].Raw = r.Raw
		side.resources[i].ProviderConfig = r.ProviderConfig
		side.resources[i].Default = r.Default
	}
	d.side, d.clouds = side, s.Clouds
	return nil
}

// Join compares a desired side read by Prepare with the inventory its
// parts read (each part's result absorbed into inv), the same way Run
// compares: drift, live policies, report. start is when the scan began.
func Join(ctx context.Context, start time.Time, opts Options, d *Desired, inv *inventory.Result) (*Outcome, error) {
	inv.Sort()
	return compare(ctx, ctx, start, opts, d.side, d.clouds, inv, func() bool { return false })
}
