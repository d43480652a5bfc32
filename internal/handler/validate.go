package handler

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"encoding/json"

	"plumb/internal/audit"
	"plumb/internal/model"
)

// Check is one rule run on the resource an event touched. It is the seam
// later policy work plugs into, so Validate stays a loop over checks.
type Check interface {
	ID() string
	Check(ctx context.Context, d Delivery, r model.Resource) ([]model.Finding, error)
}

// Validate runs checks on the resource(s) an event created or changed,
// catching a non-compliant resource when it appears rather than at the
// next scan. Failed operations and deletions are skipped: the resource did
// not change, or no longer exists to be checked.
type Validate struct {
	Checks []Check
}

// Name identifies the handler in subscriptions and logs.
func (Validate) Name() string { return "validate" }

// Handle runs every check. Any check error fails the whole delivery (and
// so retries it), because returning the other checks' findings alone would
// make the retry's findings differ from the first attempt's.
func (v Validate) Handle(ctx context.Context, d Delivery) ([]model.Finding, error) {
	ev := d.Event
	if audit.Failure(ev) != "" || isDelete(ev) {
		return nil, nil
	}
	resources := audit.Created(ev)
	if len(resources) == 0 {
		t := audit.Target(ev)
		if t.ID == "" {
			// A modification call (AuthorizeSecurityGroupIngress)
			// names its resource only in the request.
			t = requestTarget(ev)
		}
		if t.ID == "" {
			return nil, nil
		}
		resources = []model.Resource{t}
	}
	tags := payloadTags(ev)
	var out []model.Finding
	for _, r := range resources {
		if r.Tags == nil && tags != nil && len(resources) == 1 {
			r.Tags = tags
		}
		for _, c := range v.Checks {
			fs, err := c.Check(ctx, d, r)
			if err != nil {
				return nil, fmt.Errorf("validate: check %s on %s: %w", c.ID(), r.ID, err)
			}
			out = append(out, fs...)
		}
	}
	return out, nil
}

// isDelete tells deletions apart by ARM operation, Event Grid type or
// CloudTrail verb.
func isDelete(ev model.Event) bool {
	if strings.Contains(ev.Type, "ResourceDelete") {
		return true
	}
	op := strings.ToLower(ev.Operation)
	if strings.HasSuffix(op, "/delete") {
		return true
	}
	if rec, ok := audit.CloudTrail(ev); ok {
		return strings.HasPrefix(rec.EventName, "Delete") || rec.EventName == "TerminateInstances"
	}
	_, name, _ := strings.Cut(ev.Operation, ":")
	return strings.HasPrefix(name, "Delete")
}

// payloadTags reads tags the payload carries: data.tags (CloudEvents and
// custom publishers) or detail.tags (EventBridge "Tag Change on Resource").
// Event Grid resource events carry none, which gives nil: unknown.
func payloadTags(ev model.Event) map[string]string {
	var env struct {
		Data   struct{ Tags map[string]any } `json:"data"`
		Detail struct{ Tags map[string]any } `json:"detail"`
	}
	if len(ev.Raw) == 0 || json.Unmarshal(ev.Raw, &env) != nil {
		return nil
	}
	raw := env.Data.Tags
	if raw == nil {
		raw = env.Detail.Tags
	}
	if raw == nil {
		return nil
	}
	tags := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			tags[k] = s
		}
	}
	return tags
}

// RequiredTags is the shipped check: every key must be present on the
// resource. Tags come from the event payload when it has them, otherwise
// from Lookup (the live resource). Lookup takes the ARM id for Azure and
// the ARN (else the import id) for AWS. A nil Lookup means payload tags
// only; when neither source knows the tags, nothing is reported, since
// "unknown" must not read as "missing".
type RequiredTags struct {
	Keys   []string
	Lookup func(ctx context.Context, resourceID string) (map[string]string, bool, error)
}

// RequiredTagsRule is the rule id of required-tags findings.
const RequiredTagsRule = "required-tags"

// ID names the check in errors and findings.
func (RequiredTags) ID() string { return RequiredTagsRule }

// Check reports one policy.violation listing the missing keys. Azure tag
// names compare case-insensitively (Azure treats them so); AWS exactly.
// A Lookup error is returned so the delivery is retried; a resource
// Lookup does not find (already gone) yields nothing.
func (c RequiredTags) Check(ctx context.Context, d Delivery, r model.Resource) ([]model.Finding, error) {
	if len(c.Keys) == 0 {
		return nil, nil
	}
	tags := r.Tags
	if tags == nil && c.Lookup != nil {
		id := r.ID
		if r.ARN != "" {
			id = r.ARN
		}
		if id == "" {
			return nil, nil
		}
		got, found, err := c.Lookup(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("look up tags of %s: %w", id, err)
		}
		if !found {
			return nil, nil
		}
		tags = got
		if tags == nil {
			tags = map[string]string{}
		}
	}
	if tags == nil {
		return nil, nil
	}
	fold := normProvider(r.Provider) == "azure"
	var missing []string
	for _, k := range c.Keys {
		if !hasTag(tags, k, fold) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	sort.Strings(missing)
	r.Tags = tags
	return []model.Finding{{
		Kind:        model.KindPolicyViolation,
		Severity:    model.SeverityMedium,
		Fingerprint: model.Fingerprint(model.KindPolicyViolation, d.Environment, r.Provider, r.Type, r.Region, r.ID, RequiredTagsRule),
		Environment: d.Environment,
		Resource:    r,
		Source:      string(d.Event.Source) + "/" + d.Event.ID,
		Changes:     []model.Change{},
		Message:     "Resource " + r.DisplayName() + " lacks required tags: " + strings.Join(missing, ", "),
		Rule:        RequiredTagsRule,
	}}, nil
}

func hasTag(tags map[string]string, key string, fold bool) bool {
	if _, ok := tags[key]; ok {
		return true
	}
	if fold {
		for k := range tags {
			if strings.EqualFold(k, key) {
				return true
			}
		}
	}
	return false
}
