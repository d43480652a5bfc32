package policy

import (
	"context"
	"regexp"
	"strings"
)

// LiveResult sorts the outcomes of rules run on live resources into what
// may be reported and what may not.
type LiveResult struct {
	// Decided are the violations and passes: the rule evaluated without
	// needing anything the inventory did not read.
	Decided []Outcome
	// Errors are evaluations that failed (bad JSON in a policy document,
	// the cost limit): the rule says nothing about the resource, and the
	// caller reports it.
	Errors []Outcome
	// Skipped are evaluations not decided because the verdict depends on
	// an attribute the inventory does not read or on related resources it
	// did not read (Outcome.Gaps says which). They are neither findings
	// nor errors, and never passes.
	Skipped []Outcome
	// Unlisted maps the rule types the inventory did not read everywhere
	// it looked to the reason: a rule on such a type was not evaluated on
	// the resources that were not read, whatever it decided on the others.
	Unlisted map[string]string
}

// EvaluateLive runs the rules on subjects built from a live inventory.
// Rules are written for Terraform attributes and the inventory reads only
// some of them, so an attribute that is absent is unknown rather than
// unset: `!has(resource.encrypted) || ...` is not evaluated on a volume
// whose flag was not read, while a rule that does not depend on it still
// decides. A "no such key" failure (an attribute missing deeper in a
// nested block) is skipped for the same reason. cov says which related
// resources were read completely, and where; nil means none (a single
// resource read back at event time), so rules about companions are not
// evaluated. The scheduled scan and event-time validation both call this,
// so a resource is judged the same way at both times.
func (s *Set) EvaluateLive(ctx context.Context, subjects []Subject, cov Coverage) (*LiveResult, error) {
	outcomes, err := s.EvaluateWith(ctx, subjects, EvalOptions{Live: true, Coverage: cov})
	if err != nil {
		return nil, err
	}
	res := &LiveResult{}
	for _, o := range outcomes {
		if o.Rule == nil || o.Subject == nil {
			continue
		}
		switch {
		case o.Err != nil && liveMissingKey(o.Err):
			o.Gaps = []Gap{{Resource: subjectName(o.Subject), Reason: "the live inventory does not read an attribute the rule needs (" + o.Err.Error() + ")"}}
			o.Err = nil
			res.Skipped = append(res.Skipped, o)
		case o.Err != nil:
			res.Errors = append(res.Errors, o)
		case len(o.Gaps) > 0:
			res.Skipped = append(res.Skipped, o)
		default:
			res.Decided = append(res.Decided, o)
		}
	}
	if cov != nil {
		for _, r := range s.Rules {
			for _, t := range r.Resources {
				if ok, why := cov.Listed(t); !ok {
					if res.Unlisted == nil {
						res.Unlisted = map[string]string{}
					}
					res.Unlisted[t] = why
				}
			}
		}
	}
	return res, nil
}

// liveAttrRef finds the top-level attributes a deny expression names:
// resource.NAME, resource["NAME"] and "NAME" in resource.
var liveAttrRef = regexp.MustCompile(`\bresource\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\bresource\s*\[\s*["']([^"']+)["']\s*\]|["']([^"']+)["']\s+in\s+resource\b`)

// RuleAttributes lists the top-level attributes a deny expression reads,
// in order of first mention. A rule that reads attributes through a
// computed key (resource[k]) is only partly covered; evaluation errors
// from missing keys catch the rest.
func RuleAttributes(deny string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range liveAttrRef.FindAllStringSubmatch(deny, -1) {
		name := m[1] + m[2] + m[3]
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// liveMissingKey reports whether an evaluation failed only because the
// resource lacks an attribute, CEL's "no such key".
func liveMissingKey(err error) bool {
	return strings.Contains(err.Error(), "no such key")
}

// SummarizeLive maps a live evaluation onto the controls of one standard.
// Skipped evaluations never count as passes: a control whose rules passed
// on some resources but could not be decided on others is not evaluated,
// since the part not looked at may be the part that fails (a control
// covering volume and bucket encryption is not met because the volumes
// are encrypted). Likewise a control with a rule on a type the inventory
// did not read (res.Unlisted) is not evaluated: its resources were never
// looked at. A failure stays a failure and an error an error: what was
// decided is certain whatever else was skipped.
func SummarizeLive(pack string, set *Set, res *LiveResult) *Compliance {
	if res == nil {
		res = &LiveResult{}
	}
	all := make([]Outcome, 0, len(res.Decided)+len(res.Errors)+len(res.Skipped))
	all = append(append(append(all, res.Decided...), res.Errors...), res.Skipped...)
	return summarize(pack, set, all, res.Unlisted)
}
