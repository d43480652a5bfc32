package aws

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func s3Deleters() map[string]deleter {
	return map[string]deleter{
		"aws_s3_bucket": {
			rank: rankStorage, read: readBucket, check: checkBucket, delete: deleteBucket,
			notFound: []string{"NoSuchBucket", "NotFound"},
		},
	}
}

// s3Client routes per-bucket calls path style when an endpoint is
// configured (moto, MinIO), as the inventory does.
func s3Client(c *clients) *s3.Client {
	return s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
}

// bucketBefore is what a bucket delete saves. Objects are counted, not
// copied: force_empty deletes them for good.
type bucketBefore struct {
	Bucket     string            `json:"bucket"`
	Region     string            `json:"region"`
	Versioning string            `json:"versioning,omitempty"`
	Policy     string            `json:"policy,omitempty"`
	Tags       map[string]string `json:"tags"`
	// Objects counts object versions and delete markers, up to the first
	// 1000; MoreObjects says there were more.
	Objects     int  `json:"objects"`
	MoreObjects bool `json:"more_objects,omitempty"`
}

func readBucket(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := s3Client(c)
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.ID)}); err != nil {
		return nil, false, err
	}
	b := bucketBefore{Bucket: r.ID, Region: r.Region, Tags: map[string]string{}}
	if v, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(r.ID)}); err == nil {
		b.Versioning = string(v.Status)
	}
	if p, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(r.ID)}); err == nil {
		b.Policy = aws.ToString(p.Policy)
	}
	if t, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(r.ID)}); err == nil {
		for _, tag := range t.TagSet {
			b.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	}
	n, more, err := countVersions(ctx, client, r.ID)
	if err != nil {
		return nil, false, err
	}
	b.Objects, b.MoreObjects = n, more
	return b, false, nil
}

// countVersions counts the first page of object versions and delete
// markers.
func countVersions(ctx context.Context, client *s3.Client, bucket string) (int, bool, error) {
	out, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
	if err != nil {
		return 0, false, err
	}
	return len(out.Versions) + len(out.DeleteMarkers), aws.ToBool(out.IsTruncated), nil
}

func checkBucket(ctx context.Context, c *clients, r model.Resource, s plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	if s.ForceEmpty {
		return "", nil
	}
	n, more, err := countVersions(ctx, s3Client(c), r.ID)
	if err != nil {
		return "", err
	}
	if n > 0 {
		count := fmt.Sprint(n)
		if more {
			count = "more than " + count
		}
		return fmt.Sprintf("the bucket holds %s object versions and force_empty is off", count), nil
	}
	return "", nil
}

// deleteBucket empties the bucket (every version and delete marker) when
// force_empty is on, then deletes it. Without force_empty a bucket that
// is not empty is refused, not emptied.
func deleteBucket(ctx context.Context, c *clients, a *enforce.Action, s plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	client := s3Client(c)
	bucket := aws.String(a.Resource.ID)
	removed := 0
	for {
		out, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket, MaxKeys: aws.Int32(1000)})
		if err != nil {
			return "", err
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range out.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range out.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) == 0 {
			break
		}
		if !s.ForceEmpty {
			return "", enforce.Permanent(fmt.Errorf("bucket %s is not empty and force_empty is off", a.Resource.ID))
		}
		del, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket,
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return "", err
		}
		if len(del.Errors) > 0 {
			e := del.Errors[0]
			return "", fmt.Errorf("empty bucket %s: %d objects not deleted, first %s: %s", a.Resource.ID, len(del.Errors), aws.ToString(e.Key), aws.ToString(e.Message))
		}
		removed += len(ids)
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}); err != nil {
		return "", err
	}
	if removed > 0 {
		return fmt.Sprintf("deleted after removing %d object versions", removed), nil
	}
	return "deleted", nil
}
