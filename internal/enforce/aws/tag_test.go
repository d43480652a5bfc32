package aws_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// TestTagEachType runs the tag handler's action on a real resource of
// every type it can stamp: the new keys are added, a key the resource
// already carried keeps its value, and the inventory reads both back.
func TestTagEachType(t *testing.T) {
	_, cfg := startMoto(t)
	owner := "owner"
	ec2Tags := func(rt ec2types.ResourceType) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: []ec2types.Tag{{Key: aws.String(owner), Value: aws.String("bob")}}}}
	}
	iamOwner := []iamtypes.Tag{{Key: aws.String(owner), Value: aws.String("bob")}}
	cases := []struct {
		name, typ string
		// setup creates the resource carrying owner=bob and says how to
		// find it in the inventory.
		setup func(t *testing.T, ctx context.Context) func(model.Resource) bool
	}{
		{"instance", "aws_instance", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			c := ec2.NewFromConfig(cfg)
			out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(amiID(t, ctx, c)), InstanceType: ec2types.InstanceTypeT3Micro,
				MinCount: aws.Int32(1), MaxCount: aws.Int32(1), TagSpecifications: ec2Tags(ec2types.ResourceTypeInstance)})
			must(t, err, "RunInstances")
			return byID(aws.ToString(out.Instances[0].InstanceId))
		}},
		{"security group", "aws_security_group", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			out, err := ec2.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("tag-me"),
				Description: aws.String("x"), TagSpecifications: ec2Tags(ec2types.ResourceTypeSecurityGroup)})
			must(t, err, "CreateSecurityGroup")
			return byID(aws.ToString(out.GroupId))
		}},
		{"volume", "aws_ebs_volume", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			out, err := ec2.NewFromConfig(cfg).CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(region + "a"), Size: aws.Int32(8),
				TagSpecifications: ec2Tags(ec2types.ResourceTypeVolume)})
			must(t, err, "CreateVolume")
			return byID(aws.ToString(out.VolumeId))
		}},
		{"vpc", "aws_vpc", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			out, err := ec2.NewFromConfig(cfg).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.42.0.0/16"),
				TagSpecifications: ec2Tags(ec2types.ResourceTypeVpc)})
			must(t, err, "CreateVpc")
			return byID(aws.ToString(out.Vpc.VpcId))
		}},
		{"bucket", "aws_s3_bucket", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			c := s3c(cfg)
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tag-me-bucket")})
			must(t, err, "CreateBucket")
			_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("tag-me-bucket"),
				Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(owner), Value: aws.String("bob")}}}})
			must(t, err, "PutBucketTagging")
			return byID("tag-me-bucket")
		}},
		{"IAM user", "aws_iam_user", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tag-me-user"), Tags: iamOwner})
			must(t, err, "CreateUser")
			return byID("tag-me-user")
		}},
		{"IAM role", "aws_iam_role", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			_, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("tag-me-role"), Tags: iamOwner,
				AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
			must(t, err, "CreateRole")
			return byID("tag-me-role")
		}},
		{"queue", "aws_sqs_queue", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			_, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("tag-me-queue"), Tags: map[string]string{owner: "bob"}})
			must(t, err, "CreateQueue")
			return byName("tag-me-queue")
		}},
		{"topic", "aws_sns_topic", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			out, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("tag-me-topic"),
				Tags: []snstypes.Tag{{Key: aws.String(owner), Value: aws.String("bob")}}})
			must(t, err, "CreateTopic")
			return byID(aws.ToString(out.TopicArn))
		}},
		{"table", "aws_dynamodb_table", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("tag-me-table"),
				AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dbtypes.ScalarAttributeTypeS}},
				KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dbtypes.KeyTypeHash}},
				BillingMode:          dbtypes.BillingModePayPerRequest, Tags: []dbtypes.Tag{{Key: aws.String(owner), Value: aws.String("bob")}}})
			must(t, err, "CreateTable")
			return byID("tag-me-table")
		}},
		{"function", "aws_lambda_function", func(t *testing.T, ctx context.Context) func(model.Resource) bool {
			createFunction(t, ctx, cfg, "tag-me-fn", lambdaRole(t, ctx, cfg, "tag-me-fn-role"))
			fn, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("tag-me-fn")})
			must(t, err, "GetFunction")
			_, err = lambda.NewFromConfig(cfg).TagResource(ctx, &lambda.TagResourceInput{Resource: fn.Configuration.FunctionArn, Tags: map[string]string{owner: "bob"}})
			must(t, err, "TagResource")
			return byID("tag-me-fn")
		}},
	}
	ex := newExecutor(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			match := tc.setup(t, ctx)
			r := listed(t, tc.typ, match)
			if !ex.Supports(enforce.VerbTag, tc.typ) {
				t.Fatalf("executor cannot tag %s", tc.typ)
			}
			a := &enforce.Action{ID: "tag-" + tc.typ, Verb: enforce.VerbTag, Resource: r,
				Params: map[string]string{"created-by": "alice", owner: "alice"}}
			rec := &memRecorder{}
			result, err := ex.Execute(ctx, a, plumbconfig.Enforcement{}, rec)
			if err != nil {
				t.Fatalf("tag: %v (calls %v)", err, rec.ops(false))
			}
			if want := "tagged created-by (owner already set, left as they are)"; result != want {
				t.Errorf("result %q, want %q", result, want)
			}
			after := listed(t, tc.typ, match)
			if after.Tags["created-by"] != "alice" || after.Tags[owner] != "bob" {
				t.Errorf("tags after = %v, want created-by=alice added and owner=bob kept", after.Tags)
			}
		})
	}
}
