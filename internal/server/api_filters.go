package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"plumb/internal/filter"
)

// filterTestRequest is the body of POST /v1/filters/test: one filter, in
// either dialect, and one event. event_pattern may be the pattern object or
// a string holding it (EventBridge's API and describe-rule return patterns
// as strings); event_grid is an Event Grid subscription filter in Azure's
// JSON spelling, as plumb events test-filter reads it.
type filterTestRequest struct {
	EventPattern json.RawMessage `json:"event_pattern"`
	EventGrid    json.RawMessage `json:"event_grid"`
	Event        json.RawMessage `json:"event"`
}

// testFilter answers whether a filter would deliver an event, with the
// reasons when not, so the console can offer a tester. It runs the same
// code as intake and as plumb events test-pattern/test-filter; nothing is
// queued or stored.
func (s *Server) testFilter(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Server.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body above server.max_body_bytes (%d bytes)", tooBig.Limit)
			return
		}
		writeError(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	var req filterTestRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: want {\"event_pattern\" or \"event_grid\", \"event\"}: %v", err)
		return
	}
	hasPattern, hasGrid := presentJSON(req.EventPattern), presentJSON(req.EventGrid)
	switch {
	case hasPattern == hasGrid:
		writeError(w, http.StatusBadRequest, "give exactly one of event_pattern and event_grid")
		return
	case !presentJSON(req.Event):
		writeError(w, http.StatusBadRequest, "event: required")
		return
	}
	var v filter.Verdict
	if hasPattern {
		pattern := []byte(req.EventPattern)
		var str string
		if json.Unmarshal(pattern, &str) == nil {
			pattern = []byte(str)
		}
		v, err = filter.TestPattern(pattern, req.Event)
	} else {
		v, err = filter.TestEventGrid(req.EventGrid, req.Event)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// presentJSON reports whether a member was given (and is not null).
func presentJSON(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}
