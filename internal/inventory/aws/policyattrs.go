package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/model"
)

// Attributes read only for policy evaluation (session.policyAttrs). They
// carry the Terraform names and shapes the rules of the packs are written
// against and are never in a type's Compared list, so drift ignores them.
// Each costs one detail call per resource, made at most s.parallel at a
// time. A detail call that fails leaves its attribute absent: the live
// evaluation then skips the rules that need it instead of guessing, and
// the listing itself still succeeds. Only a cancelled context is an error.

// setAttr sets one attribute, creating the map when needed.
func setAttr(r *model.Resource, name string, v any) {
	if r.Attributes == nil {
		r.Attributes = map[string]any{}
	}
	r.Attributes[name] = v
}

// sqsPolicyAttributes reads sqs_managed_sse_enabled and kms_master_key_id
// of each queue; urls[i] is the URL ListQueues returned for res[i].
func sqsPolicyAttributes(ctx context.Context, s *session, client *sqs.Client, res []model.Resource, urls []string) error {
	return parallelDo(ctx, len(res), s.parallel, func(ctx context.Context, i int) error {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(urls[i]),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameSqsManagedSseEnabled,
				sqstypes.QueueAttributeNameKmsMasterKeyId,
			},
		})
		if err != nil {
			return ctx.Err()
		}
		setAttr(&res[i], "sqs_managed_sse_enabled", out.Attributes[string(sqstypes.QueueAttributeNameSqsManagedSseEnabled)] == "true")
		setAttr(&res[i], "kms_master_key_id", out.Attributes[string(sqstypes.QueueAttributeNameKmsMasterKeyId)])
		return nil
	})
}

// snsPolicyAttributes reads kms_master_key_id ("" when the topic is not
// encrypted) of each topic.
func snsPolicyAttributes(ctx context.Context, s *session, client *sns.Client, res []model.Resource) error {
	return parallelDo(ctx, len(res), s.parallel, func(ctx context.Context, i int) error {
		out, err := client.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(res[i].ARN)})
		if err != nil {
			return ctx.Err()
		}
		setAttr(&res[i], "kms_master_key_id", out.Attributes["KmsMasterKeyId"])
		return nil
	})
}

// kmsPolicyAttributes adds customer_master_key_spec and key_usage from the
// DescribeKey answer the lister already has, and enable_key_rotation.
// Rotation exists only for symmetric encryption keys; other keys report
// false, as Terraform's state does, without a call. A spec or usage the
// answer leaves out stays absent (and rotation unread), so the rotation
// rule is skipped rather than decided on a guess.
func kmsPolicyAttributes(ctx context.Context, client *kms.Client, r *model.Resource, md *kmstypes.KeyMetadata) error {
	spec := string(md.KeySpec)
	usage := string(md.KeyUsage)
	if spec == "" || usage == "" {
		return nil
	}
	setAttr(r, "customer_master_key_spec", spec)
	setAttr(r, "key_usage", usage)
	if spec != string(kmstypes.KeySpecSymmetricDefault) || usage != string(kmstypes.KeyUsageTypeEncryptDecrypt) {
		setAttr(r, "enable_key_rotation", false)
		return nil
	}
	out, err := client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil {
		return ctx.Err()
	}
	setAttr(r, "enable_key_rotation", out.KeyRotationEnabled)
	return nil
}

// dynamodbPolicyAttributes reads server_side_encryption of each table in
// Terraform's shape: a list of one {enabled, kms_key_arn} object. enabled
// is true only for encryption with a KMS key (AWS managed or customer
// managed) that is enabled or being enabled; the default encryption with
// an AWS owned key is enabled = false, as Terraform reports it.
func dynamodbPolicyAttributes(ctx context.Context, s *session, client *dynamodb.Client, res []model.Resource) error {
	return parallelDo(ctx, len(res), s.parallel, func(ctx context.Context, i int) error {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(res[i].ID)})
		if err != nil || out.Table == nil {
			return ctx.Err()
		}
		setAttr(&res[i], "server_side_encryption", []any{ddbSSEObject(out.Table.SSEDescription)})
		return nil
	})
}

// ddbSSEObject shapes an SSEDescription as one server_side_encryption
// block.
func ddbSSEObject(d *ddbtypes.SSEDescription) map[string]any {
	obj := map[string]any{"enabled": false, "kms_key_arn": ""}
	if d == nil {
		return obj
	}
	on := d.Status == ddbtypes.SSEStatusEnabled || d.Status == ddbtypes.SSEStatusEnabling
	if on && d.SSEType == ddbtypes.SSETypeKms {
		obj["enabled"] = true
		obj["kms_key_arn"] = aws.ToString(d.KMSMasterKeyArn)
	}
	return obj
}

// S3 keeps a bucket's encryption, policy and public access block as
// sub-resources that Terraform declares as types of their own
// (aws_s3_bucket_server_side_encryption_configuration, aws_s3_bucket_policy,
// aws_s3_bucket_public_access_block), each with the bucket name as import
// id, and the packs check them on those types. Listing them as live types
// would cost a drift scan one call per bucket and sub-resource; instead the
// bucket lister reads them only for policy evaluation and files each under
// its Terraform type name in the bucket's attributes (see s3Children), and
// PolicySubjects presents them as subjects of those types. A bucket gets
// such an entry only when the configuration exists, as Terraform has a
// resource only when one is declared.
const (
	s3EncryptionType   = "aws_s3_bucket_server_side_encryption_configuration"
	s3PolicyType       = "aws_s3_bucket_policy"
	s3PublicAccessType = "aws_s3_bucket_public_access_block"
)

// s3Children are the sub-resource types a bucket may carry in its
// attributes for PolicySubjects.
var s3Children = []string{s3EncryptionType, s3PolicyType, s3PublicAccessType}

// policyUnread is the attribute under which a lister records the
// sub-resource types it could not read for a resource (a detail call that
// failed): their absence is then not known, and rules about them as
// companions are not evaluated (see PolicyCoverage). PolicySubjects
// removes it.
const policyUnread = "plumb_policy_unread"

func markUnread(r *model.Resource, typ string) {
	list, _ := r.Attributes[policyUnread].([]string)
	setAttr(r, policyUnread, append(list, typ))
}

// s3PolicyAttributes reads, for each bucket, its default encryption
// (GetBucketEncryption), policy (GetBucketPolicy) and public access block
// (GetPublicAccessBlock): three calls per bucket. The "not configured"
// answer of each is a fact (no encryption configuration is an empty
// server_side_encryption_configuration, as in state; no policy or block is
// no sub-resource); any other failure leaves the attribute absent so the
// rules needing it are skipped, and records the sub-resource type as
// unread for the bucket, so that its absence is not taken as a fact.
func s3PolicyAttributes(ctx context.Context, s *session, client *s3.Client, res []model.Resource) error {
	return parallelDo(ctx, len(res), s.parallel, func(ctx context.Context, i int) error {
		r := &res[i]
		bucket := aws.String(r.ID)
		enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket})
		switch {
		case err == nil && enc.ServerSideEncryptionConfiguration != nil:
			// Two copies: the bucket's inline block and the separate
			// resource's rule list must not share mutable maps.
			rules := enc.ServerSideEncryptionConfiguration.Rules
			setAttr(r, "server_side_encryption_configuration", []any{map[string]any{"rule": s3EncryptionRules(rules)}})
			setAttr(r, s3EncryptionType, map[string]any{"bucket": r.ID, "expected_bucket_owner": "", "rule": s3EncryptionRules(rules)})
		case err != nil && apiErrorCode(err) == "ServerSideEncryptionConfigurationNotFoundError":
			setAttr(r, "server_side_encryption_configuration", []any{})
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			markUnread(r, s3EncryptionType)
		}
		pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: bucket})
		switch {
		case err == nil && aws.ToString(pol.Policy) != "":
			setAttr(r, s3PolicyType, map[string]any{"bucket": r.ID, "policy": aws.ToString(pol.Policy)})
		case err == nil || apiErrorCode(err) == "NoSuchBucketPolicy":
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			markUnread(r, s3PolicyType)
		}
		pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: bucket})
		switch {
		case err == nil && pab.PublicAccessBlockConfiguration != nil:
			c := pab.PublicAccessBlockConfiguration
			// An omitted setting is off, as AWS applies it and as the
			// provider records it.
			setAttr(r, s3PublicAccessType, map[string]any{
				"bucket":                  r.ID,
				"block_public_acls":       aws.ToBool(c.BlockPublicAcls),
				"block_public_policy":     aws.ToBool(c.BlockPublicPolicy),
				"ignore_public_acls":      aws.ToBool(c.IgnorePublicAcls),
				"restrict_public_buckets": aws.ToBool(c.RestrictPublicBuckets),
			})
		case err != nil && apiErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			markUnread(r, s3PublicAccessType)
		}
		return nil
	})
}

// s3EncryptionRules shapes encryption rules as the rule blocks of
// Terraform's encryption configuration: apply_server_side_encryption_by_default
// is a list of at most one {sse_algorithm, kms_master_key_id} object.
func s3EncryptionRules(in []s3types.ServerSideEncryptionRule) []any {
	out := make([]any, 0, len(in))
	for _, rule := range in {
		def := []any{}
		if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
			def = append(def, map[string]any{
				"sse_algorithm":     string(d.SSEAlgorithm),
				"kms_master_key_id": aws.ToString(d.KMSMasterKeyID),
			})
		}
		out = append(out, map[string]any{
			"apply_server_side_encryption_by_default": def,
			"bucket_key_enabled":                      aws.ToBool(rule.BucketKeyEnabled),
		})
	}
	return out
}

// cloudtrailPolicyAttributes reads enable_logging of each trail with
// GetTrailStatus, one call per trail, by ARN (a name would not do for an
// organization trail of another account).
func cloudtrailPolicyAttributes(ctx context.Context, s *session, client *cloudtrail.Client, res []model.Resource) error {
	return parallelDo(ctx, len(res), s.parallel, func(ctx context.Context, i int) error {
		out, err := client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(res[i].ARN)})
		if err != nil || out.IsLogging == nil {
			return ctx.Err()
		}
		setAttr(&res[i], "enable_logging", *out.IsLogging)
		return nil
	})
}
