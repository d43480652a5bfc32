package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"plumb/internal/enforce"
)

// runtimePollOptions polls long-running ARM operations; ARM's
// Retry-After, when it sends one, wins.
var runtimePollOptions = runtime.PollUntilDoneOptions{Frequency: 2 * time.Second}

// nsgQuarantine is what a network security group's quarantine saves and
// its release restores: its tags, and which plumb rules it already had
// (none, unless a quarantine ran before).
type nsgQuarantine struct {
	ID          string            `json:"id"`
	Tags        map[string]string `json:"tags"`
	HadInbound  bool              `json:"had_inbound_rule"`
	HadOutbound bool              `json:"had_outbound_rule"`
}

// vmQuarantine is what a virtual machine's quarantine saves: its tags
// and the network security group of each network interface ("" none).
type vmQuarantine struct {
	ID         string            `json:"id"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Interfaces []nicGroup        `json:"interfaces"`
}

type nicGroup struct {
	ID  string `json:"id"`
	NSG string `json:"network_security_group"`
}

type rule struct {
	name      string
	priority  int
	direction string
}

// rulesOf lists the securityRules of a network security group.
func rulesOf(nsg armresources.GenericResource) []rule {
	props, _ := nsg.Properties.(map[string]any)
	items, _ := props["securityRules"].([]any)
	var out []rule
	for _, it := range items {
		m, _ := it.(map[string]any)
		p, _ := m["properties"].(map[string]any)
		prio, _ := p["priority"].(float64)
		name, _ := m["name"].(string)
		dir, _ := p["direction"].(string)
		out = append(out, rule{name: name, priority: int(prio), direction: dir})
	}
	return out
}

// denyAll is the body of a deny-all securityRule (Security Rules -
// Create Or Update).
func denyAll(direction string) map[string]any {
	return map[string]any{
		"protocol":                 "*",
		"sourcePortRange":          "*",
		"destinationPortRange":     "*",
		"sourceAddressPrefix":      "*",
		"destinationAddressPrefix": "*",
		"access":                   "Deny",
		"priority":                 QuarantinePriority,
		"direction":                direction,
		"description":              "plumb quarantine: deny all " + strings.ToLower(direction) + " traffic",
	}
}

func (e *Executor) readNSG(ctx context.Context, id string) (any, bool, error) {
	g, err := e.getByID(ctx, id, APINetwork)
	if isNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	q := nsgQuarantine{ID: id, Tags: tagMap(g.Tags)}
	for _, r := range rulesOf(g) {
		q.HadInbound = q.HadInbound || r.name == RuleDenyInbound
		q.HadOutbound = q.HadOutbound || r.name == RuleDenyOutbound
	}
	return q, false, nil
}

// quarantineNSG puts the two deny-all rules at the highest priority and
// tags the group.
func (e *Executor) quarantineNSG(ctx context.Context, a *enforce.Action, raw json.RawMessage) (string, error) {
	var b nsgQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	for _, r := range []struct{ name, dir string }{{RuleDenyInbound, "Inbound"}, {RuleDenyOutbound, "Outbound"}} {
		if err := e.put(ctx, b.ID+"/securityRules/"+r.name, APINetwork, armresources.GenericResource{Properties: denyAll(r.dir)}); err != nil {
			return "", err
		}
	}
	tags := maps.Clone(b.Tags)
	tags[TagQuarantined] = a.Fingerprint
	if err := e.patchTags(ctx, b.ID, APINetwork, tags); err != nil {
		return "", err
	}
	return fmt.Sprintf("deny-all rules %s and %s put at priority %d", RuleDenyInbound, RuleDenyOutbound, QuarantinePriority), nil
}

// releaseNSG removes the deny-all rules the quarantine added and puts the
// saved tags back.
func (e *Executor) releaseNSG(ctx context.Context, raw json.RawMessage) (string, error) {
	var b nsgQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	var removed []string
	for _, r := range []struct {
		name string
		had  bool
	}{{RuleDenyInbound, b.HadInbound}, {RuleDenyOutbound, b.HadOutbound}} {
		if r.had {
			continue // there before the quarantine: not plumb's to remove
		}
		if err := e.del(ctx, b.ID+"/securityRules/"+r.name, APINetwork); err != nil {
			return "", err
		}
		removed = append(removed, r.name)
	}
	if err := e.patchTags(ctx, b.ID, APINetwork, b.Tags); err != nil {
		return "", err
	}
	return "removed " + listOrNone(removed) + ", tags restored", nil
}

// nicIDs lists the network interfaces of a virtual machine.
func nicIDs(vm armresources.GenericResource) []string {
	props, _ := vm.Properties.(map[string]any)
	np, _ := props["networkProfile"].(map[string]any)
	items, _ := np["networkInterfaces"].([]any)
	var out []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		if id, _ := m["id"].(string); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// nsgOf is the network security group id of a network interface, "" none.
func nsgOf(nic armresources.GenericResource) string {
	props, _ := nic.Properties.(map[string]any)
	g, _ := props["networkSecurityGroup"].(map[string]any)
	id, _ := g["id"].(string)
	return id
}

func (e *Executor) readVM(ctx context.Context, id string) (any, bool, error) {
	vm, err := e.getByID(ctx, id, APICompute)
	if isNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	q := vmQuarantine{ID: id, Location: deref(vm.Location), Tags: tagMap(vm.Tags), Interfaces: []nicGroup{}}
	for _, nid := range nicIDs(vm) {
		nic, err := e.getByID(ctx, nid, APINetwork)
		if err != nil {
			return nil, false, fmt.Errorf("network interface %s: %w", nid, err)
		}
		q.Interfaces = append(q.Interfaces, nicGroup{ID: nid, NSG: nsgOf(nic)})
	}
	return q, false, nil
}

// isolationGroup makes sure the isolation network security group of a
// resource group and location exists with exactly the two deny-all rules
// (a PUT replaces it whole, so rules someone added are dropped) and
// returns its id.
func (e *Executor) isolationGroup(ctx context.Context, rg, location string) (string, error) {
	id := rg + "/providers/Microsoft.Network/networkSecurityGroups/" + IsolationGroupPrefix + strings.ToLower(location)
	body := armresources.GenericResource{
		Location: &location,
		Tags:     tagPtrs(map[string]string{TagIsolation: "true", TagProtect: "true"}),
		Properties: map[string]any{"securityRules": []any{
			map[string]any{"name": RuleDenyInbound, "properties": denyAll("Inbound")},
			map[string]any{"name": RuleDenyOutbound, "properties": denyAll("Outbound")},
		}},
	}
	return id, e.put(ctx, id, APINetwork, body)
}

// setNSG puts a network interface back with nsg as its network security
// group ("" none): GET, change, PUT the whole interface, as ARM's Network
// Interfaces - Create Or Update takes it.
func (e *Executor) setNSG(ctx context.Context, nicID, nsg string) error {
	nic, err := e.getByID(ctx, nicID, APINetwork)
	if err != nil {
		return err
	}
	props, _ := nic.Properties.(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	if nsg == "" {
		delete(props, "networkSecurityGroup")
	} else {
		props["networkSecurityGroup"] = map[string]any{"id": nsg}
	}
	delete(props, "provisioningState")
	nic.Properties = props
	return e.put(ctx, nicID, APINetwork, armresources.GenericResource{Location: nic.Location, Tags: nic.Tags, Properties: props})
}

// quarantineVM puts the isolation network security group on each network
// interface of the virtual machine and tags it.
func (e *Executor) quarantineVM(ctx context.Context, a *enforce.Action, raw json.RawMessage) (string, error) {
	var b vmQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	if len(b.Interfaces) == 0 {
		return "", enforce.Permanent(fmt.Errorf("the virtual machine has no network interface to isolate"))
	}
	isos := map[string]string{}
	var done []string
	for _, ni := range b.Interfaces {
		rg := groupID(ni.ID)
		iso, ok := isos[rg]
		if !ok {
			var err error
			if iso, err = e.isolationGroup(ctx, rg, b.Location); err != nil {
				return "", err
			}
			isos[rg] = iso
		}
		if err := e.setNSG(ctx, ni.ID, iso); err != nil {
			return "", err
		}
		done = append(done, iso)
	}
	tags := maps.Clone(b.Tags)
	tags[TagQuarantined] = a.Fingerprint
	if err := e.patchTags(ctx, b.ID, APICompute, tags); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d network interface(s) moved to the isolation network security group %s", len(b.Interfaces), listOrNone(uniq(done))), nil
}

// releaseVM puts each interface's saved network security group back (or
// none) and the saved tags.
func (e *Executor) releaseVM(ctx context.Context, raw json.RawMessage) (string, error) {
	var b vmQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	n := 0
	for _, ni := range b.Interfaces {
		err := e.setNSG(ctx, ni.ID, ni.NSG)
		if isNotFound(err) {
			continue // the interface is gone: nothing to restore on it
		}
		if err != nil {
			return "", err
		}
		n++
	}
	if err := e.patchTags(ctx, b.ID, APICompute, b.Tags); err != nil {
		return "", err
	}
	return fmt.Sprintf("saved network security groups put back on %d network interface(s), tags restored", n), nil
}

func uniq(in []string) []string {
	set := map[string]bool{}
	for _, s := range in {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func listOrNone(in []string) string {
	if len(in) == 0 {
		return "nothing"
	}
	return strings.Join(in, ", ")
}
