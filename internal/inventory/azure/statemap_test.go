package azure

import (
	"strings"
	"testing"

	"plumb/internal/azuretype"
	"plumb/internal/drift"
	"plumb/internal/inventory"
	"plumb/internal/model"
)

func TestCatalogCoversEveryAzureType(t *testing.T) {
	types := NewMapper().Types()
	if len(types) != len(azuretype.All()) {
		t.Fatalf("%d types, want %d", len(types), len(azuretype.All()))
	}
	for _, typ := range types {
		if !typ.ScopeByAccount || !typ.CaseInsensitiveID || typ.Global {
			t.Errorf("%s: %+v, want per-subscription, case-insensitive", typ.Name, typ)
		}
		if typ.Service == "" {
			t.Errorf("%s has no service", typ.Name)
		}
	}
	var _ inventory.StateMapper = NewMapper()
}

func TestFromState(t *testing.T) {
	vm := "/subscriptions/" + subA + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
	tests := []struct {
		name  string
		typ   string
		attrs map[string]any
		ok    bool
		want  model.Resource
	}{
		{
			name:  "alias maps to the canonical type, location normalized",
			typ:   "azurerm_linux_virtual_machine",
			attrs: map[string]any{"id": vm, "name": "vm1", "location": "West Europe", "resource_group_name": "rg-app", "tags": map[string]any{"env": "prod"}},
			ok:    true,
			want:  model.Resource{Provider: "azure", Type: "azurerm_virtual_machine", ID: vm, Account: subA, Region: "westeurope", Name: "vm1", Tags: map[string]string{"env": "prod"}},
		},
		{
			name:  "resource group, tags null means none",
			typ:   "azurerm_resource_group",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg-app", "name": "rg-app", "location": "westeurope", "tags": nil},
			ok:    true,
			want:  model.Resource{Provider: "azure", Type: "azurerm_resource_group", ID: "/subscriptions/" + subA + "/resourceGroups/rg-app", Account: subA, Region: "westeurope", Name: "rg-app", Tags: map[string]string{}},
		},
		{
			name:  "no tags attribute means unknown",
			typ:   "azurerm_storage_account",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st", "name": "st", "location": "eastus"},
			ok:    true,
			want:  model.Resource{Provider: "azure", Type: "azurerm_storage_account", ID: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st", Account: subA, Region: "eastus", Name: "st"},
		},
		{
			name:  "subnet has no tags",
			typ:   "azurerm_subnet",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", "name": "s", "virtual_network_name": "v", "resource_group_name": "rg"},
			ok:    true,
			want:  model.Resource{Provider: "azure", Type: "azurerm_subnet", ID: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", Account: subA, Name: "s"},
		},
		{
			name:  "event subscription on a topic",
			typ:   "azurerm_eventgrid_event_subscription",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t/providers/Microsoft.EventGrid/eventSubscriptions/es", "name": "es", "scope": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t"},
			ok:    true,
			want:  model.Resource{Provider: "azure", Type: "azurerm_eventgrid_event_subscription", ID: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t/providers/Microsoft.EventGrid/eventSubscriptions/es", Account: subA, Name: "es"},
		},
		{
			name:  "system topic is not a listed topic",
			typ:   "azurerm_eventgrid_system_topic",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/st", "name": "st", "location": "global"},
		},
		{
			name:  "unsupported azurerm type",
			typ:   "azurerm_kubernetes_cluster",
			attrs: map[string]any{"id": "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/k"},
		},
		{
			name:  "another cloud's type",
			typ:   "aws_vpc",
			attrs: map[string]any{"id": "vpc-123"},
		},
		{
			name:  "no id",
			typ:   "azurerm_virtual_network",
			attrs: map[string]any{"name": "v"},
		},
	}
	m := NewMapper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := m.FromState(tc.typ, tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, got)
			}
			if !ok {
				return
			}
			if got.Provider != tc.want.Provider || got.Type != tc.want.Type || got.ID != tc.want.ID || got.Account != tc.want.Account ||
				got.Region != tc.want.Region || got.Name != tc.want.Name {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if (got.Tags == nil) != (tc.want.Tags == nil) || !sameMap(got.Tags, tc.want.Tags) {
				t.Errorf("Tags = %#v, want %#v", got.Tags, tc.want.Tags)
			}
		})
	}
	if _, _, _, ok := m.Fold("azurerm_subnet", nil); ok {
		t.Error("Fold claimed a type")
	}
}

func TestGroupDefaults(t *testing.T) {
	tests := []struct {
		name, managedBy string
		isDefault       bool
	}{
		{"NetworkWatcherRG", "", true},
		{"networkwatcherrg", "", true},
		{"MC_rg_aks_westeurope", "", true},
		{"mc_rg_aks_westeurope", "", true},
		{"databricks-rg-ws-abc", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws", true},
		{"DefaultResourceGroup-WEU", "", true},
		{"cloud-shell-storage-westeurope", "", true},
		{"AzureBackupRG_westeurope_1", "", true},
		{"rg-app", "", false},
		{"rg-mc_lookalike", "", false},
		{"NetworkWatcherRG-custom", "", false},
	}
	for _, tc := range tests {
		if got := groupDefault(tc.name, tc.managedBy); (got != "") != tc.isDefault {
			t.Errorf("groupDefault(%q, %q) = %q, want default=%v", tc.name, tc.managedBy, got, tc.isDefault)
		}
	}
	d := groupDefaults{"databricks-rg-ws": "managed resource group of ws"}
	for id, want := range map[string]bool{
		"/subscriptions/s/resourceGroups/databricks-rg-ws/providers/Microsoft.Storage/storageAccounts/dbstorage":                 true,
		"/subscriptions/s/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope": true,
		"/subscriptions/s/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/st":                                  false,
		"/subscriptions/s/providers/Microsoft.EventGrid/eventSubscriptions/sub-level":                                            false,
	} {
		if got := d.resourceDefault(id, ""); (got != "") != want {
			t.Errorf("resourceDefault(%s) = %q, want default=%v", id, got, want)
		}
	}
	if d.resourceDefault("/subscriptions/s/resourceGroups/rg-app/providers/Microsoft.Compute/disks/osdisk", "/subscriptions/s/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm") == "" {
		t.Error("resource with managedBy is not a default")
	}
}

// TestDriftThroughDiff runs a scan of two subscriptions, one of which
// denies access, and compares it with azurerm state whose ids are spelled
// with other cases than ARM returns, through the real drift engine.
func TestDriftThroughDiff(t *testing.T) {
	f := newFakeARM(t, 3)
	f.subs[subA] = estate(subA)
	f.subs[subB] = estate(subB)
	f.subs[subB].deny = map[string]bool{"all": true}
	_, res := scan(t, f, f.options(subA, subB))

	lowerRG := "/subscriptions/" + subA + "/resourcegroups/RG-APP"
	desired := []model.DesiredResource{
		state("azurerm_resource_group.app", "azurerm_resource_group", map[string]any{
			"id": lowerRG, "name": "rg-app", "location": "West Europe", "tags": map[string]any{"env": "prod"},
		}),
		state("azurerm_virtual_network.app", "azurerm_virtual_network", map[string]any{
			"id": lowerRG + "/providers/microsoft.network/virtualnetworks/VNET-APP", "name": "vnet-app", "location": "westeurope",
			"resource_group_name": "RG-APP", "tags": map[string]any{"env": "prod"},
		}),
		state("azurerm_subnet.default", "azurerm_subnet", map[string]any{
			"id": lowerRG + "/providers/Microsoft.Network/virtualNetworks/vnet-app/subnets/DEFAULT", "name": "default",
			"virtual_network_name": "vnet-app", "resource_group_name": "rg-app",
		}),
		state("azurerm_eventgrid_event_subscription.rg", "azurerm_eventgrid_event_subscription", map[string]any{
			"id": lowerRG + "/providers/Microsoft.EventGrid/eventSubscriptions/ES-RG", "name": "es-rg", "scope": lowerRG,
		}),
		state("azurerm_eventgrid_topic.app", "azurerm_eventgrid_topic", map[string]any{
			"id": lowerRG + "/providers/Microsoft.EventGrid/topics/egt-app", "name": "egt-app", "location": "northeurope",
			"tags": map[string]any{"team": "events"},
		}),
		state("azurerm_storage_account.gone", "azurerm_storage_account", map[string]any{
			"id": rgID(subA, "rg-app") + "/providers/Microsoft.Storage/storageAccounts/stgone", "name": "stgone", "location": "westeurope",
			"tags": map[string]any{},
		}),
		state("azurerm_virtual_network.other", "azurerm_virtual_network", map[string]any{
			"id": resID(subB, "rg-app", "Microsoft.Network/virtualNetworks", "vnet-app"), "name": "vnet-app", "location": "westeurope",
			"tags": map[string]any{},
		}),
	}
	out := drift.Diff(desired, res, NewMapper(), drift.Options{Environment: "test"})

	kinds := map[string][]string{}
	for _, fd := range out.Findings {
		kinds[string(fd.Kind)] = append(kinds[string(fd.Kind)], fd.Resource.Type+" "+fd.Resource.Name)
	}
	want := map[string][]string{
		"drift.unmanaged": {
			"azurerm_eventgrid_event_subscription es-topic",
			"azurerm_storage_account stapp",
			"azurerm_subnet GatewaySubnet",
		},
		"drift.missing": {"azurerm_storage_account stgone"},
		"drift.changed": {"azurerm_eventgrid_topic egt-app"},
	}
	for kind, names := range want {
		if strings.Join(kinds[kind], ", ") != strings.Join(names, ", ") {
			t.Errorf("%s = %v, want %v", kind, kinds[kind], names)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("finding kinds = %v", kinds)
	}
	for _, fd := range out.Findings {
		if fd.Kind == model.KindChanged {
			if len(fd.Changes) != 1 || fd.Changes[0].Path != "tags.team" {
				t.Errorf("changes = %+v, want tags.team", fd.Changes)
			}
		}
	}
	s := out.Summary
	if s.Managed != 7 || s.InSync != 4 || s.Changed != 1 || s.Missing != 1 || s.Unmanaged != 3 || s.NotEvaluated != 1 || s.Unsupported != 0 {
		t.Errorf("summary = %+v", s)
	}
	var scopes []string
	for _, e := range out.Errors {
		scopes = append(scopes, e.Scope)
	}
	if len(scopes) == 0 || !strings.Contains(strings.Join(scopes, " "), "azure/"+subB+"/resources") {
		t.Errorf("errors = %v, want the denied subscription reported", scopes)
	}
}

func state(addr, typ string, attrs map[string]any) model.DesiredResource {
	return model.DesiredResource{
		Resource: model.Resource{Provider: "azure", Type: typ, ID: attrs["id"].(string)},
		Address:  addr,
		Source:   "test.tfstate",
		Mode:     "managed",
		Raw:      attrs,
	}
}
