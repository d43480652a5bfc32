package aws

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func snsDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_sns_topic": {rank: rankStorage, read: readTopic, delete: deleteTopic, notFound: []string{"NotFound"}},
	}
}

// topicBefore is a topic's attributes and subscriptions.
type topicBefore struct {
	TopicARN      string            `json:"topic_arn"`
	Attributes    map[string]string `json:"attributes"`
	Subscriptions []string          `json:"subscriptions"`
}

func readTopic(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := sns.NewFromConfig(c.cfg)
	attrs, err := client.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(r.ID)})
	if err != nil {
		return nil, false, err
	}
	b := topicBefore{TopicARN: r.ID, Attributes: attrs.Attributes, Subscriptions: []string{}}
	p := sns.NewListSubscriptionsByTopicPaginator(client, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(r.ID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, s := range page.Subscriptions {
			b.Subscriptions = append(b.Subscriptions, aws.ToString(s.Protocol)+":"+aws.ToString(s.Endpoint))
		}
	}
	return b, false, nil
}

func deleteTopic(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	if _, err := sns.NewFromConfig(c.cfg).DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(a.Resource.ID)}); err != nil {
		return "", err
	}
	return "deleted", nil
}
