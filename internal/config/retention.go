package config

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Retention says how long plumb serve keeps what it no longer needs, and
// when it prunes the rest (server.retention). The pruner runs as one
// periodic job across all replicas.
type Retention struct {
	// Schedule is when the pruner runs: a 5-field cron expression or a
	// descriptor (@hourly, @every 30m). Default @hourly.
	Schedule string `yaml:"schedule"`
	// SucceededEvents keeps succeeded deliveries, and events that matched
	// nothing; it is also the window in which a redelivered event is
	// recognised as a duplicate. Default 24h.
	SucceededEvents time.Duration `yaml:"succeeded_events"`
	// DeadEvents keeps dead-lettered deliveries for inspection and
	// re-runs. Default 720h (30 days).
	DeadEvents time.Duration `yaml:"dead_events"`
	// ResolvedFindings keeps findings after they are resolved, with their
	// history. Default 2160h (90 days).
	ResolvedFindings time.Duration `yaml:"resolved_findings"`
	// FindingHistory keeps the transitions of every finding, open ones
	// included. Default 2160h (90 days).
	FindingHistory time.Duration `yaml:"finding_history"`
	// ExpiredSilences keeps silences after they end or are expired.
	// Default 120h (5 days, as Alertmanager).
	ExpiredSilences time.Duration `yaml:"expired_silences"`
	// ReceiverState keeps what receivers remember (issue numbers) of
	// closed findings and groups, counted from the last write. Default
	// 2160h (90 days).
	ReceiverState time.Duration `yaml:"receiver_state"`
	// ScanHistory keeps the scan history the console's overview, trend
	// and compliance pages draw from; the latest scan of each environment
	// is kept however old. Default 2160h (90 days).
	ScanHistory time.Duration `yaml:"scan_history"`
}

// Retention defaults, exported so docs and tests name one source.
const (
	DefaultRetentionSchedule         = "@hourly"
	DefaultRetentionSucceededEvents  = 24 * time.Hour
	DefaultRetentionDeadEvents       = 30 * 24 * time.Hour
	DefaultRetentionResolvedFindings = 90 * 24 * time.Hour
	DefaultRetentionFindingHistory   = 90 * 24 * time.Hour
	DefaultRetentionExpiredSilences  = 5 * 24 * time.Hour
	DefaultRetentionReceiverState    = 90 * 24 * time.Hour
	DefaultRetentionScanHistory      = 90 * 24 * time.Hour
)

// minRetention catches unit slips (a retention of seconds would make
// every redelivery a new event and prune what operators are reading).
const minRetention = time.Minute

// retention validates server.retention, fills its defaults and reconciles
// it with the older server.retention_succeeded and server.retention_dead,
// which are still accepted (one or the other, not both).
func (v *validator) retention(s *Server) {
	r := &s.Retention
	if r.Schedule == "" {
		r.Schedule = DefaultRetentionSchedule
	} else if _, err := cron.ParseStandard(r.Schedule); err != nil {
		v.errf("server.retention.schedule", "%q: %v", r.Schedule, err)
	}
	alias := func(field string, newer *time.Duration, oldField string, older time.Duration) {
		switch {
		case *newer != 0 && older != 0:
			v.errf("server."+oldField, "set server.retention.%s or server.%s, not both (server.%s is the older name)", field, oldField, oldField)
		case *newer == 0:
			*newer = older
		}
	}
	alias("succeeded_events", &r.SucceededEvents, "retention_succeeded", s.RetentionSucceeded)
	alias("dead_events", &r.DeadEvents, "retention_dead", s.RetentionDead)
	for _, d := range []struct {
		field string
		val   *time.Duration
		def   time.Duration
	}{
		{"succeeded_events", &r.SucceededEvents, DefaultRetentionSucceededEvents},
		{"dead_events", &r.DeadEvents, DefaultRetentionDeadEvents},
		{"resolved_findings", &r.ResolvedFindings, DefaultRetentionResolvedFindings},
		{"finding_history", &r.FindingHistory, DefaultRetentionFindingHistory},
		{"expired_silences", &r.ExpiredSilences, DefaultRetentionExpiredSilences},
		{"receiver_state", &r.ReceiverState, DefaultRetentionReceiverState},
		{"scan_history", &r.ScanHistory, DefaultRetentionScanHistory},
	} {
		switch {
		case *d.val == 0:
			*d.val = d.def
		case *d.val < minRetention:
			v.errf("server.retention."+d.field, "%s: must be at least %s (write hours for days: 720h is 30 days)", d.val.String(), minRetention)
		}
	}
	// The older fields carry the effective values, so code reading them
	// (the queue options) sees what server.retention says.
	s.RetentionSucceeded, s.RetentionDead = r.SucceededEvents, r.DeadEvents
}
