package audit

import (
	"strings"

	"plumb/internal/model"
)

// FailedOperation builds the audit.operation_failed finding of an event
// that reports a failed write: an Event Grid ResourceWriteFailure,
// ResourceDeleteFailure or ResourceActionFailure (and their Cancel
// variants), or a CloudTrail record with an errorCode. Reads that failed
// (a Describe denied) are not operations on the estate and yield nothing,
// as does every successful event.
//
// The fingerprint covers the environment, the resource, the operation and
// the error, not the caller or the time: a deployment failing the same way
// every hour updates one finding (its count grows), and a different error
// is a new one.
func FailedOperation(ev model.Event, environment string) (model.Finding, bool) {
	failure := Failure(ev)
	if failure == "" || !IsWrite(ev) {
		return model.Finding{}, false
	}
	r := Target(ev)
	op := operationOf(ev)
	detail := failure
	if rec, ok := CloudTrail(ev); ok && rec.ErrorMessage != "" {
		detail += ": " + rec.ErrorMessage
	}
	what := r.ARN
	if what == "" {
		what = r.ID
	}
	if what == "" {
		what = "unknown resource"
	}
	msg := "Failed operation " + op + " on " + what
	if p := principalOf(ev); p != "" {
		msg += " by " + p
	}
	msg += " (" + detail + ")"
	return model.Finding{
		Kind:        model.KindOperationFailed,
		Severity:    model.SeverityMedium,
		Fingerprint: model.Fingerprint(model.KindOperationFailed, environment, r.Provider, r.Type, r.Region, r.ID, strings.ToLower(op)+"|"+failure),
		Environment: environment,
		Resource:    r,
		Source:      string(ev.Source) + "/" + ev.ID,
		Changes:     []model.Change{},
		Message:     msg,
	}, true
}

// Principal is who made the call an event reports, "" when it does not
// say (the normalized Principal, else the CloudTrail record's or the ARM
// event's caller).
func Principal(ev model.Event) string { return principalOf(ev) }

// Operation names the call an event reports: service:EventName for AWS,
// the ARM operation for Azure.
func Operation(ev model.Event) string { return operationOf(ev) }
