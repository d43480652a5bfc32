package aws

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/model"
)

// revertTagger sets and removes tag keys of one resource, leaving every other
// key as it is.
type revertTagger func(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error

// revertTaggers are the types whose tags the built-in revert writes, one API
// per service.
func revertTaggers() map[string]revertTagger {
	out := map[string]revertTagger{
		"aws_s3_bucket":            tagBucket,
		"aws_sqs_queue":            tagQueue,
		"aws_sns_topic":            tagTopic,
		"aws_cloudwatch_log_group": tagLogGroup,
		"aws_iam_role":             tagRole,
		"aws_iam_user":             tagUser,
	}
	for _, t := range []string{"aws_vpc", "aws_subnet", "aws_security_group", "aws_internet_gateway", "aws_nat_gateway",
		"aws_route_table", "aws_network_acl", "aws_eip", "aws_instance", "aws_ebs_volume", "aws_launch_template", "aws_flow_log"} {
		out[t] = tagEC2
	}
	return out
}

// tagEC2 uses CreateTags and DeleteTags, which take any EC2 resource id.
func tagEC2(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := ec2.NewFromConfig(c.cfg)
	if len(set) > 0 {
		var tags []ec2types.Tag
		for _, k := range sortedKeys(set) {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(set[k])})
		}
		if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{r.ID}, Tags: tags}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		var tags []ec2types.Tag
		for _, k := range unset {
			tags = append(tags, ec2types.Tag{Key: aws.String(k)})
		}
		if _, err := client.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{r.ID}, Tags: tags}); err != nil {
			return err
		}
	}
	return nil
}

// tagBucket reads the bucket's tag set and writes it back changed: S3
// replaces the whole set at once. The read is immediately before the
// write, so a key changed meanwhile is kept as it is now.
func tagBucket(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := s3.NewFromConfig(c.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	cur := map[string]string{}
	out, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(r.ID)})
	switch {
	case err == nil:
		for _, t := range out.TagSet {
			cur[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case isCode(err, []string{"NoSuchTagSet", "NoSuchTagSetError"}):
	default:
		return err
	}
	for k, v := range set {
		cur[k] = v
	}
	for _, k := range unset {
		delete(cur, k)
	}
	if len(cur) == 0 {
		_, err := client.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(r.ID)})
		return err
	}
	var tags []s3types.Tag
	for _, k := range sortedKeys(cur) {
		tags = append(tags, s3types.Tag{Key: aws.String(k), Value: aws.String(cur[k])})
	}
	_, err = client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(r.ID), Tagging: &s3types.Tagging{TagSet: tags}})
	return err
}

// tagQueue finds the queue's URL by name (the inventory's id is the
// canonical URL, which an endpoint may spell differently).
func tagQueue(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := sqs.NewFromConfig(c.cfg)
	name := r.ID[strings.LastIndexByte(r.ID, '/')+1:]
	u, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return err
	}
	if len(set) > 0 {
		if _, err := client.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: u.QueueUrl, Tags: set}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		if _, err := client.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: u.QueueUrl, TagKeys: unset}); err != nil {
			return err
		}
	}
	return nil
}

func tagTopic(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := sns.NewFromConfig(c.cfg)
	if len(set) > 0 {
		var tags []snstypes.Tag
		for _, k := range sortedKeys(set) {
			tags = append(tags, snstypes.Tag{Key: aws.String(k), Value: aws.String(set[k])})
		}
		if _, err := client.TagResource(ctx, &sns.TagResourceInput{ResourceArn: aws.String(r.ID), Tags: tags}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		if _, err := client.UntagResource(ctx, &sns.UntagResourceInput{ResourceArn: aws.String(r.ID), TagKeys: unset}); err != nil {
			return err
		}
	}
	return nil
}

func tagLogGroup(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	if r.ARN == "" {
		return errors.New("the log group's ARN is unknown")
	}
	client := cloudwatchlogs.NewFromConfig(c.cfg)
	if len(set) > 0 {
		if _, err := client.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(r.ARN), Tags: set}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		if _, err := client.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: aws.String(r.ARN), TagKeys: unset}); err != nil {
			return err
		}
	}
	return nil
}

func tagRole(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := iamClient(c)
	if len(set) > 0 {
		if _, err := client.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(iamName(r.ID)), Tags: iamTagList(set)}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		if _, err := client.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(iamName(r.ID)), TagKeys: unset}); err != nil {
			return err
		}
	}
	return nil
}

func tagUser(ctx context.Context, c *clients, r model.Resource, set map[string]string, unset []string) error {
	client := iamClient(c)
	if len(set) > 0 {
		if _, err := client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(iamName(r.ID)), Tags: iamTagList(set)}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		if _, err := client.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(iamName(r.ID)), TagKeys: unset}); err != nil {
			return err
		}
	}
	return nil
}

// iamName is the name in an IAM id (a name already, or an ARN).
func iamName(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id[strings.LastIndexByte(id, '/')+1:]
	}
	return id
}
