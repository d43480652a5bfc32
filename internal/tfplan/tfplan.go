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
// A value the plan knows only after the apply (after_unknown) is a
// *policy.Unknown, configured or computed as the plan's configuration
// section tells, with the resources it is computed from; each subject's
// Refs carry what its attributes' expressions refer to (see refs.go).
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
	refs := newRefIndex(plan)
	defaults := defaultTags(plan.Config)

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
		steps := parseModule(rc.ModuleAddress)
		cfg := refs.resources[configPathOf(steps)+"|"+rc.Type+"."+rc.Name]
		m := marker{refs: refs, scope: scope{module: steps}}
		var body map[string]*tfjson.Expression
		if cfg != nil {
			body = cfg.Expressions
			if body == nil {
				body = map[string]*tfjson.Expression{}
			}
			m.scope.forEach = cfg.ForEachExpression
		}
		if rc.Index != nil {
			m.scope.key, m.scope.hasKey = normalizeKey(rc.Index)
		}
		attrs := redact(m.value(after, rc.Change.AfterUnknown, exprNode{body: body}), rc.Change.AfterSensitive).(map[string]any)
		if cfg != nil {
			knownTagsAll(attrs, defaults, cfg.ProviderConfigKey)
		}
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
			Refs:       m.attributeRefs(body),
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

// exprNode is the configuration expression behind a value: a block body
// (attribute name to expression), an expression (which may hold nested
// blocks), or nothing when the configuration does not set the value.
type exprNode struct {
	body map[string]*tfjson.Expression
	expr *tfjson.Expression
}

func (n exprNode) configured() bool { return n.body != nil || n.expr != nil }

// child is the expression of a map key below n.
func (n exprNode) child(key string) exprNode {
	switch {
	case n.body != nil:
		if e := n.body[key]; e != nil && e.ExpressionData != nil {
			return exprNode{expr: e}
		}
		return exprNode{}
	case n.expr != nil && n.expr.NestedBlocks == nil:
		// An attribute expression covers every value below it.
		return n
	}
	return exprNode{}
}

// elem is the expression of a list element below n: a nested block, or
// the attribute expression that produces the whole list.
func (n exprNode) elem(i int) exprNode {
	switch {
	case n.expr != nil && n.expr.NestedBlocks != nil:
		if i < len(n.expr.NestedBlocks) {
			return exprNode{body: n.expr.NestedBlocks[i]}
		}
		return exprNode{}
	case n.expr != nil:
		return n
	}
	return exprNode{}
}

// marker replaces what the plan does not know yet (after_unknown) with
// *policy.Unknown values, which tell a rule "set, value unknown" (the
// configuration sets it) from "computed by the provider", and carry the
// resources the value is computed from.
type marker struct {
	refs  *refIndex
	scope scope
}

func (m *marker) value(v, unknown any, n exprNode) any {
	if u, ok := unknown.(bool); ok && u {
		return m.unknown(n)
	}
	switch v := v.(type) {
	case map[string]any:
		um, _ := unknown.(map[string]any)
		out := make(map[string]any, len(v)+len(um))
		for k, e := range v {
			out[k] = m.value(e, um[k], n.child(k))
		}
		for k, u := range um {
			if b, ok := u.(bool); ok && b {
				if _, seen := v[k]; !seen {
					out[k] = m.unknown(n.child(k))
				}
			}
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
			out[i] = m.value(e, u, n.elem(i))
		}
		return out
	}
	return v
}

func (m *marker) unknown(n exprNode) *policy.Unknown {
	u := &policy.Unknown{Configured: n.configured()}
	if n.expr != nil {
		u.Refs, u.Untraced = m.refs.resolve(m.scope, n.expr.References, 0)
	}
	return u
}

// attributeRefs resolves, per top-level attribute with references, the
// resources its expression refers to; untraced ones are left out.
func (m *marker) attributeRefs(body map[string]*tfjson.Expression) map[string][]string {
	var out map[string][]string
	for k, e := range body {
		if e == nil || e.ExpressionData == nil || len(e.References) == 0 {
			continue
		}
		addrs, untraced := m.refs.resolve(m.scope, e.References, 0)
		if untraced || len(addrs) == 0 {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = addrs
	}
	return out
}

// redact replaces every known value after_sensitive marks with
// Sensitive. An unknown value stays unknown: it holds no secret yet.
func redact(v, sensitive any) any {
	if _, ok := v.(*policy.Unknown); ok {
		return v
	}
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

// providerTags is what an AWS provider configuration adds to every
// resource's tags_all: its default_tags, when the plan knows them.
type providerTags struct {
	tags  map[string]any
	known bool
}

// defaultTags reads the default_tags of each AWS provider configuration:
// none (known, empty) or a constant map (known); anything computed is
// unknown.
func defaultTags(cfg *tfjson.Config) map[string]providerTags {
	out := map[string]providerTags{}
	if cfg == nil {
		return out
	}
	for key, pc := range cfg.ProviderConfigs {
		if pc == nil || !strings.HasSuffix(pc.FullName, "hashicorp/aws") && pc.Name != "aws" {
			continue
		}
		e := pc.Expressions["default_tags"]
		if e == nil || e.ExpressionData == nil {
			out[key] = providerTags{known: true}
			continue
		}
		if len(e.NestedBlocks) != 1 {
			continue
		}
		t := e.NestedBlocks[0]["tags"]
		if t == nil || t.ExpressionData == nil {
			out[key] = providerTags{known: true}
			continue
		}
		if m, ok := t.ConstantValue.(map[string]any); ok && len(t.References) == 0 {
			out[key] = providerTags{tags: m, known: true}
		}
	}
	return out
}

// knownTagsAll fills in tags_all where the plan leaves it unknown but it
// can be told: the AWS provider computes it as the provider's
// default_tags overlaid with the resource's tags, both known here. Without
// this every untagged resource would leave tag rules undecided.
func knownTagsAll(attrs map[string]any, defaults map[string]providerTags, providerKey string) {
	if _, ok := attrs["tags_all"].(*policy.Unknown); !ok {
		return
	}
	d, ok := defaults[providerKey]
	if !ok {
		if _, after, cut := strings.Cut(providerKey, ":"); cut {
			d, ok = defaults[after]
		}
	}
	if !ok || !d.known {
		return
	}
	all := make(map[string]any, len(d.tags))
	for k, v := range d.tags {
		all[k] = v
	}
	switch tags := attrs["tags"].(type) {
	case nil:
	case map[string]any:
		for k, v := range tags {
			if _, unknown := v.(*policy.Unknown); unknown {
				return
			}
			all[k] = v
		}
	default:
		return
	}
	attrs["tags_all"] = all
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
