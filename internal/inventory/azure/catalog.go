package azure

import (
	"plumb/internal/azuretype"
	"plumb/internal/inventory"
)

// Terraform types that are not read from the generic resource list and
// therefore have their own listers.
const (
	typeResourceGroup     = "azurerm_resource_group"
	typeVirtualNetwork    = "azurerm_virtual_network"
	typeSubnet            = "azurerm_subnet"
	typeEventSubscription = "azurerm_eventgrid_event_subscription"
)

// Services name the scope a failure is reported under
// (azure/<subscription>/<service>), so an operator can tell which part of
// a subscription could not be read and which permission is missing.
const (
	serviceResources = "resources" // resource groups and the generic resource list
	serviceNetwork   = "network"   // subnets, read from each virtual network
	serviceEventGrid = "eventgrid" // event subscriptions (extension resources)
)

// serviceOf returns the service a type is listed by.
func serviceOf(typ string) string {
	switch typ {
	case typeSubnet:
		return serviceNetwork
	case typeEventSubscription:
		return serviceEventGrid
	}
	return serviceResources
}

// hasTags reports whether azurerm (and ARM) carry tags for a type. Subnets
// and event subscriptions have none on either side, so their tags stay nil
// (unknown) and are never compared.
func hasTags(typ string) bool {
	return typ != typeSubnet && typ != typeEventSubscription
}

// fromGenericList reports whether a type is read from
// GET /subscriptions/{s}/resources. Resource groups are not resources of
// that list, subnets are child resources it omits, and event subscriptions
// are extension resources it omits.
func fromGenericList(typ string) bool {
	switch typ {
	case typeResourceGroup, typeSubnet, typeEventSubscription:
		return false
	}
	return true
}

// catalog describes every azurerm type the inventory lists. Every type is
// judged per subscription (ARM lists are per subscription, not per region)
// and ARM ids are case-insensitive, which the drift engine honours when
// matching state ids against live ids.
func catalog() []inventory.Type {
	var out []inventory.Type
	for _, name := range azuretype.All() {
		out = append(out, inventory.Type{
			Name:              name,
			Service:           serviceOf(name),
			ScopeByAccount:    true,
			CaseInsensitiveID: true,
		})
	}
	return out
}
