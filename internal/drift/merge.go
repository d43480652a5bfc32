package drift

import (
	"slices"
	"sort"
	"strings"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// External is drift another tool observed for a declared resource:
// Terraform's refresh-only plan sees every attribute of every type, where
// plumb's own inventory compares only a few. Merging both keeps one
// finding per problem.
type External struct {
	Desired model.DesiredResource
	// Missing means the resource is gone; otherwise Changes lists what
	// differs.
	Missing bool
	Changes []model.Change
}

// Merge folds external drift into a comparison result. A resource that
// both sources saw changed becomes one finding with the union of changes;
// a resource only the external source saw drift on gets its own finding
// and moves from in sync to changed (or missing) in the summary.
//
// covered lists desired resources the external source evaluated. Those
// of types the inventory does not list (local_file, random_password)
// count as managed and in sync unless the external source reports drift
// on them; those the inventory could not evaluate (its scope was not
// read, or no inventory ran) move from not evaluated to in sync, since
// Terraform's refresh did judge them.
//
// The result must come from Diff with Options.Mergeable set; without it
// the summary cannot be corrected and the engine's verdicts are unknown.
func Merge(res *Result, ext []External, covered []model.DesiredResource, mapper inventory.StateMapper, opts Options) {
	types := map[string]inventory.Type{}
	for _, t := range mapper.Types() {
		types[t.Name] = t
	}
	identity := func(d model.DesiredResource) (model.Resource, inventory.Type, bool) {
		if r, ok := mapper.FromState(d.Type, d.Raw); ok && r.ID != "" {
			return r, types[r.Type], true
		}
		r := d.Resource
		r.Attributes = nil
		return r, inventory.Type{Name: d.Type}, false
	}

	index := map[string]int{}
	for i, f := range res.Findings {
		if f.Kind == model.KindChanged || f.Kind == model.KindMissing {
			index[matchKey(types[f.Resource.Type], f.Resource.Type, f.Resource.ID)] = i
		}
	}

	if res.status == nil {
		res.status = map[string]status{}
	}
	// Resources only the external source can evaluate start in sync.
	for _, d := range covered {
		r, t, known := identity(d)
		if d.Mode == "data" || d.Deposed != "" || opts.Ignore.Resource(d.Type, d.ID) {
			continue
		}
		if known {
			k := matchKey(t, r.Type, r.ID)
			if res.status[k] == statusNotEvaluated {
				res.Summary.NotEvaluated--
				res.Summary.InSync++
				res.status[k] = statusInSync
			}
			continue
		}
		res.Summary.Managed++
		res.Summary.InSync++
		res.status[matchKey(t, r.Type, r.ID)] = statusInSync
		if res.Summary.Unsupported > 0 {
			res.Summary.Unsupported--
		}
	}
	// leave takes a resource out of the counter it was in.
	leave := func(k string) {
		switch res.status[k] {
		case statusInSync:
			res.Summary.InSync--
		case statusChanged:
			res.Summary.Changed--
		case statusMissing:
			res.Summary.Missing--
		case statusNotEvaluated:
			res.Summary.NotEvaluated--
		}
	}

	var drop []int
	for _, e := range ext {
		r, t, _ := identity(e.Desired)
		if opts.Ignore.Resource(r.Type, r.ID) {
			continue
		}
		k := matchKey(t, r.Type, r.ID)
		if res.status[k] == statusConflict {
			// Declared more than once: the drift.conflict finding stands,
			// and one owner's refresh is not drift of the object.
			continue
		}
		changes := normalizeExternal(e.Changes, r.Type, r.ID, opts.Ignore, res.compared[k])
		i, seen := index[k]
		switch {
		case e.Missing && seen && res.Findings[i].Kind == model.KindMissing:
			// Both agree it is gone: one finding already says so.
		case e.Missing:
			if seen { // the inventory saw it changed; Terraform says gone
				drop = append(drop, i)
			}
			leave(k)
			res.status[k] = statusMissing
			res.Summary.Missing++
			d := e.Desired
			res.Findings = append(res.Findings, finding(model.KindMissing, opts, r, &d, nil))
			index[k] = len(res.Findings) - 1
		case len(changes) == 0:
			// Nothing left after ignore rules.
		case seen && res.Findings[i].Kind == model.KindChanged:
			f := &res.Findings[i]
			f.Changes = unionChanges(f.Changes, changes)
			f.Severity = severity(model.KindChanged, f.Changes)
		case seen:
			// The inventory already reports it missing; a refresh that
			// still sees it changed is stale, keep the stronger finding.
		default:
			leave(k)
			res.status[k] = statusChanged
			res.Summary.Changed++
			d := e.Desired
			res.Findings = append(res.Findings, finding(model.KindChanged, opts, r, &d, changes))
			index[k] = len(res.Findings) - 1
		}
	}
	if len(drop) > 0 {
		sort.Sort(sort.Reverse(sort.IntSlice(drop)))
		for _, i := range drop {
			res.Findings = append(res.Findings[:i], res.Findings[i+1:]...)
		}
	}
	res.Summary.SetCoverage()
	SortFindings(res.Findings)
}

// normalizeExternal maps Terraform's attribute paths onto plumb's: tags_all
// (tags including the provider's default_tags) is what plumb compares as
// tags, so tags_all.K becomes tags.K and duplicates collapse. Changes under
// attributes the engine compared itself are dropped: its verdict on those
// stands. Ignore rules on attribute paths apply as for the engine's own
// changes.
func normalizeExternal(in []model.Change, typ, id string, ig *Ignore, judged []string) []model.Change {
	out := make([]model.Change, 0, len(in))
	for _, c := range in {
		if slices.Contains(judged, pathRoot(c.Path)) {
			continue
		}
		if rest, ok := strings.CutPrefix(c.Path, "tags_all."); ok {
			c.Path = "tags." + rest
		}
		if ig.Path(typ, id, c.Path) {
			continue
		}
		out = append(out, c)
	}
	return unionChanges(nil, out)
}

// pathRoot is the top-level attribute of a path: "ingress" for
// "ingress[2].cidr_blocks[0]", "tags" for "tags.env".
func pathRoot(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// unionChanges merges change lists by path, the first occurrence of a path
// winning, and sorts the result by path.
func unionChanges(a, b []model.Change) []model.Change {
	seen := map[string]bool{}
	out := make([]model.Change, 0, len(a)+len(b))
	for _, list := range [][]model.Change{a, b} {
		for _, c := range list {
			if seen[c.Path] {
				continue
			}
			seen[c.Path] = true
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
