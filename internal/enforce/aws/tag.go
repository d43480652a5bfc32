package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/enforce"
	"plumb/internal/model"
)

// tagger reads and adds tags of one Terraform type.
type tagger struct {
	// read returns the resource's tags (gone when it no longer exists).
	read func(ctx context.Context, c *clients, r model.Resource) (tags map[string]string, gone bool, err error)
	// add adds tags, leaving the others as they are.
	add func(ctx context.Context, c *clients, r model.Resource, tags map[string]string) error
}

// ec2Tagger tags EC2 resources by id.
var ec2Tagger = tagger{
	read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
		out, err := ec2.NewFromConfig(c.cfg).DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
			{Name: aws.String("resource-id"), Values: []string{r.ID}}}})
		if err != nil {
			return nil, false, err
		}
		tags := map[string]string{}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return tags, false, nil
	},
	add: adding(tagEC2),
}

// adding is the add half of a tagger built on the revert's tag writer of
// the same type: setting keys and removing none.
func adding(write revertTagger) func(ctx context.Context, c *clients, r model.Resource, tags map[string]string) error {
	return func(ctx context.Context, c *clients, r model.Resource, tags map[string]string) error {
		return write(ctx, c, r, tags, nil)
	}
}

// taggers is the catalogue of types the tag handler can stamp.
func taggers() map[string]tagger {
	return map[string]tagger{
		"aws_instance": ec2Tagger, "aws_security_group": ec2Tagger, "aws_ebs_volume": ec2Tagger,
		"aws_vpc": ec2Tagger, "aws_subnet": ec2Tagger,
		"aws_s3_bucket": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				tags := map[string]string{}
				out, err := s3Client(c).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(r.ID)})
				switch {
				case isCode(err, []string{"NoSuchBucket"}):
					return nil, true, nil
				case isCode(err, []string{"NoSuchTagSet", "NoSuchTagSetError"}):
					return tags, false, nil
				case err != nil:
					return nil, false, err
				}
				for _, t := range out.TagSet {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				return tags, false, nil
			},
			// S3 replaces the whole set: tagBucket reads, merges, writes.
			add: adding(tagBucket),
		},
		"aws_iam_user": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				out, err := iam.NewFromConfig(c.cfg).ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(iamName(r.ID))})
				if isCode(err, []string{"NoSuchEntity"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				return iamTags(out.Tags), false, nil
			},
			add: adding(tagUser),
		},
		"aws_iam_role": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				out, err := iam.NewFromConfig(c.cfg).ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String(iamName(r.ID))})
				if isCode(err, []string{"NoSuchEntity"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				return iamTags(out.Tags), false, nil
			},
			add: adding(tagRole),
		},
		"aws_sqs_queue": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				out, err := sqs.NewFromConfig(c.cfg).ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(r.ID)})
				if isCode(err, []string{"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				tags := map[string]string{}
				for k, v := range out.Tags {
					tags[k] = v
				}
				return tags, false, nil
			},
			add: adding(tagQueue),
		},
		"aws_sns_topic": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				out, err := sns.NewFromConfig(c.cfg).ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: aws.String(r.ID)})
				if isCode(err, []string{"NotFound", "ResourceNotFound"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				tags := map[string]string{}
				for _, t := range out.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				return tags, false, nil
			},
			add: adding(tagTopic),
		},
		"aws_dynamodb_table": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				client := dynamodb.NewFromConfig(c.cfg)
				t, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.ID)})
				if isCode(err, []string{"ResourceNotFoundException"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				out, err := client.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: t.Table.TableArn})
				if err != nil {
					return nil, false, err
				}
				tags := map[string]string{}
				for _, tag := range out.Tags {
					tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
				return tags, false, nil
			},
			add: func(ctx context.Context, c *clients, r model.Resource, tags map[string]string) error {
				client := dynamodb.NewFromConfig(c.cfg)
				t, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.ID)})
				if err != nil {
					return err
				}
				var ts []dbtypes.Tag
				for _, k := range sortedKeys(tags) {
					ts = append(ts, dbtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
				}
				_, err = client.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: t.Table.TableArn, Tags: ts})
				return err
			},
		},
		"aws_lambda_function": {
			read: func(ctx context.Context, c *clients, r model.Resource) (map[string]string, bool, error) {
				f, err := lambda.NewFromConfig(c.cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
				if isCode(err, []string{"ResourceNotFoundException"}) {
					return nil, true, nil
				}
				if err != nil {
					return nil, false, err
				}
				tags := map[string]string{}
				for k, v := range f.Tags {
					tags[k] = v
				}
				return tags, false, nil
			},
			add: func(ctx context.Context, c *clients, r model.Resource, tags map[string]string) error {
				client := lambda.NewFromConfig(c.cfg)
				f, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
				if err != nil {
					return err
				}
				_, err = client.TagResource(ctx, &lambda.TagResourceInput{Resource: f.Configuration.FunctionArn, Tags: tags})
				return err
			},
		},
	}
}

func iamTagList(tags map[string]string) []iamtypes.Tag {
	var ts []iamtypes.Tag
	for _, k := range sortedKeys(tags) {
		ts = append(ts, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return ts
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tagBefore is what a tag action saves: the resource's tags before.
type tagBefore struct {
	Tags map[string]string `json:"tags"`
}

// tag stamps the action's tags (Params) on its resource, adding only the
// keys the resource does not carry yet: a created-by someone set by hand
// is theirs to keep.
func (e *Executor) tag(ctx context.Context, c *clients, a *enforce.Action, rec enforce.Recorder) (string, error) {
	t, ok := taggers()[a.Resource.Type]
	if !ok {
		return "", enforce.Permanent(fmt.Errorf("plumb cannot tag %s", a.Resource.Type))
	}
	cur, gone, err := t.read(ctx, c, a.Resource)
	if err != nil {
		return "", fmt.Errorf("read tags: %s", errorText(err))
	}
	if gone {
		return "already gone", nil
	}
	if _, err := rec.SaveBefore(ctx, tagBefore{Tags: cur}); err != nil {
		return "", err
	}
	add := map[string]string{}
	var kept []string
	for k, v := range a.Params {
		if _, has := cur[k]; has {
			kept = append(kept, k)
			continue
		}
		add[k] = v
	}
	sort.Strings(kept)
	if len(add) > 0 {
		if err := t.add(ctx, c, a.Resource, add); err != nil {
			return "", fmt.Errorf("add tags: %s", errorText(err))
		}
	}
	result := fmt.Sprintf("tagged %s", strings.Join(sortedKeys(add), ", "))
	if len(add) == 0 {
		result = "nothing to tag"
	}
	if len(kept) > 0 {
		result += fmt.Sprintf(" (%s already set, left as they are)", strings.Join(kept, ", "))
	}
	return result, nil
}
