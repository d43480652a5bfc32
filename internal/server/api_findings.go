package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"plumb/internal/findings"
)

// historyView is one transition of a finding in the API.
type historyView struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// decodeBody reads a small JSON request body (API writes), rejecting
// unknown fields so a typo is an error, not a silently ignored option.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "request body: %v", err)
		return false
	}
	return true
}

// findingHistoryShown is how many of a finding's latest transitions
// GET /v1/findings/{fingerprint} shows; history_total says how many there
// are in all.
const findingHistoryShown = 200

func (s *Server) getFinding(w http.ResponseWriter, r *http.Request) {
	fp := r.PathValue("fingerprint")
	rec, err := s.store.Get(r.Context(), fp)
	if errors.Is(err, findings.ErrNotFound) {
		writeError(w, http.StatusNotFound, "finding %s not found", fp)
		return
	}
	if err != nil {
		s.logger.Error("get finding", "error", err)
		writeError(w, http.StatusInternalServerError, "get finding failed")
		return
	}
	hist, err := s.store.History(r.Context(), fp, findingHistoryShown)
	if err != nil {
		s.logger.Error("finding history", "error", err)
		writeError(w, http.StatusInternalServerError, "get finding failed")
		return
	}
	total, err := s.store.HistoryLen(r.Context(), fp)
	if err != nil {
		s.logger.Error("finding history", "error", err)
		writeError(w, http.StatusInternalServerError, "get finding failed")
		return
	}
	hv := make([]historyView, 0, len(hist))
	for _, h := range hist {
		hv = append(hv, historyView{At: h.At, Action: h.Action, Detail: h.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"finding": viewFinding(rec), "history": hv, "history_total": max(total, len(hv))})
}

// findingAction changes a finding's status by hand: resolve (the operator
// fixed it and does not want to wait for the next scan), suppress (accepted
// risk: stored, never routed) and unsuppress.
func (s *Server) findingAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fp := r.PathValue("fingerprint")
		var body struct {
			Reason string `json:"reason"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		now := s.now()
		var err error
		switch action {
		case "resolve":
			err = s.store.ResolveOne(r.Context(), now, fp, body.Reason)
		case "suppress":
			if body.Reason == "" {
				writeError(w, http.StatusBadRequest, "suppress needs a reason (it is kept in the finding's history)")
				return
			}
			err = s.store.Suppress(r.Context(), now, fp, body.Reason)
		case "unsuppress":
			err = s.store.Unsuppress(r.Context(), now, fp)
		}
		if errors.Is(err, findings.ErrNotFound) {
			writeError(w, http.StatusNotFound, "finding %s not found", fp)
			return
		}
		if err != nil {
			writeError(w, http.StatusConflict, "%s: %v", action, err)
			return
		}
		rec, err := s.store.Get(r.Context(), fp)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "get finding failed")
			return
		}
		writeJSON(w, http.StatusOK, viewFinding(rec))
	}
}

// silenceView is a silence in the API.
type silenceView struct {
	ID        string     `json:"id"`
	Matchers  []string   `json:"matchers"`
	StartsAt  time.Time  `json:"starts_at"`
	EndsAt    time.Time  `json:"ends_at"`
	CreatedBy string     `json:"created_by,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiredAt *time.Time `json:"expired_at,omitempty"`
	Active    bool       `json:"active"`
}

func viewSilence(sl findings.Silence, now time.Time) silenceView {
	return silenceView{ID: sl.ID, Matchers: sl.Matchers, StartsAt: sl.StartsAt, EndsAt: sl.EndsAt,
		CreatedBy: sl.CreatedBy, Comment: sl.Comment, CreatedAt: sl.CreatedAt, ExpiredAt: sl.ExpiredAt, Active: sl.Active(now)}
}

// SilenceRequest is a silence as a person asks for one (the body of POST
// /v1/silences, the flags of plumb silence add): an end time, or a
// duration from the start.
type SilenceRequest struct {
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Duration  string    `json:"duration"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
}

// Silence is the silence the request asks for at now; the store checks the
// rest (matchers, a window that ends in the future). The API and
// `plumb silence add --data-dir` both go through it, so a silence means the
// same whichever way it was added.
func (req SilenceRequest) Silence(now time.Time) (findings.Silence, error) {
	sl := findings.Silence{Matchers: req.Matchers, StartsAt: req.StartsAt, EndsAt: req.EndsAt, CreatedBy: req.CreatedBy, Comment: req.Comment}
	if req.Duration == "" {
		return sl, nil
	}
	if !req.EndsAt.IsZero() {
		return sl, fmt.Errorf("give ends_at or duration, not both")
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 {
		return sl, fmt.Errorf("duration %q: want a positive Go duration like 2h", req.Duration)
	}
	start := req.StartsAt
	if start.IsZero() {
		start = now
	}
	sl.EndsAt = start.Add(d)
	return sl, nil
}

func (s *Server) addSilence(w http.ResponseWriter, r *http.Request) {
	var req SilenceRequest
	if !decodeBody(w, r, &req) {
		return
	}
	now := s.now()
	sl, err := req.Silence(now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	out, err := s.store.AddSilence(r.Context(), now, sl)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, viewSilence(out, now))
}

func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.store.ExpireSilence(r.Context(), s.now(), id)
	if errors.Is(err, findings.ErrNotFound) {
		writeError(w, http.StatusNotFound, "silence %s not found", id)
		return
	}
	if err != nil {
		writeError(w, http.StatusConflict, "expire silence: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "status": fmt.Sprintf("expired at %s", s.now().UTC().Format(time.RFC3339))})
}
