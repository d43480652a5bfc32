package model

// Kinds raised by plumb's own actions and by resource events.
const (
	// KindIsolated is a managed resource plumb isolated at a security
	// operator's request (POST /v1/isolate, plumb enforce isolate). It is a
	// security finding, routed like any other, so the owning team's
	// receivers (a GitHub security advisory) learn what happened and why;
	// releasing the isolation resolves it.
	KindIsolated Kind = "enforce.isolated"
	// KindOperationFailed is a cloud operation that failed: an Event Grid
	// ResourceWriteFailure or ResourceDeleteFailure, a CloudTrail record
	// with an errorCode. A deployment that keeps failing, or someone
	// probing permissions, shows up here.
	KindOperationFailed Kind = "audit.operation_failed"
)

// Isolation is the context of a security operator's isolation request,
// carried by the KindIsolated finding so its advisory says what was
// isolated, why, and how to undo it.
type Isolation struct {
	// Reason is the operator's words ("indicator of compromise: outbound
	// traffic to a known C2 address").
	Reason string `json:"reason"`
	// CVE is the vulnerability behind the request, when there is one
	// (CVE-2026-12345).
	CVE string `json:"cve,omitempty"`
	// Operator is who asked (the request's actor).
	Operator string `json:"operator"`
	// Related are the other open findings of the same resource.
	Related []RelatedFinding `json:"related,omitempty"`
	// Release is the command that undoes the isolation.
	Release string `json:"release"`
}

// RelatedFinding names another finding of an isolated resource.
type RelatedFinding struct {
	Fingerprint string `json:"fingerprint"`
	Kind        Kind   `json:"kind"`
	Message     string `json:"message"`
}
