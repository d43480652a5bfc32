// Package eventformat turns the wire formats plumb serve receives (Azure
// Event Grid schema, CloudEvents 1.0 over HTTP, EventBridge events carried
// in SQS, Azure Monitor common-schema alerts and Alertmanager webhooks) into
// model.Event values and alerts.
//
// The parsers are pure functions over bytes so that the HTTP receivers and
// the queue pollers share one definition of what a valid event is, and so
// that every rule can be tested and fuzzed without a server. They are strict
// about what the specifications require (a missing id is a *ParseError that
// the receiver turns into a 400 naming the field) and lenient about the rest:
// unknown fields are ignored for normalization but always kept in Raw.
//
// Field names are matched exactly (JSON object keys are case-sensitive in
// every one of these specifications), which is why the envelopes are read
// through maps rather than encoding/json's case-insensitive struct binding.
package eventformat
