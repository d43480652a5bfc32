package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func s3Quarantiners() map[string]quarantiner {
	return map[string]quarantiner{
		"aws_s3_bucket": {
			rank: rankStorage, read: readBucketQuarantine, quarantine: quarantineBucket, release: releaseBucket,
			notFound: []string{"NoSuchBucket", "NotFound"},
		},
	}
}

// publicAccessBlock is a bucket's public access block, as saved.
type publicAccessBlock struct {
	BlockPublicAcls       bool `json:"block_public_acls"`
	IgnorePublicAcls      bool `json:"ignore_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

// bucketQuarantine is what a bucket quarantine saves and release
// restores: the public access block and the bucket policy (nil: there was
// none, and release removes plumb's) and the tags.
type bucketQuarantine struct {
	Bucket            string             `json:"bucket"`
	PublicAccessBlock *publicAccessBlock `json:"public_access_block"`
	Policy            *string            `json:"policy"`
	Tags              map[string]string  `json:"tags"`
}

func readBucketQuarantine(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := s3Client(c)
	b := bucketQuarantine{Bucket: r.ID, Tags: map[string]string{}}
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(r.ID)})
	switch {
	case err == nil && pab.PublicAccessBlockConfiguration != nil:
		p := pab.PublicAccessBlockConfiguration
		b.PublicAccessBlock = &publicAccessBlock{BlockPublicAcls: aws.ToBool(p.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(p.IgnorePublicAcls),
			BlockPublicPolicy: aws.ToBool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(p.RestrictPublicBuckets)}
	case err != nil && !isCode(err, []string{"NoSuchPublicAccessBlockConfiguration"}):
		return nil, false, err
	}
	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(r.ID)})
	switch {
	case err == nil:
		b.Policy = pol.Policy
	case !isCode(err, []string{"NoSuchBucketPolicy"}):
		return nil, false, err
	}
	tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(r.ID)})
	switch {
	case err == nil:
		for _, t := range tags.TagSet {
			b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case !isCode(err, []string{"NoSuchTagSet", "NoSuchTagSetError"}):
		return nil, false, err
	}
	return b, false, nil
}

// bucketDenyPolicy denies every S3 action on the bucket and its objects
// to every principal but the break-glass roles and plumb itself (so a
// release can remove the policy again).
func bucketDenyPolicy(bucket, partition string, spared []string) (string, error) {
	arn := "arn:" + partition + ":s3:::" + bucket
	st := map[string]any{
		"Sid": "PlumbQuarantine", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
		"Resource": []string{arn, arn + "/*"},
	}
	if len(spared) > 0 {
		st["Condition"] = map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": spared}}
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b), err
}

// quarantineBucket turns the public access block fully on, replaces the
// bucket policy by a deny-all that spares the break-glass roles and
// plumb, and tags the bucket.
func quarantineBucket(ctx context.Context, c *clients, e *Executor, a *enforce.Action, s plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b bucketQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	me, err := e.callerIdentity(ctx, c)
	if err != nil {
		return "", err
	}
	spared := append(append([]string{}, s.BreakGlassRoles...), me.principalPatterns()...)
	sort.Strings(spared)
	policy, err := bucketDenyPolicy(b.Bucket, partitionOf(me.arn), spared)
	if err != nil {
		return "", err
	}
	client := s3Client(c)
	on := aws.Bool(true)
	if _, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(b.Bucket),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: on, IgnorePublicAcls: on,
			BlockPublicPolicy: on, RestrictPublicBuckets: on}}); err != nil {
		return "", err
	}
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b.Bucket), Policy: aws.String(policy)}); err != nil {
		return "", err
	}
	tags := map[string]string{TagQuarantined: a.Fingerprint}
	for k, v := range b.Tags {
		if k != TagQuarantined {
			tags[k] = v
		}
	}
	if err := putBucketTags(ctx, client, b.Bucket, tags); err != nil {
		return "", err
	}
	return fmt.Sprintf("public access blocked, deny-all bucket policy (sparing %d principal pattern(s))", len(spared)), nil
}

// releaseBucket puts back the saved public access block, policy and tags,
// removing each where there was none.
func releaseBucket(ctx context.Context, c *clients, _ *enforce.Action, raw json.RawMessage) (string, error) {
	var b bucketQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := s3Client(c)
	bucket := aws.String(b.Bucket)
	// The policy first: while it is on, it is what keeps people out.
	if b.Policy == nil {
		if _, err := client.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: bucket}); err != nil && !isCode(err, []string{"NoSuchBucketPolicy"}) {
			return "", err
		}
	} else if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: b.Policy}); err != nil {
		return "", err
	}
	if p := b.PublicAccessBlock; p == nil {
		if _, err := client.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: bucket}); err != nil &&
			!isCode(err, []string{"NoSuchPublicAccessBlockConfiguration"}) {
			return "", err
		}
	} else if _, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: bucket,
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(p.BlockPublicAcls),
			IgnorePublicAcls: aws.Bool(p.IgnorePublicAcls), BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy),
			RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets)}}); err != nil {
		return "", err
	}
	if err := putBucketTags(ctx, client, b.Bucket, b.Tags); err != nil {
		return "", err
	}
	what := "policy removed"
	if b.Policy != nil {
		what = "policy restored"
	}
	return what + ", public access block and tags restored", nil
}

// putBucketTags sets a bucket's whole tag set (S3 has no per-key call);
// an empty set removes the tagging.
func putBucketTags(ctx context.Context, client *s3.Client, bucket string, tags map[string]string) error {
	if len(tags) == 0 {
		_, err := client.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(bucket)})
		return err
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	set := make([]s3types.Tag, 0, len(keys))
	for _, k := range keys {
		set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err := client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: set}})
	return err
}

// partitionOf reads the partition from an ARN (aws when unknown).
func partitionOf(arn string) string {
	if len(arn) > 4 && arn[:4] == "arn:" {
		rest := arn[4:]
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' {
				if i > 0 {
					return rest[:i]
				}
				break
			}
		}
	}
	return "aws"
}
