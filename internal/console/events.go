package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"plumb/internal/config"
	"plumb/internal/console/theme"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// DeadPage is the page size of the dead-letter list.
const DeadPage = 50

type stateCount struct {
	State string
	N     int
}

type alertRow struct {
	config.QueueAlert
	Current int
	Above   bool
	// Finding is the open event.alert finding of the alert, if firing.
	Finding string
}

type subCount struct {
	Subscription string
	N            int
	Selected     bool
}

type eventsView struct {
	States       []stateCount
	StatesChart  template.HTML
	Filtered     int
	Alerts       []alertRow
	Subs         []subCount
	Subscription string
	Dead         []queue.DeadLetter
	Pager        pager
	DeadTotal    int
	// CountedAt is when the state counts were taken (StatsTTL).
	CountedAt time.Time
}

// StatsTTL is how long the events page reuses the queue's counts by state
// and dead letters by subscription: counting reads every delivery, which
// at a million events takes seconds. The dead-letter list itself is
// always read live.
const StatsTTL = 10 * time.Second

type queueStats struct {
	at        time.Time
	depth     map[string]int
	filtered  int
	deadBySub map[string]int
}

// statsCache holds the last queueStats.
type statsCache struct {
	mu   sync.Mutex
	last *queueStats
}

// queueStats returns the queue's counts, counted at most every StatsTTL.
// One request counts at a time; the others wait for its answer.
func (c *Console) queueStats(ctx context.Context) (*queueStats, error) {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	now := c.now()
	if st := c.stats.last; st != nil && now.Sub(st.at) < StatsTTL && !now.Before(st.at) {
		return st, nil
	}
	st := &queueStats{at: now}
	var err error
	if st.depth, err = c.opts.Queue.Depth(ctx); err != nil {
		return nil, err
	}
	if st.filtered, err = c.opts.Queue.FilteredEvents(ctx); err != nil {
		return nil, err
	}
	if st.deadBySub, err = c.opts.Queue.DeadBySubscription(ctx); err != nil {
		return nil, err
	}
	c.stats.last = st
	return st, nil
}

// eventsPage is the operators' screen: deliveries by state, queue alerts,
// the dead letters with their last error, and the re-run buttons.
func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	if id := strings.TrimSpace(q.Get("id")); id != "" {
		// The "open event" form.
		http.Redirect(w, r, "/events/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	st, err := c.queueStats(ctx)
	if err != nil {
		c.internalError(w, r, s, "count the deliveries", err)
		return
	}
	depth := st.depth
	v := eventsView{Subscription: q.Get("subscription"), Filtered: st.filtered, CountedAt: st.at}
	var bars []theme.Bar
	for _, st := range []string{queue.StatePending, queue.StateRetry, queue.StateSucceeded, queue.StateDead} {
		v.States = append(v.States, stateCount{st, depth[st]})
		bars = append(bars, theme.Bar{Label: st, Value: depth[st], Class: map[string]string{
			queue.StatePending: "fill-unknown", queue.StateRetry: "fill-retry", queue.StateSucceeded: "fill-ok", queue.StateDead: "fill-dead"}[st]})
	}
	v.StatesChart = theme.BarChart("Deliveries by state", bars)

	firing, err := c.opts.Findings.List(ctx, findings.Query{Kind: string(model.KindAlert), Type: "plumb_queue", Status: findings.StatusOpen, Limit: findings.MaxListLimit})
	if err != nil {
		c.internalError(w, r, s, "read the queue alerts", err)
		return
	}
	for _, a := range c.opts.Config.QueueAlerts {
		row := alertRow{QueueAlert: a, Current: depth[a.State], Above: depth[a.State] > a.Threshold}
		for _, rec := range firing.Records {
			if rec.Finding.Rule == a.Name {
				row.Finding = rec.Finding.Fingerprint
			}
		}
		v.Alerts = append(v.Alerts, row)
	}

	for name, n := range st.deadBySub {
		v.Subs = append(v.Subs, subCount{Subscription: name, N: n, Selected: name == v.Subscription})
	}
	sort.Slice(v.Subs, func(i, j int) bool { return v.Subs[i].Subscription < v.Subs[j].Subscription })
	pageNo := 1
	if p := q.Get("page"); p != "" {
		if pageNo, err = strconv.Atoi(p); err != nil || pageNo < 1 {
			c.fail(w, r, s, http.StatusBadRequest, "page %q: want a page number from 1.", p)
			return
		}
	}
	dp, err := c.opts.Queue.DeadLetters(ctx, v.Subscription, DeadPage, (pageNo-1)*DeadPage)
	if err != nil {
		c.internalError(w, r, s, "list the dead letters", err)
		return
	}
	v.Dead, v.DeadTotal = dp.Letters, dp.Total
	v.Pager = pageLinks(dp.Total, len(dp.Letters), pageNo, DeadPage, "dead deliveries", func(p int) string {
		u := url.Values{"page": {strconv.Itoa(p)}}
		if v.Subscription != "" {
			u.Set("subscription", v.Subscription)
		}
		return "/events?" + u.Encode()
	})
	c.render(w, r, http.StatusOK, "events", page{Title: "Events and queue", Nav: "events", Session: s, Data: v})
}

type eventView struct {
	Rec      queue.EventRecord
	Retry    bool
	Findings string
}

func (c *Console) eventPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		c.fail(w, r, s, http.StatusBadRequest, "Event %q: event ids are positive numbers.", r.PathValue("id"))
		return
	}
	rec, err := c.opts.Queue.GetEvent(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "No event %d: it never existed, or retention removed it.", id)
		return
	}
	if err != nil {
		c.internalError(w, r, s, "read the event", err)
		return
	}
	v := eventView{Rec: rec}
	for _, d := range rec.Deliveries {
		if d.State == queue.StateDead || d.State == queue.StateRetry {
			v.Retry = true
		}
	}
	if rec.Event.ID != "" {
		v.Findings = "/findings?" + url.Values{"status": {statusAny}, "q": {string(rec.Event.Source) + "/" + rec.Event.ID}}.Encode()
	}
	c.render(w, r, http.StatusOK, "event", page{Title: "Event " + strconv.FormatInt(id, 10), Nav: "events", Session: s, Data: v})
}

// retryEvent is the re-run button of one event (the API's re-run trigger).
func (c *Console) retryEvent(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		c.fail(w, r, s, http.StatusBadRequest, "Event %q: event ids are positive numbers.", r.PathValue("id"))
		return
	}
	n, err := c.opts.Queue.RetryEvent(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "No event %d.", id)
		return
	}
	if err != nil {
		c.internalError(w, r, s, "re-run the event", err)
		return
	}
	c.log.Info("console: event re-run", "id", id, "deliveries", n, "user", s.User)
	done := "retried"
	if n == 0 {
		done = "nothing"
	}
	back := "/events/" + strconv.FormatInt(id, 10)
	if r.PostForm.Get("back") == "list" {
		back = "/events"
	}
	redirect(w, r, back, done)
}

// retryDead re-runs every dead delivery of one subscription.
func (c *Console) retryDead(w http.ResponseWriter, r *http.Request, s *session) {
	sub := r.PostForm.Get("subscription")
	if sub == "" {
		c.fail(w, r, s, http.StatusBadRequest, "Name the subscription whose dead deliveries to re-run.")
		return
	}
	n, err := c.opts.Queue.RetryDead(r.Context(), sub)
	if err != nil {
		c.internalError(w, r, s, "re-run the dead deliveries", err)
		return
	}
	c.log.Info("console: dead deliveries re-run", "subscription", sub, "deliveries", n, "user", s.User)
	done := "retried-dead"
	if n == 0 {
		done = "nothing"
	}
	redirect(w, r, "/events?"+url.Values{"subscription": {sub}}.Encode(), done)
}
