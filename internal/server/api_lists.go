package server

import (
	"net/http"
	"strconv"

	"plumb/internal/findings"
	"plumb/internal/paging"
	"plumb/internal/queue"
)

// Page sizes of the list endpoints (docs/serve.md, docs/findings.md). A
// limit above the maximum is answered 400 naming the maximum, never cut
// down silently; the CLI asks for pages of at most these.
var (
	EventsPage   = paging.Limits{Default: queue.DefaultEventLimit, Max: queue.MaxEventLimit}
	FindingsPage = paging.Limits{Default: findings.DefaultListLimit, Max: findings.MaxListLimit}
	SilencesPage = paging.Limits{Default: findings.DefaultSilenceLimit, Max: findings.MaxSilenceLimit}
)

// Every list answer has the items under their own name (events,
// findings, silences) and these fields: total counts every item matching
// the filters (not only this page), limit is the page size applied, and
// next_cursor, present only when more items follow, continues the list.
type listMeta struct {
	Total      int    `json:"total"`
	Limit      int    `json:"limit"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// eventStates are the states the API lists, named as operators name the
// queues of an event pipeline.
var eventStates = map[string]bool{"pending": true, "retry": true, "succeeded": true, "dead": true, "filtered": true, "": true}

// eventCursor is the position in the events list: the last event's id.
type eventCursor struct {
	ID int64 `json:"id"`
}

type eventsPage struct {
	Events []eventView `json:"events"`
	listMeta
	// NextAfter is the older way to continue (?after=ID), kept for
	// clients written before cursors; present exactly when next_cursor is.
	NextAfter int64 `json:"next_after,omitempty"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if !eventStates[state] {
		writeError(w, http.StatusBadRequest, "state %q: want pending, retry, succeeded, dead or filtered", state)
		return
	}
	limit, err := EventsPage.Parse(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	filters := paging.Filters{"state": state}
	var after int64
	switch cur, a := q.Get("cursor"), q.Get("after"); {
	case cur != "" && a != "":
		writeError(w, http.StatusBadRequest, "give cursor or after, not both")
		return
	case cur != "":
		var pos eventCursor
		if err := paging.Decode(cur, "events", filters, &pos); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		after = pos.ID
	case a != "":
		after, err = strconv.ParseInt(a, 10, 64)
		if err != nil || after < 0 {
			writeError(w, http.StatusBadRequest, "after %q: want an event id", a)
			return
		}
	}
	page, err := s.queue.PageEvents(r.Context(), state, limit, after)
	if err != nil {
		s.logger.Error("list events", "error", err)
		writeError(w, http.StatusInternalServerError, "list events failed")
		return
	}
	out := eventsPage{Events: make([]eventView, 0, len(page.Events)), listMeta: listMeta{Total: page.Total, Limit: limit}}
	for _, rec := range page.Events {
		out.Events = append(out.Events, viewEvent(rec))
	}
	if page.More {
		last := page.Events[len(page.Events)-1].ID
		if !s.nextCursor(w, &out.listMeta, "events", filters, eventCursor{ID: last}) {
			return
		}
		out.NextAfter = last
	}
	writeJSON(w, http.StatusOK, out)
}

// nextCursor fills meta.NextCursor; on failure it answers 500 and
// returns false.
func (s *Server) nextCursor(w http.ResponseWriter, meta *listMeta, list string, filters paging.Filters, pos any) bool {
	c, err := paging.Encode(list, filters, pos)
	if err != nil {
		s.logger.Error("list "+list, "error", err)
		writeError(w, http.StatusInternalServerError, "list %s failed", list)
		return false
	}
	meta.NextCursor = c
	return true
}

type findingsPage struct {
	Findings []findingView `json:"findings"`
	listMeta
}

func (s *Server) listFindings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := FindingsPage.Parse(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	status := q.Get("status")
	switch status {
	case "", findings.StatusOpen, findings.StatusResolved, findings.StatusSuppressed:
	default:
		writeError(w, http.StatusBadRequest, "status %q: want open, resolved or suppressed", status)
		return
	}
	fq := findings.Query{Status: status, Kind: q.Get("kind"), Environment: q.Get("environment"), Severity: q.Get("severity"),
		Type: q.Get("type"), Owner: q.Get("owner"), Text: q.Get("q"), Limit: limit}
	filters := paging.Filters{"status": fq.Status, "kind": fq.Kind, "environment": fq.Environment, "severity": fq.Severity,
		"type": fq.Type, "owner": fq.Owner, "q": fq.Text}
	if cur := q.Get("cursor"); cur != "" {
		fq.After = &findings.Position{}
		if err := paging.Decode(cur, "findings", filters, fq.After); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
	}
	page, err := s.store.List(r.Context(), fq)
	if err != nil {
		s.logger.Error("list findings", "error", err)
		writeError(w, http.StatusInternalServerError, "list findings failed")
		return
	}
	out := findingsPage{Findings: make([]findingView, 0, len(page.Records)), listMeta: listMeta{Total: page.Total, Limit: limit}}
	for _, rec := range page.Records {
		out.Findings = append(out.Findings, viewFinding(rec))
	}
	if page.Next != nil && !s.nextCursor(w, &out.listMeta, "findings", filters, page.Next) {
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type silencesPage struct {
	Silences []silenceView `json:"silences"`
	listMeta
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	all := false
	switch v := q.Get("all"); v {
	case "", "false":
	case "true":
		all = true
	default:
		writeError(w, http.StatusBadRequest, "all %q: want true or false", v)
		return
	}
	limit, err := SilencesPage.Parse(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	sq := findings.SilenceQuery{ActiveOnly: !all, Now: now, Limit: limit}
	filters := paging.Filters{"all": strconv.FormatBool(all)}
	if cur := q.Get("cursor"); cur != "" {
		sq.After = &findings.SilencePosition{}
		if err := paging.Decode(cur, "silences", filters, sq.After); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
	}
	page, err := s.store.PageSilences(r.Context(), sq)
	if err != nil {
		s.logger.Error("list silences", "error", err)
		writeError(w, http.StatusInternalServerError, "list silences failed")
		return
	}
	out := silencesPage{Silences: make([]silenceView, 0, len(page.Silences)), listMeta: listMeta{Total: page.Total, Limit: limit}}
	for _, sl := range page.Silences {
		out.Silences = append(out.Silences, viewSilence(sl, now))
	}
	if page.Next != nil && !s.nextCursor(w, &out.listMeta, "silences", filters, page.Next) {
		return
	}
	writeJSON(w, http.StatusOK, out)
}
