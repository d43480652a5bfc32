package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"plumb/internal/drift"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

func createTable(t *testing.T, cfg aws.Config, name string) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
}

// TestThrottlingIsRetried puts a proxy in front of moto that answers the
// first requests of EC2 and DynamoDB with AWS's throttling errors. The
// SDK's adaptive retry must absorb them: a complete scan, no errors, and
// every attempt counted.
func TestThrottlingIsRetried(t *testing.T) {
	m := testenv.StartMoto(t)
	createTable(t, m.Config(t, "us-east-1"), "orders")
	proxy := testenv.FaultProxy(t, m.Endpoint, func(service string, n int) *testenv.Fault {
		switch {
		case service == "ec2" && n <= 2:
			return testenv.ThrottledQuery()
		case service == "dynamodb" && n <= 2:
			return testenv.ThrottledJSON()
		}
		return nil
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	ctx := context.Background()
	s, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_vpc", "aws_dynamodb_table"}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Fatalf("throttling leaked into errors: %+v", inv.Errors)
	}
	var tables int
	for _, r := range inv.Resources {
		if r.Type == "aws_dynamodb_table" && r.ID == "orders" {
			tables++
		}
	}
	if tables != 1 {
		t.Fatalf("table not listed after retries: %+v", inv.Resources)
	}
	// STS + DescribeVpcs + ListTables + tag index, plus 4 throttled attempts.
	if inv.APIAttempts < inv.APICalls+4 {
		t.Errorf("API attempts = %d for %d calls: the 4 throttled attempts were not counted", inv.APIAttempts, inv.APICalls)
	}
}

// TestAccessDeniedIsPartialNotMissing denies DynamoDB entirely. The scan
// must record the failed scope, list the rest, and the drift engine must
// count the declared table as not evaluated, never as missing.
func TestAccessDeniedIsPartialNotMissing(t *testing.T) {
	m := testenv.StartMoto(t)
	proxy := testenv.FaultProxy(t, m.Endpoint, func(service string, n int) *testenv.Fault {
		if service == "dynamodb" {
			return testenv.AccessDeniedJSON()
		}
		return nil
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	ctx := context.Background()
	s, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_vpc", "aws_dynamodb_table"}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 1 || inv.Errors[0].Scope != "aws/us-east-1/dynamodb" || !strings.Contains(inv.Errors[0].Message, "AccessDeniedException") {
		t.Fatalf("errors = %+v, want one aws/us-east-1/dynamodb AccessDeniedException", inv.Errors)
	}
	declared := []model.DesiredResource{stateInstance("aws_dynamodb_table", "orders", map[string]any{
		"id": "orders", "name": "orders", "arn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
		"tags": map[string]any{}, "tags_all": map[string]any{},
	})}
	res := drift.Diff(declared, inv, NewMapper(), drift.Options{})
	if len(res.Findings) != 0 || res.Summary.NotEvaluated != 1 {
		t.Fatalf("denied scope: findings %s, summary %+v", findingsText(res.Findings), res.Summary)
	}
}
