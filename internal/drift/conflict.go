package drift

import "plumb/internal/model"

// conflictRole says how the comparison treats a declaration that shares
// its cloud object with others.
type conflictRole struct {
	// decls, set on the first declaration of a conflict only, are all the
	// declarations, first included, in input order.
	decls []*desiredEntry
	// later marks the other declarations (and exact repeats of a single
	// declaration): they are neither compared nor counted.
	later bool
}

// findConflicts finds cloud objects declared more than once: the same
// live identity (type after aliases, import id, region or account) under
// two addresses, or in two states. Terraform will fight itself over such
// an object, each apply undoing the other's, so comparing it with either
// declaration would report one side's apply as a change outside code.
//
// The same address read twice from the same source is one declaration
// repeated (a caller passing a state twice), not a conflict. Deposed
// objects are never part of a conflict: they are on their way out. Types
// the inventory cannot map have no trustworthy identity (random_password's
// id is "none" in every state) and never reach here.
func findConflicts(entries []*desiredEntry, byAccount bool) map[*desiredEntry]conflictRole {
	groups := map[string][]*desiredEntry{}
	var order []string
	for _, e := range entries {
		if e.d.Deposed != "" {
			continue
		}
		k := conflictKey(e)
		if byAccount {
			// One module applied in two accounts declares two objects.
			k += "\x00" + e.r.Account
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	roles := map[*desiredEntry]conflictRole{}
	for _, k := range order {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		var distinct []*desiredEntry
		seen := map[[2]string]bool{}
		for _, e := range g {
			id := [2]string{e.d.Source, e.d.Address}
			if seen[id] {
				roles[e] = conflictRole{later: true}
				continue
			}
			seen[id] = true
			distinct = append(distinct, e)
		}
		if len(distinct) < 2 {
			continue
		}
		roles[distinct[0]] = conflictRole{decls: distinct}
		for _, e := range distinct[1:] {
			roles[e] = conflictRole{later: true}
		}
	}
	return roles
}

// conflictKey is the identity two declarations must share to name the
// same object: matchKey plus the scope, except for global types.
func conflictKey(e *desiredEntry) string {
	k := matchKey(e.typ, e.r.Type, e.r.ID)
	if !e.typ.Global {
		k += "\x00" + scopeOf(e.typ, e.r)
	}
	return k
}

// conflict records one object declared more than once: one
// drift.conflict finding naming every declaration, counted once as
// managed and conflicting. The live object, when there is one, is taken
// out of the unmanaged candidates and becomes the finding's resource; it
// is not compared with any declaration (see findConflicts).
func (r *Result) conflict(opts Options, decls []*desiredEntry, cands []*actualEntry) {
	first := decls[0]
	a := pick(cands, first.r, first.typ, opts.ByAccount)
	if a != nil {
		a.matched = true
	}
	if opts.Ignore.ResourceIn(first.r.Account, first.r.Type, first.r.ID) {
		r.Summary.Ignored++
		return
	}
	r.Summary.Managed++
	r.Summary.Conflicting++
	r.record(opts, matchKey(first.typ, first.r.Type, first.r.ID), statusConflict)
	shown := first.r
	if a != nil {
		// The finding shows the live object, as drift.changed does.
		shown = a.r
		if shown.Name == "" {
			shown.Name = first.r.Name
		}
	}
	f := finding(model.KindConflict, opts, shown, &first.d, nil)
	// The fingerprint comes from the declared identity, so the finding
	// keeps it whether or not the object still exists.
	f.Fingerprint = model.Fingerprint(model.KindConflict, opts.Environment, first.r.Provider, first.r.Type, first.r.Region, first.r.ID, "")
	if opts.ByAccount {
		f.Fingerprint = model.WithAccount(f.Fingerprint, first.r.Account)
	}
	for _, e := range decls {
		f.Declarations = append(f.Declarations, model.Declaration{Address: e.d.Address, Source: e.d.Source})
	}
	r.Findings = append(r.Findings, f)
}
