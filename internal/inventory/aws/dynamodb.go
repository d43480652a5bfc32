package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// dynamodbListers lists DynamoDB tables. ListTables returns names only; the
// ARN is built from region, account and name and the tags come from the
// session's tag index, so no table costs a DescribeTable call. Nothing else
// is compared because every other attribute would need one; only when
// policies are evaluated does each table cost a DescribeTable, for its
// server_side_encryption.
func dynamodbListers() []lister {
	return []lister{{
		Type:      inventory.Type{Name: "aws_dynamodb_table", Service: "dynamodb"},
		list:      listDynamoDBTables,
		fromState: dynamodbTableFromState,
	}}
}

// ddbPageSize is the largest page ListTables accepts.
const ddbPageSize = 100

func listDynamoDBTables(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := dynamodb.NewFromConfig(s.config(region))
	p := dynamodb.NewListTablesPaginator(client, &dynamodb.ListTablesInput{Limit: aws.Int32(ddbPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list DynamoDB tables in %s: %w", region, err)
		}
		for _, name := range page.TableNames {
			r := model.Resource{ID: name, Region: region, Account: s.account, Name: name}
			// Without the account (STS failed) there is no ARN to look the
			// tags up by; they stay nil, which means unknown.
			if s.account != "" {
				r.ARN = ddbTableARN(region, s.account, name)
			}
			out = append(out, r)
		}
	}
	tagFromIndexOrUnknown(ctx, s, region, tagsDynamoDB, out)
	if s.policyAttrs {
		if err := dynamodbPolicyAttributes(ctx, s, client, out); err != nil {
			return nil, fmt.Errorf("describe DynamoDB tables in %s: %w", region, err)
		}
	}
	return out, nil
}

// dynamodbTableFromState maps an aws_dynamodb_table instance; its import id
// is the table name.
func dynamodbTableFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	arn := str(attrs, "arn")
	return model.Resource{
		ID:      name,
		Account: arnField(arn, 4),
		Name:    name,
		ARN:     arn,
		Tags:    stateTags(attrs),
	}, true
}

func ddbTableARN(region, account, name string) string {
	return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", regionToPartition(region), region, account, name)
}
