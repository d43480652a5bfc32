package policy

import (
	"plumb/internal/model"
)

// Findings turns violations into policy.violation findings, one per
// (rule, subject) that violated, in outcome order. Error outcomes are not
// findings: a rule that could not be decided says nothing about the
// resource (Summarize and the caller's report show them instead).
//
// A planned resource has no id yet, so its address stands in for the id in
// the resource and in the fingerprint; the fingerprint holds the rule id, so
// two rules broken by one resource are two findings.
func Findings(outcomes []Outcome, environment string) []model.Finding {
	var out []model.Finding
	for _, o := range outcomes {
		if !o.Violated || o.Err != nil || o.Rule == nil || o.Subject == nil {
			continue
		}
		env := environment
		if o.Subject.Environment != "" {
			// Several environments evaluated together: each finding
			// belongs to its resource's environment.
			env = o.Subject.Environment
		}
		out = append(out, finding(o.Rule, o.Subject, env))
	}
	return out
}

func finding(r *Rule, s *Subject, environment string) model.Finding {
	id := s.ID
	if id == "" {
		id = s.Address
	}
	res := model.Resource{
		Provider: s.Provider,
		Type:     s.Type,
		ID:       id,
		Region:   s.Region,
		Name:     s.Name,
		Tags:     s.Tags,
	}
	var addr *string
	if s.Address != "" {
		a := s.Address
		addr = &a
	}
	msg := r.Message
	if msg == "" {
		msg = r.Title
	}
	if msg == "" {
		msg = "Policy " + r.ID + " violated"
	}
	display := s.Name
	if display == "" {
		display = s.Label()
	}
	if display != "" {
		msg += " (" + display + ")"
	}
	var controls map[string][]string
	if len(r.Controls) > 0 {
		controls = make(map[string][]string, len(r.Controls))
		for k, v := range r.Controls {
			controls[k] = append([]string(nil), v...)
		}
	}
	return model.Finding{
		Kind:        model.KindPolicyViolation,
		Severity:    r.Severity,
		Fingerprint: model.Fingerprint(model.KindPolicyViolation, environment, s.Provider, s.Type, s.Region, id, r.ID),
		Environment: environment,
		Resource:    res,
		Address:     addr,
		Changes:     []model.Change{},
		Message:     msg,
		Rule:        r.ID,
		Controls:    controls,
		Security:    r.Security,
		File:        s.File,
		Line:        s.Line,
	}
}
