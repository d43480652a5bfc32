package azure_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	enforceazure "plumb/internal/enforce/azure"
	"plumb/internal/inventory/azure/armtest"
	"plumb/internal/model"
)

const (
	sub = "00000000-0000-0000-0000-0000000000aa"
	rg  = "/subscriptions/" + sub + "/resourceGroups/app"
)

// memRecorder keeps what an execution reports, first save wins.
type memRecorder struct {
	mu     sync.Mutex
	before json.RawMessage
	calls  []enforce.Call
}

func (r *memRecorder) SaveBefore(_ context.Context, v any) (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.before == nil {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		r.before = b
	}
	return r.before, nil
}

func (r *memRecorder) Call(c enforce.Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func newExecutor(t *testing.T, srv *armtest.Server) *enforceazure.Executor {
	t.Helper()
	ex, err := enforceazure.New(enforceazure.Options{Subscription: sub, Credential: armtest.Credential{}, ClientOptions: srv.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func allowSSH(prio int) armtest.Rule {
	return armtest.Rule{Name: "ssh", Properties: map[string]any{"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
		"sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow", "priority": float64(prio), "direction": "Inbound"}}
}

// estate is a network security group, and a virtual machine with two
// network interfaces, one with a group and one without.
func estate(srv *armtest.Server) (nsg, vm string) {
	srv.AddSubscription(sub)
	nsg = rg + "/providers/Microsoft.Network/networkSecurityGroups/web"
	srv.PutNSG(armtest.NSG{ID: nsg, Location: "westeurope", Tags: map[string]string{"team": "payments"}, Rules: []armtest.Rule{allowSSH(200)}})
	ipc := []any{map[string]any{"name": "ipconfig1", "properties": map[string]any{"privateIPAllocationMethod": "Dynamic"}}}
	nic1 := rg + "/providers/Microsoft.Network/networkInterfaces/vm1-nic1"
	nic2 := rg + "/providers/Microsoft.Network/networkInterfaces/vm1-nic2"
	srv.PutNIC(armtest.NIC{ID: nic1, Location: "westeurope", NSG: nsg, IPConfigurations: ipc})
	srv.PutNIC(armtest.NIC{ID: nic2, Location: "westeurope", IPConfigurations: ipc})
	vm = rg + "/providers/Microsoft.Compute/virtualMachines/vm1"
	srv.PutVM(armtest.VM{ID: vm, Location: "westeurope", Tags: map[string]string{"owner": "alice"}, NICs: []string{nic1, nic2}})
	return nsg, vm
}

// snapshot is everything a quarantine may change, to compare before and
// after a release.
func snapshot(t *testing.T, srv *armtest.Server, nsg, vm string) string {
	t.Helper()
	g, _ := srv.GetNSG(nsg)
	v, _ := srv.GetVM(vm)
	var nics []string
	for _, id := range v.NICs {
		n, _ := srv.GetNIC(id)
		nics = append(nics, id+"="+n.NSG)
	}
	b, err := json.Marshal(map[string]any{"nsg_tags": g.Tags, "rules": g.Rules, "vm_tags": v.Tags, "nics": nics})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestQuarantineAndReleaseRestoreExactly quarantines each type through
// ARM, checks what the quarantine did, releases it and checks the estate
// is back as it was.
func TestQuarantineAndReleaseRestoreExactly(t *testing.T) {
	cases := []struct {
		name        string
		typ         string
		pick        func(nsg, vm string) string
		quarantined func(t *testing.T, srv *armtest.Server, nsg, vm string)
	}{
		{name: "network security group", typ: "azurerm_network_security_group", pick: func(nsg, _ string) string { return nsg },
			quarantined: func(t *testing.T, srv *armtest.Server, nsg, _ string) {
				g, _ := srv.GetNSG(nsg)
				if g.Tags[enforceazure.TagQuarantined] != "fp-1" || g.Tags["team"] != "payments" {
					t.Errorf("tags %v", g.Tags)
				}
				for _, dir := range []string{"Inbound", "Outbound"} {
					if !hasDenyAll(g, dir) {
						t.Errorf("no deny-all %s rule at priority 100: %+v", dir, g.Rules)
					}
				}
				if len(g.Rules) != 3 {
					t.Errorf("rules %+v: want the ssh rule and two deny-all", g.Rules)
				}
			}},
		{name: "virtual machine", typ: "azurerm_linux_virtual_machine", pick: func(_, vm string) string { return vm },
			quarantined: func(t *testing.T, srv *armtest.Server, _, vm string) {
				v, _ := srv.GetVM(vm)
				if v.Tags[enforceazure.TagQuarantined] != "fp-1" || v.Tags["owner"] != "alice" {
					t.Errorf("tags %v", v.Tags)
				}
				iso := rg + "/providers/Microsoft.Network/networkSecurityGroups/plumb-isolation-westeurope"
				g, ok := srv.GetNSG(iso)
				if !ok || !hasDenyAll(g, "Inbound") || !hasDenyAll(g, "Outbound") || g.Tags[enforceazure.TagProtect] != "true" {
					t.Fatalf("isolation group %+v", g)
				}
				for _, id := range v.NICs {
					if n, _ := srv.GetNIC(id); !strings.EqualFold(n.NSG, iso) {
						t.Errorf("%s has group %q, want the isolation group", id, n.NSG)
					}
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := armtest.New(t)
			nsg, vm := estate(srv)
			ex := newExecutor(t, srv)
			ctx := context.Background()
			before := snapshot(t, srv, nsg, vm)
			res := model.Resource{Provider: "azure", Type: tc.typ, ID: tc.pick(nsg, vm)}

			found, unknown, err := ex.Read(ctx, []model.Resource{res})
			if err != nil || len(unknown) > 0 {
				t.Fatalf("read: %v %v", err, unknown)
			}
			live, ok := found[enforce.ResourceKey(res)]
			if !ok || live.Account != sub || live.Region != "westeurope" {
				t.Fatalf("read back %+v", live)
			}
			q := &enforce.Action{Verb: enforce.VerbQuarantine, Fingerprint: "fp-1", Resource: res}
			if reason, err := ex.Check(ctx, q, live, plumbconfig.Enforcement{}, nil); err != nil || reason != "" {
				t.Fatalf("check: %q %v", reason, err)
			}
			if w := srv.Writes(); w != 0 {
				t.Fatalf("read and check made %d writes", w)
			}
			rec := &memRecorder{}
			result, err := ex.Execute(ctx, q, plumbconfig.Enforcement{}, rec)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("quarantine: %s", result)
			tc.quarantined(t, srv, nsg, vm)
			// Repeating a quarantine (a resumed job) changes nothing more.
			if _, err := ex.Execute(ctx, q, plumbconfig.Enforcement{}, rec); err != nil {
				t.Fatal(err)
			}
			tc.quarantined(t, srv, nsg, vm)
			var writes int
			for _, c := range rec.calls {
				if c.Write {
					writes++
				}
			}
			if writes == 0 {
				t.Error("no write call recorded on the action")
			}

			rel := &enforce.Action{Verb: enforce.VerbRelease, Fingerprint: "fp-1", Resource: res, Restore: rec.before}
			if _, err := ex.Execute(ctx, rel, plumbconfig.Enforcement{}, &memRecorder{}); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, srv, nsg, vm); after != before {
				t.Errorf("after release:\n%s\nbefore:\n%s", after, before)
			}
		})
	}
}

func hasDenyAll(g armtest.NSG, dir string) bool {
	for _, r := range g.Rules {
		p := r.Properties
		if p["direction"] == dir && p["access"] == "Deny" && p["priority"] == float64(100) && p["protocol"] == "*" &&
			p["sourceAddressPrefix"] == "*" && p["destinationAddressPrefix"] == "*" && p["destinationPortRange"] == "*" {
			return true
		}
	}
	return false
}

// TestReadCheckAndSupport covers what the guards ask the executor.
func TestReadCheckAndSupport(t *testing.T) {
	srv := armtest.New(t)
	nsg, vm := estate(srv)
	taken := rg + "/providers/Microsoft.Network/networkSecurityGroups/taken"
	srv.PutNSG(armtest.NSG{ID: taken, Location: "westeurope", Rules: []armtest.Rule{allowSSH(100)}})
	managed := rg + "/providers/Microsoft.Compute/virtualMachines/aks-node"
	srv.PutVM(armtest.VM{ID: managed, Location: "westeurope", ManagedBy: "/subscriptions/" + sub + "/resourceGroups/aks", NICs: []string{}})
	ex := newExecutor(t, srv)
	ctx := context.Background()

	for _, tc := range []struct {
		verb enforce.Verb
		typ  string
		want bool
	}{
		{enforce.VerbQuarantine, "azurerm_network_security_group", true},
		{enforce.VerbRelease, "azurerm_windows_virtual_machine", true},
		{enforce.VerbDelete, "azurerm_network_security_group", false},
		{enforce.VerbDelete, "azurerm_virtual_machine", false},
		{enforce.VerbQuarantine, "azurerm_storage_account", false},
	} {
		if got := ex.Supports(tc.verb, tc.typ); got != tc.want {
			t.Errorf("Supports(%s, %s) = %v", tc.verb, tc.typ, got)
		}
	}
	if acct, err := ex.Caller(ctx); err != nil || acct != sub {
		t.Errorf("Caller = %q, %v", acct, err)
	}

	res := func(typ, id string) model.Resource { return model.Resource{Provider: "azure", Type: typ, ID: id} }
	gone := res("azurerm_network_security_group", rg+"/providers/Microsoft.Network/networkSecurityGroups/gone")
	found, unknown, err := ex.Read(ctx, []model.Resource{res("azurerm_network_security_group", nsg), gone,
		res("azurerm_virtual_machine", managed), res("azurerm_storage_account", rg+"/providers/Microsoft.Storage/storageAccounts/x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := found[enforce.ResourceKey(gone)]; ok {
		t.Error("a 404 should read as gone")
	}
	if got := found[enforce.ResourceKey(res("azurerm_virtual_machine", managed))].Default; !strings.HasPrefix(got, "managed by ") {
		t.Errorf("managed VM Default = %q", got)
	}
	if got := found[enforce.ResourceKey(res("azurerm_network_security_group", nsg))].Tags["team"]; got != "payments" {
		t.Errorf("tags not read: %v", found)
	}
	if len(unknown) != 1 {
		t.Errorf("unknown = %v, want the storage account", unknown)
	}

	checks := []struct {
		name, typ, id, want string
	}{
		{"priority 100 taken", "azurerm_network_security_group", taken, "rule ssh holds priority 100"},
		{"free priority", "azurerm_network_security_group", nsg, ""},
		{"vm with interfaces", "azurerm_virtual_machine", vm, ""},
		{"vm without interface", "azurerm_virtual_machine", managed, "no network interface"},
	}
	for _, c := range checks {
		r := res(c.typ, c.id)
		reason, err := ex.Check(ctx, &enforce.Action{Verb: enforce.VerbQuarantine, Resource: r}, r, plumbconfig.Enforcement{}, nil)
		if err != nil || (c.want == "") != (reason == "") || !strings.Contains(reason, c.want) {
			t.Errorf("%s: Check = %q, %v; want %q", c.name, reason, err, c.want)
		}
	}
	if w := srv.Writes(); w != 0 {
		t.Errorf("reads and checks made %d writes", w)
	}
	if !reflect.DeepEqual(srv.Requests()[0], armtest.Request{Method: "GET", Path: "/subscriptions/" + sub}) {
		t.Errorf("first request %+v", srv.Requests()[0])
	}
}
