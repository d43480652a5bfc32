package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// flowLogFixtures creates a VPC flow log delivered to S3, as aws_flow_log
// with an aws_vpc and an aws_s3_bucket does.
func flowLogFixtures() []fixture {
	return []fixture{{
		typ: "aws_flow_log",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			vpc := ec2CreateVPC(t, ctx, cfg, "10.20.0.0/16", "plumb-flow-vpc")
			bucket := cloudtrailTestBucket(t, ctx, cfg, "plumb-flow-logs")
			id := flowLogCreate(t, ctx, cfg, str(vpc, "id"), types.TrafficTypeAll, "plumb-flow-logs", ec2FixtureTags("plumb-flow"))
			return ec2StateTags(map[string]any{
				"id":                         id,
				"arn":                        ec2TestARN(str(vpc, "owner_id"), "vpc-flow-log/"+id),
				"vpc_id":                     str(vpc, "id"),
				"traffic_type":               "ALL",
				"log_destination_type":       "s3",
				"log_destination":            "arn:aws:s3:::plumb-flow-logs",
				"log_format":                 "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
				"max_aggregation_interval":   float64(600),
				"iam_role_arn":               "",
				"deliver_cross_account_role": "",
			}, ec2FixtureTags("plumb-flow")), []extraResource{{typ: "aws_vpc", attrs: vpc}, {typ: "aws_s3_bucket", attrs: bucket}}
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := ec2.NewFromConfig(cfg).DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: []string{str(attrs, "id")}})
			ec2Must(t, err, "DeleteFlowLogs")
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
		},
	}}
}

// flowLogCreate creates a flow log of a VPC delivered to an S3 bucket and
// returns its id.
func flowLogCreate(t *testing.T, ctx context.Context, cfg aws.Config, vpcID string, traffic types.TrafficType, bucket string, tags map[string]string) string {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{
		ResourceType:       types.FlowLogsResourceTypeVpc,
		ResourceIds:        []string{vpcID},
		TrafficType:        traffic,
		LogDestinationType: types.LogDestinationTypeS3,
		LogDestination:     aws.String("arn:aws:s3:::" + bucket),
		TagSpecifications:  ec2TagSpec(types.ResourceTypeVpcFlowLog, tags),
	})
	ec2Must(t, err, "CreateFlowLogs")
	if len(out.FlowLogIds) != 1 {
		t.Fatalf("CreateFlowLogs: ids %v, unsuccessful %+v", out.FlowLogIds, out.Unsuccessful)
	}
	return out.FlowLogIds[0]
}

func TestFlowLogFixtures(t *testing.T) { appCheckFixtures(t, flowLogFixtures()) }
