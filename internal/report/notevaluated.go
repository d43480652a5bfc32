package report

import "plumb/internal/policy"

// PolicyNotEvaluated lists the outcomes that could not be decided (a value
// known only after apply, an attribute or related resource the live
// inventory did not read), for Report.NotEvaluated.
func PolicyNotEvaluated(outcomes []policy.Outcome) []NotEvaluated {
	var out []NotEvaluated
	for _, o := range outcomes {
		if !o.NotEvaluated() || o.Rule == nil || o.Subject == nil {
			continue
		}
		out = append(out, NotEvaluated{
			Rule:    o.Rule.ID,
			Type:    o.Subject.Type,
			ID:      o.Subject.ID,
			Address: o.Subject.Address,
			Reason:  o.Reason(),
		})
	}
	return out
}
