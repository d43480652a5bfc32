package server

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/config"
	"plumb/internal/model"
)

// queueAlerter raises an event.alert finding when a queue state stays
// above its threshold for the configured time, and resolves it when the
// state drops back: a growing retry queue means handlers fail faster than
// they recover, which nobody sees until someone looks.
type queueAlerter struct {
	alerts []config.QueueAlert
	depth  func(ctx context.Context) (map[string]int, error)
	open   func(ctx context.Context, now time.Time, fs []model.Finding) error
	close  func(ctx context.Context, now time.Time, fingerprints []string) error
	// over remembers since when each alert's state has been above its
	// threshold; firing which alerts are open.
	over   map[string]time.Time
	firing map[string]bool
}

// alertFinding is the finding of a queue alert; its fingerprint depends
// on the alert's name only, so a flapping alert stays one finding.
func alertFinding(a config.QueueAlert, n int) model.Finding {
	f := model.Finding{
		Kind:     model.KindAlert,
		Severity: model.Severity(a.Severity),
		Resource: model.Resource{Provider: "plumb", Type: "plumb_queue", ID: a.State, Name: a.Name},
		Message:  fmt.Sprintf("Queue alert %s: %d deliveries in state %s (threshold %d for %s)", a.Name, n, a.State, a.Threshold, a.For),
		Rule:     a.Name,
	}
	f.Fingerprint = model.Fingerprint(model.KindAlert, "", "plumb", "plumb_queue", "", a.State, a.Name)
	return f
}

// check evaluates every alert once.
func (q *queueAlerter) check(ctx context.Context, now time.Time) error {
	depth, err := q.depth(ctx)
	if err != nil {
		return fmt.Errorf("queue depth: %w", err)
	}
	for _, a := range q.alerts {
		n := depth[a.State]
		if n <= a.Threshold {
			delete(q.over, a.Name)
			if q.firing[a.Name] {
				if err := q.close(ctx, now, []string{alertFinding(a, n).Fingerprint}); err != nil {
					return fmt.Errorf("resolve queue alert %s: %w", a.Name, err)
				}
				delete(q.firing, a.Name)
			}
			continue
		}
		since, ok := q.over[a.Name]
		if !ok {
			since = now
			q.over[a.Name] = now
		}
		if now.Sub(since) >= a.For && !q.firing[a.Name] {
			if err := q.open(ctx, now, []model.Finding{alertFinding(a, n)}); err != nil {
				return fmt.Errorf("raise queue alert %s: %w", a.Name, err)
			}
			q.firing[a.Name] = true
		}
	}
	return nil
}

// Bounds of the queue alert evaluation interval: half the shortest
// `for`, so a short `for` is honoured closely, but at least once a second
// (a depth query is not free) and at most every 10 seconds (a long `for`
// should not notice the crossing late either).
const (
	minAlertInterval = time.Second
	maxAlertInterval = 10 * time.Second
)

// QueueAlertInterval is how often queue alerts are evaluated:
// min(for/2, 10s) over the alerts, but not under 1s. An alert opens at
// most `for` plus this interval after its state first exceeded the
// threshold: the crossing is seen within one interval, and the alert is
// evaluated again exactly `for` after that.
func QueueAlertInterval(alerts []config.QueueAlert) time.Duration {
	every := maxAlertInterval
	for _, a := range alerts {
		every = min(every, a.For/2)
	}
	return max(every, minAlertInterval)
}

// run checks every interval until ctx ends, and also exactly when an
// alert that is over its threshold has been so for its `for`, so the
// alert does not wait for the next tick to open. interval <= 0 is
// QueueAlertInterval.
func (q *queueAlerter) run(ctx context.Context, interval time.Duration, onErr func(error)) {
	if interval <= 0 {
		interval = QueueAlertInterval(q.alerts)
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		if err := q.check(ctx, time.Now()); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		timer.Reset(q.nextWait(time.Now(), interval))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// nextWait is the time to the next check: the interval, or less when an
// alert's `for` runs out sooner.
func (q *queueAlerter) nextWait(now time.Time, interval time.Duration) time.Duration {
	wait := interval
	for _, a := range q.alerts {
		since, over := q.over[a.Name]
		if !over || q.firing[a.Name] {
			continue
		}
		wait = min(wait, max(since.Add(a.For).Sub(now), 0))
	}
	return wait
}
