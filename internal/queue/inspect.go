package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// State ranks: an event shows the worst state of its deliveries.
const (
	rankFiltered = iota
	rankSucceeded
	rankPending
	rankRetry
	rankDead
)

var rankNames = map[int]string{
	rankFiltered:  StateFiltered,
	rankSucceeded: StateSucceeded,
	rankPending:   StatePending,
	rankRetry:     StateRetry,
	rankDead:      StateDead,
}

var stateRanks = map[string]int{
	StateFiltered:  rankFiltered,
	StateSucceeded: rankSucceeded,
	StatePending:   rankPending,
	StateRetry:     rankRetry,
	StateDead:      rankDead,
}

// rankSQL folds River's job state into plumb's. A job that has already
// been attempted and is waiting again (River makes short retries
// "available" with a future scheduled_at, and JobRetry makes dead jobs
// "available") is a retry, as is a running attempt after the first. It must
// agree with jobRank.
const rankSQL = `CASE
	WHEN j.id IS NULL THEN 0
	WHEN j.state IN ('discarded', 'cancelled') THEN 4
	WHEN j.state = 'retryable'
		OR (j.state IN ('available', 'scheduled', 'pending') AND j.attempt > 0)
		OR (j.state = 'running' AND j.attempt > 1) THEN 3
	WHEN j.state = 'completed' THEN 1
	ELSE 2 END`

func jobRank(j *rivertype.JobRow) int {
	switch j.State {
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		return rankDead
	case rivertype.JobStateRetryable:
		return rankRetry
	case rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending:
		if j.Attempt > 0 {
			return rankRetry
		}
		return rankPending
	case rivertype.JobStateRunning:
		if j.Attempt > 1 {
			return rankRetry
		}
		return rankPending
	case rivertype.JobStateCompleted:
		return rankSucceeded
	}
	return rankPending
}

// Page sizes of PageEvents (and ListEvents).
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventPage is one page of PageEvents.
type EventPage struct {
	Events []EventRecord
	// Total counts every event in the state asked for (all events for
	// ""), on this page or not, at the time of the call.
	Total int
	// More says another page follows, after the last event's id.
	More bool
}

// ListEvents is PageEvents without the total: one page of events in id
// order.
func (q *Queue) ListEvents(ctx context.Context, state string, limit int, afterID int64) ([]EventRecord, error) {
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	p, err := q.PageEvents(ctx, state, min(limit, MaxEventLimit), afterID)
	return p.Events, err
}

// PageEvents pages through events in id order (afterID is the last id of
// the previous page, 0 for the first). Ids only grow, so events received
// between two pages come after the ones already listed. state "" lists
// all; otherwise one of pending, retry, succeeded, dead, filtered; an
// event whose state changes between two pages may leave the listing or
// join it, as it no longer or now matches. limit is 1 to MaxEventLimit;
// 0 means DefaultEventLimit.
func (q *Queue) PageEvents(ctx context.Context, state string, limit int, afterID int64) (EventPage, error) {
	if limit == 0 {
		limit = DefaultEventLimit
	}
	if limit < 0 || limit > MaxEventLimit {
		return EventPage{}, fmt.Errorf("list events: limit %d: want 1 to %d", limit, MaxEventLimit)
	}
	grouped := `SELECT e.id, e.key, e.body, e.received_at, MAX(` + rankSQL + `)
		FROM plumb_event e
		LEFT JOIN plumb_delivery d ON d.event_id = e.id
		LEFT JOIN river_job j ON j.id = d.job_id
		WHERE e.id > ?
		GROUP BY e.id, e.key, e.body, e.received_at`
	var (
		having string
		extra  []any
		page   EventPage
	)
	if state != "" {
		rank, ok := stateRanks[state]
		if !ok {
			return EventPage{}, fmt.Errorf("list events: %w: %q", ErrInvalidState, state)
		}
		having = ` HAVING MAX(` + rankSQL + `) = ?`
		extra = []any{rank}
	}
	count := `SELECT COUNT(*) FROM plumb_event`
	countArgs := []any{}
	if state != "" {
		count = `SELECT COUNT(*) FROM (SELECT e.id FROM plumb_event e
			LEFT JOIN plumb_delivery d ON d.event_id = e.id
			LEFT JOIN river_job j ON j.id = d.job_id
			GROUP BY e.id` + having + `) t`
		countArgs = extra
	}
	if err := q.db.QueryRowContext(ctx, q.rebind(count), countArgs...).Scan(&page.Total); err != nil {
		return EventPage{}, fmt.Errorf("list events: count: %w", err)
	}
	// One more than asked tells whether another page follows.
	query := grouped + having + ` ORDER BY e.id LIMIT ?`
	args := append(append([]any{afterID}, extra...), limit+1)

	rows, err := q.db.QueryContext(ctx, q.rebind(query), args...)
	if err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	var out []EventRecord
	for rows.Next() {
		rec, rank, err := scanEvent(rows)
		if err != nil {
			_ = rows.Close()
			return EventPage{}, fmt.Errorf("list events: %w", err)
		}
		rec.State = rankNames[rank]
		out = append(out, rec)
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
		page.More = true
	}
	if err := q.attachDeliveries(ctx, out); err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	page.Events = out
	return page, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(s scanner) (EventRecord, int, error) {
	var rec EventRecord
	var body string
	var received int64
	var rank sql.NullInt64
	if err := s.Scan(&rec.ID, &rec.Key, &body, &received, &rank); err != nil {
		return rec, 0, err
	}
	if err := json.Unmarshal([]byte(body), &rec.Event); err != nil {
		return rec, 0, fmt.Errorf("decode event %d: %w", rec.ID, err)
	}
	rec.ReceivedAt = time.Unix(0, received).UTC()
	return rec, int(rank.Int64), nil
}

// GetEvent returns one event with its deliveries, or ErrNotFound.
func (q *Queue) GetEvent(ctx context.Context, id int64) (EventRecord, error) {
	row := q.db.QueryRowContext(ctx, q.rebind(`SELECT id, key, body, received_at, 0 FROM plumb_event WHERE id = ?`), id)
	rec, _, err := scanEvent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return EventRecord{}, fmt.Errorf("get event %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return EventRecord{}, fmt.Errorf("get event %d: %w", id, err)
	}
	recs := []EventRecord{rec}
	if err := q.attachDeliveries(ctx, recs); err != nil {
		return EventRecord{}, fmt.Errorf("get event %d: %w", id, err)
	}
	rec = recs[0]
	rank := rankFiltered
	for _, d := range rec.Deliveries {
		rank = max(rank, stateRanks[d.State])
	}
	rec.State = rankNames[rank]
	return rec, nil
}

// attachDeliveries loads the deliveries of recs through River's JobList,
// which parses River's columns for either dialect.
func (q *Queue) attachDeliveries(ctx context.Context, recs []EventRecord) error {
	if len(recs) == 0 {
		return nil
	}
	index := make(map[int64]int, len(recs))
	ph := make([]string, len(recs))
	args := make([]any, len(recs))
	for i, r := range recs {
		index[r.ID] = i
		ph[i] = "?"
		args[i] = r.ID
	}
	rows, err := q.db.QueryContext(ctx, q.rebind(`SELECT event_id, job_id, subscription FROM plumb_delivery WHERE event_id IN (`+strings.Join(ph, ", ")+`) ORDER BY job_id`), args...)
	if err != nil {
		return fmt.Errorf("load deliveries: %w", err)
	}
	type link struct {
		eventID, jobID int64
		sub            string
	}
	var links []link
	for rows.Next() {
		var l link
		if err := rows.Scan(&l.eventID, &l.jobID, &l.sub); err != nil {
			_ = rows.Close()
			return fmt.Errorf("load deliveries: %w", err)
		}
		links = append(links, l)
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return fmt.Errorf("load deliveries: %w", err)
	}
	if len(links) == 0 {
		return nil
	}
	ids := make([]int64, len(links))
	for i, l := range links {
		ids[i] = l.jobID
	}
	jobs, err := q.be.jobList(ctx, ids)
	if err != nil {
		return fmt.Errorf("load delivery jobs: %w", err)
	}
	byID := make(map[int64]*rivertype.JobRow, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	for _, l := range links {
		j := byID[l.jobID]
		if j == nil {
			continue // removed by retention; the cleanup job drops the link
		}
		rec := &recs[index[l.eventID]]
		rec.Deliveries = append(rec.Deliveries, deliveryRecord(j, l.sub))
	}
	return nil
}

func deliveryRecord(j *rivertype.JobRow, sub string) DeliveryRecord {
	d := DeliveryRecord{
		ID:           j.ID,
		Subscription: sub,
		State:        rankNames[jobRank(j)],
		Attempt:      j.Attempt,
		MaxAttempts:  j.MaxAttempts,
		ScheduledAt:  j.ScheduledAt,
		FinalizedAt:  j.FinalizedAt,
	}
	if n := len(j.Errors); n > 0 {
		d.LastError = j.Errors[n-1].Error
		if j.State == rivertype.JobStateCancelled {
			// River prefixes the error of a JobCancel; operators want the
			// handler's own words.
			d.LastError = strings.TrimPrefix(d.LastError, "JobCancelError: ")
		}
	}
	return d
}

// RetryEvent runs the event's dead and retrying deliveries again now; it is
// the operator's re-run after fixing a handler. It returns how many
// deliveries were rescheduled. Succeeded and running deliveries are left
// alone so a re-run never duplicates side effects that already happened.
func (q *Queue) RetryEvent(ctx context.Context, id int64) (int, error) {
	rec, err := q.GetEvent(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("retry event: %w", err)
	}
	n := 0
	for _, d := range rec.Deliveries {
		if d.State != StateDead && d.State != StateRetry {
			continue
		}
		if err := q.be.jobRetry(ctx, d.ID); err != nil {
			return n, fmt.Errorf("retry event %d delivery %d: %w", id, d.ID, err)
		}
		n++
	}
	return n, nil
}

// Depth counts deliveries by state (pending, retry, succeeded, dead) for
// metrics and backlog alerts. Every state is present, zero or not.
func (q *Queue) Depth(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.QueryContext(ctx, q.rebind(`SELECT r, COUNT(*) FROM (SELECT `+rankSQL+` AS r FROM river_job j WHERE j.kind = ?) t GROUP BY r`), kindDelivery)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	defer rows.Close()
	out := map[string]int{StatePending: 0, StateRetry: 0, StateSucceeded: 0, StateDead: 0}
	for rows.Next() {
		var rank, n int
		if err := rows.Scan(&rank, &n); err != nil {
			return nil, fmt.Errorf("queue depth: %w", err)
		}
		out[rankNames[rank]] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	return out, nil
}
