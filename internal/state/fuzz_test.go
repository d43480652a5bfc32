package state

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse. Seeds live in
// testdata/fuzz/FuzzParse. Invariants: no panic; every error names the
// file; a nil error means at least one resource, each with a type, an
// address that ends with the type and name, and the file as source; and the
// fast decoder agrees with encoding/json whenever it accepts a document;
// ParseDocument fails exactly when Parse fails for another reason than an
// empty state, and a document is always the same state as itself (one
// Dedupe group, the first copy kept).
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "main", "instances": [{"attributes": {"id": "vpc-1"}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.tfstate"
		rs, err := Parse(name, data)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error does not name the file: %v", err)
			}
			if rs != nil {
				t.Fatalf("resources returned with an error")
			}
			var nr *NoResourcesError
			if errors.As(err, &nr) != errors.Is(err, ErrNoResources) {
				t.Fatalf("NoResourcesError and ErrNoResources disagree: %v", err)
			}
		} else {
			if len(rs) == 0 {
				t.Fatal("nil error with no resources")
			}
			for _, r := range rs {
				if r.Type == "" || r.Address == "" {
					t.Fatalf("resource without type or address: %#v", r)
				}
				if !strings.Contains(r.Address, r.Type+".") {
					t.Fatalf("address %q does not contain type %q", r.Address, r.Type)
				}
				if r.Source != name || r.Mode != "managed" || r.Raw == nil {
					t.Fatalf("bad resource %#v", r)
				}
			}
		}
		compareWithStdlib(t, data)

		doc, derr := ParseDocument(name, data)
		if (derr != nil) != (err != nil && !errors.Is(err, ErrNoResources)) {
			t.Fatalf("ParseDocument error %v, Parse error %v", derr, err)
		}
		if derr != nil {
			return
		}
		if len(doc.Resources) != len(rs) || doc.Source != name {
			t.Fatalf("document holds %d resources from %q, Parse %d", len(doc.Resources), doc.Source, len(rs))
		}
		if doc.Lineage != strings.TrimSpace(doc.Lineage) {
			t.Fatalf("lineage %q not trimmed", doc.Lineage)
		}
		again, err := ParseDocument("copy.tfstate", data)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		groups := Dedupe([]*Document{doc, again})
		if len(groups) != 1 || groups[0].Kept != doc || len(groups[0].Same) != 1 || groups[0].Note() == "" {
			t.Fatalf("a document and its copy: %d groups", len(groups))
		}
	})
}
