package handler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"plumb/internal/audit"
	"plumb/internal/model"
)

// Desired gives the cloud ids an environment's code declares, so a
// creation event can be judged without a full scan.
type Desired interface {
	Declared(ctx context.Context, environment string) (DeclaredSet, error)
}

// DeclaredSet answers whether a cloud id is declared. Ids are ARM ids
// (compared case-insensitively, as ARM does) or AWS ids and ARNs (exact).
// Provider is "aws" or "azure" ("azurerm" is accepted as azure).
type DeclaredSet interface {
	Has(provider, resourceID string) bool
}

// Refresher is implemented by a Desired whose view can be stale. DriftCheck
// asks it to reload before reporting a miss, because the pipeline may
// have created the resource and written the state after the cached copy
// was read.
type Refresher interface {
	Refresh(ctx context.Context, environment string) (DeclaredSet, error)
}

// DriftCheck reports a resource created outside the code the moment its
// creation event arrives, instead of at the next scheduled scan.
type DriftCheck struct {
	Desired Desired
	// Grace, when positive, defers the verdict on events younger than it
	// by returning a retryable error: Terraform writes state only after
	// the cloud call returns, so a fast Event Grid event can arrive before
	// the state that declares the resource exists.
	Grace time.Duration
	// Now is the clock for Grace; nil means time.Now.
	Now func() time.Time
}

// Name identifies the handler in subscriptions and logs.
func (DriftCheck) Name() string { return "drift-check" }

// errTooEarly is wrapped when Grace defers a verdict.
var errTooEarly = errors.New("event is younger than the grace period")

// Handle returns one drift.unmanaged finding per created resource the
// desired state does not declare. Unmapped events and cloud-managed
// resources yield nothing; a failure to read desired state is retried.
func (c DriftCheck) Handle(ctx context.Context, d Delivery) ([]model.Finding, error) {
	if c.Desired == nil {
		return nil, Permanent(errors.New("drift-check: no desired state configured"))
	}
	var created []model.Resource
	for _, r := range audit.Created(d.Event) {
		if r.Default == "" {
			created = append(created, r)
		}
	}
	if len(created) == 0 {
		return nil, nil
	}
	set, err := c.Desired.Declared(ctx, d.Environment)
	if err != nil {
		return nil, fmt.Errorf("drift-check: desired state of %s: %w", d.Environment, err)
	}
	missing := undeclared(set, created)
	if len(missing) > 0 {
		if ref, ok := c.Desired.(Refresher); ok {
			if set, err = ref.Refresh(ctx, d.Environment); err != nil {
				return nil, fmt.Errorf("drift-check: refresh desired state of %s: %w", d.Environment, err)
			}
			missing = undeclared(set, missing)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if c.Grace > 0 && !d.Event.Time.IsZero() {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		if age := now().Sub(d.Event.Time); age < c.Grace {
			return nil, fmt.Errorf("drift-check: %s not declared yet, rechecking: %w (age %s < %s)", missing[0].ID, errTooEarly, age.Round(time.Second), c.Grace)
		}
	}
	out := make([]model.Finding, 0, len(missing))
	for _, r := range missing {
		out = append(out, unmanagedFinding(r, d))
	}
	return out, nil
}

// undeclared keeps the resources whose import id and ARN are both absent.
func undeclared(set DeclaredSet, rs []model.Resource) []model.Resource {
	var out []model.Resource
	for _, r := range rs {
		if set.Has(r.Provider, r.ID) || (r.ARN != "" && set.Has(r.Provider, r.ARN)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func unmanagedFinding(r model.Resource, d Delivery) model.Finding {
	ev := d.Event
	by := ev.Principal
	msg := "Undefined resource exists (" + r.DisplayName() + ")"
	if by != "" {
		msg += ", created by " + by
	}
	return model.Finding{
		Kind:        model.KindUnmanaged,
		Severity:    model.SeverityMedium,
		Fingerprint: model.Fingerprint(model.KindUnmanaged, d.Environment, r.Provider, r.Type, r.Region, r.ID, ""),
		Environment: d.Environment,
		Resource:    r,
		Source:      string(ev.Source) + "/" + ev.ID,
		Changes:     []model.Change{},
		Message:     msg,
	}
}

// normProvider folds provider spellings: state says azurerm, events azure.
func normProvider(p string) string {
	switch strings.ToLower(p) {
	case "azure", "azurerm", "azapi":
		return "azure"
	}
	return strings.ToLower(p)
}
