package config

import (
	"strings"
	"testing"
	"time"
)

// TestRetention: defaults, explicit values, the older names still
// accepted, and mistakes reported with file, line and field.
func TestRetention(t *testing.T) {
	defaults := Retention{
		Schedule: "@hourly", SucceededEvents: 24 * time.Hour, DeadEvents: 720 * time.Hour,
		ResolvedFindings: 2160 * time.Hour, FindingHistory: 2160 * time.Hour,
		ExpiredSilences: 120 * time.Hour, ReceiverState: 2160 * time.Hour, ScanHistory: 2160 * time.Hour,
	}
	with := func(f func(r *Retention)) Retention { r := defaults; f(&r); return r }
	ok := []struct {
		name string
		yaml string
		want Retention
	}{
		{"defaults", "server: {}\n", defaults},
		{"explicit", `server:
  retention:
    schedule: "*/15 * * * *"
    succeeded_events: 48h
    dead_events: 2160h
    resolved_findings: 720h
    finding_history: 8760h
    expired_silences: 24h
    receiver_state: 1440h
    scan_history: 4320h
`, Retention{Schedule: "*/15 * * * *", SucceededEvents: 48 * time.Hour, DeadEvents: 2160 * time.Hour,
			ResolvedFindings: 720 * time.Hour, FindingHistory: 8760 * time.Hour, ExpiredSilences: 24 * time.Hour, ReceiverState: 1440 * time.Hour,
			ScanHistory: 4320 * time.Hour}},
		{"older names", "server:\n  retention_succeeded: 12h\n  retention_dead: 48h\n",
			with(func(r *Retention) { r.SucceededEvents, r.DeadEvents = 12*time.Hour, 48*time.Hour })},
		{"every", "server:\n  retention: {schedule: '@every 30m'}\n", with(func(r *Retention) { r.Schedule = "@every 30m" })},
	}
	for _, tc := range ok {
		cfg, err := Parse("plumb.yaml", []byte(tc.yaml), env(nil))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if cfg.Server.Retention != tc.want {
			t.Errorf("%s: retention %+v\nwant %+v", tc.name, cfg.Server.Retention, tc.want)
		}
		// The older fields mirror the effective values for the queue.
		if cfg.Server.RetentionSucceeded != tc.want.SucceededEvents || cfg.Server.RetentionDead != tc.want.DeadEvents {
			t.Errorf("%s: older fields %v %v", tc.name, cfg.Server.RetentionSucceeded, cfg.Server.RetentionDead)
		}
	}

	bad := []struct {
		name string
		yaml string
		want []string
	}{
		{"bad schedule", "server:\n  retention:\n    schedule: every night\n",
			[]string{`plumb.yaml:3: server.retention.schedule: "every night"`}},
		{"too short", "server:\n  retention:\n    finding_history: 30s\n    dead_events: -1h\n",
			[]string{"plumb.yaml:3: server.retention.finding_history: 30s: must be at least 1m0s",
				"plumb.yaml:4: server.retention.dead_events: -1h0m0s: must be at least 1m0s"}},
		{"both names", "server:\n  retention_succeeded: 12h\n  retention:\n    succeeded_events: 24h\n",
			[]string{"plumb.yaml:2: server.retention_succeeded: set server.retention.succeeded_events or server.retention_succeeded, not both"}},
		{"days are not a unit", "server:\n  retention:\n    resolved_findings: 90d\n",
			[]string{"plumb.yaml:3:"}},
		{"unknown key", "server:\n  retention:\n    findings: 24h\n",
			[]string{"plumb.yaml:3: server.retention.findings: unknown field `findings` in `server.retention`"}},
	}
	for _, tc := range bad {
		_, err := Parse("plumb.yaml", []byte(tc.yaml), env(nil))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\nwant it to contain %q", tc.name, err, w)
			}
		}
	}
}
