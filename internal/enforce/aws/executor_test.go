package aws_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/model"
)

// deleteCase creates one resource by hand, names how the inventory finds
// it, and checks moto afterwards.
type deleteCase struct {
	typ      string
	settings func(*plumbconfig.Enforcement)
	// setup creates the resource and returns how to find it in the
	// inventory.
	setup func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool
	// gone checks, by reading moto back, that the resource and its
	// dependents are gone (and what must stay, stays).
	gone func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action)
	// writes are the write operations expected, in order.
	writes []string
}

func s3c(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestDeleteEachType deletes one real resource of every supported type
// in moto, checks moto afterwards, and runs the delete again: the second
// run finds the resource gone, makes no write and succeeds.
func TestDeleteEachType(t *testing.T) {
	_, cfg := startMoto(t)
	cases := map[string]deleteCase{
		"instance": {
			typ: "aws_instance",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				c := ec2.NewFromConfig(cfg)
				out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(amiID(t, ctx, c)), InstanceType: ec2types.InstanceTypeT3Micro,
					MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
				must(t, err, "RunInstances")
				return byID(aws.ToString(out.Instances[0].InstanceId))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.ID}})
				must(t, err, "DescribeInstances")
				if st := out.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameTerminated {
					t.Errorf("instance state %s, want terminated", st)
				}
			},
			writes: []string{"TerminateInstances"},
		},
		"volume with snapshot first": {
			typ: "aws_ebs_volume",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				out, err := ec2.NewFromConfig(cfg).CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(region + "a"), Size: aws.Int32(8)})
				must(t, err, "CreateVolume")
				return byID(aws.ToString(out.VolumeId))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action) {
				c := ec2.NewFromConfig(cfg)
				_, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{r.ID}})
				if apiCode(err) != "InvalidVolume.NotFound" {
					t.Errorf("volume still there: %v", err)
				}
				snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
					Filters: []ec2types.Filter{{Name: aws.String("tag:plumb:action"), Values: []string{a.ID}}}})
				must(t, err, "DescribeSnapshots")
				if len(snaps.Snapshots) != 1 || aws.ToString(snaps.Snapshots[0].VolumeId) != r.ID || snaps.Snapshots[0].State != ec2types.SnapshotStateCompleted {
					t.Errorf("snapshots of the deleted volume = %+v, want one completed", snaps.Snapshots)
				}
			},
			writes: []string{"CreateSnapshot", "DeleteVolume"},
		},
		"security group": {
			typ: "aws_security_group",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				out, err := ec2.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("by-hand"), Description: aws.String("x")})
				must(t, err, "CreateSecurityGroup")
				return byID(aws.ToString(out.GroupId))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				_, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{r.ID}})
				if apiCode(err) != "InvalidGroup.NotFound" {
					t.Errorf("group still there: %v", err)
				}
			},
			writes: []string{"DeleteSecurityGroup"},
		},
		"empty bucket": {
			typ: "aws_s3_bucket",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				_, err := s3c(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("by-hand-empty")})
				must(t, err, "CreateBucket")
				return byID("by-hand-empty")
			},
			gone:   bucketGone,
			writes: []string{"DeleteBucket"},
		},
		"versioned bucket with force_empty": {
			typ:      "aws_s3_bucket",
			settings: func(s *plumbconfig.Enforcement) { s.ForceEmpty = true },
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				c := s3c(cfg)
				b := aws.String("by-hand-full")
				_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
				must(t, err, "CreateBucket")
				_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
				must(t, err, "PutBucketVersioning")
				for _, body := range []string{"v1", "v2", "v3"} {
					_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("data.txt"), Body: strings.NewReader(body)})
					must(t, err, "PutObject")
				}
				_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("data.txt")}) // a delete marker
				must(t, err, "DeleteObject")
				return byID("by-hand-full")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action) {
				bucketGone(t, ctx, cfg, r, a)
				if !strings.Contains(a.Result, "removing 4 object versions") {
					t.Errorf("result %q, want 4 object versions removed", a.Result)
				}
			},
			writes: []string{"DeleteObjects", "DeleteBucket"},
		},
		"iam user with its dependents": {
			typ: "aws_iam_user",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				c := iam.NewFromConfig(cfg)
				u := aws.String("by-hand-user")
				_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: u})
				must(t, err, "CreateUser")
				_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: u})
				must(t, err, "CreateAccessKey")
				_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: u, Password: aws.String("Not-a-secret-123!")})
				must(t, err, "CreateLoginProfile")
				_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: u, PolicyName: aws.String("inline"),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
				must(t, err, "PutUserPolicy")
				_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: u, PolicyArn: customerPolicy(t, ctx, c, "user-attached")})
				must(t, err, "AttachUserPolicy")
				_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("by-hand-group")})
				must(t, err, "CreateGroup")
				_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: u, GroupName: aws.String("by-hand-group")})
				must(t, err, "AddUserToGroup")
				return byID("by-hand-user")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action) {
				c := iam.NewFromConfig(cfg)
				_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(r.ID)})
				if apiCode(err) != "NoSuchEntity" {
					t.Errorf("user still there: %v", err)
				}
				g, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("by-hand-group")})
				must(t, err, "GetGroup: the group must stay")
				if len(g.Users) != 0 {
					t.Errorf("group still lists %d users", len(g.Users))
				}
				var b struct {
					AccessKeys     []string          `json:"access_keys"`
					LoginProfile   bool              `json:"login_profile"`
					InlinePolicies []json.RawMessage `json:"inline_policies"`
				}
				must(t, json.Unmarshal(a.Before, &b), "decode before")
				if len(b.AccessKeys) != 1 || !b.LoginProfile || len(b.InlinePolicies) != 1 {
					t.Errorf("before-state %s", a.Before)
				}
			},
			writes: []string{"DeleteAccessKey", "DeleteLoginProfile", "DetachUserPolicy", "DeleteUserPolicy", "RemoveUserFromGroup", "DeleteUser"},
		},
		"iam role in an instance profile": {
			typ: "aws_iam_role",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				c := iam.NewFromConfig(cfg)
				lambdaRole(t, ctx, cfg, "by-hand-role")
				_, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("by-hand-profile")})
				must(t, err, "CreateInstanceProfile")
				_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("by-hand-profile"), RoleName: aws.String("by-hand-role")})
				must(t, err, "AddRoleToInstanceProfile")
				_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("by-hand-role"), PolicyArn: customerPolicy(t, ctx, c, "role-attached")})
				must(t, err, "AttachRolePolicy")
				_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("by-hand-role"), PolicyName: aws.String("inline"),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
				must(t, err, "PutRolePolicy")
				return byID("by-hand-role")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				c := iam.NewFromConfig(cfg)
				_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.ID)})
				if apiCode(err) != "NoSuchEntity" {
					t.Errorf("role still there: %v", err)
				}
				ip, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("by-hand-profile")})
				must(t, err, "GetInstanceProfile: the profile must stay")
				if len(ip.InstanceProfile.Roles) != 0 {
					t.Errorf("profile still holds %d roles", len(ip.InstanceProfile.Roles))
				}
			},
			writes: []string{"RemoveRoleFromInstanceProfile", "DetachRolePolicy", "DeleteRolePolicy", "DeleteRole"},
		},
		"iam policy attached and versioned": {
			typ: "aws_iam_policy",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				c := iam.NewFromConfig(cfg)
				doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`
				p, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("by-hand-policy"), PolicyDocument: aws.String(doc)})
				must(t, err, "CreatePolicy")
				_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: p.Policy.Arn, PolicyDocument: aws.String(doc), SetAsDefault: true})
				must(t, err, "CreatePolicyVersion")
				_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("policy-user")})
				must(t, err, "CreateUser")
				_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("policy-user"), PolicyArn: p.Policy.Arn})
				must(t, err, "AttachUserPolicy")
				return byID(aws.ToString(p.Policy.Arn))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				c := iam.NewFromConfig(cfg)
				_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(r.ID)})
				if apiCode(err) != "NoSuchEntity" {
					t.Errorf("policy still there: %v", err)
				}
				if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("policy-user")}); err != nil {
					t.Errorf("the user the policy was attached to must stay: %v", err)
				}
			},
			writes: []string{"DetachUserPolicy", "DeletePolicyVersion", "DeletePolicy"},
		},
		"queue": {
			typ: "aws_sqs_queue",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				_, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("by-hand-queue")})
				must(t, err, "CreateQueue")
				return byName("by-hand-queue")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				_, err := sqs.NewFromConfig(cfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("by-hand-queue")})
				if err == nil {
					t.Error("queue still there")
				}
			},
			writes: []string{"DeleteQueue"},
		},
		"topic": {
			typ: "aws_sns_topic",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				out, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("by-hand-topic")})
				must(t, err, "CreateTopic")
				return byID(aws.ToString(out.TopicArn))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				_, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(r.ID)})
				if apiCode(err) != "NotFound" {
					t.Errorf("topic still there: %v", err)
				}
			},
			writes: []string{"DeleteTopic"},
		},
		"table": {
			typ: "aws_dynamodb_table",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("by-hand-table"),
					BillingMode:          dbtypes.BillingModePayPerRequest,
					AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dbtypes.ScalarAttributeTypeS}},
					KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dbtypes.KeyTypeHash}}})
				must(t, err, "CreateTable")
				return byID("by-hand-table")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				_, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.ID)})
				if apiCode(err) != "ResourceNotFoundException" {
					t.Errorf("table still there: %v", err)
				}
			},
			writes: []string{"DeleteTable"},
		},
		"log group": {
			typ: "aws_cloudwatch_log_group",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				_, err := cloudwatchlogs.NewFromConfig(cfg).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/by-hand/logs")})
				must(t, err, "CreateLogGroup")
				return byID("/by-hand/logs")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				out, err := cloudwatchlogs.NewFromConfig(cfg).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(r.ID)})
				must(t, err, "DescribeLogGroups")
				if len(out.LogGroups) != 0 {
					t.Errorf("log group still there")
				}
			},
			writes: []string{"DeleteLogGroup"},
		},
		"database with final snapshot": {
			typ: "aws_db_instance",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				_, err := rds.NewFromConfig(cfg).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("by-hand-db"),
					DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
					MasterUsername: aws.String("plumb"), MasterUserPassword: aws.String("not-a-secret-1")})
				must(t, err, "CreateDBInstance")
				return byID("by-hand-db")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action) {
				c := rds.NewFromConfig(cfg)
				_, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(r.ID)})
				if apiCode(err) != "DBInstanceNotFound" {
					t.Errorf("database still there: %v", err)
				}
				snap := enforceaws.FinalSnapshotID(r.ID, a.ID)
				out, err := c.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)})
				must(t, err, "DescribeDBSnapshots: the final snapshot must exist")
				if len(out.DBSnapshots) != 1 || aws.ToString(out.DBSnapshots[0].DBInstanceIdentifier) != r.ID {
					t.Errorf("final snapshot %s = %+v", snap, out.DBSnapshots)
				}
			},
			writes: []string{"DeleteDBInstance"},
		},
		"function": {
			typ: "aws_lambda_function",
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				createFunction(t, ctx, cfg, "by-hand-fn", lambdaRole(t, ctx, cfg, "fn-role"))
				return byID("by-hand-fn")
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
				_, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
				if apiCode(err) != "ResourceNotFoundException" {
					t.Errorf("function still there: %v", err)
				}
			},
			writes: []string{"DeleteFunction"},
		},
		"kms key scheduled, never deleted at once": {
			typ:      "aws_kms_key",
			settings: func(s *plumbconfig.Enforcement) { s.KMSDeletionWindowDays = 9 },
			setup: func(t *testing.T, ctx context.Context, cfg aws.Config) func(model.Resource) bool {
				out, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("by hand")})
				must(t, err, "CreateKey")
				return byID(aws.ToString(out.KeyMetadata.KeyId))
			},
			gone: func(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, a *enforce.Action) {
				out, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.ID)})
				must(t, err, "DescribeKey: the key must still exist")
				if out.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
					t.Errorf("key state %s, want PendingDeletion", out.KeyMetadata.KeyState)
				}
				if d := out.KeyMetadata.DeletionDate; d == nil || time.Until(*d) < 8*24*time.Hour || time.Until(*d) > 10*24*time.Hour {
					t.Errorf("deletion date %v, want 9 days ahead", d)
				}
				if !strings.Contains(a.Result, "9 days") {
					t.Errorf("result %q", a.Result)
				}
			},
			writes: []string{"ScheduleKeyDeletion"},
		},
	}
	ex := newExecutor(t)
	if got, want := len(ex.Types()), len(cases)-1; got != want {
		t.Errorf("executor supports %d types, the test covers %d: %v", got, want, ex.Types())
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := listed(t, tc.typ, tc.setup(t, ctx, cfg))
			s := plumbconfig.Enforcement{KMSDeletionWindowDays: 30}
			if tc.settings != nil {
				tc.settings(&s)
			}
			a := &enforce.Action{ID: fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:20], Verb: enforce.VerbDelete, Resource: r}
			if !ex.Supports(enforce.VerbDelete, tc.typ) {
				t.Fatalf("executor does not support %s", tc.typ)
			}
			found, unknown, err := ex.Read(ctx, []model.Resource{r})
			if err != nil || len(unknown) > 0 || len(found) != 1 {
				t.Fatalf("read back: found %d, unknown %v, err %v", len(found), unknown, err)
			}
			if reason, err := ex.Check(ctx, a, found[enforce.ResourceKey(r)], s, nil); err != nil || reason != "" {
				t.Fatalf("precondition: %q %v", reason, err)
			}
			rec := &memRecorder{}
			result, err := ex.Execute(ctx, a, s, rec)
			if err != nil {
				t.Fatalf("delete: %v (calls %v)", err, rec.ops(false))
			}
			a.Result, a.Before = result, rec.before
			if len(rec.before) == 0 {
				t.Error("no before-state saved")
			}
			if got := rec.ops(true); !slices.Equal(got, tc.writes) {
				t.Errorf("writes %v, want %v", got, tc.writes)
			}
			tc.gone(t, ctx, cfg, r, a)

			// Idempotent: a second run finds nothing to do and writes nothing.
			_, w0 := ex.Calls()
			again := &memRecorder{}
			result, err = ex.Execute(ctx, a, s, again)
			_, w1 := ex.Calls()
			if err != nil || result != "already gone" || w1 != w0 || len(again.ops(true)) != 0 {
				t.Errorf("second run: %q, %v, %d writes %v", result, err, w1-w0, again.ops(true))
			}
			found, unknown, err = ex.Read(ctx, []model.Resource{r})
			if err != nil || len(unknown) > 0 || len(found) != 0 {
				t.Errorf("read back after delete: found %v, unknown %v, err %v", found, unknown, err)
			}
		})
	}
}

func bucketGone(t *testing.T, ctx context.Context, cfg aws.Config, r model.Resource, _ *enforce.Action) {
	t.Helper()
	_, err := s3c(cfg).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.ID)})
	if apiCode(err) != "NotFound" {
		t.Errorf("bucket %s still there: %v", r.ID, err)
	}
}

// customerPolicy creates a customer managed policy to attach (moto does
// not load AWS's managed policies).
func customerPolicy(t *testing.T, ctx context.Context, c *iam.Client, name string) *string {
	t.Helper()
	p, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
	must(t, err, "CreatePolicy")
	return p.Policy.Arn
}
