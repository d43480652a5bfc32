package tfplan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the plan reader. It must never panic,
// every error must name the file, and a plan it accepts yields subjects
// that each have a type and an address. The seeds are the real plans in
// testdata plus the corpus in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"create", "change", "ordinary/compliant", "ordinary/violations"} {
		data, err := os.ReadFile(filepath.Join("testdata", name, "plan.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		subjects, err := Read("fuzz.json", data, t.TempDir())
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range subjects {
			if s.Type == "" || s.Address == "" {
				t.Fatalf("subject without type or address: %+v", s)
			}
		}
	})
}
