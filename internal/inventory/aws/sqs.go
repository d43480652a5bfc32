package aws

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// sqsListers lists SQS queues. ListQueues returns only URLs, which carry the
// account and the queue name; the region is the one listed and tags come
// from the session's tag index, so a queue costs no call of its own.
func sqsListers() []lister {
	return []lister{{
		Type:      inventory.Type{Name: "aws_sqs_queue", Service: "sqs"},
		list:      listSQSQueues,
		fromState: sqsQueueFromState,
	}}
}

// sqsPageSize is the largest page ListQueues accepts. Without MaxResults
// AWS stops at 1,000 queues and offers no continuation token.
const sqsPageSize = 1000

func listSQSQueues(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := sqs.NewFromConfig(s.config(region))
	p := sqs.NewListQueuesPaginator(client, &sqs.ListQueuesInput{MaxResults: aws.Int32(sqsPageSize)})
	var out []model.Resource
	var urls []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list SQS queues in %s: %w", region, err)
		}
		for _, raw := range page.QueueUrls {
			account, name, ok := sqsSplitURL(raw)
			if !ok {
				return nil, fmt.Errorf("list SQS queues in %s: unexpected queue URL %q", region, raw)
			}
			out = append(out, model.Resource{
				ID:      sqsCanonicalURL(region, account, name),
				Region:  region,
				Account: account,
				Name:    name,
				ARN:     sqsARN(region, account, name),
			})
			urls = append(urls, raw)
		}
	}
	tagFromIndexOrUnknown(ctx, s, region, tagsSQS, out)
	if s.policyAttrs {
		if err := sqsPolicyAttributes(ctx, s, client, out, urls); err != nil {
			return nil, fmt.Errorf("read SQS queue attributes in %s: %w", region, err)
		}
	}
	return out, nil
}

// sqsQueueFromState maps an aws_sqs_queue instance. The state id is the
// queue URL as the endpoint reported it; the canonical id is rebuilt from
// the ARN (region, account) and the name, exactly as the lister does.
func sqsQueueFromState(attrs map[string]any) (model.Resource, bool) {
	arn := str(attrs, "arn")
	region := regionFromARN(arn)
	account := arnField(arn, 4)
	name := str(attrs, "name")
	if account == "" || name == "" {
		// Older or hand-written state: fall back to the URL's path.
		for _, key := range []string{"url", "id"} {
			if a, n, ok := sqsSplitURL(str(attrs, key)); ok {
				if account == "" {
					account = a
				}
				if name == "" {
					name = n
				}
				break
			}
		}
	}
	if region == "" {
		region = str(attrs, "region")
	}
	for _, key := range []string{"url", "id"} {
		if region == "" {
			region = sqsURLRegion(str(attrs, key))
		}
	}
	if name == "" || account == "" || region == "" {
		return model.Resource{}, false
	}
	if arn == "" {
		arn = sqsARN(region, account, name)
	}
	return model.Resource{
		ID:      sqsCanonicalURL(region, account, name),
		Region:  region,
		Account: account,
		Name:    name,
		ARN:     arn,
		Tags:    stateTags(attrs),
	}, true
}

// sqsCanonicalURL is the id both sides of an aws_sqs_queue comparison use.
//
// The queue URL is Terraform's import id, but its host depends on the
// endpoint that answered: real AWS says https://sqs.us-east-1.amazonaws.com,
// older state may hold https://queue.amazonaws.com, and a local endpoint
// such as moto says http://127.0.0.1:PORT. The account and the queue name
// in the path are what identify a queue, so the id is rebuilt from region,
// account and name in the regional AWS form. It stays a valid import id and
// the same queue always yields the same string whichever host reported it.
func sqsCanonicalURL(region, account, name string) string {
	return fmt.Sprintf("https://sqs.%s.%s/%s/%s", region, partitionDNSSuffix(regionToPartition(region)), account, name)
}

// sqsARN builds a queue ARN; SQS ARNs end in the queue name.
func sqsARN(region, account, name string) string {
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", regionToPartition(region), region, account, name)
}

// sqsSplitURL returns the account and queue name from a queue URL's path
// (/ACCOUNT/NAME), whatever its scheme and host.
func sqsSplitURL(raw string) (account, name string, ok bool) {
	if raw == "" {
		return "", "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// sqsURLRegion reads the region from an AWS queue URL's host
// (sqs.REGION.amazonaws.com), "" for other hosts.
func sqsURLRegion(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	labels := strings.Split(u.Hostname(), ".")
	if len(labels) > 2 && labels[0] == "sqs" {
		return labels[1]
	}
	return ""
}

// tagFromIndexOrUnknown fills the tags of regional resources from the session's
// tag index of their service, keyed by ARN. When the index cannot be read every resource
// keeps nil tags: unknown, so never compared, rather than failing a
// listing that otherwise succeeded. Resources without an ARN stay nil too.
func tagFromIndexOrUnknown(ctx context.Context, s *session, region, service string, res []model.Resource) {
	if len(res) == 0 {
		return
	}
	ti, err := s.tagsFor(ctx, region, service)
	if err != nil {
		return
	}
	for i := range res {
		if res[i].ARN != "" {
			res[i].Tags = ti.Tags(res[i].ARN)
		}
	}
}

// regionToPartition names the AWS partition a region belongs to, which
// ARNs and endpoint host names depend on.
func regionToPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// partitionDNSSuffix is the domain of a partition's service endpoints.
func partitionDNSSuffix(partition string) string {
	switch partition {
	case "aws-cn":
		return "amazonaws.com.cn"
	case "aws-iso":
		return "c2s.ic.gov"
	case "aws-iso-b":
		return "sc2s.sgov.gov"
	case "aws-eusc":
		return "amazonaws.eu"
	}
	return "amazonaws.com"
}

// arnField returns the i-th colon-separated field of an ARN
// (1 partition, 2 service, 3 region, 4 account, 5 resource), "" when the
// string is not an ARN.
func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || i < 0 || i >= len(parts) {
		return ""
	}
	return parts[i]
}
