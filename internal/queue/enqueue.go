package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"plumb/internal/model"
)

type enqueueRequest struct {
	ctx   context.Context
	items []Item
	// keys and bodies are computed by the caller, in parallel, so the
	// single committer goroutine spends its time on the database only.
	keys   []string
	bodies []string
	done   chan enqueueReply
}

type enqueueReply struct {
	res EnqueueResult
	err error
}

// Enqueue durably stores the events and their deliveries and returns only
// after the commit, so intake may answer 200. Events are deduplicated on
// model.Event.Key(): a redelivery (earlier, in the same call or in a
// concurrent call) counts as a duplicate and adds no delivery. Events that
// matched no subscription are recorded too, so their redeliveries stay
// duplicates.
//
// Concurrent calls are group-committed: one goroutine collects the waiting
// calls into one transaction, which is what lets SQLite take thousands of
// events per second with one fsync per batch. If ctx ends while the batch is
// in flight the call returns ctx's error although the batch may commit; a
// sender retrying then gets Duplicates, never a second delivery.
func (q *Queue) Enqueue(ctx context.Context, items []Item) (EnqueueResult, error) {
	if len(items) == 0 {
		return EnqueueResult{}, nil
	}
	req := &enqueueRequest{ctx: ctx, items: items, done: make(chan enqueueReply, 1),
		keys: make([]string, len(items)), bodies: make([]string, len(items))}
	for i := range items {
		req.keys[i] = items[i].Event.Key()
		body, err := encodeEvent(items[i].Event)
		if err != nil {
			return EnqueueResult{}, fmt.Errorf("enqueue: encode event %s: %w", req.keys[i], err)
		}
		req.bodies[i] = body
	}
	q.sendMu.RLock()
	if q.sendClose {
		q.sendMu.RUnlock()
		return EnqueueResult{}, ErrClosed
	}
	select {
	case q.reqs <- req:
		q.sendMu.RUnlock()
	case <-ctx.Done():
		q.sendMu.RUnlock()
		return EnqueueResult{}, fmt.Errorf("enqueue: %w", ctx.Err())
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-ctx.Done():
		return EnqueueResult{}, fmt.Errorf("enqueue: %w", ctx.Err())
	}
}

// encodeEvent is json.Marshal(ev) for the event table, without
// re-encoding Raw: json.Marshal validates and compacts a RawMessage, which
// was a tenth of intake's CPU for 1.5 KB envelopes the parsers had just
// read. Raw is checked to be valid JSON and written as received (a
// decoder reads both the same); anything else takes json.Marshal's path
// and its error.
func encodeEvent(ev model.Event) (string, error) {
	raw := ev.Raw
	if len(raw) == 0 || !json.Valid(raw) {
		b, err := json.Marshal(ev)
		return string(b), err
	}
	ev.Raw = nil
	head, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	// head ends with "raw":null} since Raw is the last field.
	const tail = `"raw":null}`
	if !bytes.HasSuffix(head, []byte(tail)) {
		ev.Raw = raw
		b, err := json.Marshal(ev)
		return string(b), err
	}
	var sb strings.Builder
	sb.Grow(len(head) + len(raw))
	sb.Write(head[:len(head)-len("null}")])
	sb.Write(raw)
	sb.WriteByte('}')
	return sb.String(), nil
}

// committer is the single goroutine that turns waiting Enqueue calls into
// transactions. It exits after Close, once the requests already queued are
// committed.
func (q *Queue) committer() {
	defer close(q.committed)
	for {
		var first *enqueueRequest
		select {
		case first = <-q.reqs:
		case <-q.closing:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-q.reqs:
					q.commitBatch([]*enqueueRequest{r})
				default:
					return
				}
			}
		}
		batch := []*enqueueRequest{first}
		n := len(first.items)
		var timer <-chan time.Time
	collect:
		for n < q.maxBatch {
			select {
			case r := <-q.reqs:
				batch = append(batch, r)
				n += len(r.items)
				continue
			default:
			}
			// Nothing waiting right now. A lone caller is committed at once;
			// under load (several callers already in the batch) linger a
			// moment for the ones about to arrive.
			if len(batch) < 2 || q.linger <= 0 {
				break
			}
			if timer == nil {
				timer = time.After(q.linger)
			}
			select {
			case r := <-q.reqs:
				batch = append(batch, r)
				n += len(r.items)
			case <-timer:
				break collect
			}
		}
		q.commitBatch(batch)
	}
}

// commitBatch commits a batch in one transaction. If that fails, each
// request is retried alone so one bad request (or a deadlock between
// replicas) cannot fail its neighbours.
func (q *Queue) commitBatch(batch []*enqueueRequest) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- enqueueReply{err: fmt.Errorf("enqueue: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	live = q.admit(live)
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	results, err := q.commitTx(ctx, live)
	if err != nil && len(live) > 1 {
		q.log.Warn("queue: batch commit failed, committing requests one by one", "requests", len(live), "error", err)
		for _, r := range live {
			res, err := q.commitTx(ctx, []*enqueueRequest{r})
			r.done <- enqueueReply{res: res[0], err: err}
		}
		return
	}
	for i, r := range live {
		r.done <- enqueueReply{res: results[i], err: err}
	}
}

// admit rejects requests with ErrOverloaded while MaxPending deliveries
// wait. The pending count is an estimate (last count plus what was added
// since), recounted every second and before any rejection, so the check
// costs nothing in the common case and never rejects on a stale number.
func (q *Queue) admit(batch []*enqueueRequest) []*enqueueRequest {
	now := time.Now()
	if now.Sub(q.pendingCheckedAt) > pendingRecheck ||
		(q.pendingEstimate >= q.opts.MaxPending && now.Sub(q.pendingCheckedAt) > overloadRetest) {
		if n, err := q.countPending(context.Background()); err == nil {
			q.pendingEstimate, q.pendingCheckedAt = n, now
		} else {
			q.log.Warn("queue: count pending deliveries", "error", err)
		}
	}
	out := batch[:0:0]
	for _, r := range batch {
		if q.pendingEstimate >= q.opts.MaxPending {
			r.done <- enqueueReply{err: ErrOverloaded}
			continue
		}
		for _, it := range r.items {
			q.pendingEstimate += len(it.Subscriptions)
		}
		out = append(out, r)
	}
	return out
}

func (q *Queue) countPending(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, q.rebind(`SELECT COUNT(*) FROM river_job WHERE kind = ? AND state IN ('available', 'pending', 'retryable', 'scheduled')`), kindDelivery).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}

// pendingEvent is an event of the batch that is not a duplicate within the
// batch; whether it is new is decided by the insert.
type pendingEvent struct {
	key  string
	body string
	item *Item
	req  int
}

const insertChunk = 200

func (q *Queue) commitTx(ctx context.Context, batch []*enqueueRequest) ([]EnqueueResult, error) {
	results := make([]EnqueueResult, len(batch))
	seen := map[string]bool{}
	var cands []pendingEvent
	for ri, r := range batch {
		for i := range r.items {
			it := &r.items[i]
			key := r.keys[i]
			if seen[key] {
				continue
			}
			seen[key] = true
			cands = append(cands, pendingEvent{key: key, body: r.bodies[i], item: it, req: ri})
		}
	}
	// A fixed key order means two replicas inserting overlapping batches
	// into PostgreSQL wait for each other instead of deadlocking.
	sort.Slice(cands, func(i, j int) bool { return cands[i].key < cands[j].key })
	now := time.Now().UnixNano()

	err := q.be.inTx(ctx, func(tx txOps, ins jobInserter) error {
		for ri := range results {
			results[ri].Accepted = 0
		}
		ids := make(map[string]int64, len(cands))
		for start := 0; start < len(cands); start += insertChunk {
			chunk := cands[start:min(start+insertChunk, len(cands))]
			var sb strings.Builder
			sb.WriteString("INSERT INTO plumb_event (key, body, received_at) VALUES ")
			args := make([]any, 0, 3*len(chunk))
			for i, c := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?)")
				args = append(args, c.key, c.body, now)
			}
			sb.WriteString(" ON CONFLICT (key) DO NOTHING RETURNING id, key")
			rows, err := tx.query(ctx, sb.String(), args...)
			if err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			for rows.Next() {
				var id int64
				var key string
				if err := rows.Scan(&id, &key); err != nil {
					rows.Close()
					return fmt.Errorf("insert events: %w", err)
				}
				ids[key] = id
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}

		type deliveryRow struct {
			eventID int64
			sub     string
		}
		var params []river.InsertManyParams
		var rowsMeta []deliveryRow
		for _, c := range cands {
			id, ok := ids[c.key]
			if !ok {
				continue
			}
			subSeen := map[string]bool{}
			for _, sub := range c.item.Subscriptions {
				if subSeen[sub] {
					continue
				}
				subSeen[sub] = true
				pol := c.item.Retry[sub]
				args := deliveryArgs{EventID: id, Subscription: sub}
				for _, d := range pol.Schedule {
					args.RetryMS = append(args.RetryMS, d.Milliseconds())
				}
				maxAttempts := pol.MaxAttempts
				if maxAttempts <= 0 {
					maxAttempts = DefaultMaxAttempts
				}
				params = append(params, river.InsertManyParams{
					Args:       args,
					InsertOpts: &river.InsertOpts{Queue: riverQueueDelivery, MaxAttempts: maxAttempts},
				})
				rowsMeta = append(rowsMeta, deliveryRow{eventID: id, sub: sub})
			}
		}
		if len(params) > 0 {
			var jobIDs []int64
			var err error
			if q.dialect == "sqlite" {
				jobIDs, err = insertDeliveryJobsSQLite(ctx, tx, params)
			} else {
				jobIDs, err = ins(ctx, params)
			}
			if err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			if len(jobIDs) != len(params) {
				return fmt.Errorf("insert deliveries: %d jobs for %d deliveries", len(jobIDs), len(params))
			}
			for start := 0; start < len(jobIDs); start += insertChunk {
				end := min(start+insertChunk, len(jobIDs))
				var sb strings.Builder
				sb.WriteString("INSERT INTO plumb_delivery (job_id, event_id, subscription) VALUES ")
				args := make([]any, 0, 3*(end-start))
				for i := start; i < end; i++ {
					if i > start {
						sb.WriteString(", ")
					}
					sb.WriteString("(?, ?, ?)")
					args = append(args, jobIDs[i], rowsMeta[i].eventID, rowsMeta[i].sub)
				}
				if err := tx.exec(ctx, sb.String(), args...); err != nil {
					return fmt.Errorf("insert delivery index: %w", err)
				}
			}
		}
		for _, c := range cands {
			if _, ok := ids[c.key]; ok {
				results[c.req].Accepted++
			}
		}
		return nil
	})
	if err != nil {
		return make([]EnqueueResult, len(batch)), fmt.Errorf("enqueue: %w", err)
	}
	// Everything not inserted was a duplicate: within the batch or of an
	// event an earlier transaction stored.
	for ri := range results {
		results[ri].Duplicates = len(batch[ri].items) - results[ri].Accepted
	}
	q.commits.Add(1)
	q.commitsItems.Add(int64(len(cands)))
	return results, nil
}

// insertDeliveryJobsSQLite writes delivery jobs into River's job table on
// SQLite with one multi-row INSERT per chunk, the same row River's
// InsertManyTx writes (TestSQLiteDeliveryJobsMatchRiver compares them
// column by column). River's own SQLite insert passes every job through
// json_each and returns and decodes whole job rows; on intake's single
// writer that was about half of each commit's CPU. River's insert hooks,
// middleware and unique jobs are not used by deliveries, and SQLite has
// no insert notification (workers poll), so nothing else is skipped.
// The ids are returned in the order of params.
func insertDeliveryJobsSQLite(ctx context.Context, tx txOps, params []river.InsertManyParams) ([]int64, error) {
	ids := make([]int64, len(params))
	type slot struct {
		eventID int64
		sub     string
	}
	pos := make(map[slot]int, len(params))
	for start := 0; start < len(params); start += insertChunk {
		chunk := params[start:min(start+insertChunk, len(params))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, metadata, tags, created_at, scheduled_at) VALUES `)
		args := make([]any, 0, 2*len(chunk))
		for i, p := range chunk {
			da, ok := p.Args.(deliveryArgs)
			if !ok {
				return nil, fmt.Errorf("job %d: %T is not a delivery", start+i, p.Args)
			}
			enc, err := json.Marshal(da)
			if err != nil {
				return nil, fmt.Errorf("encode delivery args: %w", err)
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(`(jsonb(?), '` + kindDelivery + `', ?, '` + riverQueueDelivery + `', 'available', 1, jsonb('{}'), jsonb('[]'), datetime('now', 'subsec'), datetime('now', 'subsec'))`)
			args = append(args, string(enc), p.InsertOpts.MaxAttempts)
			pos[slot{da.EventID, da.Subscription}] = start + i
		}
		sb.WriteString(` RETURNING id, json_extract(args, '$.event_id'), json_extract(args, '$.subscription')`)
		rows, err := tx.query(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			var id int64
			var s slot
			if err := rows.Scan(&id, &s.eventID, &s.sub); err != nil {
				rows.Close()
				return nil, err
			}
			i, ok := pos[s]
			if !ok {
				rows.Close()
				return nil, fmt.Errorf("job %d returned for an unknown delivery (event %d, %s)", id, s.eventID, s.sub)
			}
			ids[i] = id
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		if n != len(chunk) {
			return nil, fmt.Errorf("%d jobs inserted for %d deliveries", n, len(chunk))
		}
	}
	return ids, nil
}
