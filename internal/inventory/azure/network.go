package azure

import (
	"context"
	"fmt"
	"sync"

	"plumb/internal/model"
	"plumb/internal/parallel"
)

// apiNetwork is the Microsoft.Network api-version used to read virtual
// networks (Virtual Networks - Get); its answer carries every subnet
// inline under properties.subnets[].
const apiNetwork = "2024-03-01"

// listSubnets reads the subnets of every virtual network, one GET per
// virtual network with bounded concurrency: the generic resource list does
// not return child resources, and reading them from the parent costs one
// call per network rather than per subnet. A network deleted since it was
// listed is skipped; any other failure fails the whole type for the
// subscription, because a partial subnet list would turn unread subnets
// into missing ones.
func (c *clients) listSubnets(ctx context.Context, vnets []model.Resource, defaults groupDefaults, leaf chan struct{}) ([]model.Resource, error) {
	var (
		mu  sync.Mutex
		out []model.Resource
	)
	err := parallel.ForEach(ctx, len(vnets), leaf, func(ctx context.Context, i int) error {
		vnet := vnets[i]
		resp, err := c.resources.GetByID(ctx, vnet.ID, apiNetwork, nil)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get virtual network %s: %w", vnet.ID, describeErr(err))
		}
		props, _ := resp.Properties.(map[string]any)
		items, _ := props["subnets"].([]any)
		var found []model.Resource
		for _, item := range items {
			sn, _ := item.(map[string]any)
			id, _ := sn["id"].(string)
			if id == "" {
				continue
			}
			name, _ := sn["name"].(string)
			reason := vnet.Default
			if reason == "" {
				reason = defaults.resourceDefault(id, "")
			}
			found = append(found, model.Resource{
				Provider: "azure",
				Type:     typeSubnet,
				ID:       id,
				Account:  c.sub,
				Region:   vnet.Region,
				Name:     name,
				Default:  reason,
				// Tags stay nil: subnets have no tags in ARM or azurerm.
			})
		}
		mu.Lock()
		out = append(out, found...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
