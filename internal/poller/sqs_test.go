package poller

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/testenv"
)

// newMotoQueue creates an SQS queue in moto with a one-second visibility
// timeout, so redelivery tests take seconds.
func newMotoQueue(t *testing.T, client *sqs.Client, name string) string {
	t.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName:  aws.String(name),
		Attributes: map[string]string{"VisibilityTimeout": "1"},
	})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// sqsDepth counts messages still in the queue, visible or in flight.
func sqsDepth(t *testing.T, client *sqs.Client, url string) int {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	} {
		v, err := strconv.Atoi(out.Attributes[string(k)])
		if err != nil {
			t.Fatalf("attribute %s = %q: %v", k, out.Attributes[string(k)], err)
		}
		n += v
	}
	return n
}

func eventBody(id string) string {
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{}}`, id)
}

// TestSQSPoller runs every SQS case against one moto, since starting
// moto costs more than the cases themselves.
func TestSQSPoller(t *testing.T) {
	moto := testenv.StartMoto(t)
	cfg := moto.Config(t, "us-east-1")
	client := sqs.NewFromConfig(cfg)
	t.Run("Run stops promptly during a long poll", func(t *testing.T) { testSQSRunStopsPromptlyDuringLongPoll(t, client) })
	t.Run("Run survives API errors", func(t *testing.T) { testSQSRunSurvivesAPIErrors(t, moto, client) })
	t.Run("EventBridge rule to SQS to sink", func(t *testing.T) { testEventBridgeToSQSToSink(t, cfg, client) })

	tests := []struct {
		name           string
		bodies         []string
		sink           *recordingSink
		wantIDs        []string
		wantDeleted    int64
		wantDecodeErrs int64
		wantSinkErrs   int64
		wantLeft       int
	}{
		{
			name:        "delivered events reach the sink and messages are deleted",
			bodies:      []string{eventBody("e1"), eventBody("e2"), eventBody("e3")},
			sink:        &recordingSink{},
			wantIDs:     []string{"e1", "e2", "e3"},
			wantDeleted: 3,
		},
		{
			name:         "failed accept keeps the message until a later accept succeeds",
			bodies:       []string{eventBody("r1")},
			sink:         &recordingSink{failFirst: 1},
			wantIDs:      []string{"r1"},
			wantDeleted:  1,
			wantSinkErrs: 1,
		},
		{
			name:           "undecodable message is counted and left for the redrive policy",
			bodies:         []string{"this is not json", eventBody("g1")},
			sink:           &recordingSink{},
			wantIDs:        []string{"g1"},
			wantDeleted:    1,
			wantDecodeErrs: 1,
			wantLeft:       1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := newMotoQueue(t, client, fmt.Sprintf("plumb-sqs-%d", i))
			for _, b := range tt.bodies {
				if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			p, err := NewSQS(SQSConfig{Name: "aws-main", QueueURL: url, WaitTime: time.Second, VisibilityTimeout: time.Second},
				client, testDecode, tt.sink, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			stop := startRun(t, p.Run)
			waitFor(t, 30*time.Second, "events accepted and messages deleted", func() bool {
				s := p.Stats()
				return slices.Equal(tt.sink.ids(), tt.wantIDs) && s.Deleted >= tt.wantDeleted && s.DecodeErrors >= tt.wantDecodeErrs
			})
			stop()

			s := p.Stats()
			if s.Deleted != tt.wantDeleted {
				t.Errorf("Deleted = %d, want %d", s.Deleted, tt.wantDeleted)
			}
			if s.SinkErrors != tt.wantSinkErrs {
				t.Errorf("SinkErrors = %d, want %d", s.SinkErrors, tt.wantSinkErrs)
			}
			if tt.wantDecodeErrs == 0 && s.DecodeErrors != 0 {
				t.Errorf("DecodeErrors = %d, want 0", s.DecodeErrors)
			}
			if s.Accepted < int64(len(tt.wantIDs)) {
				t.Errorf("Accepted = %d, want >= %d", s.Accepted, len(tt.wantIDs))
			}
			if s.Received < int64(len(tt.bodies)) {
				t.Errorf("Received = %d, want >= %d", s.Received, len(tt.bodies))
			}
			if tt.wantSinkErrs > 0 && tt.sink.callCount() < 2 {
				t.Errorf("sink called %d times, want a retry after the failure", tt.sink.callCount())
			}
			for _, src := range tt.sink.sources {
				if src != "aws-main" {
					t.Errorf("sink told source %q, want aws-main", src)
				}
			}
			if got := sqsDepth(t, client, url); got != tt.wantLeft {
				t.Errorf("messages left in queue = %d, want %d", got, tt.wantLeft)
			}
		})
	}
}

func testSQSRunStopsPromptlyDuringLongPoll(t *testing.T, client *sqs.Client) {
	url := newMotoQueue(t, client, "plumb-sqs-cancel")
	p, err := NewSQS(SQSConfig{QueueURL: url, WaitTime: 20 * time.Second}, client, testDecode, &recordingSink{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(700 * time.Millisecond) // inside the 20s long poll by now
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %s to stop", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}

// testSQSRunSurvivesAPIErrors points the poller at a queue that does not
// exist: every receive fails, and Run must keep going (with back-off)
// until cancelled rather than return.
func testSQSRunSurvivesAPIErrors(t *testing.T, moto *testenv.Moto, client *sqs.Client) {
	url := moto.Endpoint + "/123456789012/does-not-exist"
	p, err := NewSQS(SQSConfig{QueueURL: url, WaitTime: time.Second}, client, testDecode, &recordingSink{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil after errors and cancel", err)
	}
}

// testEventBridgeToSQSToSink sends an event the way production does: an
// EventBridge rule with an SQS target, PutEvents, and the poller reading
// the envelope EventBridge wrote.
func testEventBridgeToSQSToSink(t *testing.T, cfg aws.Config, client *sqs.Client) {
	eb := eventbridge.NewFromConfig(cfg)
	ctx := context.Background()

	url := newMotoQueue(t, client, "plumb-eventbridge")
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         aws.String("plumb-intake"),
		EventPattern: aws.String(`{"source":["plumb.test"]}`),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:    aws.String("plumb-intake"),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(types.QueueAttributeNameQueueArn)])}},
	}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	put, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source:     aws.String("plumb.test"),
		DetailType: aws.String("Plumb Test Event"),
		Detail:     aws.String(`{"bucket":"logs"}`),
	}}})
	if err != nil || put.FailedEntryCount != 0 || len(put.Entries) != 1 {
		t.Fatalf("put events: err=%v out=%+v", err, put)
	}
	eventID := aws.ToString(put.Entries[0].EventId)

	sink := &recordingSink{}
	p, err := NewSQS(SQSConfig{Name: "eventbridge", QueueURL: url, WaitTime: time.Second}, client, testDecode, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, p.Run)
	waitFor(t, 30*time.Second, "the EventBridge event at the sink", func() bool {
		return len(sink.ids()) == 1 && p.Stats().Deleted == 1
	})
	stop()
	sink.mu.Lock()
	got := sink.events[0]
	sink.mu.Unlock()
	if got.ID != eventID {
		t.Errorf("event id = %q, want the PutEvents id %q", got.ID, eventID)
	}
	if got.Type != "Plumb Test Event" {
		t.Errorf("event type = %q, want the detail-type", got.Type)
	}
	if n := sqsDepth(t, client, url); n != 0 {
		t.Errorf("messages left = %d, want 0", n)
	}
}
