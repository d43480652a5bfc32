package whatif

import (
	"fmt"
	"strings"

	"plumb/internal/azuretype"
	"plumb/internal/inventory"
	"plumb/internal/model"
)

// fingerprintRule keeps what-if findings apart from findings about the same
// resource from a live scan, which may disagree with a prediction.
const fingerprintRule = "whatif"

// scopePrefix starts the scope of every error Findings reports.
const scopePrefix = "azure/whatif/"

// outcome is what one change means for the drift report.
type outcome int

const (
	outInSync outcome = iota
	outChanged
	outMissing
	outUnmanaged
	outNotEvaluated
)

// Findings turns a what-if result into plumb findings, scope errors and the
// summary counts.
//
//   - Create: drift.missing (the template declares it, it does not exist).
//   - Delete: drift.unmanaged (in Complete mode: it exists, no template
//     declares it).
//   - Modify: drift.changed with the deltas, Confidence "low". A Modify
//     whose only deltas are NoEffect is in sync: the service ignores them.
//   - Deploy: drift.changed when the document lists deltas. Without deltas
//     it is not evaluated: Microsoft documents Deploy as returned "when it
//     doesn't have enough information to determine if any properties will
//     change", only with the ResourceIdOnly result format. Calling that in
//     sync would claim a comparison that never happened.
//   - NoChange: in sync.
//   - Ignore, Unsupported, an unknown change type, any potential change
//     (potentialChanges: "may or may not be deployed") other than NoChange,
//     and any change without a resource id: not evaluated, with one scope
//     error each, never a finding.
//   - Error-level diagnostics: one scope error each.
//
// Managed counts every change except Delete, Ignore, Unsupported and
// unknown types (those are not known to be declared). Note that for this
// source not_evaluated also counts Ignore and Unsupported entries, which are
// not managed, so managed = in_sync + changed + missing + not_evaluated
// holds only when there are none. Coverage is managed / (managed +
// unmanaged), 1 when both are zero.
func Findings(res *Result, environment string) (findings []model.Finding, errs []inventory.ScopeError, sum model.Summary) {
	findings = []model.Finding{}
	if res == nil {
		sum.Coverage = 1
		return findings, errs, sum
	}
	for i := range res.Changes {
		c := &res.Changes[i]
		if managed(c.ChangeType) {
			sum.Managed++
		}
		out, why := classify(c)
		switch out {
		case outInSync:
			sum.InSync++
		case outNotEvaluated:
			sum.NotEvaluated++
			errs = append(errs, inventory.ScopeError{Scope: scopePrefix + c.ResourceID, Message: "not evaluated by what-if: " + why})
		case outChanged:
			sum.Changed++
			findings = append(findings, finding(res, c, model.KindChanged, environment))
		case outMissing:
			sum.Missing++
			findings = append(findings, finding(res, c, model.KindMissing, environment))
		case outUnmanaged:
			sum.Unmanaged++
			findings = append(findings, finding(res, c, model.KindUnmanaged, environment))
		}
	}
	for i := range res.Potential {
		c := &res.Potential[i]
		if managed(c.ChangeType) {
			sum.Managed++
		}
		// Deployed or not, a resource what-if finds identical to the
		// template is in sync.
		if canonical(c.ChangeType) == ChangeNoChange {
			sum.InSync++
			continue
		}
		sum.NotEvaluated++
		errs = append(errs, inventory.ScopeError{
			Scope:   scopePrefix + c.ResourceID,
			Message: "not evaluated by what-if: potential " + c.ChangeType + " (what-if says it may or may not be deployed)",
		})
	}
	for _, u := range res.Unidentified {
		if managed(u.ChangeType) {
			sum.Managed++
		}
		sum.NotEvaluated++
		scope := u.SymbolicName
		if scope == "" {
			scope = u.Path
		}
		msg := "not evaluated by what-if: " + u.ChangeType + " of a resource without an Azure resource id"
		if u.Extension != "" {
			msg += " (extension " + u.Extension + ")"
		}
		errs = append(errs, inventory.ScopeError{Scope: scopePrefix + scope, Message: msg})
	}
	for _, d := range res.Diagnostics {
		if !strings.EqualFold(d.Level, "Error") {
			continue
		}
		scope := strings.TrimSuffix(scopePrefix, "/")
		if d.Target != "" {
			scope = scopePrefix + d.Target
		}
		errs = append(errs, inventory.ScopeError{Scope: scope, Message: strings.TrimSpace("what-if diagnostic " + d.Code + ": " + d.Message)})
	}
	if total := sum.Managed + sum.Unmanaged; total > 0 {
		sum.Coverage = float64(sum.Managed) / float64(total)
	} else {
		sum.Coverage = 1
	}
	return findings, errs, sum
}

// managed reports whether a change type means the template declares the
// resource.
func managed(changeType string) bool {
	switch canonical(changeType) {
	case ChangeCreate, ChangeModify, ChangeDeploy, ChangeNoChange:
		return true
	}
	return false
}

// canonical returns the documented spelling of a change type, or "" for a
// value this package does not know.
func canonical(changeType string) string {
	for _, k := range [...]string{ChangeCreate, ChangeDelete, ChangeIgnore, ChangeDeploy, ChangeNoChange, ChangeModify, ChangeUnsupported} {
		if strings.EqualFold(changeType, k) {
			return k
		}
	}
	return ""
}

// classify decides what one definite change means; why explains a
// not-evaluated outcome.
func classify(c *Change) (out outcome, why string) {
	switch canonical(c.ChangeType) {
	case ChangeCreate:
		return outMissing, ""
	case ChangeDelete:
		return outUnmanaged, ""
	case ChangeNoChange:
		return outInSync, ""
	case ChangeModify:
		// Every delta NoEffect: what-if compared and nothing effective
		// differs. No delta list at all: what-if still says it changes.
		if len(c.Deltas) == 0 && c.rawDeltas > 0 {
			return outInSync, ""
		}
		return outChanged, ""
	case ChangeDeploy:
		switch {
		case len(c.Deltas) > 0:
			return outChanged, ""
		case c.rawDeltas > 0:
			return outInSync, ""
		}
		return outNotEvaluated, "Deploy (what-if could not tell whether properties change; run it with the default FullResourcePayloads result format)"
	case ChangeIgnore:
		return outNotEvaluated, "Ignore (the resource exists but is not in the template as what-if expanded it)"
	case ChangeUnsupported:
		why = "Unsupported"
		if c.UnsupportedReason != "" {
			why += ": " + c.UnsupportedReason
		}
		return outNotEvaluated, why
	}
	return outNotEvaluated, fmt.Sprintf("unknown change type %q", c.ChangeType)
}

func finding(res *Result, c *Change, kind model.Kind, environment string) model.Finding {
	typ := c.Type
	if typ == "" {
		typ = c.ARMType
	}
	r := model.Resource{
		Provider: "azure",
		Type:     typ,
		ID:       c.ResourceID,
		Region:   c.Region,
		Account:  azuretype.SubscriptionOf(c.ResourceID),
		Name:     c.Name,
		Tags:     c.Tags,
	}
	f := model.Finding{
		Kind:        kind,
		Severity:    severity(kind, c),
		Fingerprint: model.Fingerprint(kind, environment, "azure", typ, "", strings.ToLower(c.ResourceID), fingerprintRule),
		Environment: environment,
		Resource:    r,
		Changes:     []model.Change{},
		Message:     message(kind, r.DisplayName()),
	}
	if kind != model.KindUnmanaged {
		// The template is the declaration.
		f.Source = res.Source
	}
	if kind == model.KindChanged {
		f.Confidence = "low"
		if len(c.Deltas) > 0 {
			f.Changes = c.Deltas
		}
	}
	return f
}

// message is the operators' title for a drift finding (the same wording as
// the drift engine's).
func message(kind model.Kind, name string) string {
	switch kind {
	case model.KindUnmanaged:
		return fmt.Sprintf("Undefined resource exists (%s)", name)
	case model.KindMissing:
		return fmt.Sprintf("Defined resource doesn't exist (%s)", name)
	}
	return fmt.Sprintf("Resource changed outside code (%s)", name)
}

func severity(kind model.Kind, c *Change) model.Severity {
	switch kind {
	case model.KindMissing:
		return model.SeverityHigh
	case model.KindUnmanaged:
		return model.SeverityMedium
	}
	// A security rule declared as its own resource is exposure too.
	if strings.HasSuffix(strings.ToLower(c.ARMType), "/securityrules") {
		return model.SeverityHigh
	}
	for _, d := range c.Deltas {
		if touchesExposure(d.Path) {
			return model.SeverityHigh
		}
	}
	return model.SeverityMedium
}

// touchesExposure reports whether a path goes through a property whose
// change can open a resource to the network, which is worth a look first.
func touchesExposure(path string) bool {
	exposureSegments := [...]string{"securityRules", "networkAcls", "publicNetworkAccess"}
	for seg := range strings.SplitSeq(path, ".") {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		for _, e := range exposureSegments {
			if strings.EqualFold(seg, e) {
				return true
			}
		}
	}
	return false
}
