package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/eventformat"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// acceptResponse is the body of a 200: how many events were new and how
// many were deliveries the server already had.
type acceptResponse struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// errorResponse is every non-2xx body, so senders and operators read
// one shape.
type errorResponse struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, errorResponse{Error: fmt.Sprintf(format, args...)})
}

// keyOK checks a webhook's shared key, given as ?key=, the X-Plumb-Key
// header or a bearer token (Alertmanager's http_config sends that). The
// comparison takes the same time whatever the guess.
func keyOK(r *http.Request, want string) bool {
	if want == "" {
		return false
	}
	got := r.URL.Query().Get("key")
	if got == "" {
		got = r.Header.Get("X-Plumb-Key")
	}
	if got == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			got = strings.TrimPrefix(a, "Bearer ")
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// intake wraps a receiver with what every receiver needs: the shared key,
// the body size limit, the in-flight bound and the shutdown gate. The
// receiver gets the body already read.
func (s *Server) intake(name string, src *config.WebhookSource, fn func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() { s.metrics.request(name, sw.status) }()
		if !keyOK(r, src.Key.Value()) {
			// 401 without saying which part was wrong.
			writeError(sw, http.StatusUnauthorized, "missing or wrong key")
			return
		}
		if s.draining.Load() {
			sw.Header().Set("Retry-After", "5")
			writeError(sw, http.StatusServiceUnavailable, "server is shutting down; retry")
			return
		}
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		default:
			sw.Header().Set("Retry-After", "1")
			writeError(sw, http.StatusTooManyRequests, "too many requests in flight; retry")
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.Server.MaxBodyBytes)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(sw, http.StatusRequestEntityTooLarge, "body larger than %d bytes", tooBig.Limit)
				return
			}
			writeError(sw, http.StatusBadRequest, "read body: %v", err)
			return
		}
		fn(sw, r, body)
	}
}

// statusWriter remembers the status for the requests metric.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// accept matches and durably enqueues events, answering only after the
// commit: 200 means on disk. Overload and storage failures answer 503
// with Retry-After, so the sender keeps the events and retries.
func (s *Server) accept(ctx context.Context, w http.ResponseWriter, events []model.Event) {
	res, err := s.Accept(ctx, events)
	switch {
	case errors.Is(err, queue.ErrOverloaded):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "queue is full; retry later")
	case err != nil:
		s.logger.Error("enqueue failed", "events", len(events), "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "events not stored; retry")
	default:
		writeJSON(w, http.StatusOK, acceptResponse{Accepted: res.Accepted, Duplicates: res.Duplicates})
	}
}

// Accept matches events to subscriptions and commits them. Pollers use
// it as their sink; a nil error means the events are durable.
func (s *Server) Accept(ctx context.Context, events []model.Event) (queue.EnqueueResult, error) {
	items, err := s.pipeline.Match(events)
	if err != nil {
		return queue.EnqueueResult{}, err
	}
	res, err := s.queue.Enqueue(ctx, items)
	if err != nil {
		return res, err
	}
	for _, ev := range events {
		s.metrics.accepted(string(ev.Source))
	}
	s.metrics.duplicates(res.Duplicates)
	return res, nil
}

// sink adapts the server to the pollers' Sink.
type sink struct{ s *Server }

func (k sink) Accept(ctx context.Context, _ string, events []model.Event) error {
	_, err := k.s.Accept(ctx, events)
	return err
}

// eventGrid receives Event Grid schema deliveries, including the
// subscription validation handshake Event Grid sends before the first
// event.
func (s *Server) eventGrid(w http.ResponseWriter, r *http.Request, body []byte) {
	batch, err := eventformat.ParseEventGrid(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if batch.Validation != nil {
		if t := r.Header.Get("aeg-event-type"); t != "" && !strings.EqualFold(t, "SubscriptionValidation") {
			writeError(w, http.StatusBadRequest, "validation event with aeg-event-type %q", t)
			return
		}
		s.logger.Info("event grid subscription validated")
		writeJSON(w, http.StatusOK, map[string]string{"validationResponse": batch.Validation.Code})
		return
	}
	if strings.EqualFold(r.Header.Get("aeg-event-type"), "SubscriptionValidation") {
		writeError(w, http.StatusBadRequest, "aeg-event-type SubscriptionValidation without a validation event")
		return
	}
	s.accept(r.Context(), w, batch.Events)
}

// cloudEvents receives CloudEvents in structured, batch or binary mode.
func (s *Server) cloudEvents(w http.ResponseWriter, r *http.Request, body []byte) {
	events, err := eventformat.ParseCloudEventsHTTP(r.Header.Get("Content-Type"), r.Header, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.accept(r.Context(), w, events)
}

// cloudEventsOptions answers the CloudEvents webhook abuse-protection
// handshake: a sender asks with WebHook-Request-Origin whether this
// endpoint accepts its deliveries.
func (s *Server) cloudEventsOptions(w http.ResponseWriter, r *http.Request) {
	src := s.cfg.Sources.CloudEvents
	if !keyOK(r, src.Key.Value()) {
		writeError(w, http.StatusUnauthorized, "missing or wrong key")
		return
	}
	origin := r.Header.Get("WebHook-Request-Origin")
	if origin == "" {
		writeError(w, http.StatusBadRequest, "WebHook-Request-Origin header is required")
		return
	}
	if len(src.AllowedOrigins) > 0 {
		allowed := false
		for _, o := range src.AllowedOrigins {
			if strings.EqualFold(o, origin) {
				allowed = true
			}
		}
		if !allowed {
			writeError(w, http.StatusForbidden, "origin %q is not allowed", origin)
			return
		}
	}
	w.Header().Set("Allow", "POST, OPTIONS")
	w.Header().Set("WebHook-Allowed-Origin", origin)
	w.Header().Set("WebHook-Allowed-Rate", "*")
	w.WriteHeader(http.StatusOK)
}

// alerts receives monitoring alerts; they become event.alert findings
// directly (opened when firing, resolved when resolved), committed before
// the answer.
func (s *Server) alerts(parse func([]byte) ([]eventformat.Alert, error), src *config.WebhookSource) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		alerts, err := parse(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		now := s.now()
		var open []model.Finding
		var resolved []string
		for _, a := range alerts {
			f := eventformat.AlertFinding(a, src.Environment)
			if a.Firing {
				open = append(open, f)
			} else {
				resolved = append(resolved, f.Fingerprint)
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if len(open) > 0 {
			if err := s.store.Upsert(ctx, now, open); err != nil {
				s.logger.Error("store alert findings", "error", err)
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "alerts not stored; retry")
				return
			}
		}
		if len(resolved) > 0 {
			if err := s.store.Resolve(ctx, now, resolved); err != nil {
				s.logger.Error("resolve alert findings", "error", err)
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "alerts not stored; retry")
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]int{"firing": len(open), "resolved": len(resolved)})
	}
}
