package azure

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"plumb/internal/azuretype"
	"plumb/internal/inventory"
	"plumb/internal/model"
)

const (
	subA = "00000000-0000-0000-0000-00000000000a"
	subB = "00000000-0000-0000-0000-00000000000b"
)

// estate builds the fixture subscription: an application group with a
// virtual network (two subnets), a storage account, an Event Grid topic,
// an OS disk owned by a VM, a resource of an unsupported type in a third
// location, and the groups Azure creates by itself.
func estate(sub string) *fakeSub {
	aks := resID(sub, "rg-app", "Microsoft.ContainerService/managedClusters", "aks")
	vmID := resID(sub, "rg-app", "Microsoft.Compute/virtualMachines", "vm-app")
	mc := "MC_rg-app_aks_westeurope"
	s := &fakeSub{
		groups: []map[string]any{
			armGroup(sub, "rg-app", "westeurope", "", map[string]string{"env": "prod"}),
			armGroup(sub, "NetworkWatcherRG", "westeurope", "", nil),
			armGroup(sub, mc, "westeurope", aks, nil),
			armGroup(sub, "databricks-rg-ws", "westeurope", resID(sub, "rg-app", "Microsoft.Databricks/workspaces", "ws"), nil),
			armGroup(sub, "DefaultResourceGroup-WEU", "westeurope", "", nil),
			armGroup(sub, "cloud-shell-storage-westeurope", "westeurope", "", nil),
		},
		resources: []map[string]any{
			armResource(sub, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app", "westeurope", "", map[string]string{"env": "prod"}),
			armResource(sub, "rg-app", "Microsoft.Storage/storageAccounts", "stapp", "West Europe", "", nil),
			armResource(sub, "NetworkWatcherRG", "Microsoft.Network/networkWatchers", "NetworkWatcher_westeurope", "westeurope", "", nil),
			armResource(sub, mc, "Microsoft.Network/virtualNetworks", "aks-vnet-1", "westeurope", "", map[string]string{"aks-managed": "true"}),
			armResource(sub, "rg-app", "Microsoft.Compute/disks", "vm-app_OsDisk_1", "westeurope", vmID, map[string]string{}),
			armResource(sub, "rg-app", "Microsoft.EventGrid/topics", "egt-app", "northeurope", "", map[string]string{}),
			armResource(sub, "rg-app", "Microsoft.Insights/components", "appi", "eastus", "", nil),
		},
		globalES: []map[string]any{
			armEventSub(rgID(sub, "rg-app"), "es-rg"),
		},
		regionalES: map[string][]map[string]any{
			"northeurope": {armEventSub(resID(sub, "rg-app", "Microsoft.EventGrid/topics", "egt-app"), "es-topic")},
		},
	}
	s.vnets = map[string]map[string]any{
		strings.ToLower(resID(sub, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app")): armVNet(sub, "rg-app", "vnet-app", "westeurope", "default", "GatewaySubnet"),
		strings.ToLower(resID(sub, mc, "Microsoft.Network/virtualNetworks", "aks-vnet-1")):     armVNet(sub, mc, "aks-vnet-1", "westeurope", "aks-subnet"),
	}
	return s
}

func scan(t *testing.T, f *fakeARM, opts Options) (*Scanner, *inventory.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res, err := s.Scan(ctx)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return s, res
}

// recordObserver records what an inventory tells its observer.
type recordObserver struct {
	mu                          sync.Mutex
	planned, attempts, finished []string
}

func (o *recordObserver) Planned(units []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.planned = append(o.planned, units...)
}

func (o *recordObserver) Attempt(unit, op string, attempt int, lastErr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, fmt.Sprintf("%s %s#%d%s", unit, op, attempt, lastErr))
}

func (o *recordObserver) Finished(unit string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, unit)
}

func byID(res *inventory.Result) map[string]model.Resource {
	out := map[string]model.Resource{}
	for _, r := range res.Resources {
		out[strings.ToLower(r.ID)] = r
	}
	return out
}

func TestScanListsEveryTypeAcrossPages(t *testing.T) {
	f := newFakeARM(t, 3)
	f.subs[subA] = estate(subA)
	obs := &recordObserver{}
	opts := f.options(subA)
	opts.Observer = obs
	_, res := scan(t, f, opts)

	if len(res.Errors) != 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if len(res.Regions) != 1 || res.Regions[0] != subA {
		t.Errorf("Regions = %v", res.Regions)
	}
	for _, typ := range azuretype.All() {
		if !res.Complete(typ, subA) {
			t.Errorf("%s not complete for %s", typ, subA)
		}
	}
	if len(obs.planned) != 1 || obs.planned[0] != "subscription/"+subA {
		t.Errorf("planned units = %v", obs.planned)
	}
	if len(obs.finished) != 1 || obs.finished[0] != "subscription/"+subA {
		t.Errorf("finished units = %v", obs.finished)
	}
	// Every ARM request of the subscription was announced under its unit,
	// named by method and collection.
	if !slices.Contains(obs.attempts, "subscription/"+subA+" GET resources#1") ||
		!slices.Contains(obs.attempts, "subscription/"+subA+" GET virtualNetworks#1") {
		t.Errorf("attempts = %v", obs.attempts)
	}

	// Seven resources in pages of three: three pages, each asked once.
	for _, key := range []string{
		"/subscriptions/" + subA + "/resources",
		"/subscriptions/" + subA + "/resources?$skiptoken=3",
		"/subscriptions/" + subA + "/resources?$skiptoken=6",
	} {
		if n := f.count(key); n != 1 {
			t.Errorf("%s requested %d times, want 1", key, n)
		}
	}

	got := byID(res)
	tests := []struct {
		name, id, typ, region, account string
		tags                           map[string]string // nil: must be nil
		isDefault                      bool
	}{
		{"user group", rgID(subA, "rg-app"), "azurerm_resource_group", "westeurope", subA, map[string]string{"env": "prod"}, false},
		{"network watcher group", rgID(subA, "NetworkWatcherRG"), "azurerm_resource_group", "westeurope", subA, map[string]string{}, true},
		{"AKS node group", rgID(subA, "MC_rg-app_aks_westeurope"), "azurerm_resource_group", "westeurope", subA, map[string]string{}, true},
		{"databricks managed group", rgID(subA, "databricks-rg-ws"), "azurerm_resource_group", "westeurope", subA, map[string]string{}, true},
		{"log analytics default group", rgID(subA, "DefaultResourceGroup-WEU"), "azurerm_resource_group", "westeurope", subA, map[string]string{}, true},
		{"cloud shell group", rgID(subA, "cloud-shell-storage-westeurope"), "azurerm_resource_group", "westeurope", subA, map[string]string{}, true},
		{"vnet", resID(subA, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app"), "azurerm_virtual_network", "westeurope", subA, map[string]string{"env": "prod"}, false},
		{"storage, location normalized, no tags", resID(subA, "rg-app", "Microsoft.Storage/storageAccounts", "stapp"), "azurerm_storage_account", "westeurope", subA, map[string]string{}, false},
		{"vnet in AKS node group", resID(subA, "MC_rg-app_aks_westeurope", "Microsoft.Network/virtualNetworks", "aks-vnet-1"), "azurerm_virtual_network", "westeurope", subA, map[string]string{"aks-managed": "true"}, true},
		{"OS disk managed by VM", resID(subA, "rg-app", "Microsoft.Compute/disks", "vm-app_OsDisk_1"), "azurerm_managed_disk", "westeurope", subA, map[string]string{}, true},
		{"topic", resID(subA, "rg-app", "Microsoft.EventGrid/topics", "egt-app"), "azurerm_eventgrid_topic", "northeurope", subA, map[string]string{}, false},
		{"subnet", resID(subA, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app") + "/subnets/default", "azurerm_subnet", "westeurope", subA, nil, false},
		{"gateway subnet", resID(subA, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app") + "/subnets/GatewaySubnet", "azurerm_subnet", "westeurope", subA, nil, false},
		{"subnet in AKS node group", resID(subA, "MC_rg-app_aks_westeurope", "Microsoft.Network/virtualNetworks", "aks-vnet-1") + "/subnets/aks-subnet", "azurerm_subnet", "westeurope", subA, nil, true},
		{"global event subscription", rgID(subA, "rg-app") + "/providers/Microsoft.EventGrid/eventSubscriptions/es-rg", "azurerm_eventgrid_event_subscription", "", subA, nil, false},
		{"regional event subscription", resID(subA, "rg-app", "Microsoft.EventGrid/topics", "egt-app") + "/providers/Microsoft.EventGrid/eventSubscriptions/es-topic", "azurerm_eventgrid_event_subscription", "northeurope", subA, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := got[strings.ToLower(tc.id)]
			if !ok {
				t.Fatalf("%s not listed", tc.id)
			}
			if r.ID != tc.id {
				t.Errorf("ID = %q, want ARM's spelling %q", r.ID, tc.id)
			}
			if r.Provider != "azure" || r.Type != tc.typ || r.Region != tc.region || r.Account != tc.account {
				t.Errorf("got %s %s region=%q account=%q", r.Provider, r.Type, r.Region, r.Account)
			}
			if tc.tags == nil && r.Tags != nil {
				t.Errorf("Tags = %v, want nil", r.Tags)
			}
			if tc.tags != nil && (r.Tags == nil || !sameMap(r.Tags, tc.tags)) {
				t.Errorf("Tags = %#v, want %v", r.Tags, tc.tags)
			}
			if (r.Default != "") != tc.isDefault {
				t.Errorf("Default = %q, want default=%v", r.Default, tc.isDefault)
			}
		})
	}
	if len(res.Resources) != len(tests) {
		for _, r := range res.Resources {
			t.Logf("listed %s %s", r.Type, r.ID)
		}
		t.Errorf("%d resources listed, want %d (unsupported types such as network watchers are skipped)", len(res.Resources), len(tests))
	}

	// Requests: groups 2 pages + resources 3 pages + 2 vnets + event
	// subscriptions (1 global + 3 locations: westeurope, northeurope,
	// eastus).
	const wantCalls = 2 + 3 + 2 + 1 + 3
	if res.APICalls != wantCalls || f.total() != wantCalls {
		t.Errorf("APICalls = %d, server saw %d, want %d", res.APICalls, f.total(), wantCalls)
	}
	t.Logf("%d requests for %d resources (%d resources in a 3-page listing): %.2f requests per resource",
		res.APICalls, len(res.Resources), len(estate(subA).resources), float64(res.APICalls)/float64(len(res.Resources)))
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestScanBacksOffOnThrottling(t *testing.T) {
	f := newFakeARM(t, 3)
	f.subs[subA] = estate(subA)
	page2 := "/subscriptions/" + subA + "/resources?$skiptoken=3"
	f.throttle[strings.ToLower(page2)] = 1

	start := time.Now()
	_, res := scan(t, f, f.options(subA))
	elapsed := time.Since(start)

	if len(res.Errors) != 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if !res.Complete("azurerm_storage_account", subA) {
		t.Error("generic types not complete after the retry")
	}
	at := f.attempts(page2)
	if len(at) != 2 {
		t.Fatalf("throttled page requested %d times, want 2 (one 429, one retry)", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 950*time.Millisecond {
		t.Errorf("retry came %v after the 429, want >= Retry-After (1s)", gap)
	}
	if elapsed < time.Second {
		t.Errorf("scan took %v, want >= 1s", elapsed)
	}
	if want := int64(2 + 3 + 1 + 2 + 1 + 3); res.APICalls != want {
		t.Errorf("APICalls = %d, want %d (the retry is counted)", res.APICalls, want)
	}
	if _, ok := byID(res)[strings.ToLower(resID(subA, "rg-app", "Microsoft.Compute/disks", "vm-app_OsDisk_1"))]; !ok {
		t.Error("resource of the throttled page missing")
	}
}

func TestScanFailures(t *testing.T) {
	generic := []string{"azurerm_virtual_network", "azurerm_storage_account", "azurerm_eventgrid_topic", "azurerm_managed_disk"}
	tests := []struct {
		name       string
		deny       string
		wantScopes []string // error scopes, sorted
		incomplete []string
		complete   []string
	}{
		{
			name:       "whole subscription denied",
			deny:       "all",
			wantScopes: []string{"azure/" + subA + "/eventgrid", "azure/" + subA + "/network", "azure/" + subA + "/resources", "azure/" + subA + "/resources"},
			incomplete: append([]string{"azurerm_resource_group", "azurerm_subnet", "azurerm_eventgrid_event_subscription"}, generic...),
		},
		{
			name:       "resource groups denied",
			deny:       "groups",
			wantScopes: []string{"azure/" + subA + "/resources"},
			incomplete: []string{"azurerm_resource_group"},
			complete:   append([]string{"azurerm_subnet", "azurerm_eventgrid_event_subscription"}, generic...),
		},
		{
			name:       "resource list denied",
			deny:       "resources",
			wantScopes: []string{"azure/" + subA + "/eventgrid", "azure/" + subA + "/network", "azure/" + subA + "/resources"},
			incomplete: append([]string{"azurerm_subnet", "azurerm_eventgrid_event_subscription"}, generic...),
			complete:   []string{"azurerm_resource_group"},
		},
		{
			name:       "virtual network read denied",
			deny:       "vnet",
			wantScopes: []string{"azure/" + subA + "/network"},
			incomplete: []string{"azurerm_subnet"},
			complete:   append([]string{"azurerm_resource_group", "azurerm_eventgrid_event_subscription"}, generic...),
		},
		{
			name:       "event grid denied",
			deny:       "eventgrid",
			wantScopes: []string{"azure/" + subA + "/eventgrid"},
			incomplete: []string{"azurerm_eventgrid_event_subscription"},
			complete:   append([]string{"azurerm_resource_group", "azurerm_subnet"}, generic...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeARM(t, 100)
			f.subs[subA] = estate(subA)
			f.subs[subA].deny = map[string]bool{tc.deny: true}
			f.subs[subB] = estate(subB)
			_, res := scan(t, f, f.options(subA, subB))

			var scopes []string
			for _, e := range res.Errors {
				scopes = append(scopes, e.Scope)
			}
			if strings.Join(scopes, " ") != strings.Join(tc.wantScopes, " ") {
				t.Errorf("error scopes = %v, want %v", scopes, tc.wantScopes)
			}
			for _, e := range res.Errors {
				if strings.Contains(e.Message, "not read because") {
					continue
				}
				if !strings.Contains(e.Message, "AuthorizationFailed (HTTP 403)") || !strings.Contains(e.Message, "does not have authorization") {
					t.Errorf("error message lacks ARM code/message: %q", e.Message)
				}
			}
			for _, typ := range tc.incomplete {
				if res.Complete(typ, subA) {
					t.Errorf("%s complete for the failing subscription", typ)
				}
			}
			for _, typ := range tc.complete {
				if !res.Complete(typ, subA) {
					t.Errorf("%s not complete although it was read", typ)
				}
			}
			for _, typ := range azuretype.All() {
				if !res.Complete(typ, subB) {
					t.Errorf("%s not complete for the healthy subscription", typ)
				}
			}
		})
	}
}

func TestScanRestrictedToResourceGroups(t *testing.T) {
	f := newFakeARM(t, 100)
	f.subs[subA] = estate(subA)
	opts := f.options(subA)
	opts.ResourceGroups = []string{"rg-app", "rg-absent"}
	_, res := scan(t, f, opts)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	got := byID(res)
	if _, ok := got[strings.ToLower(resID(subA, "rg-app", "Microsoft.Storage/storageAccounts", "stapp"))]; !ok {
		t.Error("resource in the named group not listed")
	}
	if _, ok := got[strings.ToLower(rgID(subA, "NetworkWatcherRG"))]; ok {
		t.Error("group outside the restriction listed")
	}
	for _, r := range res.Resources {
		if !strings.EqualFold(groupOf(r.ID), "rg-app") {
			t.Errorf("%s is outside the named groups", r.ID)
		}
	}
	// A restricted scan never claims a whole subscription was read.
	for _, typ := range azuretype.All() {
		if res.Complete(typ, subA) {
			t.Errorf("%s marked complete for the whole subscription", typ)
		}
	}
	for _, key := range []string{
		"/subscriptions/" + subA + "/resourcegroups/rg-app",
		"/subscriptions/" + subA + "/resourcegroups/rg-app/resources",
		"/subscriptions/" + subA + "/resourcegroups/rg-app/providers/microsoft.eventgrid/eventsubscriptions",
		"/subscriptions/" + subA + "/resourcegroups/rg-absent",
	} {
		if f.count(key) != 1 {
			t.Errorf("%s requested %d times, want 1", key, f.count(key))
		}
	}
	if f.count("/subscriptions/"+subA+"/resources") != 0 || f.count("/subscriptions/"+subA+"/resourcegroups") != 0 {
		t.Error("subscription-wide lists used in a restricted scan")
	}
}

func TestSubscriptionDiscovery(t *testing.T) {
	t.Run("listed when none given", func(t *testing.T) {
		t.Setenv("AZURE_SUBSCRIPTION_ID", "")
		f := newFakeARM(t, 1)
		f.subList = []map[string]any{
			armSubscription(subB, "Enabled"),
			armSubscription("00000000-0000-0000-0000-00000000000c", "Disabled"),
			armSubscription(subA, "Warned"),
		}
		s, err := New(context.Background(), f.options())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.Subscriptions(), ","); got != subA+","+subB {
			t.Errorf("subscriptions = %s, want enabled/warned ones sorted", got)
		}
		if f.count("/subscriptions") != 1 || f.count("/subscriptions?$skiptoken=2") != 1 {
			t.Errorf("subscription list not paged through: %v", f.hits)
		}
	})
	t.Run("AZURE_SUBSCRIPTION_ID", func(t *testing.T) {
		t.Setenv("AZURE_SUBSCRIPTION_ID", subB)
		f := newFakeARM(t, 1)
		s, err := New(context.Background(), f.options())
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Subscriptions(); len(got) != 1 || got[0] != subB {
			t.Errorf("subscriptions = %v", got)
		}
		if f.total() != 0 {
			t.Errorf("%d requests sent, want none", f.total())
		}
	})
	t.Run("explicit list wins and is deduplicated", func(t *testing.T) {
		t.Setenv("AZURE_SUBSCRIPTION_ID", subB)
		f := newFakeARM(t, 1)
		s, err := New(context.Background(), f.options(subA, " "+strings.ToUpper(subA)+" "))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Subscriptions(); len(got) != 1 || got[0] != subA {
			t.Errorf("subscriptions = %v", got)
		}
	})
	t.Run("none visible", func(t *testing.T) {
		t.Setenv("AZURE_SUBSCRIPTION_ID", "")
		f := newFakeARM(t, 1)
		if _, err := New(context.Background(), f.options()); err == nil {
			t.Error("New succeeded without any subscription")
		}
	})
}

// A nextLink pointing anywhere but the ARM endpoint is not followed: the
// bearer token would go with it. The test server's client routes
// example.com to the server itself, so without the guard the request
// would succeed and carry the token.
func TestNextLinkToAnotherHostIsRefused(t *testing.T) {
	f := newFakeARM(t, 3)
	f.subs[subA] = estate(subA)
	f.nextHost = "example.com"
	_, res := scan(t, f, f.options(subA))
	found := false
	for _, e := range res.Errors {
		if strings.Contains(e.Message, "refusing request to example.com:443") {
			found = true
		}
	}
	if !found {
		t.Errorf("errors = %+v, want the foreign nextLink refused", res.Errors)
	}
	if res.Complete("azurerm_resource_group", subA) || res.Complete("azurerm_storage_account", subA) {
		t.Error("a list cut short by a refused nextLink was marked complete")
	}
}

func TestScanHonoursContext(t *testing.T) {
	f := newFakeARM(t, 3)
	f.subs[subA] = estate(subA)
	s, err := New(context.Background(), f.options(subA))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 {
		t.Error("cancelled scan reported no errors")
	}
	for _, typ := range azuretype.All() {
		if res.Complete(typ, subA) {
			t.Errorf("%s complete after cancellation", typ)
		}
	}
}

func TestHostKey(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"https://management.azure.com/subscriptions", "management.azure.com:443"},
		{"https://Management.Azure.com:443/subscriptions?x=1", "management.azure.com:443"},
		{"https://127.0.0.1:8443/x", "127.0.0.1:8443"},
		{"http://localhost/x", "localhost:80"},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostKey(u); got != tc.want {
			t.Errorf("hostKey(%s) = %s, want %s", tc.raw, got, tc.want)
		}
	}
}

func TestNewRejectsCloudWithoutResourceManager(t *testing.T) {
	f := newFakeARM(t, 1)
	opts := f.options(subA)
	opts.ClientOptions.Cloud.Services[cloud.ResourceManager] = cloud.ServiceConfiguration{Endpoint: f.srv.URL}
	if _, err := New(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("New = %v, want an error about the missing audience", err)
	}
}
