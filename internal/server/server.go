// Package server is plumb serve's HTTP side: the event and alert
// receivers, the API the CLI talks to, health and metrics, and the
// wiring that runs intake, the durable queue, pollers, scheduled scans and
// queue alerts as one process that shuts down without losing work.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/eventformat"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// Server answers HTTP. It holds no state of its own beyond gauges: events
// live in the queue, findings in the store.
type Server struct {
	cfg      *config.Config
	queue    *queue.Queue
	store    *findings.Store
	pipeline *Pipeline
	logger   *slog.Logger
	metrics  *metrics
	registry *prometheus.Registry
	now      func() time.Time
	// enforcement plans and applies enforcement (nil: endpoints answer
	// 503).
	enforcement *enforcement

	// inflight bounds concurrent intake requests (a semaphore).
	inflight chan struct{}
	// draining turns intake away during shutdown, with 503 and
	// Retry-After, so nothing is accepted that might not be committed.
	draining atomic.Bool
	ready    atomic.Bool
	// console is the web UI, served at / (nil: not mounted).
	console http.Handler

	// pollers and schedules are what /readyz reports on besides the
	// database; set by Run before the server listens.
	pollers   []sourcePoller
	schedules []string
}

// New builds the HTTP side over an open queue and store.
func New(cfg *config.Config, q *queue.Queue, store *findings.Store, p *Pipeline, m *metrics, reg *prometheus.Registry, logger *slog.Logger) *Server {
	return &Server{
		cfg: cfg, queue: q, store: store, pipeline: p, logger: logger,
		metrics: m, registry: reg, now: time.Now,
		inflight: make(chan struct{}, cfg.Server.MaxInflight),
	}
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	src := s.cfg.Sources
	if src.EventGrid != nil {
		mux.Handle("POST /v1/events/eventgrid", s.intake("eventgrid", src.EventGrid, s.eventGrid))
	}
	if src.CloudEvents != nil {
		mux.Handle("POST /v1/events/cloudevents", s.intake("cloudevents", src.CloudEvents, s.cloudEvents))
		mux.HandleFunc("OPTIONS /v1/events/cloudevents", s.cloudEventsOptions)
	}
	if src.AzureMonitor != nil {
		mux.Handle("POST /v1/alerts/azure-monitor", s.intake("azure-monitor", src.AzureMonitor, s.alerts(eventformat.ParseAzureMonitorAlert, src.AzureMonitor)))
	}
	if src.Alertmanager != nil {
		mux.Handle("POST /v1/alerts/alertmanager", s.intake("alertmanager", src.Alertmanager, s.alerts(eventformat.ParseAlertmanager, src.Alertmanager)))
	}
	mux.Handle("GET /v1/events", s.api(s.listEvents))
	mux.Handle("GET /v1/events/{id}", s.api(s.getEvent))
	mux.Handle("POST /v1/events/{id}/retry", s.api(s.retryEvent))
	mux.Handle("GET /v1/findings", s.api(s.listFindings))
	mux.Handle("GET /v1/findings/{fingerprint}", s.api(s.getFinding))
	mux.Handle("POST /v1/findings/{fingerprint}/resolve", s.api(s.findingAction("resolve")))
	mux.Handle("POST /v1/findings/{fingerprint}/suppress", s.api(s.findingAction("suppress")))
	mux.Handle("POST /v1/findings/{fingerprint}/unsuppress", s.api(s.findingAction("unsuppress")))
	mux.Handle("POST /v1/enforce/plan", s.api(s.enforcePlan(false)))
	mux.Handle("POST /v1/enforce/apply", s.api(s.enforcePlan(true)))
	s.isolateRoutes(mux)
	mux.Handle("POST /v1/actions/{id}/approve", s.api(s.decideAction(enforce.DecisionApprove)))
	mux.Handle("POST /v1/actions/{id}/reject", s.api(s.decideAction(enforce.DecisionReject)))
	mux.Handle("GET /v1/breakglass", s.api(s.listWindows))
	mux.Handle("POST /v1/breakglass", s.api(s.openWindow))
	mux.Handle("POST /v1/breakglass/{id}/close", s.api(s.closeWindow))
	mux.Handle("GET /v1/silences", s.api(s.listSilences))
	mux.Handle("POST /v1/silences", s.api(s.addSilence))
	mux.Handle("POST /v1/silences/{id}/expire", s.api(s.expireSilence))
	mux.Handle("DELETE /v1/silences/{id}", s.api(s.expireSilence))
	mux.Handle("POST /v1/filters/test", s.api(s.testFilter))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	if s.console != nil {
		// Every path the routes above do not claim is the console's.
		mux.Handle("/", s.console)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	return mux
}

// api checks the bearer token of API calls. Without a configured token
// the API is closed: events and findings describe the estate's weak spots.
func (s *Server) api(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.Server.APIEnabled() {
			writeError(w, http.StatusUnauthorized, "the API is disabled: set server.api_token or server.api_tokens in the config")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		who := ""
		if ok {
			who = s.cfg.Server.Identity(got)
		}
		if who == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plumb"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		fn(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, who)))
	})
}

// identityKey holds the caller's identity in a request's context: the
// name of the API token presented (server.api_tokens), or "api" for the
// shared server.api_token.
type identityKey struct{}

// identityOf returns who made an API call (see identityKey).
func identityOf(r *http.Request) string {
	who, _ := r.Context().Value(identityKey{}).(string)
	return who
}

func (s *Server) eventID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "event id %q: want a positive number", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := s.eventID(w, r)
	if !ok {
		return
	}
	rec, err := s.queue.GetEvent(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		writeError(w, http.StatusNotFound, "event %d not found", id)
		return
	}
	if err != nil {
		s.logger.Error("get event", "id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "get event failed")
		return
	}
	writeJSON(w, http.StatusOK, viewEvent(rec))
}

// retryEvent is the HTTP re-run trigger: the event's dead and retrying
// deliveries run again now.
func (s *Server) retryEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := s.eventID(w, r)
	if !ok {
		return
	}
	n, err := s.queue.RetryEvent(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		writeError(w, http.StatusNotFound, "event %d not found", id)
		return
	}
	if err != nil {
		s.logger.Error("retry event", "id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "retry failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "retried": n})
}

// eventView is the API's JSON for an event: a stable contract of its own
// (docs/serve.md) rather than the queue's Go types.
type eventView struct {
	ID         int64          `json:"id"`
	Key        string         `json:"key"`
	State      string         `json:"state"`
	ReceivedAt time.Time      `json:"received_at"`
	Event      model.Event    `json:"event"`
	Deliveries []deliveryView `json:"deliveries"`
}

type deliveryView struct {
	ID           int64      `json:"id"`
	Subscription string     `json:"subscription"`
	State        string     `json:"state"`
	Attempt      int        `json:"attempt"`
	MaxAttempts  int        `json:"max_attempts"`
	LastError    string     `json:"last_error,omitempty"`
	ScheduledAt  time.Time  `json:"scheduled_at"`
	FinalizedAt  *time.Time `json:"finalized_at,omitempty"`
}

func viewEvent(r queue.EventRecord) eventView {
	v := eventView{ID: r.ID, Key: r.Key, State: r.State, ReceivedAt: r.ReceivedAt, Event: r.Event, Deliveries: []deliveryView{}}
	for _, d := range r.Deliveries {
		v.Deliveries = append(v.Deliveries, deliveryView{ID: d.ID, Subscription: d.Subscription, State: d.State,
			Attempt: d.Attempt, MaxAttempts: d.MaxAttempts, LastError: d.LastError, ScheduledAt: d.ScheduledAt, FinalizedAt: d.FinalizedAt})
	}
	return v
}

// findingView is the API's JSON for a stored finding.
type findingView struct {
	Status     string        `json:"status"`
	FirstSeen  time.Time     `json:"first_seen"`
	LastSeen   time.Time     `json:"last_seen"`
	Count      int           `json:"count"`
	ResolvedAt *time.Time    `json:"resolved_at,omitempty"`
	Finding    model.Finding `json:"finding"`
}

func viewFinding(r findings.Record) findingView {
	return findingView{Status: r.Status, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Count: r.Count, ResolvedAt: r.ResolvedAt, Finding: r.Finding}
}
