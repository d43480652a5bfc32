package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"plumb/internal/audit"
	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/filter"
	"plumb/internal/findings"
	"plumb/internal/handler"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/queue"
	"plumb/internal/receivers"
)

// subscription is a configured subscription, compiled: its filters ready
// to match and its handlers built.
type subscription struct {
	name        string
	environment string
	sources     map[model.EventSource]bool
	eventGrid   *filter.EventGridMatcher
	pattern     *filter.Pattern
	handlers    []handler.Handler
	retry       queue.RetryPolicy
}

// Pipeline matches events to subscriptions at intake and runs the
// subscriptions' handlers when the queue delivers. It is the queue's
// Dispatcher.
type Pipeline struct {
	subs    []*subscription
	byName  map[string]*subscription
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time

	// receivers deliver notifications (subscriptions "receiver:NAME").
	receivers map[string]receivers.Receiver

	mu       sync.RWMutex
	store    *findings.Store
	enforcer queue.Dispatcher
	service  *enforce.Service
}

// NewPipeline compiles the subscriptions of a validated config.
func NewPipeline(cfg *config.Config, desired handler.Desired, logger *slog.Logger, m *metrics) (*Pipeline, error) {
	p := &Pipeline{byName: map[string]*subscription{}, logger: logger, metrics: m, now: time.Now}
	checkers := map[string]*audit.Checker{}
	for _, e := range cfg.Environments {
		c, err := audit.NewChecker(e.PipelineIdentities)
		if err != nil {
			return nil, fmt.Errorf("environment %s: pipeline_identities: %w", e.Name, err)
		}
		checkers[e.Name] = c
	}
	for _, sc := range cfg.Subscriptions {
		s := &subscription{name: sc.Name, environment: sc.Environment,
			retry: queue.RetryPolicy{MaxAttempts: sc.Retry.MaxAttempts, Schedule: sc.Retry.Schedule}}
		if len(sc.Sources) > 0 {
			s.sources = map[model.EventSource]bool{}
			for _, src := range sc.Sources {
				s.sources[model.EventSource(src)] = true
			}
		}
		if sc.EventGrid != nil {
			m, err := sc.EventGrid.Compile()
			if err != nil {
				return nil, fmt.Errorf("subscription %s: event_grid: %w", sc.Name, err)
			}
			s.eventGrid = m
		}
		if len(sc.PatternJSON) > 0 {
			pt, err := filter.CompilePattern(sc.PatternJSON)
			if err != nil {
				return nil, fmt.Errorf("subscription %s: event_pattern: %w", sc.Name, err)
			}
			s.pattern = pt
		}
		for _, hc := range sc.Handlers {
			switch hc.Type {
			case "validate":
				var checks []handler.Check
				if len(hc.RequiredTags) > 0 {
					checks = append(checks, handler.RequiredTags{Keys: hc.RequiredTags})
				}
				if len(hc.Packs)+len(hc.Policies) > 0 {
					set, err := policy.LoadPacks(hc.Packs, hc.Policies)
					if err != nil {
						return nil, fmt.Errorf("subscription %s: validate: %w", sc.Name, err)
					}
					// The resource is read back through the AWS inventory
					// with the standard credential chain, as the SQS
					// poller does.
					awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
					if err != nil {
						return nil, fmt.Errorf("subscription %s: validate: aws config: %w", sc.Name, err)
					}
					checks = append(checks, handler.PolicyCheck{Set: set, Reader: handler.NewAWSReader(awsCfg)})
				}
				s.handlers = append(s.handlers, handler.Validate{Checks: checks})
			case "audit":
				s.handlers = append(s.handlers, handler.Audit{Checker: checkers[sc.Environment]})
			case "drift-check":
				if desired == nil {
					return nil, fmt.Errorf("subscription %s: drift-check needs the environment's states", sc.Name)
				}
				s.handlers = append(s.handlers, handler.DriftCheck{Desired: desired})
			case "runbook":
				s.handlers = append(s.handlers, handler.Runbook{Command: hc.Command, Timeout: hc.Timeout, Dir: hc.Dir})
			case config.HandlerEnforce, config.HandlerTag, config.HandlerGrant, config.HandlerOperationFailed:
				h, err := p.actingHandler(sc, hc, checkers[sc.Environment], desired)
				if err != nil {
					return nil, err
				}
				s.handlers = append(s.handlers, h)
			default:
				return nil, fmt.Errorf("subscription %s: unknown handler %q", sc.Name, hc.Type)
			}
		}
		p.subs = append(p.subs, s)
		p.byName[s.name] = s
	}
	return p, nil
}

// SetStore hands the pipeline the findings store once the database is
// open (the store lives in the queue's database, which needs the
// pipeline as its dispatcher first).
func (p *Pipeline) SetStore(s *findings.Store) {
	p.mu.Lock()
	p.store = s
	p.mu.Unlock()
}

// SetEnforcer hands the pipeline the enforcement runner, which executes
// the deliveries of enforcement runs ("enforce:ENV").
func (p *Pipeline) SetEnforcer(d queue.Dispatcher) {
	p.mu.Lock()
	p.enforcer = d
	p.mu.Unlock()
}

// SetBreakGlass gives the audit handlers the break-glass windows, so a
// write by a window's principal is recorded instead of alarmed about.
func (p *Pipeline) SetBreakGlass(w handler.BreakGlassWindows) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sub := range p.byName {
		// A new slice, so a delivery holding the old one is not raced.
		hs := make([]handler.Handler, len(sub.handlers))
		for i, h := range sub.handlers {
			if a, ok := h.(handler.Audit); ok {
				a.Windows = w
				h = a
			}
			hs[i] = h
		}
		sub.handlers = hs
	}
}

// Match returns the queue items for events: each event with the
// subscriptions whose filters it passes. An event no subscription wants
// is still returned, with none, so the queue records it and a redelivery
// is recognised as a duplicate.
func (p *Pipeline) Match(events []model.Event) ([]queue.Item, error) {
	items := make([]queue.Item, 0, len(events))
	for i, ev := range events {
		item := queue.Item{Event: ev}
		var doc filter.Doc
		decoded := false
		for _, s := range p.subs {
			if s.sources != nil && !s.sources[ev.Source] {
				continue
			}
			if s.eventGrid != nil || s.pattern != nil {
				if !decoded {
					d, err := filter.NewDoc(ev)
					if err != nil {
						return nil, fmt.Errorf("event %d (%s): %w", i, ev.ID, err)
					}
					doc, decoded = d, true
				}
				if s.eventGrid != nil && !s.eventGrid.Match(doc) {
					continue
				}
				if s.pattern != nil && !s.pattern.Match(doc) {
					continue
				}
			}
			item.Subscriptions = append(item.Subscriptions, s.name)
			if s.retry.MaxAttempts > 0 || len(s.retry.Schedule) > 0 {
				if item.Retry == nil {
					item.Retry = map[string]queue.RetryPolicy{}
				}
				item.Retry[s.name] = s.retry
			}
		}
		items = append(items, item)
	}
	return items, nil
}

// Dispatch runs a delivery's handlers in order and stores what they
// found. Handlers are idempotent (findings are keyed by fingerprint), so a
// retry after a partial run repeats nothing harmful.
func (p *Pipeline) Dispatch(ctx context.Context, d queue.Delivery) error {
	if strings.HasPrefix(d.Subscription, receiverPrefix) {
		return p.deliverNotification(ctx, d)
	}
	if strings.HasPrefix(d.Subscription, enforce.SubscriptionPrefix) {
		p.mu.RLock()
		e := p.enforcer
		p.mu.RUnlock()
		if e == nil {
			return errors.New("enforcement is not set up yet")
		}
		start := time.Now()
		err := e.Dispatch(ctx, d)
		p.metrics.observeHandler("enforce", time.Since(start), err)
		if err != nil {
			p.logger.Warn("enforcement run failed", "subscription", d.Subscription, "run", d.Event.ID, "attempt", d.Attempt, "error", err)
			o := outcome(d, err)
			if queue.IsPermanent(err) {
				o = "dead"
			}
			p.metrics.delivery(d.Subscription, o)
			return err
		}
		p.metrics.delivery(d.Subscription, "succeeded")
		return nil
	}
	s, ok := p.byName[d.Subscription]
	if !ok {
		return queue.Permanent(fmt.Errorf("subscription %q is no longer configured", d.Subscription))
	}
	hd := handler.Delivery{Event: d.Event, Environment: s.environment, Subscription: s.name, Attempt: d.Attempt,
		Occurrence: fmt.Sprintf("delivery-%d", d.ID)}
	p.mu.RLock()
	handlers := s.handlers
	p.mu.RUnlock()
	var found []model.Finding
	for _, h := range handlers {
		start := time.Now()
		fs, err := h.Handle(ctx, hd)
		p.metrics.observeHandler(h.Name(), time.Since(start), err)
		if err != nil {
			p.logger.Warn("handler failed", "subscription", s.name, "handler", h.Name(), "event", d.Event.Key(), "attempt", d.Attempt, "error", err)
			p.metrics.delivery(s.name, outcome(d, err))
			if handler.IsPermanent(err) {
				return queue.Permanent(fmt.Errorf("%s: %w", h.Name(), err))
			}
			return fmt.Errorf("%s: %w", h.Name(), err)
		}
		found = append(found, fs...)
	}
	if err := p.storeFound(ctx, d, s, hd, found); err != nil {
		return err
	}
	if err := p.afterStore(ctx, d, s, hd, found); err != nil {
		return err
	}
	p.metrics.delivery(s.name, "succeeded")
	return nil
}

// storeFound stores a delivery's findings under its occurrence key.
func (p *Pipeline) storeFound(ctx context.Context, d queue.Delivery, s *subscription, hd handler.Delivery, found []model.Finding) error {
	if len(found) > 0 {
		p.mu.RLock()
		store := p.store
		p.mu.RUnlock()
		if store == nil {
			return errors.New("findings store is not open yet")
		}
		if err := store.UpsertOccurrence(ctx, p.now(), hd.Occurrence, found); err != nil {
			p.metrics.delivery(s.name, outcome(d, err))
			return fmt.Errorf("store %d findings: %w", len(found), err)
		}
	}
	return nil
}

// outcome names what the queue will do with a failed delivery, for the
// outcomes metric.
func outcome(d queue.Delivery, err error) string {
	if handler.IsPermanent(err) || (d.MaxAttempts > 0 && d.Attempt >= d.MaxAttempts) {
		return "dead"
	}
	return "retry"
}
