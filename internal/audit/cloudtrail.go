package audit

import (
	"encoding/json"
	"strings"

	"plumb/internal/model"
)

// Record is the part of a CloudTrail record plumb reads. EventBridge
// delivers it as the "detail" of an "AWS API Call via CloudTrail" event;
// the normalized model.Event keeps only a summary, and deciding whether a
// call was a write or what it created needs the record itself.
type Record struct {
	EventSource        string `json:"eventSource"`
	EventName          string `json:"eventName"`
	AWSRegion          string `json:"awsRegion"`
	ErrorCode          string `json:"errorCode"`
	ErrorMessage       string `json:"errorMessage"`
	RecipientAccountID string `json:"recipientAccountId"`
	EventCategory      string `json:"eventCategory"`
	// ReadOnly and ManagementEvent are pointers because older records and
	// hand-built test events leave them out, and absence must not be read
	// as false.
	ReadOnly        *bool          `json:"readOnly"`
	ManagementEvent *bool          `json:"managementEvent"`
	UserIdentity    UserIdentity   `json:"userIdentity"`
	RequestParams   map[string]any `json:"requestParameters"`
	ResponseElems   map[string]any `json:"responseElements"`
}

// UserIdentity is CloudTrail's description of the caller.
type UserIdentity struct {
	Type           string `json:"type"`
	ARN            string `json:"arn"`
	PrincipalID    string `json:"principalId"`
	AccountID      string `json:"accountId"`
	InvokedBy      string `json:"invokedBy"`
	SessionContext struct {
		SessionIssuer struct {
			Type string `json:"type"`
			ARN  string `json:"arn"`
		} `json:"sessionIssuer"`
	} `json:"sessionContext"`
}

// CloudTrail extracts the CloudTrail record from an event's raw payload:
// either the "detail" of an EventBridge envelope or a bare record. It
// reports false when the payload holds no record (an eventName is the
// minimum), so callers fall back to the normalized fields.
func CloudTrail(ev model.Event) (Record, bool) {
	if len(ev.Raw) == 0 {
		return Record{}, false
	}
	var env struct {
		Detail    json.RawMessage `json:"detail"`
		EventName string          `json:"eventName"`
	}
	if err := json.Unmarshal(ev.Raw, &env); err != nil {
		return Record{}, false
	}
	body := []byte(ev.Raw)
	if env.EventName == "" {
		if len(env.Detail) == 0 || env.Detail[0] != '{' {
			return Record{}, false
		}
		body = env.Detail
	}
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil || rec.EventName == "" {
		return Record{}, false
	}
	return rec, true
}

// byService reports whether the call was made by an AWS service on its own
// account (a service-linked role, or a service principal), rather than by
// a person or pipeline. Such writes follow from declared resources (an
// auto scaling group launching instances) and are not out-of-band changes.
func (r Record) byService() bool {
	if strings.EqualFold(r.UserIdentity.Type, "AWSService") {
		return true
	}
	for _, arn := range []string{r.UserIdentity.SessionContext.SessionIssuer.ARN, r.UserIdentity.ARN} {
		if strings.Contains(arn, ":role/aws-service-role/") {
			return true
		}
	}
	return false
}

// azureEvent is the Event Grid (or CloudEvents) envelope of an Azure
// Resource Manager event with the data fields plumb reads.
type azureEvent struct {
	EventType string    `json:"eventType"`
	Type      string    `json:"type"`
	Data      azureData `json:"data"`
}

// azureData is the data of Microsoft.Resources.Resource* events.
type azureData struct {
	OperationName string         `json:"operationName"`
	ResourceURI   string         `json:"resourceUri"`
	Status        string         `json:"status"`
	Subscription  string         `json:"subscriptionId"`
	Claims        map[string]any `json:"claims"`
	Authorization struct {
		Evidence struct {
			PrincipalID   string `json:"principalId"`
			PrincipalType string `json:"principalType"`
		} `json:"evidence"`
	} `json:"authorization"`
	Tags map[string]any `json:"tags"`
}

// parseAzure parses the data of an Azure event; false when the payload is
// not one.
func parseAzure(ev model.Event) (azureData, bool) {
	if len(ev.Raw) == 0 {
		return azureData{}, false
	}
	var e azureEvent
	if err := json.Unmarshal(ev.Raw, &e); err != nil {
		return azureData{}, false
	}
	if e.Data.OperationName == "" && e.Data.ResourceURI == "" {
		return azureData{}, false
	}
	return e.Data, true
}

// Claim names of Entra tokens as ARM reports them.
const (
	claimOID   = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimAppID = "appid"
	claimType  = "idtyp"
)

// principals lists the identifiers of the caller that configuration may
// name: the object id (evidence and token claim) always, and the
// application id only for app-only tokens. A user's token carries the id of
// the client application (Azure CLI, the portal) as appid, and listing such
// an app must not turn every user into a pipeline.
func (d azureData) principals() []string {
	var out []string
	if p := d.Authorization.Evidence.PrincipalID; p != "" {
		out = append(out, p)
	}
	if oid, _ := d.Claims[claimOID].(string); oid != "" {
		out = append(out, oid)
	}
	if oid, _ := d.Claims["oid"].(string); oid != "" {
		out = append(out, oid)
	}
	typ, _ := d.Claims[claimType].(string)
	appOnly := strings.EqualFold(typ, "app") || strings.EqualFold(d.Authorization.Evidence.PrincipalType, "ServicePrincipal")
	if appid, _ := d.Claims[claimAppID].(string); appid != "" && appOnly {
		out = append(out, appid)
	}
	return out
}

// dig walks nested JSON objects and returns the value at path, nil when
// any step is missing or not an object.
func dig(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// digString is dig for string leaves.
func digString(v any, path ...string) string {
	s, _ := dig(v, path...).(string)
	return s
}
