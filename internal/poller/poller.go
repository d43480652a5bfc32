// Package poller pulls cloud events from the queues the clouds deliver
// them to (AWS EventBridge -> SQS, Azure Event Grid -> Storage Queue) and
// hands them to plumb's own durable queue.
//
// Both pollers keep one rule: a cloud message is deleted only after
// Sink.Accept returned nil for its events. A crash, a failed Accept or a
// failed delete therefore never loses an event; it can only deliver it
// again, and plumb's queue drops the duplicate by event key. Nothing in
// Run is fatal: API errors are retried with capped, jittered exponential
// back-off until the context ends. A queue that cannot be reached is
// logged once with its cause and once when it recovers, and its state is
// kept in Health for /readyz and metrics.
package poller

import (
	"context"
	"sync/atomic"
	"time"

	"plumb/internal/model"
)

// Sink is plumb's durable queue as the pollers see it. Accept must return
// nil only once the events are committed, because the poller deletes the
// cloud message right after; an error keeps the message for redelivery.
type Sink interface {
	Accept(ctx context.Context, source string, events []model.Event) error
}

// Decoder turns one message body into events. It is a function rather
// than a fixed parser so that each configured source can use the format
// its producer writes (EventBridge, Event Grid, CloudEvents).
type Decoder func(body []byte) ([]model.Event, error)

// Stats are cumulative counters for /metrics. Message counters count
// cloud messages; Accepted counts events, because one message may carry
// several (an Event Grid batch) and dashboards care about events.
type Stats struct {
	// Received is messages taken from the cloud queue, redeliveries
	// included.
	Received int64
	// Accepted is events the Sink committed.
	Accepted int64
	// Deleted is messages removed from the cloud queue after their events
	// were committed (poisoned messages are counted in Poisoned instead).
	Deleted int64
	// Poisoned is messages moved to a poison queue (Storage Queue only;
	// SQS leaves that to the queue's redrive policy).
	Poisoned int64
	// DecodeErrors is messages whose body the Decoder rejected.
	DecodeErrors int64
	// SinkErrors is failed Accept calls; their messages stay queued.
	SinkErrors int64
}

// counters is the lock-free backing store of Stats, so /metrics can read
// while Run writes.
type counters struct {
	received, accepted, deleted, poisoned, decodeErrors, sinkErrors atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:     c.received.Load(),
		Accepted:     c.accepted.Load(),
		Deleted:      c.deleted.Load(),
		Poisoned:     c.poisoned.Load(),
		DecodeErrors: c.decodeErrors.Load(),
		SinkErrors:   c.sinkErrors.Load(),
	}
}

// minPollingInterval is where the empty-queue and error back-off start:
// short enough that a burst after a quiet spell is picked up quickly.
const minPollingInterval = 100 * time.Millisecond

// maxErrorBackoff bounds the wait after failing API or Sink calls, so a
// recovered peer is noticed within half a minute.
const maxErrorBackoff = 30 * time.Second

// nextPollInterval doubles the wait between polls of an empty queue, from
// minPollingInterval up to limit, as the Azure Functions queue trigger
// does: an idle queue costs few transactions, a busy one is polled
// without delay (the caller resets to minPollingInterval on a message).
func nextPollInterval(cur, limit time.Duration) time.Duration {
	if limit <= 0 {
		limit = minPollingInterval
	}
	if cur < minPollingInterval {
		return min(minPollingInterval, limit)
	}
	next := cur * 2
	if next > limit || next < cur { // next < cur: overflow
		return limit
	}
	return next
}

// sleep waits d or until ctx ends, and reports whether the caller should
// go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// callTimeout bounds one call to a cloud queue beyond any wait the call
// asks for (SQS's long poll), so a black-holed endpoint (packets dropped,
// no answer) fails the poll in seconds instead of hanging Run.
const callTimeout = 15 * time.Second

// cleanupTimeout bounds the deletes that follow a committed Accept. They
// run on a context detached from Run's, so a shutdown right after Accept
// still removes the message instead of causing a needless redelivery.
const cleanupTimeout = 15 * time.Second

func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
