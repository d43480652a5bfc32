package audit

import (
	"strings"

	"plumb/internal/azuretype"
	"plumb/internal/model"
)

// readPrefixes are CloudTrail event name prefixes of calls that only read.
// AWS names its APIs by verb, and these verbs never change a resource.
var readPrefixes = [...]string{"Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet", "Select", "View"}

// nonWriteNames are CloudTrail calls that neither read by prefix nor change
// the estate: sign-ins, role assumption and KMS data-plane crypto. Their
// records are marked readOnly where AWS sets the flag, but not always.
var nonWriteNames = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithWebIdentity": true, "AssumeRoleWithSAML": true,
	"ConsoleLogin": true, "SwitchRole": true, "CheckMfa": true, "ExitRole": true, "RenewRole": true,
	"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateRandom": true, "Sign": true, "Verify": true,
}

// readOnlyActions are Azure POST actions that change nothing: deployment
// validation and what-if, name checks and policy evaluation.
var readOnlyActions = [...]string{"/validate/action", "/whatif/action", "/checknameavailability/action", "/audit/action", "/auditifnotexists/action"}

// IsWrite reports whether an event is an attempt to change the estate, the
// only kind of event the audit reports on.
//
// Azure: an operation ending in /write or /delete, or an /action other than
// the read-only ones above. Actions are counted because many expose secrets
// (storageAccounts/listKeys/action) or change state (virtualMachines/
// start/action) without a /write. Without an operation name the Event Grid
// event type decides (ResourceWrite*, ResourceDelete*).
//
// AWS: a CloudTrail management event whose name does not start with a read
// verb, that is not a sign-in/assume-role/crypto call, and whose readOnly
// flag, when present, is false. Data events (S3 objects, Lambda invokes)
// are not estate writes and are left out.
//
// Failed attempts (an errorCode, a ResourceWriteFailure) are writes: an
// attempt by a stranger matters even when it was denied. Finding gives
// them a lower severity.
func IsWrite(ev model.Event) bool {
	if rec, ok := CloudTrail(ev); ok {
		return recordIsWrite(rec)
	}
	if op := azureOperation(ev); op != "" && isAzure(ev, op) {
		return azureOpIsWrite(op)
	}
	if ev.Source == model.SourceEventGrid || strings.HasPrefix(ev.Type, "Microsoft.Resources.Resource") {
		t := strings.TrimPrefix(ev.Type, "Microsoft.Resources.")
		return strings.HasPrefix(t, "ResourceWrite") || strings.HasPrefix(t, "ResourceDelete")
	}
	if ev.Source == model.SourceEventBridge && ev.Operation != "" {
		// Normalized "ec2:RunInstances" without the record.
		name := ev.Operation[strings.LastIndexByte(ev.Operation, ':')+1:]
		return awsNameIsWrite(name)
	}
	return false
}

func recordIsWrite(rec Record) bool {
	if rec.ManagementEvent != nil && !*rec.ManagementEvent {
		return false
	}
	if strings.EqualFold(rec.EventCategory, "Data") {
		return false
	}
	if rec.ReadOnly != nil && *rec.ReadOnly {
		return false
	}
	return awsNameIsWrite(rec.EventName)
}

func awsNameIsWrite(name string) bool {
	if name == "" || nonWriteNames[name] {
		return false
	}
	for _, p := range readPrefixes {
		if strings.HasPrefix(name, p) && (len(name) == len(p) || isUpper(name[len(p)])) {
			return false
		}
	}
	return true
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

func azureOpIsWrite(op string) bool {
	lower := strings.ToLower(op)
	switch {
	case strings.HasSuffix(lower, "/write"), strings.HasSuffix(lower, "/delete"):
		return true
	case strings.HasSuffix(lower, "/action"):
		for _, a := range readOnlyActions {
			if strings.HasSuffix(lower, a) {
				return false
			}
		}
		return true
	}
	return false
}

// azureOperation is the ARM operation name: the normalized Operation, or
// data.operationName from the payload.
func azureOperation(ev model.Event) string {
	if ev.Operation != "" {
		return ev.Operation
	}
	if d, ok := parseAzure(ev); ok {
		return d.OperationName
	}
	return ""
}

// isAzure tells ARM events from others by source and operation shape.
func isAzure(ev model.Event, op string) bool {
	return ev.Source == model.SourceEventGrid || strings.HasPrefix(strings.ToLower(op), "microsoft.")
}

// Failure returns why an attempted write failed (the CloudTrail errorCode
// or the ARM status), or "" when it succeeded or the event does not say.
func Failure(ev model.Event) string {
	if rec, ok := CloudTrail(ev); ok {
		return rec.ErrorCode
	}
	t := strings.TrimPrefix(ev.Type, "Microsoft.Resources.")
	if strings.HasSuffix(t, "Failure") || strings.HasSuffix(t, "Cancel") {
		if d, ok := parseAzure(ev); ok && d.Status != "" {
			return d.Status
		}
		return strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(t, "ResourceWrite"), "ResourceDelete"), "ResourceAction")
	}
	if d, ok := parseAzure(ev); ok && (strings.EqualFold(d.Status, "Failed") || strings.EqualFold(d.Status, "Canceled")) {
		return d.Status
	}
	return ""
}

// Provider maps an event source to plumb's provider names.
func Provider(ev model.Event) string {
	switch ev.Source {
	case model.SourceEventBridge:
		return "aws"
	case model.SourceEventGrid:
		return "azure"
	}
	if _, ok := CloudTrail(ev); ok {
		return "aws"
	}
	if strings.HasPrefix(strings.ToLower(ev.ResourceID), "/subscriptions/") || strings.HasPrefix(ev.Type, "Microsoft.") {
		return "azure"
	}
	if strings.HasPrefix(ev.ResourceID, "arn:") {
		return "aws"
	}
	return ""
}

// Finding builds the audit.unexpected_write finding for a write that the
// caller has decided was not made by a pipeline.
//
// Severity: high for a successful write; critical when it touches access
// control (IAM, Microsoft.Authorization role assignments and definitions),
// because such a change can hand out the keys to everything else; medium
// for a failed attempt, which changed nothing but shows someone trying.
//
// The fingerprint covers the environment, the resource, the principal and
// the operation: the same person repeating the same change updates one
// finding, while a different change or person is a new one.
func Finding(ev model.Event, environment string) model.Finding {
	r := Target(ev)
	op := operationOf(ev)
	principal := principalOf(ev)
	failure := Failure(ev)

	sev := model.SeverityHigh
	if isAccessControl(ev, op) {
		sev = model.SeverityCritical
	}
	if failure != "" {
		sev = model.SeverityMedium
	}
	what := r.ARN
	if what == "" {
		what = r.ID
	}
	if what == "" {
		what = "unknown resource"
	}
	who := principal
	if who == "" {
		who = "unknown principal"
	}
	msg := "Unexpected write by " + who + ": " + op + " on " + what
	if failure != "" {
		msg += " (failed: " + failure + ")"
	}
	return model.Finding{
		Kind:        model.KindUnexpectedWrite,
		Severity:    sev,
		Fingerprint: model.Fingerprint(model.KindUnexpectedWrite, environment, r.Provider, r.Type, r.Region, r.ID, strings.ToLower(principal)+"|"+strings.ToLower(op)),
		Environment: environment,
		Resource:    r,
		Source:      string(ev.Source) + "/" + ev.ID,
		Changes:     []model.Change{},
		Message:     msg,
		Security:    true,
		Principal:   principal,
	}
}

// operationOf names the call: the normalized Operation, or
// service:EventName from the CloudTrail record, or the ARM operation.
func operationOf(ev model.Event) string {
	if ev.Operation != "" {
		return ev.Operation
	}
	if rec, ok := CloudTrail(ev); ok {
		svc := strings.TrimSuffix(rec.EventSource, ".amazonaws.com")
		return svc + ":" + rec.EventName
	}
	if op := azureOperation(ev); op != "" {
		return op
	}
	return ev.Type
}

// principalOf is who made the call, preferring the normalized Principal.
func principalOf(ev model.Event) string {
	if ev.Principal != "" {
		return ev.Principal
	}
	if rec, ok := CloudTrail(ev); ok {
		if rec.UserIdentity.ARN != "" {
			return rec.UserIdentity.ARN
		}
		return rec.UserIdentity.PrincipalID
	}
	if d, ok := parseAzure(ev); ok {
		if p := d.principals(); len(p) > 0 {
			return p[0]
		}
	}
	return ""
}

// HasPrincipal reports whether the event names its caller at all. A write
// nobody can be held to is not reported: whether it came from a pipeline
// cannot be decided, and guessing would be a false positive.
func HasPrincipal(ev model.Event) bool { return principalOf(ev) != "" }

// ByService reports whether an AWS service made the call itself (service
// principal or service-linked role). Those writes follow from declared
// resources, such as an auto scaling group launching instances.
func ByService(ev model.Event) bool {
	rec, ok := CloudTrail(ev)
	return ok && rec.byService()
}

func isAccessControl(ev model.Event, op string) bool {
	if rec, ok := CloudTrail(ev); ok {
		return rec.EventSource == "iam.amazonaws.com"
	}
	lower := strings.ToLower(op)
	if strings.HasPrefix(lower, "iam:") {
		return true
	}
	if strings.HasPrefix(lower, "microsoft.authorization/") {
		return true
	}
	return strings.EqualFold(azuretype.FromID(ev.ResourceID), "Microsoft.Authorization/roleAssignments")
}
