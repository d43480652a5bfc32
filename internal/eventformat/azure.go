package eventformat

import (
	"encoding/json"
	"strings"

	"plumb/internal/model"
)

// Claim names Azure Resource Manager puts in data.claims of resource events.
// The long forms are the SAML-style names ARM uses; the short ones appear in
// tokens issued to some clients.
const (
	claimObjectIDLong = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimObjectID     = "oid"
	claimAppID        = "appid"
	claimUPNLong      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	claimName         = "name"
)

// applyAzureResourceData fills principal, operation, resource and account
// from the data object of an Azure resource event (ResourceWriteSuccess and
// friends). The same data shape arrives in the Event Grid schema and in the
// CloudEvents schema, so both parsers call this. Data of any other shape
// simply leaves the fields empty: plumb does not own these payloads and must
// not reject events for details it does not need.
func applyAzureResourceData(ev *model.Event, data json.RawMessage) {
	if d := lenientObjectOf(data); d != nil {
		auth := d.lenientObject("authorization")
		ev.Principal = azurePrincipal(auth, d.lenientObject("claims"))
		ev.Operation = d.lenientStr("operationName")
		if ev.Operation == "" && auth != nil {
			ev.Operation = auth.lenientStr("action")
		}
		ev.ResourceID = d.lenientStr("resourceUri")
		ev.Account = d.lenientStr("subscriptionId")
	}
	if ev.ResourceID == "" && hasSubscriptionsPrefix(ev.Subject) {
		ev.ResourceID = ev.Subject
	}
	if ev.Account == "" {
		ev.Account = subscriptionFromID(ev.ResourceID)
	}
}

// azurePrincipal picks who made the call. The role assignment's principal
// id is the most precise answer (it is what RBAC evaluated); the token's
// object id comes next, then the application id for service principals
// without an object id claim, and only then human-readable names, which can
// change and are not unique.
func azurePrincipal(auth, claims object) string {
	if auth != nil {
		// evidence is an object in current payloads and an empty array in
		// older ones; lenientObject returns nil for the latter.
		if ev := auth.lenientObject("evidence"); ev != nil {
			if p := ev.lenientStr("principalId"); p != "" {
				return p
			}
		}
	}
	for _, k := range []string{claimObjectIDLong, claimObjectID, claimAppID, claimUPNLong, claimName} {
		if v := claims.lenientStr(k); v != "" {
			return v
		}
	}
	return ""
}

func hasSubscriptionsPrefix(id string) bool {
	return len(id) >= len("/subscriptions/") && strings.EqualFold(id[:len("/subscriptions/")], "/subscriptions/")
}

// subscriptionFromID returns the subscription id segment of an ARM id, ""
// when id is not one.
func subscriptionFromID(id string) string {
	if !hasSubscriptionsPrefix(id) {
		return ""
	}
	rest := id[len("/subscriptions/"):]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
