package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

// sqsFixtures creates one tagged queue the way aws_sqs_queue does; its
// state id is the URL the endpoint returned (http://127.0.0.1:PORT/... on
// moto), as a real terraform apply against moto records it.
func sqsFixtures() []fixture {
	return []fixture{{
		typ: "aws_sqs_queue",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			const name = "plumb-fixture-queue"
			tags := map[string]string{"env": "test"}
			c := sqs.NewFromConfig(cfg)
			o, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: tags})
			storageIAMErr(t, "create queue", err)
			a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: o.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			storageIAMErr(t, "get queue attributes", err)
			return sqsTestState(aws.ToString(o.QueueUrl), a.Attributes["QueueArn"], name, tags), nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := sqs.NewFromConfig(cfg).DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(str(attrs, "url"))})
			storageIAMErr(t, "delete queue", err)
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			_, err := sqs.NewFromConfig(cfg).TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(str(attrs, "url")), Tags: map[string]string{"env": "prod"}})
			storageIAMErr(t, "tag queue", err)
			return "tags.env"
		},
	}}
}

// sqsTestState is what AWS provider 5.100 writes for a standard queue.
func sqsTestState(url, arn, name string, tags map[string]string) map[string]any {
	return map[string]any{
		"id": url, "url": url, "arn": arn, "name": name, "name_prefix": "",
		"content_based_deduplication": false, "deduplication_scope": "", "delay_seconds": float64(0),
		"fifo_queue": false, "fifo_throughput_limit": "", "kms_data_key_reuse_period_seconds": float64(300),
		"kms_master_key_id": "", "max_message_size": float64(262144), "message_retention_seconds": float64(345600),
		"policy": "", "receive_wait_time_seconds": float64(0), "redrive_allow_policy": "", "redrive_policy": "",
		"sqs_managed_sse_enabled": true, "visibility_timeout_seconds": float64(30),
		"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
	}
}

func TestSQSFixtures(t *testing.T) {
	storageIAMFixtureRoundTrip(t, sqsFixtures())
}

func TestSQSList(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	east := sqs.NewFromConfig(m.Config(t, "us-east-1"))
	// More queues than one page of the tag index (100) holds.
	names := storageIAMNames("plumb-q", 120)
	for i, name := range names {
		in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
		if i%3 != 0 {
			in.Tags = map[string]string{"n": name}
		}
		_, err := east.CreateQueue(ctx, in)
		storageIAMErr(t, "create queue", err)
	}
	_, err := east.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders.fifo"), Attributes: map[string]string{"FifoQueue": "true"}, Tags: map[string]string{"env": "prod"}})
	storageIAMErr(t, "create fifo queue", err)
	_, err = sqs.NewFromConfig(m.Config(t, "eu-west-1")).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("west")})
	storageIAMErr(t, "create queue in eu-west-1", err)

	res, calls := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_sqs_queue"})
	if len(res.Resources) != 121 {
		t.Fatalf("listed %d queues, want 121", len(res.Resources))
	}
	want := map[string]model.Resource{}
	for i, name := range names {
		tags := map[string]string{}
		if i%3 != 0 {
			tags["n"] = name
		}
		want[name] = model.Resource{Provider: "aws", Type: "aws_sqs_queue",
			ID: "https://sqs.us-east-1.amazonaws.com/123456789012/" + name, Region: "us-east-1", Account: "123456789012",
			Name: name, ARN: "arn:aws:sqs:us-east-1:123456789012:" + name, Tags: tags}
	}
	want["orders.fifo"] = model.Resource{Provider: "aws", Type: "aws_sqs_queue",
		ID: "https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo", Region: "us-east-1", Account: "123456789012",
		Name: "orders.fifo", ARN: "arn:aws:sqs:us-east-1:123456789012:orders.fifo", Tags: map[string]string{"env": "prod"}}
	for _, r := range res.Resources {
		if w := want[r.Name]; !reflect.DeepEqual(r, w) {
			t.Errorf("got  %+v\nwant %+v", r, w)
		}
	}
	// STS, one ListQueues page and two pages of the tag index.
	if calls > 4 {
		t.Errorf("%d API calls for 121 queues, want at most 4", calls)
	}

	t.Run("each region lists its own queues", func(t *testing.T) {
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1", "eu-west-1"}, []string{"aws_sqs_queue"})
		r, ok := storageIAMFind(res, "aws_sqs_queue", "https://sqs.eu-west-1.amazonaws.com/123456789012/west")
		if !ok || r.Region != "eu-west-1" || r.ARN != "arn:aws:sqs:eu-west-1:123456789012:west" {
			t.Errorf("eu-west-1 queue: %+v (found %v)", r, ok)
		}
		if len(res.Resources) != 122 {
			t.Errorf("listed %d queues in two regions, want 122", len(res.Resources))
		}
	})

	t.Run("tag index failure leaves tags unknown", func(t *testing.T) {
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_sqs_queue"}, storageIAMDenyService("Resource Groups Tagging API"))
		if len(res.Resources) != 121 {
			t.Fatalf("listed %d queues, want 121", len(res.Resources))
		}
		for _, r := range res.Resources {
			if r.Tags != nil {
				t.Fatalf("%s: tags %v, want nil", r.ID, r.Tags)
			}
		}
		if !res.Complete("aws_sqs_queue", "us-east-1") {
			t.Error("listing without tags must still be complete")
		}
	})
}

func TestSQSQueueFromState(t *testing.T) {
	const canonical = "https://sqs.us-east-1.amazonaws.com/123456789012/tf-queue"
	tags := map[string]any{"env": "dev"}
	want := model.Resource{Provider: "aws", Type: "aws_sqs_queue", ID: canonical, Region: "us-east-1", Account: "123456789012",
		Name: "tf-queue", ARN: "arn:aws:sqs:us-east-1:123456789012:tf-queue", Tags: map[string]string{"env": "dev"}}
	mapper := NewMapper()
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  model.Resource
		ok    bool
	}{
		{"terraform against moto", map[string]any{
			"id": "http://127.0.0.1:5599/123456789012/tf-queue", "url": "http://127.0.0.1:5599/123456789012/tf-queue",
			"arn": "arn:aws:sqs:us-east-1:123456789012:tf-queue", "name": "tf-queue", "tags": tags, "tags_all": tags,
		}, want, true},
		{"terraform against AWS", map[string]any{
			"id": canonical, "url": canonical, "arn": "arn:aws:sqs:us-east-1:123456789012:tf-queue", "name": "tf-queue", "tags": tags,
		}, want, true},
		{"legacy queue.amazonaws.com URL", map[string]any{
			"id": "https://queue.amazonaws.com/123456789012/tf-queue", "arn": "arn:aws:sqs:us-east-1:123456789012:tf-queue",
			"name": "tf-queue", "tags": tags,
		}, want, true},
		{"no arn or name: URL path and host", map[string]any{"id": canonical, "tags": tags}, want, true},
		{"china partition", map[string]any{
			"id": "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "arn": "arn:aws-cn:sqs:cn-north-1:123456789012:q", "name": "q",
		}, model.Resource{Provider: "aws", Type: "aws_sqs_queue", ID: "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
			Region: "cn-north-1", Account: "123456789012", Name: "q", ARN: "arn:aws-cn:sqs:cn-north-1:123456789012:q"}, true},
		{"local URL without arn has no region", map[string]any{"id": "http://127.0.0.1:5599/123456789012/tf-queue"}, model.Resource{}, false},
		{"nothing", map[string]any{}, model.Resource{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapper.FromState("aws_sqs_queue", tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
