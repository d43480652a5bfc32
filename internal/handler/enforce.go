package handler

import (
	"context"
	"errors"
	"fmt"

	"plumb/internal/audit"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Enforcer is the enforcement service as the acting handlers use it
// (enforce.Service): event-time enforcement of stored findings, and
// resource-event actions.
type Enforcer interface {
	EnforceEvent(ctx context.Context, req enforce.EventRequest) (*enforce.Plan, error)
	Act(ctx context.Context, req enforce.ActRequest) (*enforce.Plan, error)
}

// AfterStore is implemented by handlers that act once the delivery's
// findings are stored (enforcement needs its finding in the store: the
// action record, the grace period and the notifications refer to it). The
// pipeline calls it after every handler ran and the findings were
// committed; an error retries the whole delivery, which is safe because
// findings are stored once per delivery and actions are keyed by it.
type AfterStore interface {
	AfterStore(ctx context.Context, d Delivery, stored []model.Finding) error
}

// errNoEnforcer is the error while the server is still wiring the
// enforcement service (a delivery picked up during start-up retries).
var errNoEnforcer = errors.New("enforcement is not set up yet")

// runID names the enforcement run of a delivery: the same on every
// attempt, so a retried delivery plans the same actions and none is
// taken twice.
func runID(prefix string, d Delivery) string {
	return prefix + d.ID()[:24]
}

// byOutsider reports whether an event is a write by a known principal that
// is neither a pipeline nor an AWS service acting on its own: the writes
// only people and stray automation make.
func byOutsider(c *audit.Checker, ev model.Event) bool {
	return audit.IsWrite(ev) && audit.HasPrincipal(ev) && !audit.ByService(ev) && c != nil && !c.IsPipelineEvent(ev)
}

// Enforce applies the environment's enforcement at event time: a resource
// created by a principal that is not one of the environment's pipelines,
// and that no state declares, gets the environment's verb for unmanaged
// resources (quarantine, or delete once the grace period allows) seconds
// after its creation event, through the same guards as a scheduled run
// (enforce.EventGuards). Creations by the pipelines are left alone: their
// state may simply not be written yet.
type Enforce struct {
	// Checker holds the environment's pipeline identities.
	Checker *audit.Checker
	// Detect finds the undeclared resources of the event.
	Detect DriftCheck
	// Enforcer returns the enforcement service (nil until it is set up).
	Enforcer func() Enforcer
}

// Name identifies the handler in subscriptions and logs.
func (Enforce) Name() string { return "enforce" }

// Handle returns the drift.unmanaged findings of an outsider's creation,
// like drift-check; AfterStore acts on them.
func (h Enforce) Handle(ctx context.Context, d Delivery) ([]model.Finding, error) {
	if h.Checker == nil {
		return nil, Permanent(errors.New("enforce: no pipeline identities configured"))
	}
	if !byOutsider(h.Checker, d.Event) {
		return nil, nil
	}
	return h.Detect.Handle(ctx, d)
}

// AfterStore hands the stored unmanaged findings of the event to the
// enforcement service.
func (h Enforce) AfterStore(ctx context.Context, d Delivery, stored []model.Finding) error {
	var fps []string
	for _, f := range stored {
		if f.Kind == model.KindUnmanaged && f.Environment == d.Environment && f.Source == string(d.Event.Source)+"/"+d.Event.ID {
			fps = append(fps, f.Fingerprint)
		}
	}
	if len(fps) == 0 {
		return nil
	}
	e := h.Enforcer()
	if e == nil {
		return errNoEnforcer
	}
	_, err := e.EnforceEvent(ctx, enforce.EventRequest{Environment: d.Environment, Fingerprints: fps,
		RunID: runID("ev", d), Actor: enforce.ActorEventPrefix + d.Subscription})
	if err != nil {
		return fmt.Errorf("enforce: %w", err)
	}
	return nil
}
