package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// logsListers covers CloudWatch Logs log groups.
func logsListers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_cloudwatch_log_group",
				Service:  "logs",
				Compared: []string{"retention_in_days", "kms_key_id"},
			},
			list:      listLogGroups,
			fromState: logGroupFromState,
		},
	}
}

// logsPageSize is the largest Limit DescribeLogGroups accepts.
const logsPageSize = 50

// awsServiceLogGroupPrefix is where AWS services create their own log
// groups on first use (/aws/lambda/NAME, /aws/rds/..., /aws/eks/...).
const awsServiceLogGroupPrefix = "/aws/"

// listLogGroups pages through DescribeLogGroups, which returns retention
// and KMS key but no tags; tags come from the region's tag index.
//
// DescribeLogGroups reports each group twice over: "arn" ends in ":*" (the
// form IAM policies use for the group's streams) while "logGroupArn" and
// the tagging API use the bare form, as does Terraform's arn attribute.
// The bare form is kept, derived from "arn" when logGroupArn is missing.
func listLogGroups(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := cloudwatchlogs.NewFromConfig(s.config(region))
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(client, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(logsPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("logs DescribeLogGroups in %s: %w", region, err)
		}
		for _, g := range page.LogGroups {
			name := aws.ToString(g.LogGroupName)
			if name == "" {
				continue
			}
			arn := aws.ToString(g.LogGroupArn)
			if arn == "" {
				arn = logGroupBareARN(aws.ToString(g.Arn))
			}
			r := model.Resource{
				ID:   name,
				Name: name,
				ARN:  arn,
				Attributes: map[string]any{
					"retention_in_days": float64(aws.ToInt32(g.RetentionInDays)),
					"kms_key_id":        aws.ToString(g.KmsKeyId),
				},
			}
			if strings.HasPrefix(name, awsServiceLogGroupPrefix) {
				// Services such as Lambda, RDS and EKS create these on
				// their own; they are matched when declared, but never
				// called unmanaged.
				r.Default = "log group created by an AWS service"
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	idx := appTagIndex(ctx, s, region, tagsLogs)
	for i := range out {
		out[i].Tags = appIndexTags(idx, out[i].ARN, out[i].ARN+":*")
	}
	return out, nil
}

// logGroupBareARN drops the ":*" stream wildcard DescribeLogGroups appends.
func logGroupBareARN(arn string) string {
	return strings.TrimSuffix(arn, ":*")
}

// logGroupFromState maps aws_cloudwatch_log_group, whose import id is the
// group name. retention_in_days is 0 in state when the group never
// expires, which is what the live side reports for a missing retention.
func logGroupFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         name,
		Name:       name,
		ARN:        logGroupBareARN(str(attrs, "arn")),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyNumber(r.Attributes, attrs, "retention_in_days")
	appCopyString(r.Attributes, attrs, "kms_key_id")
	return r, true
}
