package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Role is what a bearer token lets its holder do. The API token is the
// ordinary role; the operator token is the security operator's, the only
// one that may isolate a managed resource and release an isolation. The
// console's operator role is not this role: a console login releases
// quarantines as the API token does, never an isolation.
type Role string

// Roles.
const (
	RoleAPI      Role = "api"
	RoleOperator Role = "operator"
)

// bearerRole tells which configured token a request presents; ok is false
// when it presents none of them.
func (s *Server) bearerRole(r *http.Request) (Role, bool) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return "", false
	}
	if op := s.cfg.Server.OperatorToken.Value(); op != "" && subtle.ConstantTimeCompare([]byte(got), []byte(op)) == 1 {
		return RoleOperator, true
	}
	// The shared API token and every named one (server.api_tokens) have
	// the API role.
	if s.cfg.Server.Identity(got) != "" {
		return RoleAPI, true
	}
	return "", false
}

// withRoles admits requests presenting a token of one of roles: 401
// without a known token, 403 with a token of another role.
func (s *Server) withRoles(fn func(w http.ResponseWriter, r *http.Request, role Role), roles ...Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, ok := s.bearerRole(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plumb"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		for _, want := range roles {
			if role == want {
				who := string(RoleOperator)
				if role == RoleAPI {
					got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
					who = s.cfg.Server.Identity(got)
				}
				fn(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, who)), role)
				return
			}
		}
		writeError(w, http.StatusForbidden, "this needs the security operator's credential (server.operator_token), not the API token")
	})
}

// isolateRoutes adds the endpoints of isolation and release.
func (s *Server) isolateRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/isolate", s.withRoles(s.isolate, RoleOperator))
	mux.Handle("POST /v1/enforce/release", s.withRoles(s.release, RoleAPI, RoleOperator))
	// The operator reads the records of what they asked for (plumb enforce
	// isolate and release wait on them) with their own credential.
	mux.Handle("GET /v1/actions", s.withRoles(func(w http.ResponseWriter, r *http.Request, _ Role) { s.listActions(w, r) }, RoleAPI, RoleOperator))
}

// isolateRequest is the body of POST /v1/isolate.
type isolateRequest struct {
	Environment string `json:"environment"`
	// Resource is TYPE.ID (aws_instance.i-0123456789abcdef0).
	Resource string `json:"resource"`
	Region   string `json:"region"`
	Reason   string `json:"reason"`
	CVE      string `json:"cve"`
	// Actor is the operator or playbook asking ("operator" when empty).
	Actor string `json:"actor"`
}

// isolateAnswer is the answer of POST /v1/isolate.
type isolateAnswer struct {
	Finding string          `json:"finding,omitempty"`
	Action  *enforce.Action `json:"action"`
	Plan    *enforce.Plan   `json:"plan"`
}

// ParseResourceRef splits TYPE.ID; Terraform types never hold a dot, ids
// may (bucket names).
func ParseResourceRef(s string) (model.Resource, bool) {
	typ, id, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok || typ == "" || id == "" || !strings.Contains(typ, "_") {
		return model.Resource{}, false
	}
	return model.Resource{Type: typ, ID: id}, true
}

// isolate answers POST /v1/isolate: 202 with the queued quarantine and
// the finding that tells the owning team; 409 when a guard stops it (the
// plan says which) or the resource is not managed; 404 for an unknown
// environment or a resource not found live; 400 for a bad request.
func (s *Server) isolate(w http.ResponseWriter, r *http.Request, _ Role) {
	if s.enforcement == nil {
		writeError(w, http.StatusServiceUnavailable, "enforcement is not set up on this server")
		return
	}
	var req isolateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Environment == "" {
		writeError(w, http.StatusBadRequest, "environment is required")
		return
	}
	res, ok := ParseResourceRef(req.Resource)
	if !ok {
		writeError(w, http.StatusBadRequest, "resource %q: want TYPE.ID such as aws_instance.i-0123456789abcdef0", req.Resource)
		return
	}
	res.Region = req.Region
	actor := req.Actor
	if actor == "" {
		actor = string(RoleOperator)
	}
	out, err := s.enforcement.service.Isolate(r.Context(), enforce.IsolateRequest{Environment: req.Environment, Resource: res,
		Reason: req.Reason, CVE: req.CVE, Actor: actor})
	switch {
	case errors.Is(err, enforce.ErrRequest):
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	case errors.Is(err, enforce.ErrResourceNotFound):
		writeError(w, http.StatusNotFound, "%v", err)
		return
	case errors.Is(err, enforce.ErrNotManaged):
		writeError(w, http.StatusConflict, "%v", err)
		return
	case err != nil:
		s.logger.Error("isolate", "environment", req.Environment, "resource", req.Resource, "error", err)
		writeError(w, http.StatusInternalServerError, "isolation failed: %v", err)
		return
	}
	a := out.Plan.Actions[0]
	ans := isolateAnswer{Action: a, Plan: out.Plan}
	if out.Finding != nil {
		ans.Finding = out.Finding.Fingerprint
	}
	switch {
	case len(out.Plan.Errors) > 0:
		writeJSON(w, http.StatusServiceUnavailable, ans)
	case a.State == enforce.StateBlocked:
		writeJSON(w, http.StatusConflict, ans)
	default:
		s.logger.Info("isolation requested", "environment", req.Environment, "resource", req.Resource, "actor", actor, "action", a.ID)
		writeJSON(w, http.StatusAccepted, ans)
	}
}

// releaseRequest is the body of POST /v1/enforce/release.
type releaseRequest struct {
	Finding string `json:"finding"`
	Actor   string `json:"actor"`
	Reason  string `json:"reason"`
}

// release answers POST /v1/enforce/release: 202 with the queued release;
// 404 when the finding's resource is not held in quarantine; 409 while an
// action on it runs or when a guard stops the release; 403 when an
// isolation is released with the API token.
func (s *Server) release(w http.ResponseWriter, r *http.Request, role Role) {
	if s.enforcement == nil {
		writeError(w, http.StatusServiceUnavailable, "enforcement is not set up on this server")
		return
	}
	var req releaseRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Finding == "" {
		writeError(w, http.StatusBadRequest, "finding (its fingerprint) is required")
		return
	}
	q, err := s.enforcement.actions.ActiveQuarantine(r.Context(), req.Finding)
	if err == nil && q.Kind == model.KindIsolated && role != RoleOperator {
		writeError(w, http.StatusForbidden, "releasing an isolation needs the security operator's credential (server.operator_token)")
		return
	}
	actor := req.Actor
	if actor == "" {
		actor = string(role)
	}
	plan, err := s.enforcement.service.Release(r.Context(), enforce.ReleaseRequest{Fingerprint: req.Finding, Actor: actor, Reason: req.Reason})
	switch {
	case errors.Is(err, enforce.ErrNothingToRelease):
		writeError(w, http.StatusNotFound, "%v", err)
		return
	case errors.Is(err, enforce.ErrBusy):
		writeError(w, http.StatusConflict, "%v", err)
		return
	case err != nil:
		s.logger.Error("release", "finding", req.Finding, "error", err)
		writeError(w, http.StatusInternalServerError, "release failed: %v", err)
		return
	}
	a := plan.Actions[0]
	switch {
	case len(plan.Errors) > 0:
		writeJSON(w, http.StatusServiceUnavailable, plan)
	case a.State == enforce.StateBlocked:
		writeJSON(w, http.StatusConflict, plan)
	default:
		writeJSON(w, http.StatusAccepted, plan)
	}
}
