package aws

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/testenv"
)

// policyAttrCase is one resource created in moto: the policy attributes
// a PolicyAttributes scan must report for it and whether the pack rule
// about them must be violated.
type policyAttrCase struct {
	name   string
	typ    string
	rule   string
	create func(t *testing.T, ctx context.Context, cfg aws.Config) (id string)
	// want holds the policy attributes the scan must report.
	want map[string]any
	// absent are attributes the scan must not report even with
	// PolicyAttributes (a sub-resource the bucket does not have).
	absent   []string
	violated bool
}

// policyAttrOps are the detail operations PolicyAttributes adds, one per
// resource of their type.
var policyAttrOps = map[string]string{
	"GetQueueAttributes":   "aws_sqs_queue",
	"GetTopicAttributes":   "aws_sns_topic",
	"GetKeyRotationStatus": "aws_kms_key",
	"DescribeTable":        "aws_dynamodb_table",
	"GetBucketEncryption":  "aws_s3_bucket",
	"GetBucketPolicy":      "aws_s3_bucket",
	"GetPublicAccessBlock": "aws_s3_bucket",
	"GetTrailStatus":       "aws_cloudtrail",
}

// paBucketPolicy is the policy of the configured bucket of
// policyAttrCases.
const paBucketPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pa-configured/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`

func policyAttrCases() []policyAttrCase {
	sqsQueue := func(name string, attrs map[string]string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
			storageIAMErr(t, "create queue", err)
			a, n, _ := sqsSplitURL(aws.ToString(o.QueueUrl))
			return sqsCanonicalURL(cfg.Region, a, n)
		}
	}
	snsTopic := func(name string, attrs map[string]string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
			storageIAMErr(t, "create topic", err)
			return aws.ToString(o.TopicArn)
		}
	}
	kmsKey := func(rotate bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			c := kms.NewFromConfig(cfg)
			o, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("policy attrs"), KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
			storageIAMErr(t, "create key", err)
			if rotate {
				_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: o.KeyMetadata.KeyId})
				storageIAMErr(t, "enable key rotation", err)
			}
			return aws.ToString(o.KeyMetadata.KeyId)
		}
	}
	ddbTable := func(name string, sse *ddbtypes.SSESpecification) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
				TableName:            aws.String(name),
				AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
				KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
				BillingMode:          ddbtypes.BillingModePayPerRequest,
				SSESpecification:     sse,
			})
			storageIAMErr(t, "create table", err)
			return name
		}
	}
	s3Bucket := func(name string, configure bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			c := s3TestClient(cfg)
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
			storageIAMErr(t, "create bucket", err)
			if !configure {
				return name
			}
			_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket: aws.String(name),
				ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("alias/data")},
					BucketKeyEnabled:                   aws.Bool(true),
				}}},
			})
			storageIAMErr(t, "put bucket encryption", err)
			_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(paBucketPolicy)})
			storageIAMErr(t, "put bucket policy", err)
			_, err = c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: aws.String(name),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true),
				},
			})
			storageIAMErr(t, "put public access block", err)
			return name
		}
	}
	trail := func(name string, logging bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			// The bucket of the "s3 unconfigured" case, created before.
			arn := cloudtrailCreate(t, ctx, cfg, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String("pa-plain")})
			if logging {
				_, err := cloudtrail.NewFromConfig(cfg).StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)})
				storageIAMErr(t, "start logging", err)
			}
			return arn
		}
	}
	encRule := []any{map[string]any{
		"apply_server_side_encryption_by_default": []any{map[string]any{"sse_algorithm": "aws:kms", "kms_master_key_id": "alias/data"}},
		"bucket_key_enabled":                      true,
	}}
	return []policyAttrCase{
		{
			name: "s3 configured", typ: "aws_s3_bucket", rule: "aws-s3-bucket-default-encryption",
			create: s3Bucket("pa-configured", true),
			want: map[string]any{
				"server_side_encryption_configuration": []any{map[string]any{"rule": encRule}},
				s3EncryptionType:                       map[string]any{"bucket": "pa-configured", "expected_bucket_owner": "", "rule": encRule},
				s3PolicyType:                           map[string]any{"bucket": "pa-configured", "policy": paBucketPolicy},
				s3PublicAccessType: map[string]any{
					"bucket": "pa-configured", "block_public_acls": true, "block_public_policy": true,
					"ignore_public_acls": false, "restrict_public_buckets": true,
				},
			},
		},
		{
			// No configuration is a fact: no encryption (an empty block,
			// as in state), and no policy or public access block at all.
			name: "s3 unconfigured", typ: "aws_s3_bucket", rule: "aws-s3-bucket-default-encryption",
			create:   s3Bucket("pa-plain", false),
			want:     map[string]any{"server_side_encryption_configuration": []any{}},
			absent:   []string{s3EncryptionType, s3PolicyType, s3PublicAccessType},
			violated: true,
		},
		{
			name: "cloudtrail logging", typ: "aws_cloudtrail", rule: "aws-cloudtrail-logging-enabled",
			create: trail("pa-on", true),
			want:   map[string]any{"enable_logging": true},
		},
		{
			name: "cloudtrail stopped", typ: "aws_cloudtrail", rule: "aws-cloudtrail-logging-enabled",
			create:   trail("pa-off", false),
			want:     map[string]any{"enable_logging": false},
			violated: true,
		},
		{
			name: "sqs kms key", typ: "aws_sqs_queue", rule: "aws-sqs-encrypted",
			create: sqsQueue("enc-kms", map[string]string{"KmsMasterKeyId": "alias/aws/sqs", "SqsManagedSseEnabled": "false"}),
			want:   map[string]any{"sqs_managed_sse_enabled": false, "kms_master_key_id": "alias/aws/sqs"},
		},
		{
			name: "sqs managed sse", typ: "aws_sqs_queue", rule: "aws-sqs-encrypted",
			create: sqsQueue("enc-sse", map[string]string{"SqsManagedSseEnabled": "true"}),
			want:   map[string]any{"sqs_managed_sse_enabled": true, "kms_master_key_id": ""},
		},
		{
			name: "sqs plain", typ: "aws_sqs_queue", rule: "aws-sqs-encrypted",
			create:   sqsQueue("plain", map[string]string{"SqsManagedSseEnabled": "false"}),
			want:     map[string]any{"sqs_managed_sse_enabled": false, "kms_master_key_id": ""},
			violated: true,
		},
		{
			name: "sns kms key", typ: "aws_sns_topic", rule: "aws-sns-encrypted",
			create: snsTopic("enc", map[string]string{"KmsMasterKeyId": "alias/aws/sns"}),
			want:   map[string]any{"kms_master_key_id": "alias/aws/sns"},
		},
		{
			name: "sns plain", typ: "aws_sns_topic", rule: "aws-sns-encrypted",
			create:   snsTopic("plain", nil),
			want:     map[string]any{"kms_master_key_id": ""},
			violated: true,
		},
		{
			name: "kms rotating", typ: "aws_kms_key", rule: "aws-kms-key-rotation",
			create: kmsKey(true),
			want:   map[string]any{"enable_key_rotation": true, "customer_master_key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT"},
		},
		{
			name: "kms not rotating", typ: "aws_kms_key", rule: "aws-kms-key-rotation",
			create:   kmsKey(false),
			want:     map[string]any{"enable_key_rotation": false, "customer_master_key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT"},
			violated: true,
		},
		{
			name: "dynamodb kms", typ: "aws_dynamodb_table", rule: "aws-dynamodb-kms-encryption",
			create: ddbTable("enc", &ddbtypes.SSESpecification{Enabled: aws.Bool(true), SSEType: ddbtypes.SSETypeKms}),
			// kms_key_arn is the AWS managed key's ARN; checked below.
			want: map[string]any{"server_side_encryption": nil},
		},
		{
			name: "dynamodb default", typ: "aws_dynamodb_table", rule: "aws-dynamodb-kms-encryption",
			create:   ddbTable("plain", nil),
			want:     map[string]any{"server_side_encryption": []any{map[string]any{"enabled": false, "kms_key_arn": ""}}},
			violated: true,
		},
	}
}

// countOperations records every API operation the scanner sends.
func countOperations(counts map[string]int, mu *sync.Mutex) func(*config.LoadOptions) error {
	mw := middleware.InitializeMiddlewareFunc("plumbTestCountOps", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		mu.Lock()
		counts[awsmw.GetOperationName(ctx)]++
		mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	return config.WithAPIOptions([]func(*middleware.Stack) error{
		func(st *middleware.Stack) error { return st.Initialize.Add(mw, middleware.After) },
	})
}

func TestPolicyAttributes(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, "us-east-1")
	cases := policyAttrCases()
	ids := make([]string, len(cases))
	perType := map[string]int{}
	var types []string
	for i, c := range cases {
		ids[i] = c.create(t, ctx, cfg)
		if perType[c.typ] == 0 {
			types = append(types, c.typ)
		}
		perType[c.typ]++
	}

	scan := func(policyAttrs bool) (map[string]model.Resource, map[string]int, int64) {
		t.Helper()
		var mu sync.Mutex
		ops := map[string]int{}
		sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: types, PolicyAttributes: policyAttrs}, countOperations(ops, &mu))
		if err != nil {
			t.Fatalf("new scanner: %v", err)
		}
		res, err := sc.Scan(ctx)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		if len(res.Errors) > 0 {
			t.Fatalf("scan errors: %+v", res.Errors)
		}
		byID := map[string]model.Resource{}
		for _, r := range res.Resources {
			byID[r.Type+" "+r.ID] = r
		}
		return byID, ops, sc.APICalls()
	}
	without, opsWithout, callsWithout := scan(false)
	with, opsWith, callsWith := scan(true)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := c.typ + " " + ids[i]
			r, ok := with[key]
			if !ok {
				t.Fatalf("%s not listed with PolicyAttributes", key)
			}
			for attr, want := range c.want {
				got, ok := r.Attributes[attr]
				if !ok {
					t.Errorf("%s absent with PolicyAttributes: %#v", attr, r.Attributes)
					continue
				}
				if attr == "server_side_encryption" && want == nil {
					// Encrypted with the AWS managed key, whose ARN moto chooses.
					l, _ := got.([]any)
					if len(l) != 1 {
						t.Errorf("%s = %#v, want one object", attr, got)
						continue
					}
					obj, _ := l[0].(map[string]any)
					if obj["enabled"] != true || obj["kms_key_arn"] == "" {
						t.Errorf("%s = %#v, want enabled with a key ARN", attr, got)
					}
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", attr, got, want)
				}
			}
			for _, attr := range c.absent {
				if v, ok := r.Attributes[attr]; ok {
					t.Errorf("%s = %#v, want absent", attr, v)
				}
			}
			r, ok = without[key]
			if !ok {
				t.Fatalf("%s not listed without PolicyAttributes", key)
			}
			for attr := range c.want {
				if v, ok := r.Attributes[attr]; ok {
					t.Errorf("%s = %#v read without PolicyAttributes", attr, v)
				}
			}
		})
	}

	// A drift scan makes none of the detail calls; a policy scan makes
	// exactly one per resource and nothing else more.
	extra := 0
	for op, typ := range policyAttrOps {
		if opsWithout[op] != 0 {
			t.Errorf("%s called %d times without PolicyAttributes", op, opsWithout[op])
		}
		if opsWith[op] != perType[typ] {
			t.Errorf("%s called %d times with PolicyAttributes, want %d", op, opsWith[op], perType[typ])
		}
		extra += perType[typ]
	}
	for op, n := range opsWithout {
		if _, detail := policyAttrOps[op]; !detail && opsWith[op] != n {
			t.Errorf("%s called %d times with PolicyAttributes, %d without", op, opsWith[op], n)
		}
	}
	if callsWith != callsWithout+int64(extra) {
		t.Errorf("API calls: %d with PolicyAttributes, %d without; want %d more", callsWith, callsWithout, extra)
	}

	// End to end: the pack rules decide on the live attributes.
	set, err := policy.LoadPacks([]string{"cis-aws-3.0", "pci-dss-4.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var live []model.Resource
	for _, r := range with {
		live = append(live, r)
	}
	outs, err := set.Evaluate(ctx, PolicySubjects(live))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ rule, id string }
	got := map[key]policy.Outcome{}
	for _, o := range outs {
		if o.Rule != nil && o.Subject != nil {
			got[key{o.Rule.ID, o.Subject.ID}] = o
		}
	}
	for i, c := range cases {
		o, ok := got[key{c.rule, ids[i]}]
		switch {
		case !ok:
			t.Errorf("%s: rule %s not evaluated", c.name, c.rule)
		case o.Err != nil:
			t.Errorf("%s: rule %s: %v", c.name, c.rule, o.Err)
		case o.Violated != c.violated:
			t.Errorf("%s: rule %s violated = %v, want %v", c.name, c.rule, o.Violated, c.violated)
		}
	}
}
