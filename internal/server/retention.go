package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/queue"
	"plumb/internal/retention"
	"plumb/internal/scanhistory"
)

// retentionJob is the periodic job's name (River dedupes periodic jobs by
// it, so with several replicas one prune runs per tick).
const retentionJob = "retention"

// RetentionRules are the store's pruning rules with the ages of
// server.retention. A table added to the store (scan history, say) is
// pruned by adding its rule here.
func RetentionRules(r config.Retention, q *queue.Queue, store *findings.Store, hist *scanhistory.Store) []retention.Rule {
	rules := []retention.Rule{
		{Name: "succeeded_events", Keep: r.SucceededEvents, Prune: q.PruneSucceeded},
		{Name: "dead_events", Keep: r.DeadEvents, Prune: q.PruneDead},
		{Name: "resolved_findings", Keep: r.ResolvedFindings, Prune: store.PruneResolved},
		{Name: "finding_history", Keep: r.FindingHistory, Prune: store.PruneHistory},
		// Not configurable: the window in which a re-run delivery is not
		// counted twice (findings.OccurrenceRetention).
		{Name: "finding_occurrences", Keep: max(findings.OccurrenceRetention, r.DeadEvents), Prune: store.PruneOccurrences},
		{Name: "expired_silences", Keep: r.ExpiredSilences, Prune: store.PruneSilences},
		{Name: "receiver_state", Keep: r.ReceiverState, Prune: store.PruneReceiverState},
	}
	if hist != nil {
		rules = append(rules, retention.Rule{Name: "scan_history", Keep: r.ScanHistory, Prune: func(ctx context.Context, before time.Time) (int64, error) {
			n, err := hist.Prune(ctx, before)
			return int64(n), err
		}})
	}
	return rules
}

// scheduleRetention registers the pruner as a periodic job, so it runs
// once per tick across replicas.
func scheduleRetention(cfg *config.Config, q *queue.Queue, store *findings.Store, hist *scanhistory.Store, logger *slog.Logger) error {
	p := &retention.Pruner{Rules: RetentionRules(cfg.Server.Retention, q, store, hist), Logger: logger}
	err := q.Periodic(retentionJob, cfg.Server.Retention.Schedule, func(ctx context.Context) error {
		start := time.Now()
		res, err := p.Run(ctx)
		var total int64
		for _, n := range res {
			total += n
		}
		logger.Debug("retention run", "rows", total, "took", time.Since(start).Round(time.Millisecond).String())
		return err
	})
	if err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	return nil
}
