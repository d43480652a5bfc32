package aws

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func logsDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_cloudwatch_log_group": {rank: rankStorage, read: readLogGroup, delete: deleteLogGroup,
			notFound: []string{"ResourceNotFoundException"}},
	}
}

// logGroupBefore is a log group's settings.
type logGroupBefore struct {
	Name            string `json:"name"`
	RetentionInDays int32  `json:"retention_in_days,omitempty"`
	KMSKeyID        string `json:"kms_key_id,omitempty"`
	StoredBytes     int64  `json:"stored_bytes"`
}

func readLogGroup(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	out, err := cloudwatchlogs.NewFromConfig(c.cfg).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(r.ID)})
	if err != nil {
		return nil, false, err
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == r.ID {
			return logGroupBefore{Name: r.ID, RetentionInDays: aws.ToInt32(g.RetentionInDays), KMSKeyID: aws.ToString(g.KmsKeyId),
				StoredBytes: aws.ToInt64(g.StoredBytes)}, false, nil
		}
	}
	return nil, true, nil
}

func deleteLogGroup(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	if _, err := cloudwatchlogs.NewFromConfig(c.cfg).DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(a.Resource.ID)}); err != nil {
		return "", err
	}
	return "deleted", nil
}
