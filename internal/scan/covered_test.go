package scan

import (
	"testing"
	"time"

	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// TestCovered: a finding counts as covered only where the inventory read
// its type and region completely, so the lifecycle never resolves a
// finding in a scope that failed.
func TestCovered(t *testing.T) {
	inv := inventory.NewResult([]string{"us-east-1", "eu-west-1"})
	inv.Add("aws_s3_bucket", "us-east-1", nil)
	inv.Add("aws_iam_role", "", nil)
	inv.Fail(inventory.Scope{Provider: "aws", Region: "eu-west-1", Service: "s3"}, errDenied{})
	out := Assemble(time.Now(), Options{Environment: "prod"}, nil, inv, awsinv.NewMapper())
	tests := []struct {
		typ, region string
		want        bool
	}{
		{"aws_s3_bucket", "us-east-1", true},
		{"aws_s3_bucket", "eu-west-1", false},
		{"aws_iam_role", "", true},
		{"aws_iam_role", "us-east-1", true},
		{"aws_sqs_queue", "us-east-1", false},
	}
	for _, tc := range tests {
		f := model.Finding{Kind: model.KindMissing, Resource: model.Resource{Type: tc.typ, Region: tc.region}}
		if got := out.Covered(f); got != tc.want {
			t.Errorf("%s in %q: covered %v, want %v", tc.typ, tc.region, got, tc.want)
		}
	}
	// A conflict is judged from the states alone, which a scan reads
	// whole, so even one in a scope the inventory failed is covered.
	conflict := model.Finding{Kind: model.KindConflict, Resource: model.Resource{Type: "aws_s3_bucket", Region: "eu-west-1"}}
	if !out.Covered(conflict) {
		t.Error("a drift.conflict finding is not covered")
	}
}

type errDenied struct{}

func (errDenied) Error() string { return "AccessDenied" }
