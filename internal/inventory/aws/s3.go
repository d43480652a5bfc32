package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// s3Listers lists S3 general purpose buckets.
//
// S3 has one global bucket namespace, but every bucket lives in a region.
// The lister is regional on purpose: ListBuckets with the BucketRegion
// filter, sent to that region's endpoint, returns exactly the buckets of
// the region, so each bucket gets its region without a GetBucketLocation
// call. (A global listing would need that call per bucket wherever the
// response lacks BucketRegion, as moto 5.2's does.) Being regional also
// gives the right completeness: buckets of regions outside the scan are
// neither reported unmanaged nor, when declared, missing. Tags come from
// the region's tag index.
func s3Listers() []lister {
	return []lister{{
		Type:      inventory.Type{Name: "aws_s3_bucket", Service: "s3"},
		list:      listS3Buckets,
		get:       getS3Buckets,
		getGone:   []string{"NotFound", "NoSuchBucket"},
		fromState: s3BucketFromState,
	}}
}

// s3PageSize is the largest page ListBuckets accepts. Asking for a page
// size also makes AWS include BucketRegion in the response.
const s3PageSize = 10000

func listS3Buckets(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := s3.NewFromConfig(s.config(region))
	p := s3.NewListBucketsPaginator(client, &s3.ListBucketsInput{
		BucketRegion: aws.String(region),
		MaxBuckets:   aws.Int32(s3PageSize),
	})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list S3 buckets in %s: %w", region, err)
		}
		for _, b := range page.Buckets {
			name := aws.ToString(b.Name)
			// An endpoint that ignored the filter but reports the region
			// must not make a bucket appear in every region.
			if name == "" || (b.BucketRegion != nil && *b.BucketRegion != region) {
				continue
			}
			out = append(out, model.Resource{
				ID:     name,
				Region: region,
				Name:   name,
				ARN:    s3BucketARN(region, name),
			})
		}
	}
	tagFromIndexOrUnknown(ctx, s, region, tagsS3, out)
	if s.policyAttrs && len(out) > 0 {
		if err := s3PolicyAttributes(ctx, s, s3DetailClient(s.config(region)), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// getS3Buckets reads buckets by name: HeadBucket (a bucket in another
// region is not in this one, as the regional listing has it) and
// GetBucketTagging for its tags.
func getS3Buckets(ctx context.Context, s *session, region string, names []string) ([]model.Resource, error) {
	client := s3DetailClient(s.config(region))
	var out []model.Resource
	for _, name := range names {
		head, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
		var resp *awshttp.ResponseError
		if errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusMovedPermanently {
			continue // the bucket lives in another region, AWS redirects
		}
		if err != nil {
			return nil, fmt.Errorf("head bucket %s: %w", name, err)
		}
		if head.BucketRegion != nil && *head.BucketRegion != region {
			continue
		}
		r := model.Resource{ID: name, Region: region, Name: name, ARN: s3BucketARN(region, name), Tags: map[string]string{}}
		tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
		switch {
		case apiErrorCode(err) == "NoSuchTagSet":
		case err != nil:
			return nil, fmt.Errorf("get bucket tagging %s: %w", name, err)
		default:
			raw := map[string]string{}
			for _, t := range tags.TagSet {
				raw[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			r.Tags = userTags(raw)
		}
		out = append(out, r)
	}
	return out, nil
}

// s3DetailClient is the client for per-bucket calls. AWS routes them
// virtual-hosted style (BUCKET.s3.REGION.amazonaws.com), which a custom
// endpoint such as moto, MinIO or LocalStack on an IP address cannot
// serve; with an endpoint override the bucket goes in the path instead.
func s3DetailClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
}

// s3BucketFromState maps an aws_s3_bucket instance. Its import id is the
// bucket name; provider 5.x records the bucket's region in "region", which
// the mapper reads for the resource's region.
func s3BucketFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "bucket")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	arn := str(attrs, "arn")
	if arn == "" {
		arn = s3BucketARN(str(attrs, "region"), name)
	}
	return model.Resource{
		ID:   name,
		Name: name,
		ARN:  arn,
		Tags: stateTags(attrs),
	}, true
}

// s3BucketARN builds a bucket ARN, which has neither region nor account.
func s3BucketARN(region, name string) string {
	return fmt.Sprintf("arn:%s:s3:::%s", regionToPartition(region), name)
}
