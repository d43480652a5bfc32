// Package inventory defines what a live cloud inventory hands to the drift
// engine: the resources it saw, the scopes it read completely, and the
// scopes it could not read. The per-cloud listers live in sub-packages.
package inventory

import (
	"fmt"
	"slices"
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
// "global"), in one account when a scan reads several. It is what the
// report's errors refer to: aws/us-east-1/ec2, or
// aws/123456789012/us-east-1/ec2 in a multi-account scan.
type Scope struct {
	Provider string
	Account  string
	Region   string
	Service  string
}

func (s Scope) String() string {
	if s.Account != "" {
		return fmt.Sprintf("%s/%s/%s/%s", s.Provider, s.Account, s.Region, s.Service)
	}
	return fmt.Sprintf("%s/%s/%s", s.Provider, s.Region, s.Service)
}

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
	// accounts holds, for results of multi-account scans, every account
	// the scan set out to read (read or not) and its regions. Their
	// complete scopes are keyed by account too (see AddIn).
	accounts map[string][]string
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

// AddAccount records that a multi-account scan set out to read account in
// regions. An account recorded here whose scopes are not complete (its
// role could not be assumed) makes every "complete in every account"
// question false, so the resources declared there are never missing.
func (r *Result) AddAccount(account string, regions []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.accounts == nil {
		r.accounts = map[string][]string{}
	}
	have := r.accounts[account]
	for _, reg := range regions {
		if !slices.Contains(have, reg) {
			have = append(have, reg)
		}
	}
	if have == nil {
		have = []string{}
	}
	r.accounts[account] = have
}

// Accounts lists the accounts of a multi-account scan, sorted.
func (r *Result) Accounts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.accounts))
	for a := range r.accounts {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// AddIn is Add for one account of a multi-account scan: the (type,
// region) is complete in that account only.
func (r *Result) AddIn(account, typ, region string, res []model.Resource) {
	if account == "" {
		r.Add(typ, region, res)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Resources = append(r.Resources, res...)
	r.complete[accountKey(account, typ, region)] = true
}

func accountKey(account, typ, region string) string { return typ + "|" + region + "|" + account }

// CompleteIn reports whether a type was fully listed in a region of one
// account. An empty account asks about every account the scan covered
// (the account of a declared resource that cannot be told).
func (r *Result) CompleteIn(account, typ, region string) bool {
	if account == "" {
		return r.Complete(typ, region)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.complete[accountKey(account, typ, region)]
}

// CompleteAnywhereIn reports whether a type was fully listed in every
// region of one account (or globally in it); an empty account asks about
// every account.
func (r *Result) CompleteAnywhereIn(account, typ string) bool {
	if account == "" {
		return r.CompleteAnywhere(typ)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.completeEverywhere(account, typ)
}

// completeEverywhere: the type is complete globally or in every region
// of the account. Called with mu held.
func (r *Result) completeEverywhere(account, typ string) bool {
	if r.complete[accountKey(account, typ, "")] {
		return true
	}
	regions, ok := r.accounts[account]
	if !ok || len(regions) == 0 {
		return false
	}
	for _, reg := range regions {
		if !r.complete[accountKey(account, typ, reg)] {
			return false
		}
	}
	return true
}

// everyAccount reports whether a multi-account scan covered accounts and
// ok holds for each of them. Called with mu held.
func (r *Result) everyAccount(ok func(account string) bool) bool {
	if len(r.accounts) == 0 {
		return false
	}
	for a := range r.accounts {
		if !ok(a) {
			return false
		}
	}
	return true
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
// types pass region "". In a multi-account scan it is complete when it
// is so in every account the scan covered.
func (r *Result) Complete(typ, region string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.complete[typ+"|"+region] {
		return true
	}
	return r.everyAccount(func(a string) bool { return r.complete[accountKey(a, typ, region)] })
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
	if r.everyAccount(func(a string) bool { return r.completeEverywhere(a, typ) }) {
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
	accounts := make(map[string][]string, len(other.accounts))
	for a, regs := range other.accounts {
		accounts[a] = append([]string{}, regs...)
	}
	other.mu.Unlock()
	for a, regs := range accounts {
		r.AddAccount(a, regs)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.Resources = append(r.Resources, res...)
	for _, e := range errs {
		// Parts of one scan may each report the same account-wide
		// failure: it is one problem.
		if !slices.ContainsFunc(r.Errors, func(have ScopeError) bool {
			return have.Scope == e.Scope && have.Message == e.Message && slices.Equal(have.Types, e.Types)
		}) {
			r.Errors = append(r.Errors, e)
		}
	}
	for k, v := range complete {
		r.complete[k] = v
	}
	r.Regions = append(r.Regions, regions...)
	r.regionSets = append(r.regionSets, sets...)
	r.APICalls += calls
	r.APIAttempts += attempts
}

// Snapshot is a Result in a form that can be stored and read back: a
// part of a scan run by one replica is joined with the others by
// another. Resources keep Default, which their JSON form leaves out.
type Snapshot struct {
	Resources   []SnapshotResource  `json:"resources"`
	Errors      []ScopeError        `json:"errors,omitempty"`
	Complete    []string            `json:"complete,omitempty"`
	Regions     []string            `json:"regions,omitempty"`
	Accounts    map[string][]string `json:"accounts,omitempty"`
	APICalls    int64               `json:"api_calls"`
	APIAttempts int64               `json:"api_attempts"`
}

// SnapshotResource is a resource with why the cloud created it.
type SnapshotResource struct {
	model.Resource
	Default string `json:"default,omitempty"`
}

// Snapshot captures the result.
func (r *Result) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Errors: append([]ScopeError(nil), r.Errors...), Regions: append([]string(nil), r.Regions...),
		APICalls: r.APICalls, APIAttempts: r.APIAttempts}
	s.Resources = make([]SnapshotResource, len(r.Resources))
	for i, res := range r.Resources {
		s.Resources[i] = SnapshotResource{Resource: res, Default: res.Default}
	}
	for k := range r.complete {
		s.Complete = append(s.Complete, k)
	}
	sort.Strings(s.Complete)
	if len(r.accounts) > 0 {
		s.Accounts = map[string][]string{}
		for a, regs := range r.accounts {
			s.Accounts[a] = append([]string{}, regs...)
		}
	}
	return s
}

// FromSnapshot rebuilds a result captured by Snapshot.
func FromSnapshot(s Snapshot) *Result {
	r := NewResult(s.Regions)
	r.Errors = append(r.Errors, s.Errors...)
	r.Resources = make([]model.Resource, len(s.Resources))
	for i, res := range s.Resources {
		r.Resources[i] = res.Resource
		r.Resources[i].Default = res.Default
	}
	for _, k := range s.Complete {
		r.complete[k] = true
	}
	for a, regs := range s.Accounts {
		r.AddAccount(a, regs)
	}
	r.APICalls, r.APIAttempts = s.APICalls, s.APIAttempts
	return r
}
