// Package inventory defines what a live cloud inventory hands to the drift
// engine: the resources it saw, the scopes it read completely, and the
// scopes it could not read. The per-cloud listers live in sub-packages.
package inventory

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"plumb/internal/model"
)

// Type describes one Terraform resource type plumb can inventory. Keeping
// the live lister's counterpart for state (FromState) next to it means the
// two sides of a comparison are defined in one place per type.
type Type struct {
	// Name is the Terraform type name the lister produces (aws_vpc).
	Name string
	// Service groups types that share an API client and a scope in error
	// reports (ec2, s3, iam).
	Service string
	// Global types are listed once, not per region (IAM, Route 53).
	Global bool
	// Compared are the attribute keys compared for drift.changed, in
	// addition to tags. Both sides must fill them in the same shape.
	Compared []string
	// ScopeByAccount types are listed per account (Azure subscription)
	// rather than per region: the inventory marks them complete with
	// Result.Add(type, account, ...) and the drift engine judges a
	// desired resource's scope by its Account, not its Region.
	ScopeByAccount bool
	// CaseInsensitiveID types have ids that the cloud treats without
	// regard to case (Azure resource ids); matching folds case.
	CaseInsensitiveID bool
}

// StateMapper turns the attributes of a Terraform state instance into the
// Resource a live lister would produce for the same object, so that the
// drift engine can compare like with like. Aliases cover state types that
// describe a live type under another name (aws_default_vpc is an aws_vpc).
type StateMapper interface {
	// FromState maps one state instance. ok is false when the type is not
	// one this inventory lists.
	FromState(typ string, attrs map[string]any) (r model.Resource, ok bool)
	// Fold reports, for child resources declared separately from their
	// parent (aws_security_group_rule), which parent they belong to and the
	// attribute values they add to it. ok is false for other types.
	Fold(typ string, attrs map[string]any) (parentType, parentID string, add map[string][]string, ok bool)
	// Types lists every live type the inventory knows.
	Types() []Type
}

// MultiMapper combines the state mappers of several clouds; the first
// that knows a type wins.
type MultiMapper []StateMapper

// FromState implements StateMapper.
func (m MultiMapper) FromState(typ string, attrs map[string]any) (model.Resource, bool) {
	for _, one := range m {
		if r, ok := one.FromState(typ, attrs); ok {
			return r, true
		}
	}
	return model.Resource{}, false
}

// Fold implements StateMapper.
func (m MultiMapper) Fold(typ string, attrs map[string]any) (string, string, map[string][]string, bool) {
	for _, one := range m {
		if pt, pid, add, ok := one.Fold(typ, attrs); ok {
			return pt, pid, add, true
		}
	}
	return "", "", nil, false
}

// Types implements StateMapper.
func (m MultiMapper) Types() []Type {
	var out []Type
	for _, one := range m {
		out = append(out, one.Types()...)
	}
	return out
}

// Scope names one unit of listing: a service's types in one region (or
// "global"). It is what the report's errors refer to.
type Scope struct {
	Provider string
	Region   string
	Service  string
}

func (s Scope) String() string { return fmt.Sprintf("%s/%s/%s", s.Provider, s.Region, s.Service) }

// ScopeError records a part of the estate that could not be read.
type ScopeError struct {
	Scope string `json:"scope"`
	// Message is the cause, short: the cloud's error code and message, or
	// what went wrong on the way (connection refused, time limit). When
	// the types of a scope failed for different causes it is
	// "TYPE: cause; TYPE: cause".
	Message string `json:"message"`
	// Types are the Terraform types of the scope that could not be read,
	// when the failure is tied to listers (empty for a scope that failed
	// as a whole).
	Types []string `json:"types,omitempty"`
}

// typeFailure is one lister's failure inside a scope, kept so a scope's
// error can be rewritten as more of its types fail.
type typeFailure struct {
	typ, cause string
}

// Result is what one inventory run produced. It is safe for concurrent use
// while listers fill it in.
type Result struct {
	mu        sync.Mutex
	Resources []model.Resource
	Errors    []ScopeError
	// failures holds, per scope, the types that failed and why, from
	// which FailType composes the scope's one ScopeError.
	failures map[string][]typeFailure
	// complete holds "type|region" for every type listed without error in a
	// region ("" region for global types). Desired resources of a type and
	// region not in here are never reported missing.
	complete map[string]bool
	// Regions are the regions (AWS) or subscriptions (Azure) this run
	// covered.
	Regions []string
	// regionSets keeps each absorbed inventory's regions apart, so that
	// "listed in every region" is judged within one cloud's scan.
	regionSets [][]string
	// APIAttempts counts every HTTP request, retries included.
	APIAttempts int64
	// APICalls counts API operations (not their retries), for the
	// calls-per-resource figure.
	APICalls int64
}

// NewResult returns an empty result for the given regions.
func NewResult(regions []string) *Result {
	return &Result{complete: map[string]bool{}, Regions: append([]string(nil), regions...), regionSets: [][]string{append([]string(nil), regions...)}}
}

// Add records resources listed for a type in a region and marks that
// (type, region) as completely read.
func (r *Result) Add(typ, region string, res []model.Resource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Resources = append(r.Resources, res...)
	r.complete[typ+"|"+region] = true
}

// Fail records a scope that could not be read as a whole.
func (r *Result) Fail(scope Scope, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Errors = append(r.Errors, ScopeError{Scope: scope.String(), Message: err.Error()})
}

// FailType records that one type of a scope could not be read. A scope
// keeps one ScopeError however many of its types fail: its message is the
// cause when they all failed alike (the usual case: a denied or
// unreachable service), and "TYPE: cause; ..." otherwise, so a report
// says each distinct problem once.
func (r *Result) FailType(scope Scope, typ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := scope.String()
	if r.failures == nil {
		r.failures = map[string][]typeFailure{}
	}
	r.failures[key] = append(r.failures[key], typeFailure{typ: typ, cause: err.Error()})
	fs := r.failures[key]
	e := ScopeError{Scope: key}
	same := true
	for _, f := range fs {
		e.Types = append(e.Types, f.typ)
		same = same && f.cause == fs[0].cause
	}
	if same {
		e.Message = fs[0].cause
	} else {
		parts := make([]string, 0, len(fs))
		for _, f := range fs {
			parts = append(parts, f.typ+": "+f.cause)
		}
		e.Message = strings.Join(parts, "; ")
	}
	sort.Strings(e.Types)
	for i := range r.Errors {
		if r.Errors[i].Scope == key && len(r.Errors[i].Types) > 0 {
			r.Errors[i] = e
			return
		}
	}
	r.Errors = append(r.Errors, e)
}

// Complete reports whether a type was fully listed in a region. For global
// types pass region "".
func (r *Result) Complete(typ, region string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.complete[typ+"|"+region]
}

// CompleteAnywhere reports whether a type was fully listed in every region
// this run covered (or globally). It decides whether a desired resource
// whose region is unknown can be called missing.
func (r *Result) CompleteAnywhere(typ string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.complete[typ+"|"] {
		return true
	}
	for _, set := range r.regionSets {
		if len(set) == 0 {
			continue
		}
		all := true
		for _, reg := range set {
			if !r.complete[typ+"|"+reg] {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// Sort orders resources and errors so output is deterministic.
func (r *Result) Sort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.Slice(r.Resources, func(i, j int) bool {
		a, b := r.Resources[i], r.Resources[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return a.ID < b.ID
	})
	sort.Slice(r.Errors, func(i, j int) bool { return r.Errors[i].Scope < r.Errors[j].Scope })
}

// Absorb adds another result (another cloud's inventory) to this one.
func (r *Result) Absorb(other *Result) {
	other.mu.Lock()
	res := append([]model.Resource(nil), other.Resources...)
	errs := append([]ScopeError(nil), other.Errors...)
	complete := make(map[string]bool, len(other.complete))
	for k, v := range other.complete {
		complete[k] = v
	}
	regions := append([]string(nil), other.Regions...)
	sets := append([][]string(nil), other.regionSets...)
	calls, attempts := other.APICalls, other.APIAttempts
	other.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.Resources = append(r.Resources, res...)
	r.Errors = append(r.Errors, errs...)
	for k, v := range complete {
		r.complete[k] = v
	}
	r.Regions = append(r.Regions, regions...)
	r.regionSets = append(r.regionSets, sets...)
	r.APICalls += calls
	r.APIAttempts += attempts
}
