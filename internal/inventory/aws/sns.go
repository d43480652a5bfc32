package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// snsListers lists SNS topics. ListTopics returns ARNs only, which is also
// Terraform's import id.
//
// Tags: the session's shared tag index does not ask for SNS, so this lister
// reads SNS tags with its own Resource Groups Tagging API pass (one call per
// hundred tagged topics; both AWS and moto 5.2 answer it for "sns"). Only
// when that call fails does it fall back to ListTagsForResource per topic,
// with bounded concurrency; a topic whose tags still cannot be read keeps
// nil tags (unknown, never compared) rather than failing the listing.
func snsListers() []lister {
	return []lister{{
		Type:      inventory.Type{Name: "aws_sns_topic", Service: "sns"},
		list:      listSNSTopics,
		fromState: snsTopicFromState,
	}}
}

func listSNSTopics(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	cfg := s.config(region)
	client := sns.NewFromConfig(cfg)
	p := sns.NewListTopicsPaginator(client, &sns.ListTopicsInput{})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list SNS topics in %s: %w", region, err)
		}
		for _, t := range page.Topics {
			arn := aws.ToString(t.TopicArn)
			if arn == "" {
				continue
			}
			out = append(out, model.Resource{
				ID:      arn,
				Region:  region,
				Account: arnField(arn, 4),
				Name:    snsTopicName(arn),
				ARN:     arn,
			})
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	if s.policyAttrs {
		if err := snsPolicyAttributes(ctx, s, client, out); err != nil {
			return nil, fmt.Errorf("read SNS topic attributes in %s: %w", region, err)
		}
	}
	if index, err := snsTagIndex(ctx, cfg); err == nil {
		for i := range out {
			out[i].Tags = index[out[i].ARN]
			if out[i].Tags == nil {
				// The tagging API leaves out topics that were never tagged.
				out[i].Tags = map[string]string{}
			}
		}
		return out, nil
	}
	err := parallelDo(ctx, len(out), s.parallel, func(ctx context.Context, i int) error {
		if !s.wantsDetail("aws_sns_topic", out[i].ID) {
			return nil // tags unknown: not declared, so not compared
		}
		tags, err := client.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: aws.String(out[i].ARN)})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // tags unknown for this topic
		}
		m := make(map[string]string, len(tags.Tags))
		for _, t := range tags.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		out[i].Tags = userTags(m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list SNS topic tags in %s: %w", region, err)
	}
	return out, nil
}

// snsTagIndex reads the tags of every tagged SNS topic of a region through
// the Resource Groups Tagging API, keyed by topic ARN.
func snsTagIndex(ctx context.Context, cfg aws.Config) (map[string]map[string]string, error) {
	client := resourcegroupstaggingapi.NewFromConfig(cfg)
	p := resourcegroupstaggingapi.NewGetResourcesPaginator(client, &resourcegroupstaggingapi.GetResourcesInput{
		ResourcesPerPage:    aws.Int32(100),
		ResourceTypeFilters: []string{"sns"},
	})
	out := map[string]map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("tagging GetResources (sns) in %s: %w", cfg.Region, describeErr(err))
		}
		for _, m := range page.ResourceTagMappingList {
			tags := make(map[string]string, len(m.Tags))
			for _, t := range m.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[aws.ToString(m.ResourceARN)] = userTags(tags)
		}
	}
	return out, nil
}

// snsTopicFromState maps an aws_sns_topic instance; id and arn are both the
// topic ARN.
func snsTopicFromState(attrs map[string]any) (model.Resource, bool) {
	arn := str(attrs, "arn")
	if arn == "" {
		arn = str(attrs, "id")
	}
	if arn == "" {
		return model.Resource{}, false
	}
	name := str(attrs, "name")
	if name == "" {
		name = snsTopicName(arn)
	}
	return model.Resource{
		ID:      arn,
		Region:  regionFromARN(arn),
		Account: arnField(arn, 4),
		Name:    name,
		ARN:     arn,
		Tags:    stateTags(attrs),
	}, true
}

// snsTopicName is the last field of a topic ARN.
func snsTopicName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}
