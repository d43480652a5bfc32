package aws

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// dynamodbFixtures creates one tagged on-demand table the way
// aws_dynamodb_table does.
func dynamodbFixtures() []fixture {
	return []fixture{{
		typ: "aws_dynamodb_table",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			const name = "plumb-fixture-table"
			tags := map[string]string{"env": "test"}
			o := ddbTestCreate(t, ctx, dynamodb.NewFromConfig(cfg), name, tags)
			return map[string]any{
				"id": name, "name": name, "arn": aws.ToString(o.TableDescription.TableArn),
				"billing_mode": "PAY_PER_REQUEST", "hash_key": "id", "range_key": "",
				"attribute":     []any{map[string]any{"name": "id", "type": "S"}},
				"read_capacity": float64(0), "write_capacity": float64(0),
				"stream_enabled": false, "stream_arn": "", "stream_label": "", "stream_view_type": "",
				"table_class": "STANDARD", "deletion_protection_enabled": false,
				"global_secondary_index": []any{}, "local_secondary_index": []any{}, "replica": []any{},
				"point_in_time_recovery": []any{map[string]any{"enabled": false}},
				"ttl":                    []any{map[string]any{"attribute_name": "", "enabled": false}},
				"tags":                   storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
			}, nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(str(attrs, "name"))})
			storageIAMErr(t, "delete table", err)
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			_, err := dynamodb.NewFromConfig(cfg).TagResource(ctx, &dynamodb.TagResourceInput{
				ResourceArn: aws.String(str(attrs, "arn")),
				Tags:        []ddbtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
			})
			storageIAMErr(t, "tag table", err)
			return "tags.env"
		},
	}}
}

func ddbTestCreate(t *testing.T, ctx context.Context, c *dynamodb.Client, name string, tags map[string]string) *dynamodb.CreateTableOutput {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, ddbtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	o, err := c.CreateTable(ctx, in)
	if apiErrorCode(err) == "ResourceInUseException" {
		// Names are unique within a fresh moto, so an existing table is
		// this very request's first attempt: moto created it, the answer
		// was lost on a dropped connection, and the SDK retried.
		d, derr := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		storageIAMErr(t, "describe table "+name+" after a retried create", derr)
		return &dynamodb.CreateTableOutput{TableDescription: d.Table}
	}
	storageIAMErr(t, "create table "+name, err)
	return o
}

func TestDynamoDBFixtures(t *testing.T) {
	storageIAMFixtureRoundTrip(t, dynamodbFixtures())
}

func TestDynamoDBList(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(m.Config(t, "us-east-1"))
	// More tables than one ListTables page (100).
	names := storageIAMNames("plumb-t", 120)
	for i, name := range names {
		var tags map[string]string
		if i%2 == 0 {
			tags = map[string]string{"n": name}
		}
		ddbTestCreate(t, ctx, c, name, tags)
	}

	res, calls := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_dynamodb_table"})
	if len(res.Resources) != len(names) {
		t.Fatalf("listed %d tables, want %d", len(res.Resources), len(names))
	}
	for i, name := range names {
		tags := map[string]string{}
		if i%2 == 0 {
			tags["n"] = name
		}
		want := model.Resource{Provider: "aws", Type: "aws_dynamodb_table", ID: name, Region: "us-east-1", Account: "123456789012",
			Name: name, ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/" + name, Tags: tags}
		if got, _ := storageIAMFind(res, "aws_dynamodb_table", name); !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	}
	// STS, two ListTables pages, one tag index page (60 tagged tables).
	if calls > 4 {
		t.Errorf("%d API calls for 120 tables, want at most 4", calls)
	}

	for _, tc := range []struct {
		name string
		deny string
	}{
		{"tag index failure leaves tags unknown", "Resource Groups Tagging API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_dynamodb_table"}, storageIAMDenyService(tc.deny))
			if len(res.Resources) != len(names) {
				t.Fatalf("listed %d tables, want %d", len(res.Resources), len(names))
			}
			for _, r := range res.Resources {
				if r.Tags != nil {
					t.Fatalf("%s: tags %v, want nil", r.ID, r.Tags)
				}
			}
		})
	}

	// STS refusing the caller is the identity gate failing: nothing is
	// listed, and the one error says so (an unknown account no longer
	// reaches the listers).
	sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_dynamodb_table"}}, storageIAMDenyService("STS"))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := sc.Scan(ctx)
	var ae *inventory.AccessError
	if !errors.As(err, &ae) || ae.Reason != inventory.AccessRefused || !strings.Contains(ae.Error(), "AccessDenied: denied by test") {
		t.Errorf("scan with STS denied = %v, %v; want a refused AccessError", inv, err)
	}
}

func TestDynamoDBTableFromState(t *testing.T) {
	mapper := NewMapper()
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  model.Resource
		ok    bool
	}{
		{"provider 5.100 state", map[string]any{
			"arn": "arn:aws:dynamodb:us-east-1:123456789012:table/tf-table", "id": "tf-table", "name": "tf-table",
			"billing_mode": "PAY_PER_REQUEST", "hash_key": "id",
			"tags": map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
		}, model.Resource{Provider: "aws", Type: "aws_dynamodb_table", ID: "tf-table", Region: "us-east-1", Account: "123456789012",
			Name: "tf-table", ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/tf-table",
			Tags: map[string]string{"env": "dev", "managed_by": "terraform"}}, true},
		{"id only", map[string]any{"id": "t"}, model.Resource{Provider: "aws", Type: "aws_dynamodb_table", ID: "t", Name: "t"}, true},
		{"nothing", map[string]any{"arn": ""}, model.Resource{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapper.FromState("aws_dynamodb_table", tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
