package aws

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func dynamodbDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_dynamodb_table": {rank: rankStorage, read: readTable, check: checkTable, delete: deleteTable,
			notFound: []string{"ResourceNotFoundException"}},
	}
}

// tableBefore is a table's description.
type tableBefore struct {
	TableName          string `json:"table_name"`
	Status             string `json:"status"`
	ItemCount          int64  `json:"item_count"`
	SizeBytes          int64  `json:"size_bytes"`
	BillingMode        string `json:"billing_mode,omitempty"`
	DeletionProtection bool   `json:"deletion_protection"`
}

func describeTable(ctx context.Context, c *clients, name string) (*dbtypes.TableDescription, error) {
	out, err := dynamodb.NewFromConfig(c.cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	return out.Table, nil
}

func readTable(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	t, err := describeTable(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if t == nil || t.TableStatus == dbtypes.TableStatusDeleting {
		return nil, true, nil
	}
	b := tableBefore{TableName: r.ID, Status: string(t.TableStatus), ItemCount: aws.ToInt64(t.ItemCount),
		SizeBytes: aws.ToInt64(t.TableSizeBytes), DeletionProtection: aws.ToBool(t.DeletionProtectionEnabled)}
	if t.BillingModeSummary != nil {
		b.BillingMode = string(t.BillingModeSummary.BillingMode)
	}
	return b, false, nil
}

func checkTable(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	t, err := describeTable(ctx, c, r.ID)
	if err != nil || t == nil {
		return "", err
	}
	if aws.ToBool(t.DeletionProtectionEnabled) {
		return "deletion protection is on", nil
	}
	return "", nil
}

func deleteTable(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	if _, err := dynamodb.NewFromConfig(c.cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(a.Resource.ID)}); err != nil {
		return "", err
	}
	return "deleted", nil
}
