package aws

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// revertRetention sets a log group's retention back: the code's number of
// days, or no retention (never expire) when the code says 0 or nothing.
func revertRetention(ctx context.Context, c *clients, name string, to any) (string, error) {
	client := cloudwatchlogs.NewFromConfig(c.cfg)
	days, ok := to.(float64)
	if !ok && to != nil {
		return "", fmt.Errorf("retention_in_days %v: want a number of days", to)
	}
	if days == 0 {
		if _, err := client.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(name)}); err != nil {
			return "", err
		}
		return "retention removed (never expire)", nil
	}
	if days != math.Trunc(days) || days < 1 {
		return "", fmt.Errorf("retention_in_days %v: want a whole number of days", days)
	}
	if _, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: aws.Int32(int32(days))}); err != nil {
		return "", err
	}
	return fmt.Sprintf("retention set to %d days", int(days)), nil
}
