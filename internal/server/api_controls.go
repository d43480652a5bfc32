package server

import (
	"errors"
	"net/http"
	"time"

	"plumb/internal/breakglass"
	"plumb/internal/enforce"
)

// decideRequest is the body of POST /v1/actions/{id}/approve and /reject.
type decideRequest struct {
	Comment string `json:"comment"`
}

// decideAction records the caller's approval or rejection of an action
// awaiting approval. The caller is the API token's name: it must be one
// of the environment's approvers and, to approve, not the requester.
func (s *Server) decideAction(decision string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.enforcement == nil {
			writeError(w, http.StatusServiceUnavailable, "enforcement is not set up on this server")
			return
		}
		var req decideRequest
		if r.ContentLength != 0 && !decodeBody(w, r, &req) {
			return
		}
		out, err := s.enforcement.approvals.Decide(r.Context(), enforce.DecideRequest{ActionID: r.PathValue("id"),
			Approver: identityOf(r), Decision: decision, Via: enforce.ViaAPI, Comment: req.Comment})
		var de *enforce.DecisionError
		switch {
		case errors.Is(err, enforce.ErrNotFound):
			writeError(w, http.StatusNotFound, "%v", err)
		case errors.As(err, &de) && de.Forbidden:
			writeError(w, http.StatusForbidden, "%v", err)
		case errors.As(err, &de):
			writeError(w, http.StatusConflict, "%v", err)
		case err != nil:
			s.logger.Error("decide action", "action", r.PathValue("id"), "error", err)
			writeError(w, http.StatusInternalServerError, "record the decision: %v", err)
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}

// openWindowRequest is the body of POST /v1/breakglass.
type openWindowRequest struct {
	Environment string `json:"environment"`
	Principal   string `json:"principal"`
	Reason      string `json:"reason"`
	// For is a Go duration such as "2h".
	For string `json:"for"`
}

// windowView is a window with its state at the time of the answer.
type windowView struct {
	breakglass.Window
	State string `json:"state"`
}

func (s *Server) windows(w http.ResponseWriter) *breakglass.Store {
	if s.enforcement == nil || s.enforcement.breakglass == nil {
		writeError(w, http.StatusServiceUnavailable, "break-glass windows are not set up on this server")
		return nil
	}
	return s.enforcement.breakglass
}

// openWindow opens a break-glass window, recorded as opened by the
// caller's identity.
func (s *Server) openWindow(w http.ResponseWriter, r *http.Request) {
	store := s.windows(w)
	if store == nil {
		return
	}
	var req openWindowRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, ok := s.cfg.Environment(req.Environment); req.Environment != "" && !ok {
		writeError(w, http.StatusNotFound, "environment %q is not configured", req.Environment)
		return
	}
	d, err := time.ParseDuration(req.For)
	if err != nil {
		writeError(w, http.StatusBadRequest, "for %q: want a duration such as 2h", req.For)
		return
	}
	now := time.Now()
	win, err := store.Open(r.Context(), now, breakglass.OpenRequest{Environment: req.Environment, Principal: req.Principal,
		Reason: req.Reason, For: d, OpenedBy: identityOf(r)})
	var ov *breakglass.OverlapError
	switch {
	case errors.As(err, &ov):
		writeError(w, http.StatusConflict, "%v", err)
	case err != nil:
		writeError(w, http.StatusBadRequest, "%v", err)
	default:
		writeJSON(w, http.StatusCreated, windowView{win, win.State(now)})
	}
}

// listWindows lists windows, newest first: ?environment= narrows,
// ?open=true keeps those open now.
func (s *Server) listWindows(w http.ResponseWriter, r *http.Request) {
	store := s.windows(w)
	if store == nil {
		return
	}
	q := r.URL.Query()
	open := false
	switch q.Get("open") {
	case "", "false":
	case "true":
		open = true
	default:
		writeError(w, http.StatusBadRequest, "open %q: want true or false", q.Get("open"))
		return
	}
	now := time.Now()
	ws, err := store.List(r.Context(), now, q.Get("environment"), open)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := struct {
		Windows []windowView `json:"windows"`
	}{Windows: []windowView{}}
	for _, x := range ws {
		out.Windows = append(out.Windows, windowView{x, x.State(now)})
	}
	writeJSON(w, http.StatusOK, out)
}

// closeWindow closes a window early, recorded as closed by the caller.
func (s *Server) closeWindow(w http.ResponseWriter, r *http.Request) {
	store := s.windows(w)
	if store == nil {
		return
	}
	now := time.Now()
	win, err := store.Close(r.Context(), now, r.PathValue("id"), identityOf(r))
	switch {
	case errors.Is(err, breakglass.ErrNotFound):
		writeError(w, http.StatusNotFound, "%v", err)
	case err != nil:
		writeError(w, http.StatusConflict, "%v", err)
	default:
		writeJSON(w, http.StatusOK, windowView{win, win.State(now)})
	}
}
