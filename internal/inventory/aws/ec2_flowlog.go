package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// flowLogListers covers VPC flow logs (aws_flow_log). They are EC2 API
// objects and share the EC2 unit of a region, but live in their own file
// so the EC2 catalogue stays as it is.
func flowLogListers() []lister {
	return []lister{{
		Type:      inventory.Type{Name: "aws_flow_log", Service: "ec2", Compared: []string{"traffic_type", "log_destination_type"}},
		list:      listFlowLogs,
		fromState: flowLogFromState,
	}}
}

// flowLogResourceKeys names the state attribute that holds what a flow
// log watches, by the id prefix of that resource.
var flowLogResourceKeys = []struct{ prefix, key string }{
	{"vpc-", "vpc_id"},
	{"subnet-", "subnet_id"},
	{"eni-", "eni_id"},
	{"tgw-attach-", "transit_gateway_attachment_id"},
	{"tgw-", "transit_gateway_id"},
}

// listFlowLogs pages through DescribeFlowLogs, which returns tags inline:
// one call per thousand flow logs. traffic_type, the attribute the CIS
// flow log rule checks, comes with it.
func listFlowLogs(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeFlowLogsPaginator(ec2Client(s, region), &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(ec2MaxResults)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2 DescribeFlowLogs in %s: %w", region, err)
		}
		for _, fl := range page.FlowLogs {
			id := aws.ToString(fl.FlowLogId)
			if id == "" {
				continue
			}
			out = append(out, ec2Live(id, ec2ARN(region, s.account, "vpc-flow-log/"+id), ec2Tags(fl.Tags), flowLogAttributes(fl)))
		}
	}
	return out, nil
}

// flowLogAttributes keeps DescribeFlowLogs' answer under Terraform's
// names. An empty traffic type (flow logs of a transit gateway have none)
// stays absent, so the traffic rule is skipped rather than failed.
func flowLogAttributes(fl types.FlowLog) map[string]any {
	attrs := map[string]any{
		"log_destination_type": string(fl.LogDestinationType),
		"log_destination":      aws.ToString(fl.LogDestination),
	}
	if fl.TrafficType != "" {
		attrs["traffic_type"] = string(fl.TrafficType)
	}
	if fl.MaxAggregationInterval != nil {
		attrs["max_aggregation_interval"] = float64(*fl.MaxAggregationInterval)
	}
	res := aws.ToString(fl.ResourceId)
	for _, k := range flowLogResourceKeys {
		if strings.HasPrefix(res, k.prefix) {
			attrs[k.key] = res
			break
		}
	}
	return attrs
}

// flowLogFromState maps aws_flow_log, whose import id is the flow log id.
func flowLogFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	appCopyString(r.Attributes, attrs, "traffic_type")
	appCopyString(r.Attributes, attrs, "log_destination_type")
	if r.Attributes["traffic_type"] == "" {
		delete(r.Attributes, "traffic_type")
	}
	return r, true
}
