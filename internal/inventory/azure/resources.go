package azure

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"plumb/internal/azuretype"
	"plumb/internal/model"
)

// clients are the ARM clients of one subscription. They share the
// scanner's pipeline options, so every request is counted, retried and
// kept on the ARM endpoint the same way.
type clients struct {
	sub       string
	resources *armresources.Client
	groups    *armresources.ResourceGroupsClient
	// raw serves the calls no typed client in the allowed modules covers
	// (Event Grid event subscriptions).
	raw *arm.Client
}

func (s *Scanner) newClients(sub string) (*clients, error) {
	res, err := armresources.NewClient(sub, s.cred, &s.client)
	if err != nil {
		return nil, fmt.Errorf("azure resources client: %w", err)
	}
	groups, err := armresources.NewResourceGroupsClient(sub, s.cred, &s.client)
	if err != nil {
		return nil, fmt.Errorf("azure resource groups client: %w", err)
	}
	raw, err := arm.NewClient(moduleName, moduleVersion, s.cred, &s.client)
	if err != nil {
		return nil, fmt.Errorf("azure ARM client: %w", err)
	}
	return &clients{sub: sub, resources: res, groups: groups, raw: raw}, nil
}

// listGroups reads the resource groups of the subscription
// (GET /subscriptions/{s}/resourcegroups, api-version 2021-04-01), or,
// for a restricted scan, each named group (GET .../resourcegroups/{rg});
// a named group that does not exist is simply absent.
func (c *clients) listGroups(ctx context.Context, only []string) ([]model.Resource, error) {
	var out []model.Resource
	if len(only) > 0 {
		for _, name := range only {
			resp, err := c.groups.Get(ctx, name, nil)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("get resource group %s: %w", name, describeErr(err))
			}
			if r, ok := c.groupResource(&resp.ResourceGroup); ok {
				out = append(out, r)
			}
		}
		return out, nil
	}
	pager := c.groups.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list resource groups: %w", describeErr(err))
		}
		for _, g := range page.Value {
			if r, ok := c.groupResource(g); ok {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

func (c *clients) groupResource(g *armresources.ResourceGroup) (model.Resource, bool) {
	if g == nil || g.ID == nil {
		return model.Resource{}, false
	}
	name := deref(g.Name)
	return model.Resource{
		Provider: "azure",
		Type:     typeResourceGroup,
		ID:       *g.ID,
		Account:  c.sub,
		Region:   normLocation(deref(g.Location)),
		Name:     name,
		Tags:     tagMap(g.Tags),
		Default:  groupDefault(name, deref(g.ManagedBy)),
	}, true
}

// genericList is what the generic resource list yields: the resources of
// supported types, by Terraform type, and every location resources of any
// type live in (regional event subscriptions are listed per location).
type genericList struct {
	byType    map[string][]model.Resource
	locations []string
}

// listGeneric pages through GET /subscriptions/{s}/resources (or
// /resourceGroups/{rg}/resources per named group), api-version 2021-04-01.
// Each page holds up to 1000 resources with id, name, type, location,
// tags, kind and managedBy; the pager follows nextLink. Types plumb does
// not support are skipped, but their locations still count.
func (c *clients) listGeneric(ctx context.Context, only []string, defaults groupDefaults) (*genericList, error) {
	out := &genericList{byType: map[string][]model.Resource{}}
	locs := map[string]bool{}
	add := func(items []*armresources.GenericResourceExpanded) {
		for _, item := range items {
			if item == nil || item.ID == nil {
				continue
			}
			loc := normLocation(deref(item.Location))
			if loc != "" && loc != "global" {
				locs[loc] = true
			}
			typ, ok := azuretype.Terraform(deref(item.Type))
			if !ok || !fromGenericList(typ) {
				continue
			}
			out.byType[typ] = append(out.byType[typ], model.Resource{
				Provider: "azure",
				Type:     typ,
				ID:       *item.ID,
				Account:  c.sub,
				Region:   loc,
				Name:     deref(item.Name),
				Tags:     tagMap(item.Tags),
				Default:  defaults.resourceDefault(*item.ID, deref(item.ManagedBy)),
			})
		}
	}
	if len(only) > 0 {
		for _, rg := range only {
			pager := c.resources.NewListByResourceGroupPager(rg, nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if isNotFound(err) {
					break // the group does not exist: nothing in it
				}
				if err != nil {
					return nil, fmt.Errorf("list resources of group %s: %w", rg, describeErr(err))
				}
				add(page.Value)
			}
		}
	} else {
		pager := c.resources.NewListPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list resources: %w", describeErr(err))
			}
			add(page.Value)
		}
	}
	for loc := range locs {
		out.locations = append(out.locations, loc)
	}
	sort.Strings(out.locations)
	return out, nil
}

// armURL builds an ARM URL for a path and api-version.
func (c *clients) armURL(path, apiVersion string) string {
	return runtime.JoinPaths(c.raw.Endpoint(), path) + "?api-version=" + url.QueryEscape(apiVersion)
}

// normLocation normalizes an Azure location the way ARM ids and azurerm
// state use it: "West Europe" and "westeurope" are the same region.
func normLocation(loc string) string {
	return strings.ToLower(strings.ReplaceAll(loc, " ", ""))
}

// tagMap converts ARM tags to a map that is never nil: ARM omits "tags"
// when a resource has none, which means "no tags", not "unknown".
func tagMap(in map[string]*string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = deref(v)
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
