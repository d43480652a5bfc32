package scan

import (
	"testing"
	"time"

	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/state"
)

// BenchmarkDiff100k times the comparison half of a scan with the real AWS
// state mapper: 100,000 desired resources against a live inventory of the
// same estate with 2% of tags edited.
func BenchmarkDiff100k(b *testing.B) {
	desired, err := state.Parse("synthetic.tfstate", state.Synthetic(100000))
	if err != nil {
		b.Fatal(err)
	}
	mapper := awsinv.NewMapper()
	inv := inventory.NewResult([]string{"us-east-1"})
	for _, t := range mapper.Types() {
		inv.Add(t.Name, "us-east-1", nil)
		inv.Add(t.Name, "", nil)
	}
	var live []model.Resource
	for i, d := range desired {
		r, ok := mapper.FromState(d.Type, d.Raw)
		if !ok {
			continue
		}
		if i%50 == 0 {
			r.Tags = map[string]string{"env": "edited"}
		}
		live = append(live, r)
	}
	inv.Add("bench", "us-east-1", live)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := Assemble(time.Now(), Options{Environment: "bench"}, desired, inv, mapper)
		if out.Report.Summary.Changed == 0 {
			b.Fatal("no changes found")
		}
	}
	b.ReportMetric(float64(len(desired))*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}
