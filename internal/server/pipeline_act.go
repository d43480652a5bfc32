package server

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/audit"
	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/handler"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// actingHandler builds the handlers that act on the cloud (enforce, tag,
// grant) and operation-failed. The acting ones reach the enforcement
// service through the pipeline, which gets it once the stores are open.
func (p *Pipeline) actingHandler(sc config.Subscription, hc config.Handler, checker *audit.Checker, desired handler.Desired) (handler.Handler, error) {
	switch hc.Type {
	case config.HandlerEnforce:
		if desired == nil {
			return nil, fmt.Errorf("subscription %s: enforce needs the environment's states", sc.Name)
		}
		return handler.Enforce{Checker: checker, Detect: handler.DriftCheck{Desired: desired}, Enforcer: p.enforcerService}, nil
	case config.HandlerTag:
		return handler.Tag{Checker: checker, Tags: hc.Tags, Types: hc.ResourceTypes, Enforcer: p.enforcerService}, nil
	case config.HandlerGrant:
		return handler.Grant{Types: hc.ResourceTypes, Policy: hc.Policy, Group: hc.Group, Enforcer: p.enforcerService}, nil
	case config.HandlerOperationFailed:
		return handler.OperationFailed{}, nil
	}
	return nil, fmt.Errorf("subscription %s: unknown handler %q", sc.Name, hc.Type)
}

// SetService hands the pipeline the enforcement service, which the
// acting handlers call.
func (p *Pipeline) SetService(s *enforce.Service) {
	p.mu.Lock()
	p.service = s
	p.mu.Unlock()
}

// enforcerService returns the enforcement service, nil until it is set.
func (p *Pipeline) enforcerService() handler.Enforcer {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.service == nil {
		return nil
	}
	return p.service
}

// afterStore runs the acting handlers of a delivery once its findings are
// stored. A failure retries the delivery like a handler's.
func (p *Pipeline) afterStore(ctx context.Context, d queue.Delivery, s *subscription, hd handler.Delivery, found []model.Finding) error {
	for _, h := range s.handlers {
		a, ok := h.(handler.AfterStore)
		if !ok {
			continue
		}
		start := time.Now()
		err := a.AfterStore(ctx, hd, found)
		p.metrics.observeHandler(h.Name(), time.Since(start), err)
		if err != nil {
			p.logger.Warn("handler failed", "subscription", s.name, "handler", h.Name(), "event", d.Event.Key(), "attempt", d.Attempt, "error", err)
			p.metrics.delivery(s.name, outcome(d, err))
			if handler.IsPermanent(err) {
				return queue.Permanent(fmt.Errorf("%s: %w", h.Name(), err))
			}
			return fmt.Errorf("%s: %w", h.Name(), err)
		}
	}
	return nil
}
