package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// River's job cleaner removes finalized jobs past the retention periods
// on its own schedule (about every 30 seconds, on the elected leader).
// PruneSucceeded and PruneDead do the same work on demand, so the
// server's retention job prunes on the schedule the operator set, reports
// what it removed, and tests can check it without waiting for River.

const pruneJobBatch = 2000

// PruneSucceeded deletes succeeded deliveries (and the runs of periodic
// jobs) finalized before before, then the event rows left without a
// delivery that are older than the duplicate window. It returns the
// deliveries and events removed.
func (q *Queue) PruneSucceeded(ctx context.Context, before time.Time) (int64, error) {
	return q.pruneJobs(ctx, &riverdriver.JobDeleteBeforeParams{CompletedDoDelete: true, CompletedFinalizedAtHorizon: before})
}

// PruneDead deletes dead-lettered deliveries (attempts exhausted or a
// permanent error, or cancelled) finalized before before, then the event
// rows left without a delivery that are older than the duplicate window.
// A dead delivery pruned can no longer be re-run.
func (q *Queue) PruneDead(ctx context.Context, before time.Time) (int64, error) {
	return q.pruneJobs(ctx, &riverdriver.JobDeleteBeforeParams{
		DiscardedDoDelete: true, DiscardedFinalizedAtHorizon: before,
		CancelledDoDelete: true, CancelledFinalizedAtHorizon: before,
	})
}

func (q *Queue) pruneJobs(ctx context.Context, p *riverdriver.JobDeleteBeforeParams) (int64, error) {
	p.Max = pruneJobBatch
	var total int64
	for {
		n, err := q.be.deleteFinalized(ctx, p)
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		total += int64(n)
		if n < pruneJobBatch {
			break
		}
	}
	events, err := q.cleanupCount(ctx)
	if err != nil {
		return total, err
	}
	return total + events, nil
}
