package aws

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func sqsDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_sqs_queue": {rank: rankStorage, read: readQueue, delete: deleteQueue,
			notFound: []string{"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}},
	}
}

// queueBefore is a queue's attributes and tags.
type queueBefore struct {
	QueueURL   string            `json:"queue_url"`
	Attributes map[string]string `json:"attributes"`
	Tags       map[string]string `json:"tags"`
}

// queueURL finds the queue's URL at the endpoint in use: the import id is
// the canonical https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, which a
// custom endpoint answers under another host.
func queueURL(ctx context.Context, client *sqs.Client, id string) (string, error) {
	parts := strings.Split(strings.TrimRight(id, "/"), "/")
	in := &sqs.GetQueueUrlInput{QueueName: aws.String(parts[len(parts)-1])}
	if len(parts) >= 2 {
		in.QueueOwnerAWSAccountId = aws.String(parts[len(parts)-2])
	}
	out, err := client.GetQueueUrl(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

func readQueue(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := sqs.NewFromConfig(c.cfg)
	u, err := queueURL(ctx, client, r.ID)
	if err != nil {
		return nil, false, err
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return nil, false, err
	}
	b := queueBefore{QueueURL: r.ID, Attributes: attrs.Attributes, Tags: map[string]string{}}
	if tags, err := client.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(u)}); err == nil && tags.Tags != nil {
		b.Tags = tags.Tags
	}
	return b, false, nil
}

func deleteQueue(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	client := sqs.NewFromConfig(c.cfg)
	u, err := queueURL(ctx, client, a.Resource.ID)
	if err != nil {
		return "", err
	}
	if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
		return "", err
	}
	return "deleted", nil
}
