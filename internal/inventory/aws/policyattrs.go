package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
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
