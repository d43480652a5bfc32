// Package policy evaluates compliance rules written in CEL on resources
// described by their Terraform attributes, so one rule serves a planned
// resource (plan JSON) and a live one (the inventory) alike.
//
// Rules live in YAML files (see load.go for the format). Two packs are
// embedded, pci-dss-4.0 and cis-aws-3.0; user files can add rules or
// replace a pack rule by reusing its id. A Set compiles every rule once and
// evaluates them on many subjects, indexed by Terraform type, in parallel.
package policy

import (
	"context"
	"errors"
	"sync"

	"plumb/internal/model"
)

// Rule is one compliance control check.
type Rule struct {
	ID          string
	Title       string
	Resources   []string // Terraform types the rule applies to
	Deny        string   // CEL expression over `resource`; true means violated
	Message     string
	Severity    model.Severity
	Security    bool
	Controls    map[string][]string
	Remediation string
	File        string
	Line        int
	// DenyLine is the line of the deny key, so a CEL error points at the
	// expression rather than at the start of the rule.
	DenyLine int
	// Examples are attribute maps the rule must accept (Pass) and reject
	// (Fail); they document the rule and the tests hold every rule to them.
	Examples Examples
}

// Examples are sample resources for a rule, written as Terraform attribute
// maps exactly as a plan or state would hold them.
type Examples struct {
	Pass []map[string]any
	Fail []map[string]any
}

// Subject is a resource a rule is evaluated on.
type Subject struct {
	Provider   string
	Type       string
	Address    string // Terraform address, when known
	ID         string
	Name       string
	Region     string
	Tags       map[string]string
	Attributes map[string]any // Terraform attribute names
	File       string         // .tf file declaring it, when known
	Line       int
}

// Label is how a subject is named in messages and reports: the Terraform
// address when it is known (planned resources have no id yet), the id
// otherwise.
func (s *Subject) Label() string {
	if s.Address != "" {
		return s.Address
	}
	return s.ID
}

// Outcome is the verdict of one rule on one subject.
type Outcome struct {
	Rule     *Rule
	Subject  *Subject
	Violated bool
	Err      error
}

// Set is a compiled set of rules. A Set is safe for concurrent use once
// built; build it with Load, LoadPacks, Builtin or Compile. A Set literal
// is compiled on first use.
type Set struct {
	Rules []*Rule

	once     sync.Once
	compiled *compiledSet
	err      error
}

// ErrNotImplemented is kept for callers written against the API skeleton;
// the engine never returns it.
var ErrNotImplemented = errors.New("policy engine not implemented")

// ErrCostLimit marks an evaluation stopped because the rule exceeded
// CostLimit: a rule that could loop over a huge attribute must not stall a
// scan. Test with errors.Is on Outcome.Err.
var ErrCostLimit = errors.New("evaluation cost limit exceeded")

// CostLimit bounds the work (CEL cost units, roughly one per visited list
// element or call) one rule may spend on one resource. Real rules over
// security group rule lists stay in the hundreds; a million leaves room
// for large IAM documents while stopping runaway nested comprehensions.
const CostLimit = 1_000_000

// Load reads rule files (YAML) and directories of them (every *.yaml and
// *.yml below, in lexical order) and compiles them. Ids must be unique.
func Load(paths []string) (*Set, error) { return LoadPacks(nil, paths) }

// LoadPacks builds one Set from built-in packs and user rule files. Pack
// rules come first; a user rule with the id of a pack rule replaces it, so
// a team can tune a control without forking the pack. Duplicate ids among
// user files are still errors.
func LoadPacks(packs []string, paths []string) (*Set, error) {
	var base []*Rule
	seen := map[string]int{}
	for _, name := range packs {
		rules, err := packRules(name)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if _, dup := seen[r.ID]; dup {
				continue // a rule shared by two packs is loaded once
			}
			seen[r.ID] = len(base)
			base = append(base, r)
		}
	}
	user, err := readPaths(paths)
	if err != nil {
		return nil, err
	}
	for _, r := range user {
		if i, ok := seen[r.ID]; ok && i >= 0 {
			base[i] = r
			seen[r.ID] = -1 // replaced: a second user rule with this id is a duplicate, caught by readPaths
			continue
		}
		base = append(base, r)
	}
	return Compile(base)
}

// Builtin returns an embedded pack by name: every embedded rule that maps
// to a control of that standard, whichever pack file it is written in, so
// a control shared by two standards is checked by one rule.
func Builtin(name string) (*Set, error) { return LoadPacks([]string{name}, nil) }

// Packs lists the embedded packs.
func Packs() []string { return packNames() }

// Compile checks and compiles rules built in code (or loaded elsewhere).
// Every rule error is reported, joined, with the rule's file and line.
func Compile(rules []*Rule) (*Set, error) {
	s := &Set{Rules: rules}
	if err := s.compile(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) compile() error {
	s.once.Do(func() { s.compiled, s.err = compileRules(s.Rules) })
	return s.err
}

// Rule returns the rule with the given id, or nil.
func (s *Set) Rule(id string) *Rule {
	for _, r := range s.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Evaluate runs every rule on every subject of its types. Outcomes come
// subject by subject, in the order of subjects, and rule by rule in the
// order of the set, whatever the parallelism. Evaluation errors (a missing
// attribute, a cost limit) are outcomes, not a failure of Evaluate; only a
// cancelled context or a rule set that does not compile is.
func (s *Set) Evaluate(ctx context.Context, subjects []Subject) ([]Outcome, error) {
	if err := s.compile(); err != nil {
		return nil, err
	}
	return s.compiled.evaluate(ctx, subjects, 0)
}

// EvaluateWorkers is Evaluate with an explicit number of workers (0 means
// GOMAXPROCS), for callers that share the machine with other work.
func (s *Set) EvaluateWorkers(ctx context.Context, subjects []Subject, workers int) ([]Outcome, error) {
	if err := s.compile(); err != nil {
		return nil, err
	}
	return s.compiled.evaluate(ctx, subjects, workers)
}

// Check evaluates one rule on one attribute map, outside any Set index.
// Tests and `plumb policy test` use it to run a rule's examples.
func (s *Set) Check(r *Rule, attrs map[string]any) (bool, error) {
	if err := s.compile(); err != nil {
		return false, err
	}
	cr, ok := s.compiled.programs[r]
	if !ok {
		return false, errors.New("policy: rule " + r.ID + " is not part of this set")
	}
	sub := Subject{Type: firstType(r), Attributes: attrs}
	act := newActivation()
	defer act.close()
	return evalOne(cr, &sub, act)
}

func firstType(r *Rule) string {
	if len(r.Resources) > 0 {
		return r.Resources[0]
	}
	return ""
}
