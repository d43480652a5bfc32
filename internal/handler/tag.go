package handler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"plumb/internal/audit"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// maxTagValue is the longest tag value AWS accepts.
const maxTagValue = 256

// Tag stamps tags on resources created outside the pipeline, so their
// owner is known before anyone asks: created-by {principal}, created-at
// {time}. Templates take {principal}, {time} (the event's time, RFC 3339
// UTC), {event_id}, {operation}, {account} and {region}. Only keys the
// resource does not carry yet are added; the action is recorded like
// every enforcement action.
type Tag struct {
	Checker *audit.Checker
	// Tags maps keys to value templates.
	Tags map[string]string
	// Types narrows the resource types tagged; empty tags every type plumb
	// can tag.
	Types    []string
	Enforcer func() Enforcer
}

// Name identifies the handler in subscriptions and logs.
func (Tag) Name() string { return "tag" }

// Handle finds nothing: tag acts in AfterStore.
func (h Tag) Handle(context.Context, Delivery) ([]model.Finding, error) {
	if h.Checker == nil {
		return nil, Permanent(errors.New("tag: no pipeline identities configured"))
	}
	return nil, nil
}

// AfterStore tags the resources an outsider's event created.
func (h Tag) AfterStore(ctx context.Context, d Delivery, _ []model.Finding) error {
	ev := d.Event
	if !byOutsider(h.Checker, ev) {
		return nil
	}
	var actions []*enforce.Action
	for _, r := range created(ev, h.Types) {
		actions = append(actions, &enforce.Action{Verb: enforce.VerbTag, Resource: r, Params: ExpandTags(h.Tags, ev, r)})
	}
	return act(ctx, h.Enforcer, d, "tag", actions)
}

// created lists the resources an event created, cloud defaults left out,
// narrowed to types when given.
func created(ev model.Event, types []string) []model.Resource {
	var out []model.Resource
	for _, r := range audit.Created(ev) {
		if r.Default != "" || (len(types) > 0 && !slices.Contains(types, r.Type)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// act hands resource-event actions to the enforcement service.
func act(ctx context.Context, enforcer func() Enforcer, d Delivery, prefix string, actions []*enforce.Action) error {
	if len(actions) == 0 {
		return nil
	}
	e := enforcer()
	if e == nil {
		return errNoEnforcer
	}
	ev := d.Event
	why := fmt.Sprintf("%s by %s (event %s)", audit.Operation(ev), orUnknown(audit.Principal(ev)), ev.Key())
	_, err := e.Act(ctx, enforce.ActRequest{Environment: d.Environment, Actions: actions, RunID: runID(prefix, d),
		Actor: enforce.ActorEventPrefix + d.Subscription, Why: why})
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown principal"
	}
	return s
}

// ExpandTags fills the placeholders of tag value templates from an event
// and the resource it created. Values are cut to the 256 characters AWS
// accepts.
func ExpandTags(templates map[string]string, ev model.Event, r model.Resource) map[string]string {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	account, region := ev.Account, ev.Region
	if r.Account != "" {
		account = r.Account
	}
	if r.Region != "" {
		region = r.Region
	}
	rep := strings.NewReplacer(
		"{principal}", audit.Principal(ev),
		"{time}", at.UTC().Format(time.RFC3339),
		"{event_id}", ev.ID,
		"{operation}", audit.Operation(ev),
		"{account}", account,
		"{region}", region,
	)
	out := make(map[string]string, len(templates))
	for k, v := range templates {
		s := rep.Replace(v)
		if r := []rune(s); len(r) > maxTagValue {
			s = string(r[:maxTagValue])
		}
		out[k] = s
	}
	return out
}
