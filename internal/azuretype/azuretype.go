// Package azuretype translates between Azure Resource Manager resource
// types (Microsoft.Network/virtualNetworks) and the Terraform azurerm type
// names plumb uses everywhere (azurerm_virtual_network). The ARM what-if
// reader and the Azure inventory share it so a resource found by either is
// named the same way.
package azuretype

import "strings"

// pair is one ARM type and its azurerm type.
type pair struct {
	arm       string
	terraform string
}

// pairs lists the supported types. ARM types compare case-insensitively.
// Where azurerm splits one ARM type by kind (function apps and web apps
// are both Microsoft.Web/sites; Linux and Windows VMs), the ARM type maps
// to the generic azurerm name and Terraform lists the specific ones.
func pairs() []pair {
	return []pair{
		{"Microsoft.Resources/resourceGroups", "azurerm_resource_group"},
		{"Microsoft.Network/virtualNetworks", "azurerm_virtual_network"},
		{"Microsoft.Network/virtualNetworks/subnets", "azurerm_subnet"},
		{"Microsoft.Network/networkSecurityGroups", "azurerm_network_security_group"},
		{"Microsoft.Network/publicIPAddresses", "azurerm_public_ip"},
		{"Microsoft.Network/networkInterfaces", "azurerm_network_interface"},
		{"Microsoft.Compute/virtualMachines", "azurerm_virtual_machine"},
		{"Microsoft.Compute/disks", "azurerm_managed_disk"},
		{"Microsoft.Storage/storageAccounts", "azurerm_storage_account"},
		{"Microsoft.KeyVault/vaults", "azurerm_key_vault"},
		{"Microsoft.Web/serverFarms", "azurerm_service_plan"},
		{"Microsoft.Web/sites", "azurerm_function_app"},
		{"Microsoft.OperationalInsights/workspaces", "azurerm_log_analytics_workspace"},
		{"Microsoft.EventGrid/topics", "azurerm_eventgrid_topic"},
		{"Microsoft.EventGrid/eventSubscriptions", "azurerm_eventgrid_event_subscription"},
		{"Microsoft.ServiceBus/namespaces", "azurerm_servicebus_namespace"},
	}
}

// aliases are azurerm types that describe the same ARM type as the
// generic name above.
func aliases() map[string]string {
	return map[string]string{
		"azurerm_linux_virtual_machine":   "azurerm_virtual_machine",
		"azurerm_windows_virtual_machine": "azurerm_virtual_machine",
		"azurerm_linux_function_app":      "azurerm_function_app",
		"azurerm_windows_function_app":    "azurerm_function_app",
		"azurerm_linux_web_app":           "azurerm_function_app",
		"azurerm_windows_web_app":         "azurerm_function_app",
		"azurerm_app_service_plan":        "azurerm_service_plan",
		"azurerm_eventgrid_system_topic":  "azurerm_eventgrid_topic",
	}
}

// Terraform returns the azurerm type for an ARM type.
func Terraform(armType string) (string, bool) {
	for _, p := range pairs() {
		if strings.EqualFold(p.arm, armType) {
			return p.terraform, true
		}
	}
	return "", false
}

// ARM returns the ARM type for an azurerm type (aliases included).
func ARM(terraformType string) (string, bool) {
	if canon, ok := aliases()[terraformType]; ok {
		terraformType = canon
	}
	for _, p := range pairs() {
		if p.terraform == terraformType {
			return p.arm, true
		}
	}
	return "", false
}

// Canonical maps an azurerm alias to the generic type plumb reports.
func Canonical(terraformType string) string {
	if canon, ok := aliases()[terraformType]; ok {
		return canon
	}
	return terraformType
}

// All lists every supported azurerm type (without aliases).
func All() []string {
	var out []string
	for _, p := range pairs() {
		out = append(out, p.terraform)
	}
	return out
}

// FromID derives the ARM type of a resource id, e.g.
// /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a
// gives Microsoft.Network/virtualNetworks/subnets, and a resource group id
// gives Microsoft.Resources/resourceGroups.
func FromID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	idx := -1
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.EqualFold(parts[i], "providers") {
			idx = i
			break
		}
	}
	if idx < 0 {
		if len(parts) == 4 && strings.EqualFold(parts[2], "resourceGroups") {
			return "Microsoft.Resources/resourceGroups"
		}
		if len(parts) == 2 && strings.EqualFold(parts[0], "subscriptions") {
			return "Microsoft.Resources/subscriptions"
		}
		return ""
	}
	rest := parts[idx+1:]
	if len(rest) < 3 {
		return ""
	}
	typ := rest[0] + "/" + rest[1]
	for i := 3; i+1 < len(rest); i += 2 {
		typ += "/" + rest[i]
	}
	return typ
}

// SubscriptionOf returns the subscription id in a resource id.
func SubscriptionOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "subscriptions") {
		return parts[1]
	}
	return ""
}
