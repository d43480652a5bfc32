package poller

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"plumb/internal/model"
)

// Storage Queue limits and defaults. The defaults follow the Azure
// Functions queue trigger (batch 16, poll back-off up to 1 minute, five
// attempts) so that operators who know Functions get what they expect.
const (
	sqDefaultBatch       = 16
	sqMaxBatch           = 32
	sqDefaultVisibility  = 30 * time.Second
	sqMaxVisibility      = 7 * 24 * time.Hour
	sqDefaultMaxPolling  = time.Minute
	sqDefaultMaxDequeue  = 5
	poisonQueueSuffix    = "-poison"
	poisonMessageTTLSecs = -1 // poison messages wait for an operator, never expire
)

// StorageQueueConfig describes one Azure Storage queue that an Event Grid
// subscription delivers to.
type StorageQueueConfig struct {
	// Name identifies the source in logs and metrics and is what the Sink
	// is told the events came from.
	Name string
	// ConnectionString of the storage account (azurite's works too). It
	// is a secret and is never logged.
	ConnectionString string
	Queue            string
	// BatchSize is messages per dequeue (default 16, maximum 32).
	BatchSize int
	// VisibilityTimeout hides dequeued messages for this long (default
	// 30s, whole seconds, at least 1s). It is both the time the poller has
	// to commit a batch and the retry delay after a failed Accept: unlike
	// Functions, which holds messages for minutes and retries after 0s,
	// committing to the Sink takes milliseconds, and a Sink that just
	// failed deserves a pause before the next attempt.
	VisibilityTimeout time.Duration
	// MaxPollingInterval caps the empty-queue back-off (default 1m), which
	// starts at 100ms and doubles per empty poll. It is the worst-case
	// latency for the first event after a quiet spell.
	MaxPollingInterval time.Duration
	// MaxDequeueCount is how many times a message is tried (default 5)
	// before it moves to <Queue>-poison.
	MaxDequeueCount int
	// Base64 says message text is base64 of the body, as Event Grid
	// writes it today and Azure Functions expects by default. The zero
	// value is false, so the caller must set it for Event Grid queues.
	// Either way a body that is plainly in the other encoding (raw JSON,
	// or base64 of JSON) is still read: Event Grid wrote plain text in the
	// past (MicrosoftDocs/azure-docs#102923), and a wrong setting would
	// otherwise poison every message.
	Base64 bool
	// MaxErrorBackoff caps the wait between polls while the storage
	// account cannot be reached or refuses them (default 30s): the
	// longest a recovered queue goes unnoticed.
	MaxErrorBackoff time.Duration
}

// StorageQueue polls an Azure Storage queue and moves its messages into
// the Sink. Messages that cannot be processed go to <Queue>-poison, as
// the Azure Functions queue trigger does, so existing tooling for poison
// queues applies: a body the Decoder rejects goes there at once (it will
// never decode), and a message whose Accept keeps failing goes there
// after MaxDequeueCount attempts. The poison copy keeps the original text
// and never expires; the poison queue is created on first use.
type StorageQueue struct {
	cfg    StorageQueueConfig
	queue  *azqueue.QueueClient
	poison *azqueue.QueueClient
	decode Decoder
	sink   Sink
	log    *slog.Logger
	stats  counters
	health *health

	// poisonReady and the back-offs are touched only by Run's goroutine.
	poisonReady          bool
	backoff, sinkBackoff *errorBackoff
	// onIdle, when set by tests, sees each empty-queue wait; onBackoff
	// each wait after a failed poll.
	onIdle, onBackoff func(time.Duration)
}

// NewStorageQueue checks cfg, fills in defaults and builds the queue
// clients; it does not contact Azure, so the server starts even while
// storage is unreachable and the poller catches up later.
func NewStorageQueue(cfg StorageQueueConfig, decode Decoder, sink Sink, logger *slog.Logger) (*StorageQueue, error) {
	if decode == nil || sink == nil {
		return nil, errors.New("storage queue poller: decoder and sink are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// The poller has its own back-off; the SDK's retries only smooth over
	// single failed requests and must not stall Run for minutes.
	opts := &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{
		MaxRetries:    2,
		TryTimeout:    callTimeout / 3,
		RetryDelay:    200 * time.Millisecond,
		MaxRetryDelay: time.Second,
	}}}
	svc, err := azqueue.NewServiceClientFromConnectionString(cfg.ConnectionString, opts)
	if err != nil {
		// The SDK's parse errors do not echo the string, but say so
		// without wrapping anything that could.
		return nil, fmt.Errorf("storage queue poller %s: invalid connection string: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StorageQueue{
		cfg:    cfg,
		queue:  svc.NewQueueClient(cfg.Queue),
		poison: svc.NewQueueClient(cfg.Queue + poisonQueueSuffix),
		decode: decode,
		sink:   sink,
		log:    logger.With("poller", "storagequeue", "source", cfg.Name, "queue", cfg.Queue),
		health: newHealth(),

		backoff:     newErrorBackoff(cfg.MaxErrorBackoff),
		sinkBackoff: newErrorBackoff(cfg.MaxErrorBackoff),
	}, nil
}

func (c StorageQueueConfig) withDefaults() (StorageQueueConfig, error) {
	if c.ConnectionString == "" {
		return c, errors.New("storage queue poller: ConnectionString is required")
	}
	if c.Queue == "" {
		return c, errors.New("storage queue poller: Queue is required")
	}
	if c.Name == "" {
		c.Name = c.Queue
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = sqDefaultBatch
	case c.BatchSize < 0 || c.BatchSize > sqMaxBatch:
		return c, fmt.Errorf("storage queue poller %s: BatchSize %d outside 1..32", c.Name, c.BatchSize)
	}
	switch {
	case c.VisibilityTimeout == 0:
		c.VisibilityTimeout = sqDefaultVisibility
	case c.VisibilityTimeout < 0 || c.VisibilityTimeout > sqMaxVisibility:
		return c, fmt.Errorf("storage queue poller %s: VisibilityTimeout %s outside 1s..7d", c.Name, c.VisibilityTimeout)
	case c.VisibilityTimeout < time.Second:
		c.VisibilityTimeout = time.Second
	}
	switch {
	case c.MaxPollingInterval == 0:
		c.MaxPollingInterval = sqDefaultMaxPolling
	case c.MaxPollingInterval < 0:
		return c, fmt.Errorf("storage queue poller %s: negative MaxPollingInterval", c.Name)
	}
	switch {
	case c.MaxDequeueCount == 0:
		c.MaxDequeueCount = sqDefaultMaxDequeue
	case c.MaxDequeueCount < 0:
		return c, fmt.Errorf("storage queue poller %s: negative MaxDequeueCount", c.Name)
	}
	switch {
	case c.MaxErrorBackoff == 0:
		c.MaxErrorBackoff = maxErrorBackoff
	case c.MaxErrorBackoff < 0:
		return c, fmt.Errorf("storage queue poller %s: negative MaxErrorBackoff", c.Name)
	}
	return c, nil
}

// Stats returns the counters so far; safe to call while Run runs.
func (p *StorageQueue) Stats() Stats { return p.stats.snapshot() }

// Health returns what the poller knows about reaching its queue; safe to
// call while Run runs.
func (p *StorageQueue) Health() Health { return p.health.snapshot() }

// Run polls until ctx ends and then returns nil. Errors are retried with
// back-off, never returned: a poller that exits stops intake silently
// while the server looks healthy. A failing queue is logged once with its
// cause, and once more when it recovers.
func (p *StorageQueue) Run(ctx context.Context) error {
	p.log.Debug("polling", "batch", p.cfg.BatchSize, "visibility", p.cfg.VisibilityTimeout,
		"max_polling_interval", p.cfg.MaxPollingInterval, "max_dequeue_count", p.cfg.MaxDequeueCount)
	var idle time.Duration
	for ctx.Err() == nil {
		msgs, err := p.dequeue(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			cause := describe("storage queue", endpointOf(p.queue.URL()), callTimeout, err)
			if queueerror.HasCode(err, queueerror.QueueNotFound) {
				cause = fmt.Sprintf("storage queue %s does not exist (yet)", p.cfg.Queue)
			}
			if !pollFailed(ctx, p.log, p.health, p.backoff, p.onBackoff, "dequeue", err, cause) {
				break
			}
			continue
		}
		pollSucceeded(ctx, p.log, p.health, p.backoff)
		if len(msgs) == 0 {
			idle = nextPollInterval(idle, p.cfg.MaxPollingInterval)
			if p.onIdle != nil {
				p.onIdle(idle)
			}
			if !sleep(ctx, idle) {
				break
			}
			continue
		}
		idle = 0
		if p.settle(ctx, msgs) {
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

// pending is a dequeued message on its way to the Sink.
type pending struct {
	msg    *azqueue.DequeuedMessage
	events []model.Event
}

// dequeue gets one batch, bounded by callTimeout so that a black-holed
// endpoint fails the poll instead of hanging it.
func (p *StorageQueue) dequeue(ctx context.Context) ([]*azqueue.DequeuedMessage, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := p.queue.DequeueMessages(cctx, &azqueue.DequeueMessagesOptions{
		NumberOfMessages:  ptr(int32(p.cfg.BatchSize)),
		VisibilityTimeout: ptr(int32(p.cfg.VisibilityTimeout / time.Second)),
	})
	if err != nil {
		return nil, err
	}
	return resp.Messages, nil
}

// settle hands a dequeued batch to the Sink and deletes what it committed.
// It reports false when the Sink refused the batch and the caller should
// back off.
func (p *StorageQueue) settle(ctx context.Context, msgs []*azqueue.DequeuedMessage) bool {
	p.stats.received.Add(int64(len(msgs)))

	var (
		batch  []pending
		events []model.Event
	)
	for _, m := range msgs {
		if m == nil || m.MessageID == nil || m.PopReceipt == nil {
			continue
		}
		count := deref(m.DequeueCount)
		if count > int64(p.cfg.MaxDequeueCount) {
			// Tried MaxDequeueCount times already (or the poller died
			// while holding it): stop retrying.
			p.moveToPoison(ctx, m, "dequeue count exceeded")
			continue
		}
		body, err := messageBody(deref(m.MessageText), p.cfg.Base64)
		var evs []model.Event
		if err == nil {
			evs, err = p.decode(body)
		}
		if err != nil {
			p.stats.decodeErrors.Add(1)
			p.log.Error("message body does not decode; moving it to the poison queue",
				"message_id", *m.MessageID, "err", err)
			p.moveToPoison(ctx, m, "undecodable")
			continue
		}
		batch = append(batch, pending{msg: m, events: evs})
		events = append(events, evs...)
	}
	if len(batch) == 0 {
		return true
	}
	if len(events) > 0 {
		if err := p.sink.Accept(ctx, p.cfg.Name, events); err != nil {
			p.stats.sinkErrors.Add(1)
			if ctx.Err() == nil {
				p.log.Warn("sink rejected batch; messages reappear after the visibility timeout",
					"messages", len(batch), "events", len(events), "err", err)
			}
			// A message on its last attempt goes to the poison queue now
			// rather than after one more visibility timeout.
			for _, b := range batch {
				if deref(b.msg.DequeueCount) >= int64(p.cfg.MaxDequeueCount) {
					p.moveToPoison(ctx, b.msg, "sink kept failing")
				}
			}
			return false
		}
		p.stats.accepted.Add(int64(len(events)))
	}
	dctx, cancel := cleanupContext(ctx)
	defer cancel()
	for _, b := range batch {
		if err := p.deleteMessage(dctx, b.msg); err != nil {
			p.health.failedCall()
			p.log.Warn("delete failed; message will be redelivered and deduplicated",
				"message_id", *b.msg.MessageID, "cause", describe("storage queue", endpointOf(p.queue.URL()), cleanupTimeout, err))
			continue
		}
		p.stats.deleted.Add(1)
	}
	return true
}

func (p *StorageQueue) deleteMessage(ctx context.Context, m *azqueue.DequeuedMessage) error {
	_, err := p.queue.DeleteMessage(ctx, *m.MessageID, *m.PopReceipt, nil)
	if err != nil {
		return fmt.Errorf("delete message %s: %w", *m.MessageID, err)
	}
	return nil
}

// moveToPoison copies m, text unchanged, to the poison queue and then
// deletes it from the main queue. If the copy fails the original stays,
// so the message is never lost; if the delete fails it may be poisoned
// twice, which is harmless.
func (p *StorageQueue) moveToPoison(ctx context.Context, m *azqueue.DequeuedMessage, reason string) {
	pctx, cancel := cleanupContext(ctx)
	defer cancel()
	log := p.log.With("message_id", *m.MessageID, "dequeue_count", deref(m.DequeueCount), "reason", reason)
	if err := p.enqueuePoison(pctx, deref(m.MessageText)); err != nil {
		p.health.failedCall()
		log.Error("could not copy message to the poison queue; it stays in the main queue", "err", err)
		return
	}
	p.stats.poisoned.Add(1)
	if err := p.deleteMessage(pctx, m); err != nil {
		p.health.failedCall()
		log.Warn("copied to the poison queue but delete failed", "err", err)
		return
	}
	log.Warn("moved message to the poison queue", "poison_queue", p.cfg.Queue+poisonQueueSuffix)
}

func (p *StorageQueue) enqueuePoison(ctx context.Context, text string) error {
	opts := &azqueue.EnqueueMessageOptions{TimeToLive: ptr(int32(poisonMessageTTLSecs))}
	for attempt := 0; attempt < 2; attempt++ {
		if !p.poisonReady {
			if _, err := p.poison.Create(ctx, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
				return fmt.Errorf("create poison queue: %w", err)
			}
			p.poisonReady = true
		}
		_, err := p.poison.EnqueueMessage(ctx, text, opts)
		if err == nil {
			return nil
		}
		if !queueerror.HasCode(err, queueerror.QueueNotFound) {
			return fmt.Errorf("enqueue to poison queue: %w", err)
		}
		p.poisonReady = false // deleted behind our back: create again
	}
	return errors.New("poison queue disappeared twice while enqueuing")
}

// messageBody undoes the queue encoding. wantBase64 picks the expected
// encoding, but a body that is plainly the other one is accepted: a JSON
// document can never be valid base64 (it starts with '{' or '['), and the
// base64 of a JSON document decodes to one, so guessing is unambiguous
// for the JSON payloads plumb reads.
func messageBody(text string, wantBase64 bool) ([]byte, error) {
	raw := []byte(text)
	looksJSON := func(b []byte) bool {
		b = bytes.TrimSpace(b)
		return len(b) > 0 && (b[0] == '{' || b[0] == '[')
	}
	if looksJSON(raw) {
		return raw, nil
	}
	decoded, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if wantBase64 {
		if err != nil {
			return nil, fmt.Errorf("message text is neither base64 nor JSON: %w", err)
		}
		return decoded, nil
	}
	if err == nil && looksJSON(decoded) {
		return decoded, nil
	}
	return raw, nil
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
