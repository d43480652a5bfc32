package server

import (
	"fmt"
	"testing"
	"time"

	"plumb/internal/config"
)

func TestQueueAlertInterval(t *testing.T) {
	alert := func(d time.Duration) config.QueueAlert { return config.QueueAlert{Name: d.String(), For: d} }
	tests := []struct {
		name   string
		alerts []config.QueueAlert
		want   time.Duration
	}{
		{"for 2s: every second", []config.QueueAlert{alert(2 * time.Second)}, time.Second},
		{"for 0s: at least a second apart", []config.QueueAlert{alert(0)}, time.Second},
		{"for 500ms: at least a second apart", []config.QueueAlert{alert(500 * time.Millisecond)}, time.Second},
		{"for 15s: half of it", []config.QueueAlert{alert(15 * time.Second)}, 7500 * time.Millisecond},
		{"for 5m: at most 10s", []config.QueueAlert{alert(5 * time.Minute)}, 10 * time.Second},
		{"the shortest for decides", []config.QueueAlert{alert(5 * time.Minute), alert(4 * time.Second)}, 2 * time.Second},
	}
	for _, tc := range tests {
		if got := QueueAlertInterval(tc.alerts); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestQueueAlertNextWait: an alert over its threshold is evaluated again
// exactly when its `for` runs out, not at the next tick.
func TestQueueAlertNextWait(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	q := &queueAlerter{
		alerts: []config.QueueAlert{{Name: "a", For: 2 * time.Second}, {Name: "b", For: 30 * time.Second}},
		over:   map[string]time.Time{}, firing: map[string]bool{},
	}
	tests := []struct {
		name   string
		over   map[string]time.Time
		firing map[string]bool
		want   time.Duration
	}{
		{"nothing over: the interval", nil, nil, 10 * time.Second},
		{"a over for 500ms: 1.5s to go", map[string]time.Time{"a": now.Add(-500 * time.Millisecond)}, nil, 1500 * time.Millisecond},
		{"a overdue: now", map[string]time.Time{"a": now.Add(-3 * time.Second)}, nil, 0},
		{"a already firing: the interval", map[string]time.Time{"a": now.Add(-3 * time.Second)}, map[string]bool{"a": true}, 10 * time.Second},
		{"b over for 25s: 5s to go", map[string]time.Time{"b": now.Add(-25 * time.Second)}, nil, 5 * time.Second},
	}
	for _, tc := range tests {
		q.over, q.firing = map[string]time.Time{}, map[string]bool{}
		for k, v := range tc.over {
			q.over[k] = v
		}
		for k, v := range tc.firing {
			q.firing[k] = v
		}
		if got := q.nextWait(now, 10*time.Second); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestE2EQueueAlertFollowsFor: with `for: 2s` and the default evaluation
// interval, the alert opens no earlier than 2s after its state crossed the
// threshold (the second of two deliveries going dead) and no later than the documented bound,
// `for` + QueueAlertInterval (3s), plus a little for the depth query and a
// loaded machine.
func TestE2EQueueAlertFollowsFor(t *testing.T) {
	const forDur = 2 * time.Second
	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
sources:
  eventgrid: {key: {env: KEY}}
subscriptions:
  - name: broken
    environment: prod
    handlers:
      - type: runbook
        command: [sh, -c, 'exit 3']
    retry: {max_attempts: 1}
queue_alerts:
  - {name: dead-letters, state: dead, threshold: 1, for: %s, severity: high}
`, forDur), nil, nil)
	bound := forDur + QueueAlertInterval([]config.QueueAlert{{For: forDur}})
	const slack = 750 * time.Millisecond

	postGrid(t, ts.url, eventGridEvent("qa-for-1", "Microsoft.Resources.ResourceWriteSuccess", "p"),
		eventGridEvent("qa-for-2", "Microsoft.Resources.ResourceWriteSuccess", "p"))
	var died time.Time
	waitForDeadline(t, 20*time.Second, "both deliveries to go dead", func() bool {
		var ev eventsAnswer
		ts.apiGet("/v1/events?state=dead", &ev)
		if len(ev.Events) != 2 {
			return false
		}
		died = time.Time{}
		for _, e := range ev.Events {
			if len(e.Deliveries) != 1 || e.Deliveries[0].FinalizedAt == nil {
				return false
			}
			if at := *e.Deliveries[0].FinalizedAt; at.After(died) {
				died = at
			}
		}
		return true
	})
	var alerts []findingView
	waitForDeadline(t, 30*time.Second, "the queue alert", func() bool {
		alerts = ts.findings("kind=event.alert")
		return len(alerts) > 0
	})
	opened := alerts[0].FirstSeen.Sub(died)
	t.Logf("delivery dead at %s, alert opened %s later (for %s, documented bound %s)", died.Format(time.RFC3339Nano), opened, forDur, bound)
	if opened < forDur {
		t.Errorf("alert opened %s after the crossing, before its for of %s", opened, forDur)
	}
	if opened > bound+slack {
		t.Errorf("alert opened %s after the crossing, later than for + interval = %s (+%s)", opened, bound, slack)
	}
}
