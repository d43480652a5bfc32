// Package handler holds the work plumb does for a cloud event once a
// subscription matched it: validating the resource, auditing who changed
// it, spotting resources created outside the code, and running operators'
// runbooks. The durable queue calls handlers and stores the findings they
// return; the error a handler returns tells the queue whether to retry.
package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"plumb/internal/model"
)

// Delivery is one attempt at handling one event for one subscription. The
// environment scopes findings and desired state; the attempt number lets
// handlers and runbooks tell a retry from the first try.
type Delivery struct {
	Event        model.Event
	Environment  string
	Subscription string
	Attempt      int
	// Occurrence names the delivery for findings.Store.UpsertOccurrence,
	// the key the pipeline stores the handlers' findings under; a handler
	// that must store findings itself before it acts (enforce) uses the
	// same key, so they are counted once.
	Occurrence string
}

// ID identifies the delivery the same way on every attempt, after a retry
// by the operator and after a crash: a hash of the event's key (source,
// id, topic) and the subscription, so it never depends on a database row
// id that could be reused. A runbook that must act once records it.
func (d Delivery) ID() string {
	h := sha256.Sum256([]byte(d.Event.Key() + "\x00" + d.Subscription))
	return hex.EncodeToString(h[:16])
}

// Handler is one step a subscription runs. Handle must be safe to call
// again for the same delivery (the queue retries on error), so it returns
// findings rather than acting on them.
type Handler interface {
	Name() string
	Handle(ctx context.Context, d Delivery) ([]model.Finding, error)
}

// permanentError marks an error retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps an error that no retry can fix (bad configuration, an
// event that can never be processed), so the queue dead-letters the
// delivery at once instead of wasting its retry budget. Permanent(nil) is
// nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked
// Permanent, so the queue can decide between retry and dead letter.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
