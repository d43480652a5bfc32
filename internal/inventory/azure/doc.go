// Package azure lists live Azure resources under their azurerm Terraform
// type names and ARM resource ids, the ids azurerm imports by, so they meet
// the resources of Terraform state without translation. Matching folds
// case (inventory.Type.CaseInsensitiveID) because ARM ids are
// case-insensitive and azurerm state often spells them differently from
// what ARM lists.
//
// # What is read
//
// One subscription is one unit of work; per subscription:
//
//   - resource groups: GET /subscriptions/{s}/resourcegroups
//     (api-version 2021-04-01, via armresources.ResourceGroupsClient);
//   - every other type but two: the generic list
//     GET /subscriptions/{s}/resources (api-version 2021-04-01, via
//     armresources.Client), which returns id, name, type, location, tags,
//     kind and managedBy in pages of up to 1000; types plumb does not know
//     are skipped;
//   - subnets, which the generic list omits: GET of each virtual network
//     (Microsoft.Network api-version 2024-03-01), whose
//     properties.subnets[] carries every subnet; bounded concurrency;
//   - Event Grid event subscriptions, extension resources the generic list
//     omits (api-version 2022-06-15): the global list
//     GET /subscriptions/{s}/providers/Microsoft.EventGrid/eventSubscriptions
//     for subscription- and resource-group-scoped ones, and the regional
//     list .../providers/Microsoft.EventGrid/locations/{location}/eventSubscriptions
//     for each location resources of the subscription live in, for those
//     scoped to a resource (topics, storage accounts).
//
// With Options.ResourceGroups the same reads use the resource-group forms
// of these paths.
//
// # Completeness
//
// A type is marked complete for a subscription only when everything it
// depends on was read; otherwise the failure is a scope error
// (azure/<subscription>/resources|network|eventgrid) and the drift engine
// counts declared resources of the type as not evaluated rather than
// missing. A scan restricted to resource groups never marks a subscription
// complete, because it did not look at the rest of it.
//
// # Defaults
//
// Resources Azure or another service created are marked with
// model.Resource.Default and never reported unmanaged: the
// NetworkWatcherRG group and everything in it (NetworkWatcher_<region>),
// resource groups with managedBy set (AKS node groups, Databricks, managed
// applications), AKS node groups named MC_*, DefaultResourceGroup-*
// (Azure Monitor / Log Analytics default workspaces), cloud-shell-storage-*
// (Cloud Shell), AzureBackupRG_* (Azure Backup restore points), every
// resource inside those groups, and every resource whose managedBy is set
// (for example the OS disk of a VM).
//
// # Throttling and economy
//
// The azcore pipeline follows nextLink, retries 408/429/5xx up to six
// times, waits what Retry-After asks on 429 (up to two minutes) and backs
// off exponentially otherwise. Resource provider registration is disabled
// (it is a write). Every HTTP attempt is counted for Result.APICalls, and
// requests to hosts other than the ARM endpoint are refused so the bearer
// token never follows a foreign nextLink.
package azure
