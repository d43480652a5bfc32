package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// route53Listers covers Route 53 hosted zones, public and private. Route 53
// is a global service: zones are listed once per scan, not per region.
func route53Listers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_route53_zone",
				Service:  "route53",
				Global:   true,
				Compared: []string{"comment"},
			},
			list:      listHostedZones,
			fromState: hostedZoneFromState,
		},
	}
}

const (
	// route53PageSize is the largest MaxItems ListHostedZones accepts.
	route53PageSize = 100
	// route53TagBatch is the most zone ids ListTagsForResources accepts.
	route53TagBatch = 10
)

// listHostedZones pages through ListHostedZones and reads tags with
// ListTagsForResources, ten zones per call, at most s.parallel calls at a
// time: 0.11 calls per zone instead of one.
func listHostedZones(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	cfg := s.config(region)
	client := route53.NewFromConfig(cfg)
	partition := route53Partition(cfg.Region)
	p := route53.NewListHostedZonesPaginator(client, &route53.ListHostedZonesInput{MaxItems: aws.Int32(route53PageSize)})
	var out []model.Resource
	byID := map[string]int{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("route53 ListHostedZones: %w", err)
		}
		for _, z := range page.HostedZones {
			id := hostedZoneID(aws.ToString(z.Id))
			if id == "" {
				continue
			}
			comment := ""
			if z.Config != nil {
				comment = aws.ToString(z.Config.Comment)
			}
			r := model.Resource{
				ID:         id,
				Name:       hostedZoneName(aws.ToString(z.Name)),
				ARN:        fmt.Sprintf("arn:%s:route53:::hostedzone/%s", partition, id),
				Attributes: map[string]any{"comment": comment},
			}
			if ls := z.LinkedService; ls != nil {
				// Cloud Map and other services create and own these zones;
				// the owning service's resource is what the code declares.
				r.Default = "hosted zone created by " + aws.ToString(ls.ServicePrincipal)
			}
			byID[id] = len(out)
			out = append(out, r)
		}
	}

	batches := (len(out) + route53TagBatch - 1) / route53TagBatch
	err := parallelDo(ctx, batches, s.parallel, func(ctx context.Context, b int) error {
		lo, hi := b*route53TagBatch, min((b+1)*route53TagBatch, len(out))
		ids := make([]string, 0, hi-lo)
		for _, r := range out[lo:hi] {
			ids = append(ids, r.ID)
		}
		resp, err := client.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{
			ResourceType: r53types.TagResourceTypeHostedzone,
			ResourceIds:  ids,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Tags unreadable (AccessDenied, or a zone deleted meanwhile
			// failing the whole batch): leave this batch's tags nil so
			// they are not compared, rather than losing the zones.
			return nil
		}
		for i := lo; i < hi; i++ {
			// A zone the answer leaves out has no tags.
			out[i].Tags = map[string]string{}
		}
		for _, set := range resp.ResourceTagSets {
			i, ok := byID[hostedZoneID(aws.ToString(set.ResourceId))]
			if !ok || i < lo || i >= hi {
				continue
			}
			tags := make(map[string]string, len(set.Tags))
			for _, t := range set.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[i].Tags = userTags(tags)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("route53 ListTagsForResources: %w", err)
	}
	return out, nil
}

// hostedZoneFromState maps aws_route53_zone. Its import id is the bare
// zone id (Z123...), which the provider also keeps in zone_id.
func hostedZoneFromState(attrs map[string]any) (model.Resource, bool) {
	id := hostedZoneID(str(attrs, "zone_id"))
	if id == "" {
		id = hostedZoneID(str(attrs, "id"))
	}
	if id == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         id,
		Name:       hostedZoneName(str(attrs, "name")),
		ARN:        str(attrs, "arn"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "comment")
	return r, true
}

// hostedZoneID strips the "/hostedzone/" prefix the API puts on zone ids.
func hostedZoneID(id string) string {
	return strings.TrimPrefix(id, "/hostedzone/")
}

// hostedZoneName normalizes a zone name the way the provider stores it:
// lower case, without the trailing dot.
func hostedZoneName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// route53Partition returns the ARN partition of the region the global
// Route 53 client talks to, for building zone ARNs the API does not return.
func route53Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}
