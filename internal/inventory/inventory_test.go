package inventory

import (
	"errors"
	"testing"

	"plumb/internal/model"
)

func TestCompleteness(t *testing.T) {
	aws := NewResult([]string{"us-east-1", "eu-west-1"})
	aws.Add("aws_vpc", "us-east-1", nil)
	aws.Add("aws_vpc", "eu-west-1", nil)
	aws.Add("aws_sqs_queue", "us-east-1", nil)
	aws.Fail(Scope{Provider: "aws", Region: "eu-west-1", Service: "sqs"}, errors.New("denied"))
	aws.Add("aws_iam_role", "", []model.Resource{{Type: "aws_iam_role", ID: "r"}})

	azure := NewResult([]string{"sub-1"})
	azure.Add("azurerm_resource_group", "sub-1", nil)

	all := NewResult(nil)
	all.Absorb(aws)
	all.Absorb(azure)

	tests := []struct {
		typ      string
		region   string
		complete bool
		anywhere bool
	}{
		{"aws_vpc", "us-east-1", true, true},
		{"aws_sqs_queue", "us-east-1", true, false},
		{"aws_sqs_queue", "eu-west-1", false, false},
		{"aws_iam_role", "", true, true},
		{"azurerm_resource_group", "sub-1", true, true},
		{"aws_s3_bucket", "us-east-1", false, false},
	}
	for _, tc := range tests {
		if got := all.Complete(tc.typ, tc.region); got != tc.complete {
			t.Errorf("Complete(%s, %s) = %v, want %v", tc.typ, tc.region, got, tc.complete)
		}
		if got := all.CompleteAnywhere(tc.typ); got != tc.anywhere {
			t.Errorf("CompleteAnywhere(%s) = %v, want %v", tc.typ, got, tc.anywhere)
		}
	}
	if len(all.Resources) != 1 || len(all.Errors) != 1 || all.Errors[0].Scope != "aws/eu-west-1/sqs" {
		t.Errorf("absorbed resources %d, errors %+v", len(all.Resources), all.Errors)
	}
}
