package scan

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/policy"
)

// liveEvaluation is what evaluating the policies on the live inventory
// adds to a report.
type liveEvaluation struct {
	findings []model.Finding
	errors   []inventory.ScopeError
	// skipped counts (rule, resource) pairs not decided because the
	// inventory does not read an attribute the rule needs.
	skipped int
}

// evaluateLive runs the rules on the live resources. Rules are written for
// Terraform attributes, and the inventory reads only some of them; a rule
// that names an attribute the inventory did not read is skipped rather than
// run, because `!has(resource.encrypted) || ...` would otherwise call every
// volume unencrypted. Resources the cloud created by itself (Default) are
// not checked: nobody's code owns them.
func evaluateLive(ctx context.Context, set *policy.Set, resources []model.Resource, environment string) (*liveEvaluation, error) {
	var own []model.Resource
	for _, r := range resources {
		if r.Default == "" && r.Provider == "aws" {
			own = append(own, r)
		}
	}
	subjects := awsinv.PolicySubjects(own)
	outcomes, err := set.Evaluate(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("evaluate policies: %w", err)
	}
	needs := map[*policy.Rule][]string{}
	ev := &liveEvaluation{}
	decided := outcomes[:0:0]
	for _, o := range outcomes {
		if o.Rule == nil || o.Subject == nil {
			continue
		}
		attrs, ok := needs[o.Rule]
		if !ok {
			attrs = ruleAttributes(o.Rule.Deny)
			needs[o.Rule] = attrs
		}
		if !hasAll(o.Subject.Attributes, attrs) || (o.Err != nil && isMissingKey(o.Err)) {
			ev.skipped++
			continue
		}
		if o.Err != nil {
			ev.errors = append(ev.errors, inventory.ScopeError{
				Scope:   "policy/" + o.Rule.ID + "/" + o.Subject.Label(),
				Message: o.Err.Error(),
			})
			continue
		}
		decided = append(decided, o)
	}
	ev.findings = policy.Findings(decided, environment)
	return ev, nil
}

// attrRef finds the top-level attributes a deny expression names:
// resource.NAME, resource["NAME"] and "NAME" in resource.
var attrRef = regexp.MustCompile(`\bresource\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\bresource\s*\[\s*["']([^"']+)["']\s*\]|["']([^"']+)["']\s+in\s+resource\b`)

// ruleAttributes lists the top-level attributes a rule reads. A rule that
// reads attributes through a computed key (resource[k]) is only partly
// covered; evaluation errors from missing keys catch the rest.
func ruleAttributes(deny string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range attrRef.FindAllStringSubmatch(deny, -1) {
		name := m[1] + m[2] + m[3]
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func hasAll(attrs map[string]any, names []string) bool {
	for _, n := range names {
		if _, ok := attrs[n]; !ok {
			return false
		}
	}
	return true
}

// isMissingKey reports whether an evaluation failed only because the
// resource lacks an attribute, CEL's "no such key".
func isMissingKey(err error) bool {
	return strings.Contains(err.Error(), "no such key")
}

// noteSkipped explains the evaluations that were not run.
func noteSkipped(n int) string {
	return fmt.Sprintf("%d rule evaluations skipped: the live inventory does not read the attributes they need", n)
}
