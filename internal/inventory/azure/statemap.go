package azure

import (
	"fmt"

	"plumb/internal/azuretype"
	"plumb/internal/inventory"
	"plumb/internal/model"
)

// Mapper maps azurerm resources of Terraform state to the shape the
// scanner produces for the same object, so the drift engine compares like
// with like. It needs no Azure access.
type Mapper struct {
	types map[string]inventory.Type
}

// NewMapper returns the state mapper for every supported azurerm type and
// its aliases (azurerm_linux_virtual_machine is an azurerm_virtual_machine).
func NewMapper() *Mapper {
	m := &Mapper{types: map[string]inventory.Type{}}
	for _, t := range catalog() {
		m.types[t.Name] = t
	}
	return m
}

// FromState implements inventory.StateMapper. The azurerm id is the ARM
// resource id (the import id), so it is used as is; the subscription comes
// from the id, the region from location. azurerm has no tags_all: tags is
// what the resource carries.
//
// An instance whose id is not of the ARM type the canonical type lists is
// not mapped (ok false): azurerm_eventgrid_system_topic aliases
// azurerm_eventgrid_topic, but its id is a Microsoft.EventGrid/systemTopics
// id that the scan never reports, and mapping it would make every system
// topic "missing".
func (m *Mapper) FromState(typ string, attrs map[string]any) (model.Resource, bool) {
	canon := azuretype.Canonical(typ)
	t, ok := m.types[canon]
	if !ok {
		return model.Resource{}, false
	}
	id := str(attrs, "id")
	if id == "" {
		return model.Resource{}, false
	}
	if live, ok := azuretype.Terraform(azuretype.FromID(id)); !ok || live != canon {
		return model.Resource{}, false
	}
	r := model.Resource{
		Provider: "azure",
		Type:     t.Name,
		ID:       id,
		Account:  azuretype.SubscriptionOf(id),
		Region:   normLocation(str(attrs, "location")),
		Name:     str(attrs, "name"),
	}
	if hasTags(canon) {
		r.Tags = stateTags(attrs)
	}
	return r, true
}

// Fold implements inventory.StateMapper. No azurerm type is folded into a
// parent yet.
func (m *Mapper) Fold(string, map[string]any) (string, string, map[string][]string, bool) {
	return "", "", nil, false
}

// Types implements inventory.StateMapper.
func (m *Mapper) Types() []inventory.Type { return catalog() }

// str reads a string attribute from state, "" when absent.
func str(attrs map[string]any, key string) string {
	switch v := attrs[key].(type) {
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

// stateTags returns the tags of a state instance. A present tags attribute
// (even null) means the resource's tags are known: an empty map when there
// are none. A missing attribute means unknown (nil), so nothing is
// compared.
func stateTags(attrs map[string]any) map[string]string {
	raw, present := attrs["tags"]
	if !present {
		return nil
	}
	out := map[string]string{}
	if m, ok := raw.(map[string]any); ok {
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}
