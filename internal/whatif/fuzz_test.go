package whatif

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. Seeds live in
// testdata/fuzz/FuzzParse (the fixtures plus small edge cases).
// Invariants: no panic; an error names the file and comes without a
// result; a nil error means every change has a resource id, name and
// change type, and Findings accepts the result without panicking and with
// consistent counts.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"status":"Succeeded","changes":[{"resourceId":"/subscriptions/s/resourceGroups/rg/providers/A.B/c/d","changeType":"Modify","delta":[{"path":"p","propertyChangeType":"Array","children":[{"path":"0","propertyChangeType":"Create","after":1}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.json"
		res, err := Parse(name, data)
		if err != nil {
			if res != nil {
				t.Fatal("result returned with an error")
			}
			if !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, list := range [][]Change{res.Changes, res.Potential} {
			for _, c := range list {
				if c.ResourceID == "" || c.ChangeType == "" {
					t.Fatalf("change without id or type: %+v", c)
				}
			}
		}
		fs, errs, sum := Findings(res, "fuzz")
		if sum.Changed+sum.Missing+sum.Unmanaged != len(fs) {
			t.Fatalf("summary %+v does not match %d findings", sum, len(fs))
		}
		if n := len(res.Changes) + len(res.Potential) + len(res.Unidentified); sum.InSync+sum.Changed+sum.Missing+sum.Unmanaged+sum.NotEvaluated != n {
			t.Fatalf("summary %+v does not account for %d changes", sum, n)
		}
		if sum.Coverage < 0 || sum.Coverage > 1 {
			t.Fatalf("coverage %v", sum.Coverage)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Scope, "azure/whatif") || e.Message == "" {
				t.Fatalf("bad scope error %+v", e)
			}
		}
		for _, f := range fs {
			if f.Fingerprint == "" || f.Changes == nil || f.Resource.ID == "" {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}
