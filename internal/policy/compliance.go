package policy

import (
	"sort"
	"strconv"
	"strings"
)

// Control statuses. An auditor reads "pass" as "checked and fine", so a
// control is pass only when every rule under it was evaluated on every
// resource it applies to, some resource was checked, and none failed.
// "not_evaluated" means the control is unproven: no resource of its
// rules' types was seen, or some rule could not be decided on some
// resource (a value known only after apply, an attribute or a related
// type the live inventory does not read); the reasons are listed.
// "error" means no violation was found but some rule failed to run (a
// cost limit, a policy document that is not JSON).
const (
	StatusPass         = "pass"
	StatusFail         = "fail"
	StatusNotEvaluated = "not_evaluated"
	StatusError        = "error"
)

// Compliance summarises outcomes per control of one standard (a pack).
type Compliance struct {
	Pack     string
	Controls []ControlResult
}

// ControlResult is the verdict on one control and the evidence behind it.
type ControlResult struct {
	Standard string
	Control  string
	Status   string
	// Rules are the ids of the rules that implement the control.
	Rules   []string
	Failing []ResourceResult
	Passing []ResourceResult
	Errored []ResourceResult
	// NotEvaluated are the resources a rule of the control could not be
	// decided on, with the reason (Message), and the rule types that were
	// not read at all (Label empty).
	NotEvaluated []ResourceResult
}

// ResourceResult is one resource checked by one rule of a control.
type ResourceResult struct {
	Rule    string
	Type    string
	Label   string // address, or id when there is no address; empty for a type not read at all
	Message string // the error, or why the rule was not evaluated
}

// Counts returns how many controls have each status.
func (c *Compliance) Counts() map[string]int {
	n := map[string]int{StatusPass: 0, StatusFail: 0, StatusNotEvaluated: 0, StatusError: 0}
	for _, r := range c.Controls {
		n[r.Status]++
	}
	return n
}

// Summarize maps outcomes onto the controls of one standard: pack is the
// standard's key in rule controls (pci-dss-4.0, cis-aws-3.0). Every control
// a rule of the set names appears, evaluated or not, so the report shows
// what was not covered as plainly as what failed.
func Summarize(pack string, set *Set, outcomes []Outcome) *Compliance {
	return summarize(pack, set, outcomes, nil)
}

// summarize is Summarize with the rule types a live inventory did not
// read (type to reason).
func summarize(pack string, set *Set, outcomes []Outcome, unlisted map[string]string) *Compliance {
	byControl := map[string]*ControlResult{}
	ruleControls := map[*Rule][]string{}
	if set != nil {
		for _, r := range set.Rules {
			for _, c := range r.Controls[pack] {
				cr := byControl[c]
				if cr == nil {
					cr = &ControlResult{Standard: pack, Control: c}
					byControl[c] = cr
				}
				if !contains(cr.Rules, r.ID) {
					cr.Rules = append(cr.Rules, r.ID)
				}
				ruleControls[r] = append(ruleControls[r], c)
				for _, t := range r.Resources {
					if why, ok := unlisted[t]; ok {
						cr.NotEvaluated = append(cr.NotEvaluated, ResourceResult{Rule: r.ID, Type: t, Message: why})
					}
				}
			}
		}
	}
	for _, o := range outcomes {
		if o.Rule == nil || o.Subject == nil {
			continue
		}
		controls, ok := ruleControls[o.Rule]
		if !ok {
			continue
		}
		rr := ResourceResult{Rule: o.Rule.ID, Type: o.Subject.Type, Label: subjectName(o.Subject)}
		for _, c := range controls {
			cr := byControl[c]
			switch {
			case o.Err != nil:
				rr.Message = o.Err.Error()
				cr.Errored = append(cr.Errored, rr)
			case len(o.Gaps) > 0:
				rr.Message = o.Reason()
				cr.NotEvaluated = append(cr.NotEvaluated, rr)
			case o.Violated:
				cr.Failing = append(cr.Failing, rr)
			default:
				cr.Passing = append(cr.Passing, rr)
			}
		}
	}
	out := &Compliance{Pack: pack, Controls: make([]ControlResult, 0, len(byControl))}
	for _, cr := range byControl {
		switch {
		case len(cr.Failing) > 0:
			cr.Status = StatusFail
		case len(cr.Errored) > 0:
			cr.Status = StatusError
		case len(cr.Passing) > 0 && len(cr.NotEvaluated) == 0:
			cr.Status = StatusPass
		default:
			cr.Status = StatusNotEvaluated
		}
		sort.Strings(cr.Rules)
		for _, l := range [][]ResourceResult{cr.Failing, cr.Passing, cr.Errored, cr.NotEvaluated} {
			sort.SliceStable(l, func(i, j int) bool {
				if l[i].Label != l[j].Label {
					return l[i].Label < l[j].Label
				}
				if l[i].Rule != l[j].Rule {
					return l[i].Rule < l[j].Rule
				}
				return l[i].Type < l[j].Type
			})
		}
		out.Controls = append(out.Controls, *cr)
	}
	sort.Slice(out.Controls, func(i, j int) bool {
		return controlLess(out.Controls[i].Control, out.Controls[j].Control)
	})
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// controlLess orders control ids as auditors read them: 1.3.2 before
// 1.3.10, numeric parts by value.
func controlLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na < nb
			}
			continue
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	if len(pa) != len(pb) {
		return len(pa) < len(pb)
	}
	return a < b
}
