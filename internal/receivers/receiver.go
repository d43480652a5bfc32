// Package receivers delivers findings to the places teams work in: GitHub
// issues and security advisories, webhooks, Slack, Alertmanager and
// runbooks. Every receiver is idempotent, because the durable queue that
// calls it retries after an outage and may call it again after a crash:
// delivering the same notification twice must leave one issue, one alert,
// one advisory.
package receivers

import (
	"context"
	"errors"
	"time"

	"plumb/internal/model"
)

// Finding is a finding with its lifecycle, as a receiver needs it: open
// findings are reported or updated, resolved ones closed.
type Finding struct {
	model.Finding
	// Status is open, resolved or suppressed.
	Status     string     `json:"status"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	Count      int        `json:"count"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Principal is who caused it, when known (audit findings, events).
	Principal string `json:"principal,omitempty"`
}

// Notification is one delivery to one receiver: the findings of one
// routing group. A receiver that keeps one artefact per finding (a GitHub
// issue) handles each finding; one that keeps one per group (a Slack
// message) uses the group.
type Notification struct {
	// Receiver is the configured receiver's name.
	Receiver string `json:"receiver"`
	// GroupKey identifies the group across notifications (route plus the
	// values of its group_by labels); stable, safe in URLs and markers.
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels"`
	// Findings are the group's findings: open ones and those resolved
	// since the last notification.
	Findings []Finding `json:"findings"`
	// ExternalURL links back to plumb (the dashboard or API), optional.
	ExternalURL string `json:"external_url,omitempty"`
}

// Receiver delivers notifications. Deliver must be idempotent; an error
// is retried by the queue unless wrapped with Permanent.
type Receiver interface {
	Name() string
	Deliver(ctx context.Context, n Notification) error
}

// State is where receivers remember what they created (the GitHub issue
// number of a fingerprint, the advisory id), so updates go to the same
// artefact. It lives in plumb's store; receivers must survive its loss
// (a GitHub issue is found again by its marker).
type State interface {
	Get(ctx context.Context, receiver, key string) (value string, ok bool, err error)
	Put(ctx context.Context, receiver, key, value string) error
}

// permanentError marks an error retrying cannot fix (bad credentials, a
// repository that does not exist, a 422 for a malformed request).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the notification goes to the
// dead-letter state with the error kept, for an operator to fix and re-run.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError asks the queue to wait at least After before the next
// attempt (a 429, a secondary rate limit, an X-RateLimit-Reset).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Title is the one-line title operators know from drift tooling, used by
// every receiver that shows a title.
func Title(f Finding) string {
	name := f.Resource.DisplayName()
	switch f.Kind {
	case model.KindUnmanaged:
		return "[DRIFT DETECTED] Undefined resource exists (" + name + ")"
	case model.KindMissing:
		return "[DRIFT DETECTED] Defined resource doesn't exist (" + name + ")"
	case model.KindChanged:
		return "[DRIFT DETECTED] Resource changed outside code (" + name + ")"
	case model.KindConflict:
		return "[DRIFT DETECTED] Resource defined more than once (" + name + ")"
	case model.KindPolicyViolation:
		return "[POLICY VIOLATION] " + f.Rule + " (" + name + ")"
	case model.KindUnexpectedWrite:
		return "[UNEXPECTED WRITE] " + f.Message
	case model.KindAlert:
		return "[ALERT] " + f.Message
	case model.KindIsolated:
		return "[ISOLATED] " + f.Message
	}
	return "[" + string(f.Kind) + "] " + f.Message
}
