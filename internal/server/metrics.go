package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"plumb/internal/queue"
)

// metrics are plumb serve's Prometheus series. They live on a registry
// of the server's own (no global default registry), so tests and several
// servers in one process do not collide.
type metrics struct {
	requests       *prometheus.CounterVec
	acceptedEvents *prometheus.CounterVec
	duplicateTotal prometheus.Counter
	handlerLatency *prometheus.HistogramVec
	deliveries     *prometheus.CounterVec
}

// NewMetrics registers the series on reg. depth is read at scrape time,
// so the queue depth is never stale.
func NewMetrics(reg *prometheus.Registry, depth func(ctx context.Context) (map[string]int, error)) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plumb_receiver_requests_total",
			Help: "Requests to the event and alert receivers, by receiver and HTTP status.",
		}, []string{"receiver", "status"}),
		acceptedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plumb_events_received_total",
			Help: "Events durably accepted (duplicates included), by source.",
		}, []string{"source"}),
		duplicateTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plumb_events_duplicate_total",
			Help: "Redelivered events recognised by id and not processed again.",
		}),
		handlerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plumb_handler_duration_seconds",
			Help:    "Time a handler took for one delivery, by handler and result.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 120},
		}, []string{"handler", "result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plumb_deliveries_total",
			Help: "Delivery outcomes: succeeded, retry (will run again) or dead (dead-lettered).",
		}, []string{"subscription", "outcome"}),
	}
	reg.MustRegister(m.requests, m.acceptedEvents, m.duplicateTotal, m.handlerLatency, m.deliveries)
	if depth != nil {
		reg.MustRegister(depthCollector{depth: depth, desc: prometheus.NewDesc(
			"plumb_queue_depth", "Deliveries in the queue by state (pending, retry, succeeded, dead).", []string{"state"}, nil)})
	}
	return m
}

func (m *metrics) request(receiver string, status int) {
	if status == 0 {
		status = 200
	}
	m.requests.WithLabelValues(receiver, strconv.Itoa(status)).Inc()
}

func (m *metrics) accepted(source string) { m.acceptedEvents.WithLabelValues(source).Inc() }

func (m *metrics) duplicates(n int) { m.duplicateTotal.Add(float64(n)) }

func (m *metrics) observeHandler(name string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.handlerLatency.WithLabelValues(name, result).Observe(d.Seconds())
}

func (m *metrics) delivery(subscription, outcome string) {
	m.deliveries.WithLabelValues(subscription, outcome).Inc()
}

// depthCollector asks the queue for its depth at each scrape.
type depthCollector struct {
	depth func(ctx context.Context) (map[string]int, error)
	desc  *prometheus.Desc
}

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, state := range []string{"pending", "retry", "succeeded", "dead"} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(d[state]), state)
	}
}

// Metric descriptions of the scheduled scans.
var (
	scanLastSuccessDesc = prometheus.NewDesc("plumb_scheduled_scan_last_success_timestamp_seconds",
		"End of the last successful scheduled scan of an environment (Unix time), 0 if none has succeeded. Read from the shared database: every replica reports the same value.",
		[]string{"environment"}, nil)
	scanErrorsDesc = prometheus.NewDesc("plumb_scheduled_scan_errors_total",
		"Scheduled scans of an environment that failed, timed out or could not read part of the estate. Read from the shared database: every replica reports the same value.",
		[]string{"environment"}, nil)
)

// scheduleCollector reads the scheduled scans' run records at each
// scrape, so the figures are the database's, whichever replica ran the
// scans, and survive restarts.
type scheduleCollector struct {
	schedules []string
	runs      func(ctx context.Context) (map[string]queue.PeriodicRun, error)
}

func (c scheduleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- scanLastSuccessDesc
	ch <- scanErrorsDesc
}

func (c scheduleCollector) Collect(ch chan<- prometheus.Metric) {
	if len(c.schedules) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runs, err := c.runs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(scanLastSuccessDesc, err)
		return
	}
	for _, env := range c.schedules {
		r := runs[scheduleJob(env)]
		last := 0.0
		if !r.LastSuccess.IsZero() {
			last = float64(r.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(scanLastSuccessDesc, prometheus.GaugeValue, last, env)
		ch <- prometheus.MustNewConstMetric(scanErrorsDesc, prometheus.CounterValue, float64(r.FailuresTotal), env)
	}
}
