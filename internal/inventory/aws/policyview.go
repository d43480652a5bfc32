package aws

import (
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"plumb/internal/model"
	"plumb/internal/policy"
)

// PolicySubjects presents live resources to the policy engine under the
// Terraform attribute names and shapes the rules are written against, so a
// rule checked on a plan before the apply also runs on the estate after
// it. The inventory keeps some attributes in a form made for drift
// comparison (security group rules as canonical strings); those are turned
// back into the shape Terraform's state holds. The resources' own
// attribute maps are not modified.
//
// Tags are given as both tags and tags_all: AWS reports the tags a resource
// carries, which include the provider's default_tags, exactly what
// tags_all holds in state. A resource whose tags could not be read (nil)
// gets neither, so a rule about tags cannot mistake "unread" for "absent".
func PolicySubjects(resources []model.Resource) []policy.Subject {
	out := make([]policy.Subject, 0, len(resources))
	for _, r := range resources {
		attrs := make(map[string]any, len(r.Attributes)+4)
		maps.Copy(attrs, r.Attributes)
		if _, ok := attrs["id"]; !ok && r.ID != "" {
			attrs["id"] = r.ID
		}
		if _, ok := attrs["arn"]; !ok && r.ARN != "" {
			attrs["arn"] = r.ARN
		}
		if r.Tags != nil {
			tags := make(map[string]any, len(r.Tags))
			for k, v := range r.Tags {
				tags[k] = v
			}
			attrs["tags"] = tags
			attrs["tags_all"] = maps.Clone(tags)
		}
		if r.Type == "aws_security_group" {
			for _, dir := range []string{"ingress", "egress"} {
				if rules, ok := canonicalRules(r.Attributes[dir]); ok {
					attrs[dir] = sgStateRules(r.ID, rules)
				}
			}
		}
		delete(attrs, policyUnread)
		var children []policy.Subject
		if r.Type == "aws_s3_bucket" {
			children = childSubjects(r, attrs, s3Children)
			if _, ok := attrs["bucket"]; !ok {
				// The bucket's name, as its Terraform state holds it.
				attrs["bucket"] = r.ID
			}
		}
		out = append(out, policy.Subject{
			Provider:   r.Provider,
			Type:       r.Type,
			ID:         r.ID,
			Name:       r.Name,
			Region:     r.Region,
			Account:    r.Account,
			Tags:       r.Tags,
			Attributes: attrs,
		})
		out = append(out, children...)
	}
	return out
}

// childSubjects turns the sub-resources a lister filed in a resource's
// attributes under their Terraform type names (see s3Children) into
// subjects of those types, and removes them from attrs so the parent
// shows only its own attributes. A child has the parent's import id,
// which is also its own (the bucket name for every S3 bucket
// sub-resource), and no tags of its own.
func childSubjects(r model.Resource, attrs map[string]any, types []string) []policy.Subject {
	var out []policy.Subject
	for _, typ := range types {
		raw, ok := attrs[typ]
		if !ok {
			continue
		}
		delete(attrs, typ)
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		child := maps.Clone(m)
		if _, ok := child["id"]; !ok {
			child["id"] = r.ID
		}
		out = append(out, policy.Subject{
			Provider:   r.Provider,
			Type:       typ,
			ID:         r.ID,
			Name:       r.Name,
			Region:     r.Region,
			Account:    r.Account,
			Attributes: child,
		})
	}
	return out
}

// canonicalRules reads a rule list as the lister stores it ([]string) or
// as it looks after a JSON round trip ([]any).
func canonicalRules(v any) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return x, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// sgStateRules turns canonical rule strings back into the objects of an
// aws_security_group's ingress/egress blocks, one object per string. The
// list is never nil, so "no rules" is an empty list, as in state.
func sgStateRules(groupID string, rules []string) []any {
	out := make([]any, 0, len(rules))
	for _, s := range rules {
		if obj, ok := sgRuleObject(groupID, s); ok {
			out = append(out, obj)
		}
	}
	return out
}

// sgRuleObject parses one canonical rule string (see
// SecurityGroupRule) into a Terraform-shaped ingress/egress object of the
// group groupID: ports as float64, like numbers in state JSON, and the
// source in the list Terraform keeps it in (cidr_blocks, ipv6_cidr_blocks,
// prefix_list_ids, security_groups, or self for the group itself). ok is
// false for a string that is not a canonical rule.
func sgRuleObject(groupID, rule string) (map[string]any, bool) {
	fields := strings.Fields(rule)
	if len(fields) != 3 {
		return nil, false
	}
	proto, ports, src := fields[0], fields[1], fields[2]
	fromS, toS, ok := strings.Cut(ports, ":")
	if !ok {
		return nil, false
	}
	from, err1 := strconv.ParseInt(fromS, 10, 64)
	to, err2 := strconv.ParseInt(toS, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	obj := map[string]any{
		"protocol":         proto,
		"from_port":        float64(from),
		"to_port":          float64(to),
		"cidr_blocks":      []any{},
		"ipv6_cidr_blocks": []any{},
		"prefix_list_ids":  []any{},
		"security_groups":  []any{},
		"self":             false,
		"description":      "",
	}
	switch p, err := netip.ParsePrefix(src); {
	case err == nil && p.Addr().Is4():
		obj["cidr_blocks"] = []any{src}
	case err == nil:
		obj["ipv6_cidr_blocks"] = []any{src}
	case src == groupID:
		obj["self"] = true
	case strings.HasPrefix(src, "pl-"):
		obj["prefix_list_ids"] = []any{src}
	default:
		obj["security_groups"] = []any{src}
	}
	return obj, true
}
