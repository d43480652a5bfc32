package handler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"plumb/internal/audit"
	"plumb/internal/breakglass"
	"plumb/internal/model"
)

// Audit reports writes to the estate made by anyone other than the
// environment's deployment pipelines: code is only the truth if nothing
// else changes the estate.
type Audit struct {
	Checker *audit.Checker
	// Windows finds the break-glass window a write was made under (nil:
	// none are kept).
	Windows BreakGlassWindows
}

// BreakGlassWindows finds the open break-glass window of an environment
// whose principal made an event (internal/breakglass).
type BreakGlassWindows interface {
	Covering(ctx context.Context, environment string, ev model.Event, now time.Time) (*breakglass.Window, error)
}

// Name identifies the handler in subscriptions and logs.
func (Audit) Name() string { return "audit" }

// Handle returns one audit.unexpected_write finding for a write by a
// principal that is not a pipeline. Reads, writes without a known caller
// (nobody to hold to account, so no verdict) and writes AWS services make
// on their own (auto scaling, service-linked roles) yield nothing.
//
// A write by the principal of a break-glass window open at the time of the
// write yields audit.break_glass (info) and a drift.reconcile finding
// asking to put the change into code, instead of the unexpected write.
func (a Audit) Handle(ctx context.Context, d Delivery) ([]model.Finding, error) {
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
	if a.Windows != nil {
		w, err := a.Windows.Covering(ctx, d.Environment, ev, time.Now())
		if err != nil {
			return nil, fmt.Errorf("audit: break-glass windows: %w", err)
		}
		if w != nil {
			return breakglass.Findings(ev, d.Environment, *w), nil
		}
	}
	return []model.Finding{audit.Finding(ev, d.Environment)}, nil
}
