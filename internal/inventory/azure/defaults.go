package azure

import "strings"

// Azure and its services create resource groups (and resources in them) on
// their own. Code never declares them, so reporting them as unmanaged would
// be noise; the rules below mark them with the reason, which the drift
// engine uses to leave them out of the unmanaged findings. A resource that
// is declared in state still matches normally: Default only stops the
// "unmanaged" verdict.

// groupDefault returns why a resource group was created by Azure rather
// than by the user, or "" for an ordinary group. managedBy is the group's
// managedBy property as ARM returns it.
func groupDefault(name, managedBy string) string {
	lower := strings.ToLower(name)
	switch {
	case lower == "networkwatcherrg":
		// Created by Network Watcher, which Azure enables automatically
		// in a region when the first virtual network is created there.
		return "Network Watcher resource group created by Azure"
	case managedBy != "":
		// Managed resource groups: AKS node groups, Databricks
		// workspaces, managed applications. ARM names the owner.
		return "managed resource group of " + managedBy
	case strings.HasPrefix(lower, "mc_"):
		// AKS node resource group (MC_<group>_<cluster>_<region>); older
		// clusters do not set managedBy on it.
		return "AKS node resource group"
	case strings.HasPrefix(lower, "defaultresourcegroup-"):
		// DefaultResourceGroup-<region code>: holds the default Log
		// Analytics workspace Defender for Cloud, VM insights and
		// Container insights create.
		return "Azure Monitor default resource group"
	case strings.HasPrefix(lower, "cloud-shell-storage-"):
		// Storage for Azure Cloud Shell, created on first use.
		return "Cloud Shell storage resource group"
	case strings.HasPrefix(lower, "azurebackuprg_"):
		// AzureBackupRG_<region>_<n>: restore point collections created
		// by Azure Backup for VM backups.
		return "Azure Backup restore point resource group"
	}
	return ""
}

// groupDefaults remembers, per resource group (lower-case name), why Azure
// created it, so resources inside such groups are defaults too.
type groupDefaults map[string]string

// reasonFor returns why the group a resource id lives in was created by
// Azure. A group the listing did not return (the group list failed, or
// the scan is restricted) is still judged by its name.
func (g groupDefaults) reasonFor(id string) string {
	rg := groupOf(id)
	if rg == "" {
		return ""
	}
	if reason, ok := g[strings.ToLower(rg)]; ok {
		return reason
	}
	return groupDefault(rg, "")
}

// resourceDefault returns why a resource was created by Azure or another
// service, or "" for a resource a user created.
func (g groupDefaults) resourceDefault(id, managedBy string) string {
	if managedBy != "" {
		// Another resource owns it: OS disks of VMs, resources of
		// managed applications, AKS-managed resources.
		return "managed by " + managedBy
	}
	if reason := g.reasonFor(id); reason != "" {
		return "in " + reason
	}
	return ""
}

// groupOf returns the resource group name in an ARM id, "" when the id is
// not inside a resource group.
func groupOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 4 && strings.EqualFold(parts[0], "subscriptions") && strings.EqualFold(parts[2], "resourceGroups") {
		return parts[3]
	}
	return ""
}
