package policy

import (
	"context"
	"regexp"
	"sort"
	"strings"
)

// LiveResult sorts the outcomes of rules run on live resources into what
// may be reported and what may not.
type LiveResult struct {
	// Decided are the violations and passes: every attribute the rule
	// names was read, and the rule evaluated without error.
	Decided []Outcome
	// Errors are evaluations that failed for another reason than a
	// missing attribute (bad JSON in a policy document, the cost limit):
	// the rule says nothing about the resource, and the caller reports it.
	Errors []Outcome
	// Skipped are evaluations not decided because the inventory does not
	// read an attribute the rule needs. They are neither findings nor
	// errors, and never passes.
	Skipped []Outcome
}

// EvaluateLive runs the rules on subjects built from a live inventory.
// Rules are written for Terraform attributes and the inventory reads only
// some of them, so a rule is decided on a subject only when every
// top-level attribute its deny names is present: otherwise
// `!has(resource.encrypted) || ...` would call every volume unencrypted
// merely because the flag was not read. A "no such key" failure (an
// attribute reached through a computed key) is skipped for the same
// reason. The scheduled scan and event-time validation both call this, so
// a resource is judged the same way at both times.
func (s *Set) EvaluateLive(ctx context.Context, subjects []Subject) (*LiveResult, error) {
	outcomes, err := s.Evaluate(ctx, subjects)
	if err != nil {
		return nil, err
	}
	needs := map[*Rule][]string{}
	res := &LiveResult{}
	for _, o := range outcomes {
		if o.Rule == nil || o.Subject == nil {
			continue
		}
		attrs, ok := needs[o.Rule]
		if !ok {
			attrs = RuleAttributes(o.Rule.Deny)
			needs[o.Rule] = attrs
		}
		switch {
		case !liveHasAll(o.Subject.Attributes, attrs) || (o.Err != nil && liveMissingKey(o.Err)):
			res.Skipped = append(res.Skipped, o)
		case o.Err != nil:
			res.Errors = append(res.Errors, o)
		default:
			res.Decided = append(res.Decided, o)
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

func liveHasAll(attrs map[string]any, names []string) bool {
	for _, n := range names {
		if _, ok := attrs[n]; !ok {
			return false
		}
	}
	return true
}

// liveMissingKey reports whether an evaluation failed only because the
// resource lacks an attribute, CEL's "no such key".
func liveMissingKey(err error) bool {
	return strings.Contains(err.Error(), "no such key")
}

// LiveCompliance is a per-control summary of a live evaluation. Beyond
// Compliance it lists, per control id, the resources a rule of the control
// could not be decided on because the inventory does not read what the
// rule needs.
type LiveCompliance struct {
	*Compliance
	NotEvaluated map[string][]ResourceResult
}

// SummarizeLive maps a live evaluation onto the controls of one standard.
// Skipped evaluations never count as passes: a control whose rules passed
// on some resources but could not be decided on others is not evaluated,
// since the part not looked at may be the part that fails (a control
// covering volume and bucket encryption is not met because the volumes
// are encrypted). A failure stays a failure and an error an error: what
// was decided is certain whatever else was skipped.
func SummarizeLive(pack string, set *Set, res *LiveResult) *LiveCompliance {
	var decided []Outcome
	if res != nil {
		decided = make([]Outcome, 0, len(res.Decided)+len(res.Errors))
		decided = append(append(decided, res.Decided...), res.Errors...)
	}
	out := &LiveCompliance{Compliance: Summarize(pack, set, decided), NotEvaluated: map[string][]ResourceResult{}}
	if res == nil {
		return out
	}
	index := make(map[string]int, len(out.Controls))
	for i, cr := range out.Controls {
		index[cr.Control] = i
	}
	for _, o := range res.Skipped {
		if o.Rule == nil || o.Subject == nil {
			continue
		}
		rr := ResourceResult{Rule: o.Rule.ID, Type: o.Subject.Type, Label: subjectName(o.Subject), Message: skipReason(o)}
		for _, c := range o.Rule.Controls[pack] {
			if _, ok := index[c]; ok {
				out.NotEvaluated[c] = append(out.NotEvaluated[c], rr)
			}
		}
	}
	for c, rs := range out.NotEvaluated {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Label != rs[j].Label {
				return rs[i].Label < rs[j].Label
			}
			return rs[i].Rule < rs[j].Rule
		})
		if cr := &out.Controls[index[c]]; cr.Status == StatusPass {
			cr.Status = StatusNotEvaluated
		}
	}
	return out
}

// skipReason tells an auditor why a rule was not decided on a resource:
// the attributes it names that the inventory did not read.
func skipReason(o Outcome) string {
	var missing []string
	for _, a := range RuleAttributes(o.Rule.Deny) {
		if _, ok := o.Subject.Attributes[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return "the live inventory does not read an attribute the rule needs"
	}
	return "the live inventory does not read " + strings.Join(missing, ", ")
}
