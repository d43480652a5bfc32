// Package armtest is a test server for the Azure Resource Manager calls
// plumb writes with: network security groups and their securityRules,
// network interfaces and virtual machines. No real ARM can run in tests,
// so the server answers the documented request and response shapes of
// exactly these calls (api-version, bearer token, the bodies of PUT and
// PATCH as the REST references describe them) and fails the test on
// anything else. The read-only inventory fake lives beside the scanner's
// tests (internal/inventory/azure); this one keeps state, so a test can
// read back what a write did.
package armtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Token is the bearer token Credential hands out and the server wants.
const Token = "plumb-armtest-token"

// API versions the server insists on.
const (
	APINetwork       = "2024-03-01"
	APICompute       = "2024-07-01"
	APISubscriptions = "2022-12-01"
)

// Credential is a TokenCredential handing out Token.
type Credential struct{}

// GetToken implements azcore.TokenCredential.
func (Credential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Rule is a security rule as stored: its name and properties.
type Rule struct {
	Name       string
	Properties map[string]any
}

// NSG is a network security group.
type NSG struct {
	ID       string
	Location string
	Tags     map[string]string
	Rules    []Rule
}

// NIC is a network interface; NSG is its network security group id.
type NIC struct {
	ID       string
	Location string
	Tags     map[string]string
	NSG      string
	// IPConfigurations are kept as the service returned them.
	IPConfigurations []any
}

// VM is a virtual machine; NICs are its network interface ids.
type VM struct {
	ID        string
	Location  string
	Tags      map[string]string
	ManagedBy string
	NICs      []string
}

// Request is one request the server answered.
type Request struct {
	Method, Path string
}

// Server is the ARM test server.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu   sync.Mutex
	subs map[string]bool
	nsgs map[string]*NSG
	nics map[string]*NIC
	vms  map[string]*VM
	log  []Request
}

// New starts the server; it stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, subs: map[string]bool{}, nsgs: map[string]*NSG{}, nics: map[string]*NIC{}, vms: map[string]*VM{}}
	s.srv = httptest.NewTLSServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// ClientOptions point an ARM client at the server.
func (s *Server) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: s.srv.URL, Audience: "https://management.core.windows.net/"},
		}},
		Transport: s.srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
}

func key(id string) string { return strings.ToLower(strings.TrimSuffix(id, "/")) }

// AddSubscription makes a subscription exist.
func (s *Server) AddSubscription(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[key(id)] = true
}

// PutNSG stores a network security group.
func (s *Server) PutNSG(g NSG) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nsgs[key(g.ID)] = &g
}

// PutNIC stores a network interface.
func (s *Server) PutNIC(n NIC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nics[key(n.ID)] = &n
}

// PutVM stores a virtual machine.
func (s *Server) PutVM(v VM) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vms[key(v.ID)] = &v
}

// GetNSG returns a copy of a network security group.
func (s *Server) GetNSG(id string) (NSG, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.nsgs[key(id)]
	if !ok {
		return NSG{}, false
	}
	c := *g
	c.Rules = slices.Clone(g.Rules)
	return c, true
}

// GetNIC returns a copy of a network interface.
func (s *Server) GetNIC(id string) (NIC, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nics[key(id)]
	if !ok {
		return NIC{}, false
	}
	return *n, true
}

// GetVM returns a copy of a virtual machine.
func (s *Server) GetVM(id string) (VM, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vms[key(id)]
	if !ok {
		return VM{}, false
	}
	return *v, true
}

// Requests returns the requests answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Writes counts the requests that were not GETs.
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+Token {
		s.t.Errorf("%s %s: Authorization = %q", r.Method, r.URL.Path, got)
		writeErr(w, http.StatusUnauthorized, "AuthenticationFailed", "no bearer token")
		return
	}
	path := key(r.URL.Path)
	s.mu.Lock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path})
	s.mu.Unlock()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 || parts[0] != "subscriptions" {
		s.unexpected(w, r)
		return
	}
	if len(parts) == 2 {
		if r.Method != http.MethodGet || !s.apiVersion(w, r, APISubscriptions) {
			return
		}
		s.mu.Lock()
		ok := s.subs[parts[1]]
		s.mu.Unlock()
		if !ok {
			writeErr(w, http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+parts[1]+"' could not be found.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "/subscriptions/" + parts[1], "subscriptionId": parts[1], "state": "Enabled"})
		return
	}
	// /subscriptions/S/resourceGroups/RG/providers/NS/TYPE/NAME[/CHILD/NAME]
	if len(parts) < 8 || parts[2] != "resourcegroups" || parts[4] != "providers" {
		s.unexpected(w, r)
		return
	}
	typ := parts[5] + "/" + parts[6]
	switch {
	case typ == "microsoft.network/networksecuritygroups" && len(parts) == 8:
		if s.apiVersion(w, r, APINetwork) {
			s.nsg(w, r, path)
		}
	case typ == "microsoft.network/networksecuritygroups" && len(parts) == 10 && parts[8] == "securityrules":
		if s.apiVersion(w, r, APINetwork) {
			s.securityRule(w, r, "/"+strings.Join(parts[:8], "/"), parts[9])
		}
	case typ == "microsoft.network/networkinterfaces" && len(parts) == 8:
		if s.apiVersion(w, r, APINetwork) {
			s.nic(w, r, path)
		}
	case typ == "microsoft.compute/virtualmachines" && len(parts) == 8:
		if s.apiVersion(w, r, APICompute) {
			s.vm(w, r, path)
		}
	default:
		s.unexpected(w, r)
	}
}

func (s *Server) unexpected(w http.ResponseWriter, r *http.Request) {
	s.t.Errorf("armtest: unexpected request %s %s", r.Method, r.URL)
	writeErr(w, http.StatusNotFound, "NotFound", "no such route")
}

func (s *Server) apiVersion(w http.ResponseWriter, r *http.Request, want string) bool {
	if got := r.URL.Query().Get("api-version"); got != want {
		s.t.Errorf("%s %s: api-version = %q, want %q", r.Method, r.URL.Path, got, want)
		writeErr(w, http.StatusBadRequest, "InvalidApiVersionParameter", "bad api-version "+got)
		return false
	}
	return true
}

// body decodes a request body, failing the test on anything but a JSON
// object.
func (s *Server) body(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	raw, err := io.ReadAll(r.Body)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil || m == nil {
		s.t.Errorf("%s %s: body is not a JSON object: %q", r.Method, r.URL.Path, raw)
		writeErr(w, http.StatusBadRequest, "InvalidRequestContent", "the request content was invalid")
		return nil, false
	}
	return m, true
}

// badRequest answers 400 and fails the test: plumb sent a shape the REST
// reference does not allow.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	s.t.Errorf("%s %s: %s", r.Method, r.URL.Path, msg)
	writeErr(w, http.StatusBadRequest, "InvalidRequestFormat", msg)
}

func notFound(w http.ResponseWriter, what string) {
	writeErr(w, http.StatusNotFound, "ResourceNotFound", "The Resource '"+what+"' was not found.")
}

// tagsOnly checks a PATCH body (Update Tags): {"tags": {...}} and nothing
// else, every value a string.
func (s *Server) tagsOnly(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	m, ok := s.body(w, r)
	if !ok {
		return nil, false
	}
	raw, has := m["tags"].(map[string]any)
	if !has || len(m) != 1 {
		s.badRequest(w, r, fmt.Sprintf("a tags update takes {\"tags\": {...}} only, got %v", m))
		return nil, false
	}
	tags := map[string]string{}
	for k, v := range raw {
		sv, isStr := v.(string)
		if !isStr {
			s.badRequest(w, r, "tag "+k+" is not a string")
			return nil, false
		}
		tags[k] = sv
	}
	return tags, true
}

// checkRule checks the properties of a security rule as Security Rules -
// Create Or Update documents them.
func checkRule(p map[string]any) string {
	for _, f := range []string{"protocol", "access", "direction"} {
		if _, ok := p[f].(string); !ok {
			return "securityRule properties." + f + " is required"
		}
	}
	if !slices.Contains([]string{"Tcp", "Udp", "Icmp", "Esp", "*", "Ah"}, p["protocol"].(string)) {
		return "securityRule protocol " + p["protocol"].(string) + " is not one of Tcp, Udp, Icmp, Esp, *, Ah"
	}
	if a := p["access"].(string); a != "Allow" && a != "Deny" {
		return "securityRule access " + a + " is not Allow or Deny"
	}
	if d := p["direction"].(string); d != "Inbound" && d != "Outbound" {
		return "securityRule direction " + d + " is not Inbound or Outbound"
	}
	prio, ok := p["priority"].(float64)
	if !ok || prio != float64(int(prio)) || prio < 100 || prio > 4096 {
		return fmt.Sprintf("securityRule priority %v is not an integer from 100 to 4096", p["priority"])
	}
	for _, pair := range [][2]string{{"sourcePortRange", "sourcePortRanges"}, {"destinationPortRange", "destinationPortRanges"},
		{"sourceAddressPrefix", "sourceAddressPrefixes"}, {"destinationAddressPrefix", "destinationAddressPrefixes"}} {
		_, one := p[pair[0]]
		_, many := p[pair[1]]
		if one == many {
			return "securityRule needs exactly one of " + pair[0] + " and " + pair[1]
		}
	}
	return ""
}

func (g *NSG) body() map[string]any {
	rules := []any{}
	for _, r := range g.Rules {
		props := map[string]any{"provisioningState": "Succeeded"}
		for k, v := range r.Properties {
			props[k] = v
		}
		rules = append(rules, map[string]any{"id": g.ID + "/securityRules/" + r.Name, "name": r.Name,
			"type": "Microsoft.Network/networkSecurityGroups/securityRules", "properties": props})
	}
	return map[string]any{"id": g.ID, "name": g.ID[strings.LastIndex(g.ID, "/")+1:], "type": "Microsoft.Network/networkSecurityGroups",
		"location": g.Location, "tags": g.Tags, "properties": map[string]any{"provisioningState": "Succeeded", "securityRules": rules}}
}

func (s *Server) nsg(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	g := s.nsgs[path]
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		s.getOne(w, "Microsoft.Network/networkSecurityGroups", g != nil, func() map[string]any { return g.body() })
	case http.MethodPatch:
		s.patchTags(w, r, "Microsoft.Network/networkSecurityGroups", g != nil, func(tags map[string]string) map[string]any {
			g.Tags = tags
			return g.body()
		})
	case http.MethodPut:
		m, ok := s.body(w, r)
		if !ok {
			return
		}
		loc, _ := m["location"].(string)
		if loc == "" {
			s.badRequest(w, r, "a network security group needs a location")
			return
		}
		ng := &NSG{ID: r.URL.Path, Location: loc, Tags: map[string]string{}}
		if tags, ok := m["tags"].(map[string]any); ok {
			for k, v := range tags {
				ng.Tags[k], _ = v.(string)
			}
		}
		props, _ := m["properties"].(map[string]any)
		items, _ := props["securityRules"].([]any)
		for _, it := range items {
			rm, _ := it.(map[string]any)
			name, _ := rm["name"].(string)
			rp, _ := rm["properties"].(map[string]any)
			if name == "" || rp == nil {
				s.badRequest(w, r, "every securityRules[] element needs name and properties")
				return
			}
			if msg := checkRule(rp); msg != "" {
				s.badRequest(w, r, msg)
				return
			}
			ng.Rules = append(ng.Rules, Rule{Name: name, Properties: rp})
		}
		status := http.StatusOK
		s.mu.Lock()
		if g == nil {
			status = http.StatusCreated
		} else {
			ng.ID = g.ID
		}
		s.nsgs[path] = ng
		b := ng.body()
		s.mu.Unlock()
		writeJSON(w, status, b)
	default:
		s.unexpected(w, r)
	}
}

func (s *Server) securityRule(w http.ResponseWriter, r *http.Request, nsgPath, name string) {
	s.mu.Lock()
	g := s.nsgs[nsgPath]
	s.mu.Unlock()
	if g == nil {
		notFound(w, "Microsoft.Network/networkSecurityGroups")
		return
	}
	idx := func() int {
		return slices.IndexFunc(g.Rules, func(x Rule) bool { return strings.EqualFold(x.Name, name) })
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		i := idx()
		s.mu.Unlock()
		if i < 0 {
			notFound(w, "Microsoft.Network/networkSecurityGroups/securityRules")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "properties": g.Rules[i].Properties})
	case http.MethodPut:
		m, ok := s.body(w, r)
		if !ok {
			return
		}
		props, _ := m["properties"].(map[string]any)
		if props == nil {
			s.badRequest(w, r, "a security rule PUT needs properties")
			return
		}
		if msg := checkRule(props); msg != "" {
			s.badRequest(w, r, msg)
			return
		}
		s.mu.Lock()
		for _, x := range g.Rules {
			xp := x.Properties
			if !strings.EqualFold(x.Name, name) && xp["priority"] == props["priority"] && xp["direction"] == props["direction"] {
				s.mu.Unlock()
				writeErr(w, http.StatusBadRequest, "SecurityRuleConflict", fmt.Sprintf("Security rule %s conflicts with rule %s: both have priority %v in direction %v.", name, x.Name, props["priority"], props["direction"]))
				return
			}
		}
		status := http.StatusCreated
		if i := idx(); i >= 0 {
			g.Rules[i].Properties = props
			status = http.StatusOK
		} else {
			g.Rules = append(g.Rules, Rule{Name: name, Properties: props})
		}
		s.mu.Unlock()
		out := map[string]any{"provisioningState": "Succeeded"}
		for k, v := range props {
			out[k] = v
		}
		writeJSON(w, status, map[string]any{"id": r.URL.Path, "name": name, "properties": out})
	case http.MethodDelete:
		s.mu.Lock()
		i := idx()
		if i >= 0 {
			g.Rules = slices.Delete(g.Rules, i, i+1)
		}
		s.mu.Unlock()
		if i < 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		s.unexpected(w, r)
	}
}

func (n *NIC) body() map[string]any {
	props := map[string]any{"provisioningState": "Succeeded", "ipConfigurations": n.IPConfigurations}
	if n.NSG != "" {
		props["networkSecurityGroup"] = map[string]any{"id": n.NSG}
	}
	return map[string]any{"id": n.ID, "name": n.ID[strings.LastIndex(n.ID, "/")+1:], "type": "Microsoft.Network/networkInterfaces",
		"location": n.Location, "tags": n.Tags, "properties": props}
}

func (s *Server) nic(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	n := s.nics[path]
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		s.getOne(w, "Microsoft.Network/networkInterfaces", n != nil, func() map[string]any { return n.body() })
	case http.MethodPut:
		// Network Interfaces - Create Or Update replaces the whole
		// interface: location and ipConfigurations must come back.
		m, ok := s.body(w, r)
		if !ok {
			return
		}
		if n == nil {
			s.badRequest(w, r, "plumb never creates a network interface")
			return
		}
		loc, _ := m["location"].(string)
		props, _ := m["properties"].(map[string]any)
		ipc, _ := props["ipConfigurations"].([]any)
		if !strings.EqualFold(loc, n.Location) {
			s.badRequest(w, r, fmt.Sprintf("location %q: the interface is in %q", loc, n.Location))
			return
		}
		if len(ipc) == 0 {
			s.badRequest(w, r, "properties.ipConfigurations is required: a PUT replaces the whole interface")
			return
		}
		nsg := ""
		if g, has := props["networkSecurityGroup"]; has {
			gm, _ := g.(map[string]any)
			nsg, _ = gm["id"].(string)
			if nsg == "" || len(gm) != 1 {
				s.badRequest(w, r, "properties.networkSecurityGroup takes {\"id\": ...} only")
				return
			}
			s.mu.Lock()
			target := s.nsgs[key(nsg)]
			s.mu.Unlock()
			if target == nil {
				writeErr(w, http.StatusBadRequest, "InvalidResourceReference", "Resource "+nsg+" referenced by resource "+n.ID+" was not found.")
				return
			}
			if !strings.EqualFold(target.Location, n.Location) {
				writeErr(w, http.StatusBadRequest, "InvalidResourceReference", "network security group "+nsg+" is not in the interface's location")
				return
			}
		}
		s.mu.Lock()
		n.NSG = nsg
		n.IPConfigurations = ipc
		b := n.body()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, b)
	default:
		s.unexpected(w, r)
	}
}

func (v *VM) body() map[string]any {
	nics := []any{}
	for i, id := range v.NICs {
		nics = append(nics, map[string]any{"id": id, "properties": map[string]any{"primary": i == 0}})
	}
	b := map[string]any{"id": v.ID, "name": v.ID[strings.LastIndex(v.ID, "/")+1:], "type": "Microsoft.Compute/virtualMachines",
		"location": v.Location, "tags": v.Tags, "properties": map[string]any{"provisioningState": "Succeeded",
			"networkProfile": map[string]any{"networkInterfaces": nics}}}
	if v.ManagedBy != "" {
		b["managedBy"] = v.ManagedBy
	}
	return b
}

func (s *Server) vm(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	v := s.vms[path]
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		s.getOne(w, "Microsoft.Compute/virtualMachines", v != nil, func() map[string]any { return v.body() })
	case http.MethodPatch:
		s.patchTags(w, r, "Microsoft.Compute/virtualMachines", v != nil, func(tags map[string]string) map[string]any {
			v.Tags = tags
			return v.body()
		})
	default:
		s.unexpected(w, r)
	}
}

// getOne answers a GET of one object: its body, or ARM's not-found.
func (s *Server) getOne(w http.ResponseWriter, typ string, exists bool, body func() map[string]any) {
	if !exists {
		notFound(w, typ)
		return
	}
	s.mu.Lock()
	b := body()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

// patchTags answers an Update Tags PATCH of one object: set replaces its
// tags (under the server's lock) and returns its body.
func (s *Server) patchTags(w http.ResponseWriter, r *http.Request, typ string, exists bool, set func(map[string]string) map[string]any) {
	tags, ok := s.tagsOnly(w, r)
	if !ok {
		return
	}
	if !exists {
		notFound(w, typ)
		return
	}
	s.mu.Lock()
	b := set(tags)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
