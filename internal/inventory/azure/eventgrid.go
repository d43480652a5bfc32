package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"plumb/internal/model"
)

// apiEventGrid is the Microsoft.EventGrid api-version used to list event
// subscriptions (the 2022-06-15 stable version, which azurerm's event
// subscription resource also uses).
const apiEventGrid = "2022-06-15"

// eventSubscriptionPage is the documented list shape of Event
// Subscriptions - List Global By Subscription / List Regional By
// Subscription: {"value": [{id, name, type, properties}], "nextLink"}.
type eventSubscriptionPage struct {
	Value []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

// listEventSubscriptions lists Event Grid event subscriptions. They are
// extension resources (scope/providers/Microsoft.EventGrid/
// eventSubscriptions/name) that the generic resource list never returns,
// and Event Grid splits them in two:
//
//   - global ones, whose scope is the subscription or a resource group:
//     GET /subscriptions/{s}/providers/Microsoft.EventGrid/eventSubscriptions
//     (List Global By Subscription);
//   - regional ones, whose scope is a regional resource (custom topic,
//     storage account, ...): GET /subscriptions/{s}/providers/
//     Microsoft.EventGrid/locations/{location}/eventSubscriptions (List
//     Regional By Subscription), once per location resources live in.
//
// A restricted scan uses the resource-group forms of both calls. Without
// the regional calls every resource-scoped subscription in state would be
// reported missing, so any failure fails the type for the subscription.
func (c *clients) listEventSubscriptions(ctx context.Context, only []string, locations []string, defaults groupDefaults) ([]model.Resource, error) {
	scopes := []string{"/subscriptions/" + url.PathEscape(c.sub)}
	if len(only) > 0 {
		scopes = scopes[:0]
		for _, rg := range only {
			scopes = append(scopes, "/subscriptions/"+url.PathEscape(c.sub)+"/resourceGroups/"+url.PathEscape(rg))
		}
	}
	type call struct{ path, location string }
	var calls []call
	for _, sc := range scopes {
		calls = append(calls, call{path: sc + "/providers/Microsoft.EventGrid/eventSubscriptions"})
		for _, loc := range locations {
			calls = append(calls, call{
				path:     sc + "/providers/Microsoft.EventGrid/locations/" + url.PathEscape(loc) + "/eventSubscriptions",
				location: loc,
			})
		}
	}

	var (
		seen = map[string]bool{}
		out  []model.Resource
	)
	// Event subscription lists are few and small; run them one after the
	// other so a subscription with many locations does not burst.
	for _, cl := range calls {
		err := c.pageEventSubscriptions(ctx, cl.path, func(page eventSubscriptionPage) {
			for _, es := range page.Value {
				if es.ID == "" || seen[strings.ToLower(es.ID)] {
					continue
				}
				seen[strings.ToLower(es.ID)] = true
				out = append(out, model.Resource{
					Provider: "azure",
					Type:     typeEventSubscription,
					ID:       es.ID,
					Account:  c.sub,
					Region:   cl.location,
					Name:     es.Name,
					Default:  defaults.resourceDefault(es.ID, ""),
					// Tags stay nil: azurerm has no tags for event
					// subscriptions.
				})
			}
		})
		if isNotFound(err) && len(only) > 0 {
			continue // the named resource group does not exist
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", cl.path, describeErr(err))
		}
	}
	return out, nil
}

// pageEventSubscriptions pages through one event subscription list with
// an azcore pager, which follows nextLink through the same pipeline.
func (c *clients) pageEventSubscriptions(ctx context.Context, path string, each func(eventSubscriptionPage)) error {
	pager := runtime.NewPager(runtime.PagingHandler[eventSubscriptionPage]{
		More: func(p eventSubscriptionPage) bool { return p.NextLink != nil && *p.NextLink != "" },
		Fetcher: func(ctx context.Context, p *eventSubscriptionPage) (eventSubscriptionPage, error) {
			next := ""
			if p != nil {
				next = *p.NextLink
			}
			resp, err := runtime.FetcherForNextLink(ctx, c.raw.Pipeline(), next, func(ctx context.Context) (*policy.Request, error) {
				req, err := runtime.NewRequest(ctx, http.MethodGet, c.armURL(path, apiEventGrid))
				if err != nil {
					return nil, err
				}
				req.Raw().Header.Set("Accept", "application/json")
				return req, nil
			}, nil)
			if err != nil {
				return eventSubscriptionPage{}, err
			}
			var page eventSubscriptionPage
			if err := runtime.UnmarshalAsJSON(resp, &page); err != nil {
				return eventSubscriptionPage{}, fmt.Errorf("decode event subscriptions: %w", err)
			}
			return page, nil
		},
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		each(page)
	}
	return nil
}
