package server

import (
	"errors"
	"net/http"
	"strings"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
	"plumb/internal/paging"
)

// enforceRequest is the body of POST /v1/enforce/plan and /apply.
type enforceRequest struct {
	Environment string `json:"environment"`
	// Kind and Finding narrow the findings considered.
	Kind    string `json:"kind"`
	Finding string `json:"finding"`
	// Actor is recorded on the actions when the call is made with the
	// shared server.api_token; with a named token the token's name is.
	Actor string `json:"actor"`
}

// enforcePlan answers POST /v1/enforce/plan (apply false) and
// /v1/enforce/apply (apply true) with the plan: every candidate action,
// the guard that stopped it, or planned. Apply queues what passed.
func (s *Server) enforcePlan(apply bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.enforcement == nil {
			writeError(w, http.StatusServiceUnavailable, "enforcement is not set up on this server")
			return
		}
		var req enforceRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Environment == "" {
			writeError(w, http.StatusBadRequest, "environment is required")
			return
		}
		if _, ok := s.cfg.Environment(req.Environment); !ok {
			writeError(w, http.StatusNotFound, "environment %q is not configured", req.Environment)
			return
		}
		if req.Kind != "" && !strings.Contains(req.Kind, ".") {
			writeError(w, http.StatusBadRequest, "kind %q: want a finding kind such as %s", req.Kind, model.KindUnmanaged)
			return
		}
		// A named token is who acts (an approver cannot request as someone
		// else); with the shared token the body may name the actor.
		actor := identityOf(r)
		if actor == config.SharedTokenIdentity && req.Actor != "" {
			actor = req.Actor
		}
		plan, err := s.enforcement.service.Plan(r.Context(), enforce.Request{Environment: config.Environment{Name: req.Environment},
			Apply: apply, Actor: actor, Kind: model.Kind(req.Kind), Fingerprint: req.Finding})
		if err != nil {
			s.logger.Error("enforce plan", "environment", req.Environment, "apply", apply, "error", err)
			writeError(w, http.StatusInternalServerError, "enforcement failed: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, plan)
	}
}

// ActionsPage are the page sizes of GET /v1/actions.
var ActionsPage = paging.Limits{Default: enforce.DefaultListLimit, Max: enforce.MaxListLimit}

type actionsPage struct {
	Actions []*enforce.Action `json:"actions"`
	listMeta
}

// listActions answers GET /v1/actions: action records newest first, in
// pages ({"actions": [...], "total": N, "next_cursor": "..."}).
func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	if s.enforcement == nil {
		writeError(w, http.StatusServiceUnavailable, "enforcement is not set up on this server")
		return
	}
	q := r.URL.Query()
	limit, err := ActionsPage.Parse(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	state := enforce.State(q.Get("state"))
	switch state {
	case "", enforce.StatePlanned, enforce.StateAwaiting, enforce.StateBlocked, enforce.StateRunning, enforce.StateSucceeded, enforce.StateFailed, enforce.StateReleased:
	default:
		writeError(w, http.StatusBadRequest, "state %q: want planned, awaiting_approval, blocked, running, succeeded, failed or released", state)
		return
	}
	page, err := s.enforcement.actions.List(r.Context(), enforce.Query{Environment: q.Get("environment"), Fingerprint: q.Get("finding"),
		RunID: q.Get("run"), State: state, Limit: limit, Cursor: q.Get("cursor")})
	if errors.Is(err, enforce.ErrCursor) {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err != nil {
		s.logger.Error("list actions", "error", err)
		writeError(w, http.StatusInternalServerError, "list actions failed")
		return
	}
	out := actionsPage{Actions: page.Actions, listMeta: listMeta{Total: page.Total, Limit: limit, NextCursor: page.NextCursor}}
	if out.Actions == nil {
		out.Actions = []*enforce.Action{}
	}
	writeJSON(w, http.StatusOK, out)
}
