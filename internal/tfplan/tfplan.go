// Package tfplan turns a saved Terraform plan (terraform show -json PLAN)
// into policy subjects, so compliance rules can judge what an apply would
// create before it exists. Each subject also carries the .tf file and line
// that declares it, because a finding a reviewer cannot click through to
// the code is a finding nobody fixes.
package tfplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/jsonpos"
	"plumb/internal/policy"
)

// Sensitive replaces values the plan marks sensitive (after_sensitive), so
// a rule can still see that the attribute is set without the report ever
// carrying the secret. It is the same marker the drift engine uses.
const Sensitive = "(sensitive)"

// probe is the part of a plan read before terraform-json sees it: enough
// to tell a plan from the other JSON documents Terraform writes, with
// positions in errors.
type probe struct {
	FormatVersion   *string         `json:"format_version"`
	PlannedValues   json.RawMessage `json:"planned_values"`
	ResourceChanges json.RawMessage `json:"resource_changes"`
	Values          json.RawMessage `json:"values"`
	Lineage         *string         `json:"lineage"`
}

// Read parses plan JSON and returns one subject per managed resource that
// exists after the apply (created, updated, replaced or unchanged);
// resources the plan only deletes or forgets, deposed objects and data
// sources are left out because there is nothing left to judge.
//
// name is used in error messages. configDir is the root module directory
// whose .tf files locate each resource's declaration; "" means the
// directory of name. Missing or unreadable configuration only leaves File
// and Line empty: locating code is a courtesy, not a reason to fail.
func Read(name string, data []byte, configDir string) ([]policy.Subject, error) {
	plan, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	if configDir == "" {
		configDir = filepath.Dir(name)
	}
	loc := newLocator(configDir, moduleDirs(plan.Config))
	regions := providerRegions(plan.Config)

	var subjects []policy.Subject
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode || rc.DeposedKey != "" {
			continue
		}
		if !survives(rc.Change.Actions) {
			continue
		}
		after, ok := rc.Change.After.(map[string]any)
		if !ok {
			continue
		}
		attrs := redact(dropUnknown(after, rc.Change.AfterUnknown), rc.Change.AfterSensitive).(map[string]any)
		redactTagsAll(attrs)
		s := policy.Subject{
			Provider:   shortProvider(rc.ProviderName),
			Type:       rc.Type,
			Address:    rc.Address,
			Name:       rc.Name,
			ID:         stringAttr(attrs, "id"),
			Region:     region(attrs, regions[rc.ProviderName]),
			Tags:       tags(attrs),
			Attributes: attrs,
		}
		s.File, s.Line = loc.find(modulePath(rc.ModuleAddress), rc.Type, rc.Name)
		subjects = append(subjects, s)
	}
	return subjects, nil
}

// decode checks that data is well-formed JSON and a plan, in that order,
// so each mistake gets the message that helps: a position for broken JSON,
// a hint for a state file or a binary plan passed by mistake.
func decode(name string, data []byte) (*tfjson.Plan, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file, want plan JSON from terraform show -json PLANFILE", name)
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return nil, fmt.Errorf("%s: this is a binary plan file; convert it with terraform show -json %s > plan.json", name, name)
	}
	var p probe
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, jsonError(name, data, err)
	}
	switch {
	case p.Lineage != nil:
		return nil, fmt.Errorf("%s: this is a Terraform state file, not a plan; run terraform plan -out=PLANFILE and terraform show -json PLANFILE", name)
	case p.FormatVersion == nil:
		return nil, fmt.Errorf("%s: not a Terraform plan: no format_version (want the output of terraform show -json PLANFILE)", name)
	case p.PlannedValues == nil && p.ResourceChanges == nil && p.Values != nil:
		return nil, fmt.Errorf("%s: this is state JSON (terraform show -json without a plan file), not a plan", name)
	case p.PlannedValues == nil && p.ResourceChanges == nil:
		return nil, fmt.Errorf("%s: not a Terraform plan: neither planned_values nor resource_changes present", name)
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return nil, jsonError(name, data, err)
		}
		return nil, fmt.Errorf("%s: reading plan JSON: %w", name, err)
	}
	return &plan, nil
}

// jsonError names the file, line and column of a JSON mistake, the way
// an editor will show it.
func jsonError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Error(), "unexpected end") {
			line, col := jsonpos.LineCol(data, int64(len(data)))
			return fmt.Errorf("%s:%d:%d: malformed JSON: %v (is the file truncated?)", name, line, col, se)
		}
		// encoding/json counts the offending byte as read.
		line, col := jsonpos.LineCol(data, max(se.Offset-1, 0))
		return fmt.Errorf("%s:%d:%d: malformed JSON: %v", name, line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := jsonpos.LineCol(data, max(te.Offset-1, 0))
		field := te.Field
		if field == "" {
			return fmt.Errorf("%s:%d:%d: not a Terraform plan: the document is a JSON %s, want an object", name, line, col, te.Value)
		}
		return fmt.Errorf("%s:%d:%d: not a Terraform plan: %s is a JSON %s", name, line, col, field, te.Value)
	}
	return fmt.Errorf("%s: reading plan JSON: %w", name, err)
}

// survives reports whether the resource exists after the apply. Replace
// (delete+create in either order) does; a plain delete or forget does not.
func survives(a tfjson.Actions) bool {
	switch {
	case len(a) == 0:
		return false
	case a.Delete(), a.Forget():
		return false
	}
	return true
}

// shortProvider turns registry.terraform.io/hashicorp/aws into aws, the
// name rules and findings use.
func shortProvider(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// dropUnknown removes what the plan cannot know yet (after_unknown), so a
// rule asks has(resource.arn) rather than seeing a misleading null. List
// elements stay as null to keep the indexes of their neighbours.
func dropUnknown(v, unknown any) any {
	if u, ok := unknown.(bool); ok && u {
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		um, _ := unknown.(map[string]any)
		out := make(map[string]any, len(v))
		for k, e := range v {
			if u, ok := um[k].(bool); ok && u {
				continue
			}
			out[k] = dropUnknown(e, um[k])
		}
		return out
	case []any:
		ul, _ := unknown.([]any)
		out := make([]any, len(v))
		for i, e := range v {
			var u any
			if i < len(ul) {
				u = ul[i]
			}
			out[i] = dropUnknown(e, u)
		}
		return out
	}
	return v
}

// redact replaces every value after_sensitive marks with Sensitive.
func redact(v, sensitive any) any {
	if s, ok := sensitive.(bool); ok && s {
		if v == nil {
			return nil
		}
		return Sensitive
	}
	switch v := v.(type) {
	case map[string]any:
		sm, _ := sensitive.(map[string]any)
		for k, e := range v {
			v[k] = redact(e, sm[k])
		}
		return v
	case []any:
		sl, _ := sensitive.([]any)
		for i, e := range v {
			var s any
			if i < len(sl) {
				s = sl[i]
			}
			v[i] = redact(e, s)
		}
		return v
	}
	return v
}

// redactTagsAll hides in tags_all the tags that are sensitive in tags.
// The provider computes tags_all from tags and default_tags, and Terraform
// does not carry the sensitive mark over, so without this a secret tag
// value would reach the report through tags_all.
func redactTagsAll(attrs map[string]any) {
	tags, _ := attrs["tags"].(map[string]any)
	all, _ := attrs["tags_all"].(map[string]any)
	for k, v := range tags {
		if v == Sensitive {
			if _, ok := all[k]; ok {
				all[k] = Sensitive
			}
		}
	}
}

func stringAttr(attrs map[string]any, key string) string {
	s, _ := attrs[key].(string)
	return s
}

// region is the resource's own region attribute (AWS provider 6), else
// the region in its ARN, else the region of its provider configuration.
func region(attrs map[string]any, fallback string) string {
	if r := stringAttr(attrs, "region"); r != "" && r != Sensitive {
		return r
	}
	if parts := strings.SplitN(stringAttr(attrs, "arn"), ":", 6); len(parts) == 6 && parts[0] == "arn" && parts[3] != "" {
		return parts[3]
	}
	return fallback
}

// tags returns tags_all (tags with the provider's default_tags) when the
// plan knows it, else tags. Nil means neither is known yet, which the
// model reads as "could not be read" rather than "no tags".
func tags(attrs map[string]any) map[string]string {
	for _, key := range []string{"tags_all", "tags"} {
		m, ok := attrs[key].(map[string]any)
		if !ok {
			continue
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}

// providerRegions maps full provider names to the constant region of
// their default (unaliased) configuration in the root module, the last
// resort for resources whose region is not in their attributes.
func providerRegions(cfg *tfjson.Config) map[string]string {
	out := map[string]string{}
	if cfg == nil {
		return out
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.ProviderConfigs)) {
		pc := cfg.ProviderConfigs[key]
		if pc == nil || pc.Alias != "" || pc.ModuleAddress != "" {
			continue
		}
		e := pc.Expressions["region"]
		if e == nil || e.ExpressionData == nil {
			continue
		}
		r, ok := e.ConstantValue.(string)
		if !ok {
			continue
		}
		full := pc.FullName
		if full == "" {
			full = "registry.terraform.io/hashicorp/" + pc.Name
		}
		if _, seen := out[full]; !seen {
			out[full] = r
		}
	}
	return out
}
