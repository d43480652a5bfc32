// Package ownership says which team a finding belongs to, so each team can
// see (in the console) and be sent (through routes matching owner="...")
// the part of the estate it is responsible for. The answer comes from the
// resource's own tags first (owner, team, or the keys configured), then
// from rules in plumb.yaml that map Terraform types and resource names to
// teams, for the resources nobody tagged.
package ownership

import (
	"fmt"
	"regexp"
	"strings"

	"plumb/internal/model"
)

// DefaultTags are the tag keys read when the configuration names none.
var defaultTags = []string{"owner", "team"}

// DefaultTags returns the tag keys an unconfigured resolver reads, in order.
func DefaultTags() []string { return append([]string(nil), defaultTags...) }

// Rule maps resources to an owner by glob patterns: * matches any run of
// characters (slashes included: names and ids may hold paths), ? one
// character, everything else itself, case-sensitively. Empty patterns
// match everything; all given ones must match.
type Rule struct {
	// Type matches the Terraform type (aws_s3_bucket, azurerm_*).
	Type string
	// Name matches the resource's name (Name tag or name attribute) or,
	// failing that, its import id; a rule matches when either does.
	Name string
	// Environment matches the finding's environment.
	Environment string
	// Owner is the team the matching resources belong to.
	Owner string
}

// Resolver decides owners. The zero value reads the default tags and has
// no rules. Safe for concurrent use (it is never modified after New).
type Resolver struct {
	tags  []string
	rules []compiled
}

type compiled struct {
	Rule
	typ, name, env *regexp.Regexp
}

// New builds a resolver from tag keys (nil or empty: owner, team) and
// rules; a rule with a malformed pattern is an error naming it.
func New(tags []string, rules []Rule) (*Resolver, error) {
	if len(tags) == 0 {
		tags = DefaultTags()
	}
	out := &Resolver{tags: append([]string(nil), tags...)}
	for i, r := range rules {
		if r.Owner == "" {
			return nil, fmt.Errorf("ownership rule %d: owner is required", i)
		}
		out.rules = append(out.rules, compiled{Rule: r, typ: Glob(r.Type), name: Glob(r.Name), env: Glob(r.Environment)})
	}
	return out, nil
}

// Glob compiles a pattern of the rules' syntax; "" gives nil, which
// matches everything. Every pattern compiles: there is no bad syntax.
func Glob(pattern string) *regexp.Regexp {
	if pattern == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString("^")
	for _, c := range pattern {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// Owner returns the team of a finding's resource, or "" when neither a tag
// nor a rule names one. Tag keys are tried in order, each first as
// written, then case-insensitively (Owner, OWNER); an empty tag value
// counts as absent. Rules are tried in order; the first match wins.
func (r *Resolver) Owner(f model.Finding) string {
	tags := defaultTags
	if r != nil && len(r.tags) > 0 {
		tags = r.tags
	}
	res := f.Resource
	for _, k := range tags {
		if v := strings.TrimSpace(res.Tags[k]); v != "" {
			return v
		}
		for tk, v := range res.Tags {
			if strings.EqualFold(tk, k) && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	if r == nil {
		return ""
	}
	for _, rule := range r.rules {
		if rule.matches(f) {
			return rule.Owner
		}
	}
	return ""
}

func (rule compiled) matches(f model.Finding) bool {
	if !match(rule.typ, f.Resource.Type) || !match(rule.env, f.Environment) {
		return false
	}
	if rule.name == nil {
		return true
	}
	return rule.name.MatchString(f.Resource.DisplayName()) || rule.name.MatchString(f.Resource.ID)
}

func match(re *regexp.Regexp, s string) bool { return re == nil || re.MatchString(s) }

// Digest identifies the configuration, so a store can tell whether owners
// it computed earlier came from the same settings.
func (r *Resolver) Digest() string {
	if r == nil {
		return "default"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tags=%q;", r.tags)
	for _, rule := range r.rules {
		fmt.Fprintf(&b, "rule=%q,%q,%q,%q;", rule.Type, rule.Name, rule.Environment, rule.Owner)
	}
	return b.String()
}
