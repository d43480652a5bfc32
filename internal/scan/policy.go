package scan

import (
	"context"
	"fmt"

	"plumb/internal/drift"
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
	// result is the evaluation itself, for per-control reports.
	result *policy.LiveResult
}

// evaluateLive runs the rules on the live resources. Which evaluations
// are decided, skipped or errors is policy.(*Set).EvaluateLive's call, so
// event-time validation judges a resource exactly as this scan does.
// Resources the cloud created by itself (Default) are not checked: nobody's
// code owns them. A resource the code declares carries its Terraform
// address (address), so its findings point back at the code.
func evaluateLive(ctx context.Context, set *policy.Set, inv *inventory.Result, address func(typ, id string) string, environment string) (*liveEvaluation, error) {
	subjects := awsinv.PolicySubjects(ownAWS(inv.Resources))
	for i := range subjects {
		subjects[i].Address = address(subjects[i].Type, subjects[i].ID)
	}
	res, err := set.EvaluateLive(ctx, subjects, awsinv.PolicyCoverage(inv))
	if err != nil {
		return nil, fmt.Errorf("evaluate policies: %w", err)
	}
	ev := &liveEvaluation{skipped: len(res.Skipped), result: res}
	for _, o := range res.Errors {
		ev.errors = append(ev.errors, inventory.ScopeError{
			Scope:   "policy/" + o.Rule.ID + "/" + o.Subject.ID,
			Message: o.Err.Error(),
		})
	}
	ev.findings = policy.Findings(res.Decided, environment)
	return ev, nil
}

// declaredAddress finds the Terraform address of a live resource: the
// desired resource the drift engine matched to it, or, for types the
// engine does not compare (the S3 bucket policy, public access block and
// encryption sub-resources), the state resource of that type and id.
func declaredAddress(res *drift.Result, desired []model.DesiredResource, mapper inventory.StateMapper) func(typ, id string) string {
	unmapped := map[string]string{}
	for _, d := range desired {
		if d.Mode == "data" || d.Deposed != "" || d.Address == "" {
			continue
		}
		if _, ok := mapper.FromState(d.Type, d.Raw); ok {
			continue
		}
		if id, _ := d.Raw["id"].(string); id != "" {
			unmapped[d.Type+"\x00"+id] = d.Address
		}
	}
	return func(typ, id string) string {
		if a := res.Address(typ, id); a != "" {
			return a
		}
		return unmapped[typ+"\x00"+id]
	}
}

// ownAWS keeps the AWS resources someone created: the packs are written
// for AWS types, and defaults are the cloud's own.
func ownAWS(resources []model.Resource) []model.Resource {
	var own []model.Resource
	for _, r := range resources {
		if r.Default == "" && r.Provider == "aws" {
			own = append(own, r)
		}
	}
	return own
}

// ruleAttributes lists the top-level attributes a rule reads (see
// policy.RuleAttributes).
func ruleAttributes(deny string) []string { return policy.RuleAttributes(deny) }

// noteSkipped explains the evaluations that were not decided.
func noteSkipped(n int) string {
	return fmt.Sprintf("%d rule evaluations skipped: the live inventory does not read the attributes or related resources they need (-o json lists them under policy_not_evaluated)", n)
}
