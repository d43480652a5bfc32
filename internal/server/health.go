package server

import (
	"context"
	"net/http"
	"time"

	"plumb/internal/poller"
	"plumb/internal/queue"
)

// Readiness answers of /readyz. "ok" and "degraded" are 200: the process
// accepts and commits events. A failing cloud queue or scheduled scan
// makes it "degraded", not unready, because readiness decides whether a
// load balancer sends this replica HTTP events: a cloud outage affects
// every replica alike, so taking them all out of rotation would turn a
// partial outage (one source) into a total one (webhook intake too) and
// fix nothing. Only what stops this replica from committing work is 503.
const (
	readyOK          = "ok"
	readyDegraded    = "degraded"
	readyStarting    = "starting"
	readyDraining    = "draining"
	readyUnavailable = "unavailable"
)

// Check states. "unknown" is a source that has not finished a poll yet
// or a schedule that has not finished a run: neither ok nor failing.
const (
	checkOK      = "ok"
	checkFailing = "failing"
	checkUnknown = "unknown"
)

// readyAnswer is the JSON of /readyz, a contract in docs/serve.md.
type readyAnswer struct {
	Status string               `json:"status"`
	Checks map[string]checkView `json:"checks"`
}

// checkView is one entry of readyAnswer.Checks: a queue source
// ("poller:NAME"), a scheduled scan ("schedule:ENV") or the database.
type checkView struct {
	OK    bool   `json:"ok"`
	State string `json:"state"`
	// Error is the current failure in words; empty unless failing.
	Error string `json:"error,omitempty"`
	// Since is when the current failure began (first failed poll or
	// run), or for a poller when it last became ok.
	Since *time.Time `json:"since,omitempty"`
	// Failures counts failed polls or runs since the last success.
	Failures    int        `json:"failures"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// NextAttempt is when a failing poller polls again.
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	// Running and LastStart tell a scheduled scan in progress.
	Running   bool       `json:"running,omitempty"`
	LastStart *time.Time `json:"last_start,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func pollerCheck(h poller.Health) checkView {
	v := checkView{OK: h.State == poller.StateOK, Error: h.Error, Failures: h.Failures,
		Since: timePtr(h.Since), LastSuccess: timePtr(h.LastSuccess), NextAttempt: timePtr(h.NextAttempt)}
	switch h.State {
	case poller.StateOK:
		v.State = checkOK
	case poller.StateFailing:
		v.State = checkFailing
	default:
		v.State = checkUnknown
	}
	return v
}

func scheduleCheck(r queue.PeriodicRun) checkView {
	v := checkView{Failures: r.Failures, LastSuccess: timePtr(r.LastSuccess), Running: r.Running(), LastStart: timePtr(r.LastStart)}
	switch {
	case r.Failures > 0:
		v.State, v.Error, v.Since = checkFailing, r.LastError, timePtr(r.FailingSince)
	case r.LastSuccess.IsZero():
		v.State = checkUnknown // never finished a run
	default:
		v.OK, v.State = true, checkOK
	}
	return v
}

// readyz reports whether this replica accepts work, and the state of each
// queue source and scheduled scan.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ans := readyAnswer{Status: readyOK, Checks: map[string]checkView{}}
	for _, p := range s.pollers {
		ans.Checks["poller:"+p.name] = pollerCheck(p.health())
	}
	// Reading the run records is also the database check: a replica that
	// cannot read its database cannot commit events either.
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	runs, err := s.queue.PeriodicRuns(ctx)
	cancel()
	if err != nil {
		s.logger.Debug("readyz: database", "error", err)
		ans.Checks["database"] = checkView{State: checkFailing, Error: "cannot read the database: " + err.Error()}
		ans.Status = readyUnavailable
	} else {
		ans.Checks["database"] = checkView{OK: true, State: checkOK}
		for _, env := range s.schedules {
			ans.Checks["schedule:"+env] = scheduleCheck(runs[scheduleJob(env)])
		}
	}
	if ans.Status == readyOK {
		for _, c := range ans.Checks {
			if c.State == checkFailing {
				ans.Status = readyDegraded
			}
		}
	}
	switch {
	case s.draining.Load():
		ans.Status = readyDraining
	case !s.ready.Load():
		ans.Status = readyStarting
	}
	code := http.StatusOK
	if ans.Status != readyOK && ans.Status != readyDegraded {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, ans)
}
