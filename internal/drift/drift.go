// Package drift compares what the code declares with what the cloud holds
// and classifies every resource as in sync, changed, missing or unmanaged.
//
// The engine is deliberately conservative: a resource is only called
// missing when the scope (type and region) it lives in was read completely,
// and resources the cloud creates by itself are never called unmanaged. A
// drift tool that cries wolf gets uninstalled.
package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// Options tune a comparison.
type Options struct {
	// Environment is stamped on findings and into their fingerprints.
	Environment string
	// Ignore rules; nil ignores nothing.
	Ignore *Ignore
	// Mergeable keeps, per resource, how it was counted and which
	// attributes were compared, which Merge needs to fold Terraform's own
	// drift in. It costs two map entries per resource, so scans without
	// external drift leave it off.
	Mergeable bool
	// ByAccount compares an inventory of several accounts: a desired
	// resource meets only a live one of its own account (when its account
	// is known: Resource.Account, from its attributes or inferred by the
	// caller), its scope is complete only if read in that account, ignore
	// rules may name the account (ACCOUNT:TYPE.ID), and fingerprints
	// cover the account (model.WithAccount).
	ByAccount bool
}

// Result is the outcome of one comparison.
type Result struct {
	Findings []model.Finding
	Summary  model.Summary
	Errors   []inventory.ScopeError

	// status remembers how each desired resource was counted, by match
	// key, so Merge can move it between summary counters.
	status map[string]status
	// compared remembers, by match key, the attribute roots the engine
	// compared with both sides known. The engine's own comparison is
	// authoritative for them: it knows, for example, that a rule declared
	// as a separate aws_security_group_rule belongs to the group, where
	// Terraform's refresh of the group alone reports it as drift.
	compared map[string][]string
	// addresses maps the match key of each live resource a desired
	// resource matched to the desired resource's Terraform address.
	addresses map[string]string
	// folded records the types whose match keys fold case.
	folded map[string]bool
}

// Address returns the Terraform address of the desired resource the
// engine matched to the live resource (typ, id), or "" when the code
// declares none (or declared it without an address). Policy findings on
// live resources use it to point back at the code.
func (r *Result) Address(typ, id string) string {
	if r == nil || r.addresses == nil {
		return ""
	}
	if r.folded[typ] {
		id = strings.ToLower(id)
	}
	return r.addresses[typ+"\x00"+id]
}

type status int

const (
	statusInSync status = iota + 1
	statusChanged
	statusMissing
	statusNotEvaluated
	statusConflict
)

type desiredEntry struct {
	d   model.DesiredResource
	r   model.Resource // mapped to the live shape
	typ inventory.Type
}

type actualEntry struct {
	r       model.Resource
	matched bool
}

// Diff compares desired resources with a live inventory.
func Diff(desired []model.DesiredResource, inv *inventory.Result, mapper inventory.StateMapper, opts Options) *Result {
	types := map[string]inventory.Type{}
	for _, t := range mapper.Types() {
		types[t.Name] = t
	}
	res := &Result{Errors: append([]inventory.ScopeError{}, inv.Errors...), status: map[string]status{}, compared: map[string][]string{},
		addresses: map[string]string{}, folded: map[string]bool{}}
	sum := &res.Summary

	// Map desired resources to the live shape, and collect children that
	// fold into their parents (security group rules declared apart).
	var entries []*desiredEntry
	folds := map[string]map[string][]string{}
	for _, d := range desired {
		if d.Mode == "data" {
			continue
		}
		if pt, pid, add, ok := mapper.Fold(d.Type, d.Raw); ok {
			k := matchKey(types[pt], pt, pid)
			if folds[k] == nil {
				folds[k] = map[string][]string{}
			}
			for attr, vals := range add {
				folds[k][attr] = append(folds[k][attr], vals...)
			}
			continue
		}
		r, ok := mapper.FromState(d.Type, d.Raw)
		if !ok || r.ID == "" {
			sum.Unsupported++
			continue
		}
		if opts.ByAccount && r.Account == "" {
			r.Account = d.Account
		}
		entries = append(entries, &desiredEntry{d: d, r: r, typ: types[r.Type]})
	}
	for _, e := range entries {
		add := folds[matchKey(e.typ, e.r.Type, e.r.ID)]
		if len(add) == 0 {
			continue
		}
		if e.r.Attributes == nil {
			e.r.Attributes = map[string]any{}
		}
		for attr, vals := range add {
			e.r.Attributes[attr] = unionStrings(e.r.Attributes[attr], vals)
		}
	}

	conflicts := findConflicts(entries, opts.ByAccount)

	// Index the live side by (type, id).
	actual := map[string][]*actualEntry{}
	var actualOrder []*actualEntry
	for _, r := range inv.Resources {
		a := &actualEntry{r: r}
		k := matchKey(types[r.Type], r.Type, r.ID)
		actual[k] = append(actual[k], a)
		actualOrder = append(actualOrder, a)
	}

	for _, e := range entries {
		if role, ok := conflicts[e]; ok {
			if !role.later {
				res.conflict(opts, role.decls, actual[matchKey(e.typ, e.r.Type, e.r.ID)])
			}
			continue
		}
		ignored := opts.Ignore.ResourceIn(e.r.Account, e.r.Type, e.r.ID)
		a := pick(actual[matchKey(e.typ, e.r.Type, e.r.ID)], e.r, e.typ, opts.ByAccount)
		if a != nil {
			a.matched = true
			if e.d.Address != "" && e.d.Deposed == "" {
				res.addresses[matchKey(e.typ, a.r.Type, a.r.ID)] = e.d.Address
				if e.typ.CaseInsensitiveID {
					res.folded[a.r.Type] = true
				}
			}
		}
		if e.d.Deposed != "" {
			// A deposed object is on its way out: if it still exists it is
			// managed; if it is gone, that is what the code wants.
			continue
		}
		if ignored {
			sum.Ignored++
			continue
		}
		sum.Managed++
		k := matchKey(e.typ, e.r.Type, e.r.ID)
		if a == nil {
			if !evaluable(inv, e.typ, e.r, opts.ByAccount) {
				sum.NotEvaluated++
				res.record(opts, k, statusNotEvaluated)
				continue
			}
			sum.Missing++
			res.record(opts, k, statusMissing)
			res.Findings = append(res.Findings, finding(model.KindMissing, opts, e.r, &e.d, nil))
			continue
		}
		if opts.Mergeable {
			res.compared[k] = comparedRoots(e.r, a.r, e.typ)
		}
		changes := compare(e.r, a.r, e.typ)
		kept := changes[:0]
		for _, c := range changes {
			if !opts.Ignore.PathIn(e.r.Account, e.r.Type, e.r.ID, c.Path) {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			sum.InSync++
			res.record(opts, k, statusInSync)
			continue
		}
		sum.Changed++
		res.record(opts, k, statusChanged)
		live := a.r
		if live.Name == "" {
			live.Name = e.r.Name
		}
		res.Findings = append(res.Findings, finding(model.KindChanged, opts, live, &e.d, kept))
	}

	for _, a := range actualOrder {
		if a.matched || a.r.Default != "" {
			continue
		}
		if opts.Ignore.ResourceIn(a.r.Account, a.r.Type, a.r.ID) {
			sum.Ignored++
			continue
		}
		sum.Unmanaged++
		res.Findings = append(res.Findings, finding(model.KindUnmanaged, opts, a.r, nil, nil))
	}

	sum.SetCoverage()
	SortFindings(res.Findings)
	return res
}

// matchKey is the identity desired and live resources meet on: the
// Terraform type and the import id, case-folded where the cloud ignores
// case (Azure resource ids).
func matchKey(t inventory.Type, typ, id string) string {
	if t.CaseInsensitiveID {
		id = strings.ToLower(id)
	}
	return typ + "\x00" + id
}

// scopeOf is the part of a resource's location that decides whether its
// scope was read: the region for AWS, the account for per-account types.
func scopeOf(t inventory.Type, r model.Resource) string {
	if t.ScopeByAccount {
		return r.Account
	}
	return r.Region
}

// pick chooses the live resource a desired one refers to. Ids are unique
// within a region for most types; when the desired region is known it
// must agree, when it is unknown a single candidate is taken. With
// byAccount, a desired resource of a known account meets only live
// resources of that account.
func pick(cands []*actualEntry, want model.Resource, t inventory.Type, byAccount bool) *actualEntry {
	if byAccount && want.Account != "" {
		var same []*actualEntry
		for _, c := range cands {
			if c.r.Account == want.Account {
				same = append(same, c)
			}
		}
		cands = same
	}
	if len(cands) == 0 {
		return nil
	}
	region := scopeOf(t, want)
	if t.Global || region == "" {
		for _, c := range cands {
			if !c.matched {
				return c
			}
		}
		return cands[0]
	}
	for _, c := range cands {
		if got := scopeOf(t, c.r); got == region || got == "" {
			return c
		}
	}
	return nil
}

// evaluable says whether the absence of a desired resource from the
// inventory means it is gone, rather than that its scope was not read.
func evaluable(inv *inventory.Result, t inventory.Type, r model.Resource, byAccount bool) bool {
	if t.Name == "" {
		return false
	}
	if byAccount && !t.ScopeByAccount {
		// Complete in the resource's account; an account that cannot be
		// told must be complete in every account.
		switch {
		case t.Global:
			return inv.CompleteIn(r.Account, t.Name, "")
		case r.Region != "":
			return inv.CompleteIn(r.Account, t.Name, r.Region)
		}
		return inv.CompleteAnywhereIn(r.Account, t.Name)
	}
	if t.Global {
		return inv.Complete(t.Name, "")
	}
	if scope := scopeOf(t, r); scope != "" {
		return inv.Complete(t.Name, scope)
	}
	return inv.CompleteAnywhere(t.Name)
}

// compare lists the differences between the code's view (before) and the
// live resource (after): tags when both sides know them, then the type's
// compared attributes when both sides have them.
func compare(want, got model.Resource, t inventory.Type) []model.Change {
	var out []model.Change
	if want.Tags != nil && got.Tags != nil && !sameTags(want.Tags, got.Tags) {
		keys := map[string]bool{}
		for k := range want.Tags {
			keys[k] = true
		}
		for k := range got.Tags {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, wok := want.Tags[k]
			gv, gok := got.Tags[k]
			if wok && gok && wv == gv {
				continue
			}
			c := model.Change{Path: "tags." + k}
			if wok {
				c.Before = wv
			}
			if gok {
				c.After = gv
			}
			out = append(out, c)
		}
	}
	for _, attr := range t.Compared {
		wv, wok := want.Attributes[attr]
		gv, gok := got.Attributes[attr]
		if !wok || !gok || equalValues(wv, gv) {
			continue
		}
		out = append(out, model.Change{Path: attr, Before: wv, After: gv})
	}
	return out
}

// record remembers how a resource was counted, when Merge will need it.
func (r *Result) record(opts Options, k string, st status) {
	if opts.Mergeable {
		r.status[k] = st
	}
}

// comparedRoots lists the attribute roots compare could judge for a pair.
func comparedRoots(want, got model.Resource, t inventory.Type) []string {
	var roots []string
	if want.Tags != nil && got.Tags != nil {
		roots = append(roots, "tags", "tags_all")
	}
	for _, attr := range t.Compared {
		_, wok := want.Attributes[attr]
		_, gok := got.Attributes[attr]
		if wok && gok {
			roots = append(roots, attr)
		}
	}
	return roots
}

// sameTags is the fast path for the common case: nothing drifted.
func sameTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// equalValues compares normalized attribute values. Strings, numbers and
// string lists compare directly; anything else goes through JSON, which
// makes 7 and 7.0, and []string and []any of the same strings, equal.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	case []string:
		if y, ok := b.([]string); ok {
			return slices.Equal(x, y)
		}
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	return bytes.Equal(ja, jb)
}

// unionStrings merges a []string (or []any of strings) attribute with more
// values, sorted and without duplicates, the canonical form of rule sets.
func unionStrings(existing any, more []string) []string {
	set := map[string]bool{}
	switch v := existing.(type) {
	case []string:
		for _, s := range v {
			set[s] = true
		}
	case []any:
		for _, s := range v {
			if str, ok := s.(string); ok {
				set[str] = true
			}
		}
	}
	for _, s := range more {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// severity ranks a finding. Unexpected network exposure matters most.
func severity(kind model.Kind, changes []model.Change) model.Severity {
	switch kind {
	case model.KindMissing, model.KindConflict:
		return model.SeverityHigh
	case model.KindChanged:
		for _, c := range changes {
			if c.Path == "ingress" || c.Path == "egress" {
				return model.SeverityHigh
			}
		}
	}
	return model.SeverityMedium
}

// Message returns the operator-facing title of a drift finding.
func Message(kind model.Kind, name string) string {
	switch kind {
	case model.KindUnmanaged:
		return fmt.Sprintf("Undefined resource exists (%s)", name)
	case model.KindMissing:
		return fmt.Sprintf("Defined resource doesn't exist (%s)", name)
	case model.KindChanged:
		return fmt.Sprintf("Resource changed outside code (%s)", name)
	case model.KindConflict:
		return fmt.Sprintf("Resource defined more than once (%s)", name)
	}
	return fmt.Sprintf("%s (%s)", kind, name)
}

func finding(kind model.Kind, opts Options, r model.Resource, d *model.DesiredResource, changes []model.Change) model.Finding {
	f := model.Finding{
		Kind:        kind,
		Severity:    severity(kind, changes),
		Environment: opts.Environment,
		Resource:    r,
		Changes:     changes,
		Message:     Message(kind, r.DisplayName()),
		Fingerprint: model.Fingerprint(kind, opts.Environment, r.Provider, r.Type, r.Region, r.ID, ""),
	}
	if opts.ByAccount {
		f.Fingerprint = model.WithAccount(f.Fingerprint, r.Account)
	}
	if f.Changes == nil {
		f.Changes = []model.Change{}
	}
	// Findings carry tags but not the raw attribute map: attributes can
	// hold secrets and belong in the changes list only.
	f.Resource.Attributes = nil
	if d != nil {
		addr := d.Address
		f.Address = &addr
		f.Source = d.Source
	}
	return f
}

func kindRank(k model.Kind) int {
	switch k {
	case model.KindUnmanaged:
		return 0
	case model.KindMissing:
		return 1
	case model.KindChanged:
		return 2
	}
	return 3
}

// SortFindings orders findings for stable output: by kind, then type,
// region and id.
func SortFindings(fs []model.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if kindRank(a.Kind) != kindRank(b.Kind) {
			return kindRank(a.Kind) < kindRank(b.Kind)
		}
		if a.Resource.Type != b.Resource.Type {
			return a.Resource.Type < b.Resource.Type
		}
		if a.Resource.Region != b.Resource.Region {
			return a.Resource.Region < b.Resource.Region
		}
		return strings.Compare(a.Resource.ID, b.Resource.ID) < 0
	})
}
