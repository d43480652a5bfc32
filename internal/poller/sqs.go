package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/model"
)

// SQS limits that ReceiveMessage enforces; values outside are rejected by
// the service, so they are checked up front instead of failing every poll.
const (
	sqsMaxWait      = 20 * time.Second
	sqsMaxBatch     = 10
	sqsMaxVisiblity = 12 * time.Hour
)

// SQSConfig describes one SQS queue that an EventBridge rule targets.
type SQSConfig struct {
	// Name identifies the source in logs and metrics and is what the Sink
	// is told the events came from.
	Name     string
	QueueURL string
	// WaitTime is the long-poll wait (default and maximum 20s): long polls
	// cost fewer requests and return as soon as a message arrives.
	WaitTime time.Duration
	// BatchSize is messages per receive (default and maximum 10).
	BatchSize int
	// VisibilityTimeout hides received messages for this long, which is
	// also the retry delay after a failed Accept. 0 keeps the queue's own
	// setting. Whole seconds only, as SQS counts them.
	VisibilityTimeout time.Duration
	// MaxErrorBackoff caps the wait between polls while SQS cannot be
	// reached or refuses them (default 30s): the longest a recovered
	// queue goes unnoticed.
	MaxErrorBackoff time.Duration
}

// SQS polls an SQS queue and moves its messages into the Sink.
//
// A message whose body the Decoder rejects is logged, counted and left in
// the queue: it is received again after each visibility timeout until the
// queue's redrive policy (maxReceiveCount) moves it to the dead-letter
// queue. Configure a redrive policy on every queue plumb polls; without
// one such a message is retried until its retention period ends.
type SQS struct {
	cfg    SQSConfig
	client *sqs.Client
	decode Decoder
	sink   Sink
	log    *slog.Logger
	stats  counters
	health *health

	// backoff spaces polls while SQS fails; sinkBackoff spaces them while
	// plumb's own queue refuses batches. Both are touched only by Run.
	backoff, sinkBackoff *errorBackoff
	// onBackoff, when set by tests, sees each wait after a failed poll.
	onBackoff func(time.Duration)
}

// NewSQS checks cfg and fills in defaults, so that configuration mistakes
// surface at start-up rather than as a loop of rejected polls.
func NewSQS(cfg SQSConfig, client *sqs.Client, decode Decoder, sink Sink, logger *slog.Logger) (*SQS, error) {
	if client == nil || decode == nil || sink == nil {
		return nil, errors.New("sqs poller: client, decoder and sink are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("poller", "sqs", "source", cfg.Name)
	return &SQS{cfg: cfg, client: client, decode: decode, sink: sink, log: logger, health: newHealth(),
		backoff: newErrorBackoff(cfg.MaxErrorBackoff), sinkBackoff: newErrorBackoff(cfg.MaxErrorBackoff)}, nil
}

func (c SQSConfig) withDefaults() (SQSConfig, error) {
	if c.QueueURL == "" {
		return c, errors.New("sqs poller: QueueURL is required")
	}
	if c.Name == "" {
		c.Name = c.QueueURL
	}
	switch {
	case c.WaitTime == 0:
		c.WaitTime = sqsMaxWait
	case c.WaitTime < 0 || c.WaitTime > sqsMaxWait:
		return c, fmt.Errorf("sqs poller %s: WaitTime %s outside 0..20s", c.Name, c.WaitTime)
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = sqsMaxBatch
	case c.BatchSize < 0 || c.BatchSize > sqsMaxBatch:
		return c, fmt.Errorf("sqs poller %s: BatchSize %d outside 1..10", c.Name, c.BatchSize)
	}
	if c.VisibilityTimeout < 0 || c.VisibilityTimeout > sqsMaxVisiblity {
		return c, fmt.Errorf("sqs poller %s: VisibilityTimeout %s outside 0..12h", c.Name, c.VisibilityTimeout)
	}
	if c.VisibilityTimeout > 0 && c.VisibilityTimeout < time.Second {
		c.VisibilityTimeout = time.Second
	}
	if c.MaxErrorBackoff < 0 {
		return c, fmt.Errorf("sqs poller %s: negative MaxErrorBackoff", c.Name)
	}
	if c.MaxErrorBackoff == 0 {
		c.MaxErrorBackoff = maxErrorBackoff
	}
	return c, nil
}

// Stats returns the counters so far; safe to call while Run runs.
func (p *SQS) Stats() Stats { return p.stats.snapshot() }

// Health returns what the poller knows about reaching its queue; safe to
// call while Run runs.
func (p *SQS) Health() Health { return p.health.snapshot() }

// Run polls until ctx ends and then returns nil. Errors from SQS or the
// Sink are retried with back-off, never returned, because a poller that
// exits stops intake silently while the server looks healthy. A failing
// queue is logged once with its cause, and once more when it recovers.
func (p *SQS) Run(ctx context.Context) error {
	p.log.Debug("polling", "queue_url", p.cfg.QueueURL, "wait", p.cfg.WaitTime, "batch", p.cfg.BatchSize)
	for ctx.Err() == nil {
		out, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !pollFailed(ctx, p.log, p.health, p.backoff, p.onBackoff, "receive from SQS", err,
				describe("SQS", endpointOf(p.cfg.QueueURL), p.receiveTimeout(), err)) {
				break
			}
			continue
		}
		pollSucceeded(ctx, p.log, p.health, p.backoff)
		if p.settle(ctx, out.Messages) {
			p.sinkBackoff.reset()
			continue
		}
		if !sleep(ctx, p.sinkBackoff.next()) {
			break
		}
	}
	p.log.Debug("stopped")
	return nil
}

// receiveTimeout bounds one ReceiveMessage: the long-poll wait plus
// callTimeout for the round trip, so a black-holed endpoint fails the
// poll instead of hanging it.
func (p *SQS) receiveTimeout() time.Duration { return p.cfg.WaitTime + callTimeout }

func (p *SQS) receive(ctx context.Context) (*sqs.ReceiveMessageOutput, error) {
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.cfg.QueueURL),
		MaxNumberOfMessages:         int32(p.cfg.BatchSize),
		WaitTimeSeconds:             int32(p.cfg.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	}
	if p.cfg.VisibilityTimeout > 0 {
		in.VisibilityTimeout = int32(p.cfg.VisibilityTimeout / time.Second)
	}
	cctx, cancel := context.WithTimeout(ctx, p.receiveTimeout())
	defer cancel()
	return p.client.ReceiveMessage(cctx, in)
}

// settle hands received messages to the Sink and deletes them. It reports
// false when the Sink refused the batch and the caller should back off.
func (p *SQS) settle(ctx context.Context, msgs []types.Message) bool {
	if len(msgs) == 0 {
		return true
	}
	p.stats.received.Add(int64(len(msgs)))

	var (
		events []model.Event
		settle []types.Message
	)
	for _, m := range msgs {
		evs, err := p.decode([]byte(aws.ToString(m.Body)))
		if err != nil {
			p.stats.decodeErrors.Add(1)
			p.log.Error("message body does not decode; leaving it for the queue's redrive policy",
				"message_id", aws.ToString(m.MessageId),
				"receive_count", m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)],
				"err", err)
			continue
		}
		events = append(events, evs...)
		settle = append(settle, m)
	}
	if len(settle) == 0 {
		return true
	}
	if len(events) > 0 {
		if err := p.sink.Accept(ctx, p.cfg.Name, events); err != nil {
			p.stats.sinkErrors.Add(1)
			if ctx.Err() == nil {
				p.log.Warn("sink rejected batch; messages reappear after the visibility timeout",
					"messages", len(settle), "events", len(events), "err", err)
			}
			return false
		}
		p.stats.accepted.Add(int64(len(events)))
	}
	p.deleteBatch(ctx, settle)
	return true
}

// deleteBatch removes settled messages. A message that fails to delete is
// only logged: it will be received again and its events deduplicated by
// plumb's queue, which is cheaper than any retry scheme here.
func (p *SQS) deleteBatch(ctx context.Context, msgs []types.Message) {
	dctx, cancel := cleanupContext(ctx)
	defer cancel()
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{
			Id:            aws.String(strconv.Itoa(i)),
			ReceiptHandle: m.ReceiptHandle,
		}
	}
	out, err := p.client.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(p.cfg.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		p.health.failedCall()
		p.log.Warn("delete failed; messages will be redelivered and deduplicated", "messages", len(msgs),
			"cause", describe("SQS", endpointOf(p.cfg.QueueURL), cleanupTimeout, err))
		return
	}
	p.stats.deleted.Add(int64(len(out.Successful)))
	for _, f := range out.Failed {
		p.health.failedCall()
		msgID := ""
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(msgs) {
			msgID = aws.ToString(msgs[i].MessageId)
		}
		p.log.Warn("delete of one message failed; it will be redelivered and deduplicated",
			"message_id", msgID, "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message), "sender_fault", f.SenderFault)
	}
}
