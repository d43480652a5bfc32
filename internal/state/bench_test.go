package state

import (
	"runtime"
	"testing"
)

// BenchmarkParse100k parses a synthetic state of 100,000 resources (a large
// organisation's estate in one state, 186 MB as Terraform writes it) and
// reports the throughput in resources per second. The previous result is
// collected outside the timed region, so the process's peak RSS reflects one
// parse: the document plus what it decodes to.
func BenchmarkParse100k(b *testing.B) {
	const n = 100_000
	data := Synthetic(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rs, err := Parse("synthetic.tfstate", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != n {
			b.Fatalf("got %d resources, want %d", len(rs), n)
		}
		b.StopTimer()
		rs = nil
		runtime.GC()
		b.StartTimer()
		_ = rs
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}
