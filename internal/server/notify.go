package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/receivers"
	ghrecv "plumb/internal/receivers/github"
	"plumb/internal/routing"
	"plumb/internal/scanhistory"
)

// Notifications travel through the same durable queue as events: a
// notification is an event of this source with one delivery, to the
// subscription "receiver:NAME". An outage of a receiver is retried on the
// queue's schedule, a dead notification shows in `plumb events list
// --state dead` and is re-run with `plumb events retry`.
const (
	notificationSource model.EventSource = "notification"
	receiverPrefix     string            = "receiver:"
)

// maxInlineRetryAfter is the longest Retry-After a delivery waits out
// itself before trying once more.
const maxInlineRetryAfter = time.Minute

// scanKinds are the finding kinds a scan is authoritative for: a complete
// scan that no longer finds one resolves it. Audit findings and alerts
// come from events and resolve otherwise.
var scanKinds = []model.Kind{model.KindUnmanaged, model.KindMissing, model.KindChanged, model.KindConflict, model.KindPolicyViolation}

// BuildReceivers constructs the configured receivers. state is where they
// remember what they created (GitHub issue numbers).
func BuildReceivers(cfg *config.Config, state receivers.State) (map[string]receivers.Receiver, error) {
	out := map[string]receivers.Receiver{}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, rc := range cfg.Receivers {
		var (
			r   receivers.Receiver
			err error
		)
		switch {
		case rc.GitHubIssue != nil:
			r, err = ghrecv.NewIssueReceiver(rc.Name, *rc.GitHubIssue, state, client)
		case rc.GitHubAdvisory != nil:
			r, err = ghrecv.NewAdvisoryReceiver(rc.Name, *rc.GitHubAdvisory, state, client)
		case rc.Webhook != nil:
			r, err = receivers.NewWebhook(rc.Name, *rc.Webhook, client)
		case rc.Slack != nil:
			r, err = receivers.NewSlack(rc.Name, *rc.Slack, client)
		case rc.Alertmanager != nil:
			r, err = receivers.NewAlertmanager(rc.Name, *rc.Alertmanager, client)
		case rc.Runbook != nil:
			r, err = receivers.NewRunbook(rc.Name, *rc.Runbook)
		default:
			err = fmt.Errorf("no receiver kind set")
		}
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", rc.Name, err)
		}
		out[rc.Name] = r
	}
	return out, nil
}

// notificationItem turns a notification into a queue item.
func notificationItem(n receivers.Notification, now time.Time, retry config.Retry) (queue.Item, error) {
	raw, err := json.Marshal(n)
	if err != nil {
		return queue.Item{}, fmt.Errorf("encode notification for %s: %w", n.Receiver, err)
	}
	sub := receiverPrefix + n.Receiver
	item := queue.Item{
		Event: model.Event{
			Source: notificationSource, ID: fmt.Sprintf("%s-%d", n.GroupKey, now.UnixNano()),
			Type: "plumb.notification", Subject: n.Receiver, Time: now, Raw: raw,
		},
		Subscriptions: []string{sub},
	}
	if retry.MaxAttempts > 0 || len(retry.Schedule) > 0 {
		item.Retry = map[string]queue.RetryPolicy{sub: {MaxAttempts: retry.MaxAttempts, Schedule: retry.Schedule}}
	}
	return item, nil
}

// deliverNotification is the dispatch of a "receiver:NAME" delivery.
func (p *Pipeline) deliverNotification(ctx context.Context, d queue.Delivery) error {
	name := strings.TrimPrefix(d.Subscription, receiverPrefix)
	r, ok := p.receivers[name]
	if !ok {
		return queue.Permanent(fmt.Errorf("receiver %q is no longer configured", name))
	}
	var n receivers.Notification
	if err := json.Unmarshal(d.Event.Raw, &n); err != nil {
		return queue.Permanent(fmt.Errorf("decode notification: %w", err))
	}
	start := time.Now()
	err := r.Deliver(ctx, n)
	// A receiver that asked for a short pause (a rate limit's
	// Retry-After) gets it within this attempt; longer pauses fall to the
	// queue's retry schedule, whose steps grow to an hour.
	var ra *receivers.RetryAfterError
	if errors.As(err, &ra) && ra.After <= maxInlineRetryAfter {
		p.logger.Info("receiver asked to wait", "receiver", name, "after", ra.After)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ra.After):
		}
		err = r.Deliver(ctx, n)
	}
	p.metrics.observeHandler("receiver:"+name, time.Since(start), err)
	if err != nil {
		p.logger.Warn("notification failed", "receiver", name, "group", n.GroupKey, "attempt", d.Attempt, "error", err)
		p.metrics.delivery(d.Subscription, outcome(d, err))
		if receivers.IsPermanent(err) {
			return queue.Permanent(err)
		}
		return err
	}
	p.metrics.delivery(d.Subscription, "succeeded")
	p.markNotified(ctx, name, n)
	return nil
}

// markNotified records in the open findings' history that their owners
// were told: enforcement's grace period counts from there. The delivery
// already succeeded, so a failure here is logged, not retried (a retry
// would notify twice); the finding then simply waits for its next
// notification before anything is done to it.
func (p *Pipeline) markNotified(ctx context.Context, receiver string, n receivers.Notification) {
	p.mu.RLock()
	store := p.store
	p.mu.RUnlock()
	if store == nil {
		return
	}
	var fps []string
	for _, f := range n.Findings {
		if f.Status == findings.StatusOpen {
			fps = append(fps, f.Fingerprint)
		}
	}
	if err := store.MarkNotified(ctx, p.now(), receiver, fps); err != nil {
		p.logger.Warn("could not record the notification in the findings' history", "receiver", receiver, "error", err)
	}
}

// newNotifier builds the routing pass that turns stored findings into
// queued notifications. Nil when no route is configured. plumb serve and
// `plumb scan --notify` both build it here, so a receiver gets the same
// body from either (external_url included).
func newNotifier(cfg *config.Config, store *findings.Store, q *queue.Queue) *routing.Notifier {
	if cfg.Route == nil {
		return nil
	}
	return &routing.Notifier{
		Store:       store,
		Router:      routing.NewRouter(cfg.Route),
		Now:         time.Now,
		ExternalURL: cfg.Server.ExternalURL,
		Send: func(ctx context.Context, n receivers.Notification) error {
			item, err := notificationItem(n, time.Now(), cfg.Server.NotifyRetry)
			if err != nil {
				return err
			}
			_, err = q.Enqueue(ctx, []queue.Item{item})
			return err
		},
	}
}

// OpenLocalStore opens the findings store in dataDir (plumb.db, the
// SQLite file `plumb scan --notify` keeps) without running any work, for
// commands that read or change it directly, such as
// `plumb silence --data-dir`. Unless create is set, a directory without
// plumb.db is an error rather than a new, empty store that nothing else
// would ever read. closeStore releases the database.
func OpenLocalStore(ctx context.Context, dataDir string, create bool, logger *slog.Logger) (store *findings.Store, closeStore func() error, err error) {
	if dataDir == "" {
		return nil, nil, fmt.Errorf("open store: no data directory given")
	}
	db := filepath.Join(dataDir, "plumb.db")
	if _, err := os.Stat(db); err != nil && !create {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no plumb store in %s (%s does not exist): check the path, or run plumb scan --notify --data-dir %s first", dataDir, db, dataDir)
		}
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	store, err = findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		_ = q.Close()
		return nil, nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	return store, q.Close, nil
}

// NotifyResult says what a one-shot notification run did.
type NotifyResult struct {
	Lifecycle findings.ReconcileResult
	// Sent counts notifications queued by this run; Pending those (of
	// this run or earlier ones) not yet delivered when it ended, left for
	// the next run: a receiver that was down gets them then.
	Sent, Pending int
}

// NotifyOnce is `plumb scan --notify`: the scan's findings go through the
// same lifecycle and routing as in plumb serve, with the SQLite store in
// dataDir, and the run waits (up to wait) for the notifications to be
// delivered. Notifications that could not be delivered stay queued and go
// out on the next run, so nothing is lost between cron runs.
//
// record, when not nil, is added to the scan history in the same store, so
// the console of a server later pointed at this data directory (or a
// report) shows the scan.
func NotifyOnce(ctx context.Context, cfg *config.Config, dataDir, environment string, found []model.Finding,
	covered func(model.Finding) bool, record *ScanRecord, wait time.Duration, logger *slog.Logger) (NotifyResult, error) {
	var res NotifyResult
	if cfg.Route == nil {
		return res, fmt.Errorf("--notify: %s has no route: add route and receivers", cfg.Path)
	}
	p := &Pipeline{byName: map[string]*subscription{}, logger: logger, metrics: NewMetrics(prometheus.NewRegistry(), nil), now: time.Now}
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Dispatch: p, Workers: 4, Logger: logger})
	if err != nil {
		return res, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return res, err
	}
	store.SetOwnership(cfg.Resolver().Owner)
	p.SetStore(store)
	if p.receivers, err = BuildReceivers(cfg, store.ReceiverState()); err != nil {
		return res, err
	}
	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		return res, err
	}
	now := time.Now()
	res.Lifecycle, err = store.Reconcile(ctx, now, environment, scanKinds, found, covered)
	if err != nil {
		return res, fmt.Errorf("update findings: %w", err)
	}
	if err := record.record(ctx, hist); err != nil {
		return res, err
	}
	n := newNotifier(cfg, store, q)
	if res.Sent, err = n.Flush(ctx, routing.FlushOptions{Immediate: true}); err != nil {
		return res, fmt.Errorf("route findings: %w", err)
	}
	if err := q.Start(ctx); err != nil {
		return res, err
	}
	deadline := time.Now().Add(wait)
	for {
		d, err := q.Depth(ctx)
		if err != nil {
			return res, err
		}
		res.Pending = d[queue.StatePending] + d[queue.StateRetry]
		if res.Pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		return res, err
	}
	return res, nil
}
