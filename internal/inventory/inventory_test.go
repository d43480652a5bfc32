package inventory

import (
	"errors"
	"reflect"
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

// TestFailTypeKeepsOneErrorPerScope: types of one scope failing alike give
// one error whose message is the cause; different causes are each named
// with their type; a whole-scope failure stays apart.
func TestFailTypeKeepsOneErrorPerScope(t *testing.T) {
	r := NewResult([]string{"us-east-1"})
	ec2 := Scope{Provider: "aws", Region: "us-east-1", Service: "ec2"}
	rds := Scope{Provider: "aws", Region: "us-east-1", Service: "rds"}
	r.FailType(ec2, "aws_vpc", errors.New("connection refused (after 3 attempts)"))
	r.FailType(ec2, "aws_subnet", errors.New("connection refused (after 3 attempts)"))
	r.FailType(rds, "aws_db_instance", errors.New("AccessDenied: no"))
	r.FailType(rds, "aws_db_subnet_group", errors.New("Throttling: slow down"))
	r.Sort()
	want := []ScopeError{
		{Scope: "aws/us-east-1/ec2", Message: "connection refused (after 3 attempts)", Types: []string{"aws_subnet", "aws_vpc"}},
		{Scope: "aws/us-east-1/rds", Message: "aws_db_instance: AccessDenied: no; aws_db_subnet_group: Throttling: slow down", Types: []string{"aws_db_instance", "aws_db_subnet_group"}},
	}
	if !reflect.DeepEqual(r.Errors, want) {
		t.Errorf("errors = %+v\nwant %+v", r.Errors, want)
	}
}
