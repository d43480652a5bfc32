package queue

import (
	"context"
	"fmt"
)

// deadJobs selects the dead deliveries (River discarded or cancelled them)
// from River's own state index, so listing the dead letters of a queue
// with a million succeeded events reads only the dead ones.
const deadJobs = `FROM river_job j JOIN plumb_delivery d ON d.job_id = j.id
	WHERE j.state IN ('discarded', 'cancelled') AND j.kind = ?`

// DeadLetter is one dead delivery with the event it was for.
type DeadLetter struct {
	Delivery DeliveryRecord
	EventID  int64
	Event    EventRecord
}

// DeadPage is one page of DeadLetters.
type DeadPage struct {
	Letters []DeadLetter
	// Total counts every dead delivery matching the query.
	Total int
}

// DeadLetters pages through dead deliveries, newest first (by delivery
// id), of one subscription or of all (""). limit is 1 to MaxEventLimit;
// offset skips that many.
func (q *Queue) DeadLetters(ctx context.Context, subscription string, limit, offset int) (DeadPage, error) {
	if limit < 1 || limit > MaxEventLimit {
		return DeadPage{}, fmt.Errorf("dead letters: limit %d: want 1 to %d", limit, MaxEventLimit)
	}
	if offset < 0 {
		return DeadPage{}, fmt.Errorf("dead letters: offset %d: want 0 or more", offset)
	}
	where := deadJobs
	args := []any{kindDelivery}
	if subscription != "" {
		where += ` AND d.subscription = ?`
		args = append(args, subscription)
	}
	var page DeadPage
	if err := q.db.QueryRowContext(ctx, q.rebind(`SELECT COUNT(*) `+where), args...).Scan(&page.Total); err != nil {
		return DeadPage{}, fmt.Errorf("dead letters: count: %w", err)
	}
	rows, err := q.db.QueryContext(ctx, q.rebind(`SELECT j.id, d.event_id, d.subscription `+where+` ORDER BY j.id DESC LIMIT ? OFFSET ?`),
		append(args, limit, offset)...)
	if err != nil {
		return DeadPage{}, fmt.Errorf("dead letters: %w", err)
	}
	type link struct {
		job, event int64
		sub        string
	}
	var links []link
	for rows.Next() {
		var l link
		if err := rows.Scan(&l.job, &l.event, &l.sub); err != nil {
			_ = rows.Close()
			return DeadPage{}, fmt.Errorf("dead letters: %w", err)
		}
		links = append(links, l)
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil || len(links) == 0 {
		if err != nil {
			return DeadPage{}, fmt.Errorf("dead letters: %w", err)
		}
		return page, nil
	}
	ids := make([]int64, len(links))
	for i, l := range links {
		ids[i] = l.job
	}
	jobs, err := q.be.jobList(ctx, ids)
	if err != nil {
		return DeadPage{}, fmt.Errorf("dead letters: %w", err)
	}
	byID := map[int64]DeliveryRecord{}
	for _, j := range jobs {
		byID[j.ID] = deliveryRecord(j, "")
	}
	events := map[int64]EventRecord{}
	for _, l := range links {
		if _, ok := events[l.event]; ok {
			continue
		}
		row := q.db.QueryRowContext(ctx, q.rebind(`SELECT id, key, body, received_at, 0 FROM plumb_event WHERE id = ?`), l.event)
		rec, _, err := scanEvent(row)
		if err != nil {
			return DeadPage{}, fmt.Errorf("dead letters: event %d: %w", l.event, err)
		}
		events[l.event] = rec
	}
	for _, l := range links {
		d, ok := byID[l.job]
		if !ok {
			continue // removed by retention between the two reads
		}
		d.Subscription = l.sub
		page.Letters = append(page.Letters, DeadLetter{Delivery: d, EventID: l.event, Event: events[l.event]})
	}
	return page, nil
}

// DeadBySubscription counts dead deliveries per subscription.
func (q *Queue) DeadBySubscription(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.QueryContext(ctx, q.rebind(`SELECT d.subscription, COUNT(*) `+deadJobs+` GROUP BY d.subscription`), kindDelivery)
	if err != nil {
		return nil, fmt.Errorf("dead letters by subscription: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("dead letters by subscription: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// RetryDead runs every dead delivery of a subscription again now, the
// operator's re-run after fixing what killed them, and returns how many
// were rescheduled. Deliveries that died while it runs may be left for
// the next call; none is retried twice.
func (q *Queue) RetryDead(ctx context.Context, subscription string) (int, error) {
	if subscription == "" {
		return 0, fmt.Errorf("retry dead deliveries: name a subscription")
	}
	n := 0
	after := int64(0)
	for {
		rows, err := q.db.QueryContext(ctx, q.rebind(`SELECT j.id `+deadJobs+` AND d.subscription = ? AND j.id > ? ORDER BY j.id LIMIT 500`),
			kindDelivery, subscription, after)
		if err != nil {
			return n, fmt.Errorf("retry dead deliveries of %s: %w", subscription, err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return n, fmt.Errorf("retry dead deliveries of %s: %w", subscription, err)
			}
			ids = append(ids, id)
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return n, fmt.Errorf("retry dead deliveries of %s: %w", subscription, err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		for _, id := range ids {
			if err := q.be.jobRetry(ctx, id); err != nil {
				return n, fmt.Errorf("retry dead delivery %d of %s: %w", id, subscription, err)
			}
			n++
		}
		after = ids[len(ids)-1]
	}
}

// FilteredEvents counts events that matched no subscription (kept for the
// duplicate window only).
func (q *Queue) FilteredEvents(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM plumb_event e WHERE NOT EXISTS (SELECT 1 FROM plumb_delivery d WHERE d.event_id = e.id)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count filtered events: %w", err)
	}
	return n, nil
}
