package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// No real Azure Resource Manager can run in tests, so fakeARM is an HTTPS
// server that answers the documented ARM shapes for exactly the calls the
// scanner makes, and fails the test on anything else: a wrong method,
// path, api-version or a missing bearer token.

const testToken = "plumb-test-token"

// API versions the fake insists on, from the REST references.
const (
	apiResourcesWant     = "2021-04-01" // Resources - List, Resource Groups - List/Get
	apiSubscriptionsWant = "2022-12-01" // Subscriptions - List
	apiNetworkWant       = "2024-03-01" // Virtual Networks - Get
	apiEventGridWant     = "2022-06-15" // Event Subscriptions - List Global/Regional By Subscription
)

// staticCred is a test TokenCredential that hands out a fixed token.
type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeSub is the estate of one subscription.
type fakeSub struct {
	groups     []map[string]any
	resources  []map[string]any
	vnets      map[string]map[string]any // lower-case vnet id -> GET body
	globalES   []map[string]any
	regionalES map[string][]map[string]any // location -> event subscriptions
	// deny makes routes answer 403 AuthorizationFailed: "all", "groups",
	// "resources", "vnet", "eventgrid".
	deny map[string]bool
}

type hit struct {
	key string
	at  time.Time
}

type fakeARM struct {
	t        *testing.T
	srv      *httptest.Server
	pageSize int
	subs     map[string]*fakeSub // lower-case subscription id
	subList  []map[string]any
	// nextHost, when set, replaces the host of nextLink URLs.
	nextHost string

	mu       sync.Mutex
	hits     map[string]int // route key -> requests
	throttle map[string]int // route key -> 429s still to send
	log      []hit
}

func newFakeARM(t *testing.T, pageSize int) *fakeARM {
	t.Helper()
	f := &fakeARM{t: t, pageSize: pageSize, subs: map[string]*fakeSub{}, hits: map[string]int{}, throttle: map[string]int{}}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// options returns scanner options pointed at the fake: its URL as the ARM
// endpoint, its client (which trusts its certificate) as the transport.
func (f *fakeARM) options(subs ...string) Options {
	return Options{
		Subscriptions: subs,
		Credential:    staticCred{},
		ClientOptions: &arm.ClientOptions{ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: f.srv.URL, Audience: "https://management.core.windows.net/"},
			}},
			Transport: f.srv.Client(),
		}},
	}
}

func (f *fakeARM) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[strings.ToLower(key)]
}

func (f *fakeARM) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.hits {
		n += v
	}
	return n
}

// attempts returns the times a route key was requested.
func (f *fakeARM) attempts(key string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, h := range f.log {
		if h.key == strings.ToLower(key) {
			out = append(out, h.at)
		}
	}
	return out
}

func (f *fakeARM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodGet {
		t.Errorf("unexpected %s %s: the inventory must only read", r.Method, r.URL)
		writeErr(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "read only")
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("%s: Authorization = %q", r.URL.Path, got)
		writeErr(w, http.StatusUnauthorized, "AuthenticationFailed", "no bearer token")
		return
	}
	path := strings.ToLower(r.URL.Path)
	key := path
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		key += "?$skiptoken=" + tok
	}
	f.mu.Lock()
	f.hits[key]++
	f.log = append(f.log, hit{key: key, at: time.Now()})
	throttled := f.throttle[key] > 0
	if throttled {
		f.throttle[key]--
	}
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit exceeded, retry after 1 second.")
		return
	}

	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "subscriptions" {
		if f.apiVersion(w, r, apiSubscriptionsWant) {
			f.page(w, r, f.subList, apiSubscriptionsWant)
		}
		return
	}
	if len(parts) < 3 || parts[0] != "subscriptions" {
		f.unexpected(w, r)
		return
	}
	sub := f.subs[parts[1]]
	if sub == nil {
		writeErr(w, http.StatusNotFound, "SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", parts[1]))
		return
	}
	denied := func(route string) bool {
		if sub.deny["all"] || sub.deny[route] {
			writeErr(w, http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
				"The client 'plumb' with object id '0000' does not have authorization to perform action 'read' over scope '/subscriptions/%s' or the scope is invalid.", parts[1]))
			return true
		}
		return false
	}
	rest := parts[2:]
	switch {
	case len(rest) == 1 && rest[0] == "resourcegroups":
		if f.apiVersion(w, r, apiResourcesWant) && !denied("groups") {
			f.page(w, r, sub.groups, apiResourcesWant)
		}
	case len(rest) == 1 && rest[0] == "resources":
		if f.apiVersion(w, r, apiResourcesWant) && !denied("resources") {
			f.page(w, r, sub.resources, apiResourcesWant)
		}
	case len(rest) == 2 && rest[0] == "resourcegroups":
		if !f.apiVersion(w, r, apiResourcesWant) || denied("groups") {
			return
		}
		for _, g := range sub.groups {
			if strings.EqualFold(g["name"].(string), rest[1]) {
				writeJSON(w, http.StatusOK, g)
				return
			}
		}
		writeErr(w, http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rest[1]+"' could not be found.")
	case len(rest) == 3 && rest[0] == "resourcegroups" && rest[2] == "resources":
		if f.apiVersion(w, r, apiResourcesWant) && !denied("resources") {
			f.page(w, r, inGroup(sub.resources, rest[1]), apiResourcesWant)
		}
	case len(rest) == 3 && rest[0] == "providers" && rest[1] == "microsoft.eventgrid" && rest[2] == "eventsubscriptions":
		if f.apiVersion(w, r, apiEventGridWant) && !denied("eventgrid") {
			f.page(w, r, sub.globalES, apiEventGridWant)
		}
	case len(rest) == 5 && rest[0] == "providers" && rest[1] == "microsoft.eventgrid" && rest[2] == "locations" && rest[4] == "eventsubscriptions":
		if f.apiVersion(w, r, apiEventGridWant) && !denied("eventgrid") {
			f.page(w, r, sub.regionalES[rest[3]], apiEventGridWant)
		}
	case len(rest) == 5 && rest[0] == "resourcegroups" && rest[2] == "providers" && rest[3] == "microsoft.eventgrid" && rest[4] == "eventsubscriptions":
		if f.apiVersion(w, r, apiEventGridWant) && !denied("eventgrid") {
			f.page(w, r, inGroup(sub.globalES, rest[1]), apiEventGridWant)
		}
	case len(rest) == 7 && rest[0] == "resourcegroups" && rest[2] == "providers" && rest[3] == "microsoft.eventgrid" && rest[4] == "locations" && rest[6] == "eventsubscriptions":
		if f.apiVersion(w, r, apiEventGridWant) && !denied("eventgrid") {
			f.page(w, r, inGroup(sub.regionalES[rest[5]], rest[1]), apiEventGridWant)
		}
	case len(rest) == 6 && rest[0] == "resourcegroups" && rest[2] == "providers" && rest[3] == "microsoft.network" && rest[4] == "virtualnetworks":
		if !f.apiVersion(w, r, apiNetworkWant) || denied("vnet") {
			return
		}
		if body, ok := sub.vnets[path]; ok {
			writeJSON(w, http.StatusOK, body)
			return
		}
		writeErr(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Network/virtualNetworks/"+rest[5]+"' was not found.")
	default:
		f.unexpected(w, r)
	}
}

func (f *fakeARM) unexpected(w http.ResponseWriter, r *http.Request) {
	f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	writeErr(w, http.StatusNotFound, "NotFound", "no such route")
}

// apiVersion checks the api-version query parameter.
func (f *fakeARM) apiVersion(w http.ResponseWriter, r *http.Request, want string) bool {
	if got := r.URL.Query().Get("api-version"); got != want {
		f.t.Errorf("%s: api-version = %q, want %q", r.URL.Path, got, want)
		writeErr(w, http.StatusBadRequest, "InvalidApiVersionParameter", "bad api-version "+got)
		return false
	}
	return true
}

// page answers one page of a list: {"value": [...], "nextLink": "..."},
// with the offset of the next page in $skiptoken as ARM does.
func (f *fakeARM) page(w http.ResponseWriter, r *http.Request, items []map[string]any, api string) {
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil {
			f.t.Errorf("bad $skiptoken %q", tok)
		}
		start = n
	}
	end := min(start+f.pageSize, len(items))
	start = min(start, end)
	body := map[string]any{"value": append([]map[string]any{}, items[start:end]...)}
	if end < len(items) {
		host := f.srv.URL
		if f.nextHost != "" {
			host = "https://" + f.nextHost
		}
		body["nextLink"] = fmt.Sprintf("%s%s?api-version=%s&$skiptoken=%d", host, r.URL.Path, api, end)
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeErr answers the ARM error envelope.
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func inGroup(items []map[string]any, rg string) []map[string]any {
	var out []map[string]any
	for _, it := range items {
		if strings.EqualFold(groupOf(it["id"].(string)), rg) {
			out = append(out, it)
		}
	}
	return out
}

// ---- ARM response bodies ----

func rgID(sub, rg string) string { return "/subscriptions/" + sub + "/resourceGroups/" + rg }

func resID(sub, rg, typ, name string) string {
	return rgID(sub, rg) + "/providers/" + typ + "/" + name
}

// armGroup is one element of Resource Groups - List.
func armGroup(sub, name, location, managedBy string, tags map[string]string) map[string]any {
	g := map[string]any{
		"id":         rgID(sub, name),
		"name":       name,
		"type":       "Microsoft.Resources/resourceGroups",
		"location":   location,
		"properties": map[string]any{"provisioningState": "Succeeded"},
	}
	if managedBy != "" {
		g["managedBy"] = managedBy
	}
	if tags != nil {
		g["tags"] = tags
	}
	return g
}

// armResource is one element of Resources - List (GenericResourceExpanded).
func armResource(sub, rg, typ, name, location, managedBy string, tags map[string]string) map[string]any {
	r := map[string]any{
		"id":       resID(sub, rg, typ, name),
		"name":     name,
		"type":     typ,
		"location": location,
	}
	if managedBy != "" {
		r["managedBy"] = managedBy
	}
	if tags != nil {
		r["tags"] = tags
	}
	return r
}

// armVNet is the body of Virtual Networks - Get.
func armVNet(sub, rg, name, location string, subnets ...string) map[string]any {
	id := resID(sub, rg, "Microsoft.Network/virtualNetworks", name)
	var sns []any
	for i, sn := range subnets {
		sns = append(sns, map[string]any{
			"name": sn,
			"id":   id + "/subnets/" + sn,
			"properties": map[string]any{
				"provisioningState": "Succeeded",
				"addressPrefix":     fmt.Sprintf("10.0.%d.0/24", i),
			},
		})
	}
	return map[string]any{
		"name":     name,
		"id":       id,
		"type":     "Microsoft.Network/virtualNetworks",
		"location": location,
		"properties": map[string]any{
			"provisioningState":      "Succeeded",
			"addressSpace":           map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}},
			"subnets":                sns,
			"virtualNetworkPeerings": []any{},
		},
	}
}

// armEventSub is one element of Event Subscriptions - List.
func armEventSub(scope, name string) map[string]any {
	return map[string]any{
		"id":   scope + "/providers/Microsoft.EventGrid/eventSubscriptions/" + name,
		"name": name,
		"type": "Microsoft.EventGrid/eventSubscriptions",
		"properties": map[string]any{
			"topic":             scope,
			"provisioningState": "Succeeded",
			"destination": map[string]any{
				"endpointType": "WebHook",
				"properties":   map[string]any{"endpointBaseUrl": "https://example.invalid/hook"},
			},
			"filter": map[string]any{"isSubjectCaseSensitive": false, "subjectBeginsWith": "", "subjectEndsWith": ""},
		},
	}
}

func armSubscription(id, state string) map[string]any {
	return map[string]any{
		"id":             "/subscriptions/" + id,
		"subscriptionId": id,
		"displayName":    "sub " + id,
		"state":          state,
		"tenantId":       "tenant",
	}
}
