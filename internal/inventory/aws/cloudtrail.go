package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// cloudtrailListers covers CloudTrail trails.
//
// A trail is matched on its ARN. Provider 5.x imports trails by ARN and
// keeps it in "arn" whatever its id holds (older providers used the
// name), and the ARN, unlike the name, cannot collide between the trail of
// one region and a multi-region trail of another.
func cloudtrailListers() []lister {
	return []lister{{
		Type: inventory.Type{
			Name:     "aws_cloudtrail",
			Service:  "cloudtrail",
			Compared: []string{"s3_bucket_name", "is_multi_region_trail", "include_global_service_events", "enable_log_file_validation"},
		},
		list:      listTrails,
		fromState: trailFromState,
	}}
}

// cloudtrailTagBatch is the most ARNs ListTags accepts in one call.
const cloudtrailTagBatch = 20

// listTrails lists the trails whose home is the region. DescribeTrails
// would also return the shadows of other regions' multi-region trails;
// they are left out so a trail is listed once, in its home region, where
// Terraform created it. DescribeTrails answers every trail of the region
// in one call (a region holds at most five), and ListTags reads their
// tags twenty at a time. The policy attributes are those DescribeTrails
// returns, free, plus enable_logging from GetTrailStatus when
// session.policyAttrs asks for it.
func listTrails(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := cloudtrail.NewFromConfig(s.config(region))
	resp, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(false)})
	if err != nil {
		return nil, fmt.Errorf("cloudtrail DescribeTrails in %s: %w", region, err)
	}
	var out []model.Resource
	for _, t := range resp.TrailList {
		arn := aws.ToString(t.TrailARN)
		if arn == "" {
			continue
		}
		home := aws.ToString(t.HomeRegion)
		if home == "" {
			home = regionFromARN(arn)
		}
		if home != region {
			continue
		}
		out = append(out, model.Resource{
			ID:         arn,
			ARN:        arn,
			Name:       aws.ToString(t.Name),
			Attributes: trailAttributes(t),
		})
	}
	if err := trailTags(ctx, client, out); err != nil {
		return nil, err
	}
	if s.policyAttrs {
		if err := cloudtrailPolicyAttributes(ctx, s, client, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// trailAttributes keeps what DescribeTrails tells under Terraform's names.
// A flag the answer leaves out stays absent rather than false, so no rule
// decides on it. kms_key_id is "" for a trail without one, as in state.
func trailAttributes(t cttypes.Trail) map[string]any {
	attrs := map[string]any{
		"name":           aws.ToString(t.Name),
		"s3_bucket_name": aws.ToString(t.S3BucketName),
		"s3_key_prefix":  aws.ToString(t.S3KeyPrefix),
		"kms_key_id":     aws.ToString(t.KmsKeyId),
	}
	for key, v := range map[string]*bool{
		"is_multi_region_trail":         t.IsMultiRegionTrail,
		"include_global_service_events": t.IncludeGlobalServiceEvents,
		"enable_log_file_validation":    t.LogFileValidationEnabled,
		"is_organization_trail":         t.IsOrganizationTrail,
	} {
		if v != nil {
			attrs[key] = *v
		}
	}
	return attrs
}

// trailTags reads the trails' tags with ListTags. A failed call leaves
// the tags unknown (nil), never compared, rather than losing the trails.
func trailTags(ctx context.Context, client *cloudtrail.Client, res []model.Resource) error {
	byARN := make(map[string]*model.Resource, len(res))
	for i := range res {
		byARN[res[i].ARN] = &res[i]
	}
	for start := 0; start < len(res); start += cloudtrailTagBatch {
		end := min(start+cloudtrailTagBatch, len(res))
		ids := make([]string, 0, end-start)
		for _, r := range res[start:end] {
			ids = append(ids, r.ARN)
		}
		p := cloudtrail.NewListTagsPaginator(client, &cloudtrail.ListTagsInput{ResourceIdList: ids})
		failed := false
		for p.HasMorePages() && !failed {
			page, err := p.NextPage(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed = true
				break
			}
			for _, rt := range page.ResourceTagList {
				r, ok := byARN[aws.ToString(rt.ResourceId)]
				if !ok {
					continue
				}
				tags := map[string]string{}
				for _, tag := range rt.TagsList {
					tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
				r.Tags = userTags(tags)
			}
		}
		if failed {
			continue
		}
		// A trail ListTags answered nothing for has no tags.
		for i := start; i < end; i++ {
			if res[i].Tags == nil {
				res[i].Tags = map[string]string{}
			}
		}
	}
	return nil
}

// trailFromState maps aws_cloudtrail by its ARN (see cloudtrailListers).
func trailFromState(attrs map[string]any) (model.Resource, bool) {
	arn := str(attrs, "arn")
	if arn == "" {
		if id := str(attrs, "id"); len(id) > 4 && id[:4] == "arn:" {
			arn = id
		}
	}
	if arn == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         arn,
		ARN:        arn,
		Name:       str(attrs, "name"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "s3_bucket_name")
	for _, k := range []string{"is_multi_region_trail", "include_global_service_events", "enable_log_file_validation"} {
		appCopyBool(r.Attributes, attrs, k, k)
	}
	return r, true
}
