package handler

import (
	"context"
	"errors"

	"plumb/internal/audit"
	"plumb/internal/model"
)

// Audit reports writes to the estate made by anyone other than the
// environment's deployment pipelines: code is only the truth if nothing
// else changes the estate.
type Audit struct {
	Checker *audit.Checker
}

// Name identifies the handler in subscriptions and logs.
func (Audit) Name() string { return "audit" }

// Handle returns one audit.unexpected_write finding for a write by a
// principal that is not a pipeline. Reads, writes without a known caller
// (nobody to hold to account, so no verdict) and writes AWS services make
// on their own (auto scaling, service-linked roles) yield nothing.
func (a Audit) Handle(_ context.Context, d Delivery) ([]model.Finding, error) {
	if a.Checker == nil {
		return nil, Permanent(errors.New("audit: no pipeline identities configured"))
	}
	ev := d.Event
	if !audit.IsWrite(ev) || !audit.HasPrincipal(ev) || audit.ByService(ev) {
		return nil, nil
	}
	if a.Checker.IsPipelineEvent(ev) {
		return nil, nil
	}
	return []model.Finding{audit.Finding(ev, d.Environment)}, nil
}
