package state

import (
	"fmt"
	"strings"

	"plumb/internal/model"
)

// Document is one state document as read: where it came from, which state
// it is a version of, and what it declares.
//
// Terraform gives every state a lineage when it is first created and keeps
// it for the state's whole life, across backends (`terraform state pull`,
// `state push`, a copy of the file, an S3 object); each write increments
// the serial. Two documents with one lineage are therefore two versions of
// one state, and the higher serial is the newer.
type Document struct {
	// Source names the document: a path, an s3:// URL, or whatever the
	// caller passed to ParseDocument. It is also every resource's Source.
	Source string
	// Lineage is the state's lineage, "" when the document has none.
	Lineage string
	// Serial is the state's serial, 0 when absent or not an integer.
	Serial int64
	// Resources are the managed resource instances, in state order.
	Resources []model.DesiredResource
	// DataSources counts the data sources the state held (and plumb skips).
	DataSources int

	// digest identifies a document without lineage by its bytes.
	digest [32]byte
}

// Empty returns a *NoResourcesError when the document declares no managed
// resources, nil otherwise.
func (d *Document) Empty() error {
	if len(d.Resources) > 0 {
		return nil
	}
	return &NoResourcesError{Source: d.Source, DataSources: d.DataSources}
}

// Group is one state reached through one or more sources.
type Group struct {
	// Kept is the document read: the highest serial; among documents of
	// that serial, the first in source order.
	Kept *Document
	// Same are the other documents with Kept's lineage and serial (or, for
	// a document without lineage, the same bytes), in source order.
	Same []*Document
	// Older are documents of the same lineage with a lower serial, in
	// source order. Their resources are not read: the newer serial is what
	// Terraform will act on.
	Older []*Document
}

// Documents returns every document of the group: Kept, then Same, then
// Older.
func (g Group) Documents() []*Document {
	out := make([]*Document, 0, 1+len(g.Same)+len(g.Older))
	out = append(out, g.Kept)
	out = append(out, g.Same...)
	return append(out, g.Older...)
}

// Note tells the reader that several sources reached this state and which
// one was read, or returns "" when only one source did.
func (g Group) Note() string {
	if len(g.Same)+len(g.Older) == 0 {
		return ""
	}
	var b strings.Builder
	if g.Kept.Lineage == "" {
		fmt.Fprintf(&b, "Identical state files without lineage were reached through %d sources and read once, from %s", 1+len(g.Same), g.Kept.Source)
	} else {
		fmt.Fprintf(&b, "State lineage %s was reached through %d sources and read once: serial %d, from %s", g.Kept.Lineage, 1+len(g.Same)+len(g.Older), g.Kept.Serial, g.Kept.Source)
	}
	if len(g.Same) > 0 {
		names := make([]string, len(g.Same))
		for i, d := range g.Same {
			names[i] = d.Source
		}
		fmt.Fprintf(&b, " (also in %s)", strings.Join(names, ", "))
	}
	if len(g.Older) > 0 {
		names := make([]string, len(g.Older))
		for i, d := range g.Older {
			names[i] = fmt.Sprintf("%s (serial %d)", d.Source, d.Serial)
		}
		fmt.Fprintf(&b, "; older serials were not read: %s", strings.Join(names, ", "))
	}
	b.WriteString(".")
	return b.String()
}

// Dedupe groups documents that are versions of one state, so that a state
// reached through several sources (two globs, a copy of the file, an S3
// object and `terraform state pull` of the same backend) is read once.
// Documents with the same lineage form a group, whose newest serial is
// kept; equal lineage and serial mean the same state, whatever the bytes
// (`terraform state pull` re-encodes what the backend holds). A document
// without lineage (not written by Terraform) is the same state as another
// only when their bytes are identical.
//
// Groups come in the order of their first document, so the result follows
// the sources' order.
func Dedupe(docs []*Document) []Group {
	var groups []Group
	index := map[string]int{}
	pos := make(map[*Document]int, len(docs))
	for i, d := range docs {
		pos[d] = i
	}
	for _, d := range docs {
		key := "lineage:" + d.Lineage
		if d.Lineage == "" {
			key = fmt.Sprintf("digest:%x", d.digest)
		}
		i, ok := index[key]
		if !ok {
			index[key] = len(groups)
			groups = append(groups, Group{Kept: d})
			continue
		}
		g := &groups[i]
		switch {
		case d.Serial > g.Kept.Serial:
			// The documents kept so far are all older than this one.
			g.Older = insertOrdered(g.Older, append([]*Document{g.Kept}, g.Same...), pos)
			g.Kept, g.Same = d, nil
		case d.Serial == g.Kept.Serial:
			g.Same = append(g.Same, d)
		default:
			g.Older = insertOrdered(g.Older, []*Document{d}, pos)
		}
	}
	return groups
}

// insertOrdered adds more to list, keeping source order (pos).
func insertOrdered(list, more []*Document, pos map[*Document]int) []*Document {
	list = append(list, more...)
	// Insertion sort: groups are small.
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && pos[list[j]] < pos[list[j-1]]; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	return list
}

// Resources returns the resources of every group's kept document, in
// group order, and the NoResourcesError of each kept document without
// resources. An empty document
// that a newer serial superseded is not an error, and an empty newest
// serial hides the resources of older ones: that state was destroyed.
func Resources(groups []Group) ([]model.DesiredResource, []error) {
	total := 0
	for _, g := range groups {
		total += len(g.Kept.Resources)
	}
	out := make([]model.DesiredResource, 0, total)
	var empty []error
	for _, g := range groups {
		if err := g.Kept.Empty(); err != nil {
			empty = append(empty, err)
			continue
		}
		out = append(out, g.Kept.Resources...)
	}
	return out, empty
}
