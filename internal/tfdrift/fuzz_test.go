package tfdrift

import (
	"encoding/json"
	"testing"
)

// FuzzReadPlan feeds arbitrary bytes to ReadPlan. The seeds in
// testdata/fuzz/FuzzReadPlan are the fixtures of the table tests (real
// plans, nested and sensitive values, every error case). ReadPlan must not
// panic, and a result it accepts must be usable: every drifted resource
// has an address and a type, a missing one has no changes, and the result
// encodes as JSON.
func FuzzReadPlan(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ReadPlan("fuzz.json", data)
		if err != nil {
			return
		}
		for _, d := range res.Drift {
			if d.Desired.Address == "" || d.Desired.Type == "" {
				t.Fatalf("drifted resource without address or type: %+v", d)
			}
			if d.Missing && len(d.Changes) != 0 {
				t.Fatalf("missing resource with changes: %+v", d)
			}
			if !d.Missing && len(d.Changes) == 0 {
				t.Fatalf("changed resource without changes: %+v", d)
			}
			if _, err := json.Marshal(d.Desired.Raw); err != nil {
				t.Fatalf("Raw does not encode: %v", err)
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}
