package whatif

import (
	"bytes"
	"fmt"
	"testing"
)

// syntheticDoc builds a REST-shaped what-if result of at least size bytes
// that looks like a large Complete-mode run: every resource carries full
// before/after payloads, a third are modified with nested array deltas,
// and the rest are spread over the other change types.
func syntheticDoc(size int) (data []byte, changes int) {
	var b bytes.Buffer
	b.Grow(size + size/8)
	b.WriteString(`{"status":"Succeeded","properties":{"changes":[`)
	types := []string{"Create", "Delete", "Modify", "Modify", "Modify", "NoChange", "NoChange", "Ignore", "Deploy", "Unsupported"}
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		ct := types[i%len(types)]
		id := fmt.Sprintf("/subscriptions/7d1e4c2a-9b3f-4e6d-8a5c-1f2e3d4c5b%02d/resourceGroups/rg-app-%03d/providers/Microsoft.Network/networkSecurityGroups/nsg-%06d", i%100, i%300, i)
		payload := fmt.Sprintf(`{"apiVersion":"2023-09-01","id":%q,"type":"Microsoft.Network/networkSecurityGroups","name":"nsg-%06d","location":"westeurope","tags":{"env":"prod","team":"team-%d","costCenter":"cc-%04d"},"properties":{"provisioningState":"Succeeded","resourceGuid":"0b9c8d7e-6f5a-4b3c-2d1e-%012d","securityRules":[`, id, i, i%17, i%999, i)
		var rules bytes.Buffer
		for r := range 8 {
			if r > 0 {
				rules.WriteByte(',')
			}
			fmt.Fprintf(&rules, `{"name":"rule-%d","properties":{"access":"Allow","direction":"Inbound","priority":%d,"protocol":"Tcp","sourceAddressPrefix":"10.%d.0.0/16","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRanges":["443","8443","%d"]}}`, r, 100+r*10, r, 9000+r)
		}
		full := payload + rules.String() + `]}}`
		fmt.Fprintf(&b, `{"resourceId":%q,"changeType":%q`, id, ct)
		switch ct {
		case "Create":
			fmt.Fprintf(&b, `,"after":%s`, full)
		case "Delete", "Ignore":
			fmt.Fprintf(&b, `,"before":%s`, full)
		case "Unsupported":
			b.WriteString(`,"unsupportedReason":"The resource id could not be computed before deployment."`)
		case "Deploy":
		default:
			fmt.Fprintf(&b, `,"before":%s,"after":%s`, full, full)
		}
		if ct == "Modify" {
			fmt.Fprintf(&b, `,"delta":[{"path":"tags.costCenter","propertyChangeType":"Modify","before":"cc-%04d","after":"cc-0000"},`+
				`{"path":"properties.provisioningState","propertyChangeType":"NoEffect","before":"Succeeded"},`+
				`{"path":"properties.securityRules","propertyChangeType":"Array","children":[`+
				`{"path":"1","propertyChangeType":"Modify","children":[{"path":"properties.access","propertyChangeType":"Modify","before":"Allow","after":"Deny"},`+
				`{"path":"properties.destinationPortRanges","propertyChangeType":"Array","children":[{"path":"2","propertyChangeType":"Delete","before":"9001"}]}]},`+
				`{"path":"8","propertyChangeType":"Create","after":{"name":"deny-all","properties":{"access":"Deny","priority":4096,"protocol":"*"}}}]}]`, i%999)
		}
		b.WriteByte('}')
		changes++
	}
	b.WriteString(`]}}`)
	return b.Bytes(), changes
}

// BenchmarkParse50MB parses a ~50 MB what-if document and reports MB/s.
func BenchmarkParse50MB(b *testing.B) {
	data, n := syntheticDoc(50 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := Parse("synthetic.json", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Changes) != n {
			b.Fatalf("got %d changes, want %d", len(res.Changes), n)
		}
	}
}

// BenchmarkFindings50MB measures turning the parsed document into findings.
func BenchmarkFindings50MB(b *testing.B) {
	data, _ := syntheticDoc(50 << 20)
	res, err := Parse("synthetic.json", data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Findings(res, "prod")
	}
}

func TestSyntheticDoc(t *testing.T) {
	data, n := syntheticDoc(1 << 20)
	res, err := Parse("synthetic.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != n {
		t.Fatalf("got %d changes, want %d", len(res.Changes), n)
	}
	fs, errs, sum := Findings(res, "prod")
	if len(fs) == 0 || len(errs) == 0 || sum.Changed == 0 {
		t.Fatalf("synthetic document exercises too little: %d findings, %d errors, %+v", len(fs), len(errs), sum)
	}
}
