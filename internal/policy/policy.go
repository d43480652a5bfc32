// Package policy evaluates compliance rules written in CEL on resources
// described by their Terraform attributes, so one rule serves a planned
// resource (plan JSON) and a live one (the inventory) alike.
//
// Rules live in YAML files (see load.go for the format). Two packs are
// embedded, pci-dss-4.0 and cis-aws-3.0; user files can add rules or
// replace a pack rule by reusing its id. A Set compiles every rule once and
// evaluates them on many subjects, indexed by Terraform type, in parallel.
//
// Nothing unknown is taken as absent: a value a plan knows only after apply
// (an *Unknown attribute) or an attribute the live inventory did not read
// is CEL's unknown value, and a rule whose verdict depends on one is not
// evaluated (Outcome.Gaps says what was missing). Rules reach companion
// resources with related(), an index built once per evaluation (see
// related.go).
package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	Pass []Example
	Fail []Example
}

// Example is one sample resource and, for rules that look at related
// resources, the resources around it (by Terraform type). Related
// resources are evaluated as a plan would hold them: every resource of a
// type is listed, so a type that is absent has no resources.
type Example struct {
	Attributes map[string]any
	Related    map[string][]map[string]any
}

// Subject is a resource a rule is evaluated on.
type Subject struct {
	Provider string
	Type     string
	Address  string // Terraform address, when known
	ID       string
	Name     string
	Region   string
	// Account is the cloud account (AWS account id), when known: related()
	// without a key only returns resources of the subject's account.
	Account string
	Tags    map[string]string
	// Attributes are the Terraform attribute names and values. A value a
	// plan does not know yet is an *Unknown (see Unknown).
	Attributes map[string]any
	// Refs are, per top-level attribute, the addresses of the resources
	// its configuration expression refers to (plan only, when every
	// reference could be followed to a managed resource). related() uses
	// them to pair resources whose identifiers are not known yet.
	Refs map[string][]string
	File string // .tf file declaring it, when known
	Line int
}

// Unknown is the value of an attribute a plan does not know yet, which
// Terraform shows as "(known after apply)". internal/tfplan puts one
// wherever the plan's after_unknown marks a value, so a rule can tell
// "not set" from "not known yet": a rule whose verdict depends on an
// Unknown is not evaluated on that resource, never passed or violated.
type Unknown struct {
	// Configured means the configuration sets the attribute, to an
	// expression Terraform can only evaluate during the apply (a reference
	// to another resource's id or ARN, a jsonencode() over them). The
	// attribute will be set, so has() is true; its value is unknown. An
	// attribute the provider computes by itself (Configured false) may end
	// up null, so has() on it is unknown as well.
	Configured bool
	// Refs are the addresses of the managed resources the value is
	// computed from: the resources the configuration expression refers to,
	// or the resource itself for a computed attribute. Two unknown values
	// computed from the same single resource are taken to identify it,
	// which is how related() pairs a bucket with its public access block
	// before either exists.
	Refs []string
	// Untraced means part of the expression could not be followed to a
	// managed resource (a data source, a local value, a module output
	// built from several resources): the value cannot be paired.
	Untraced bool
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

// Outcome is the verdict of one rule on one subject. It is one of:
// violated (Violated), passed, not evaluated (Gaps: the verdict depends on
// values nobody has yet), or an error (Err: the rule could not run).
type Outcome struct {
	Rule     *Rule
	Subject  *Subject
	Violated bool
	Err      error
	// Gaps say what the verdict depends on and is not known: an attribute
	// known only after apply, an attribute the live inventory does not
	// read, related resources that were not read. Non-empty means the rule
	// was not evaluated on the subject; Violated is then false.
	Gaps []Gap
}

// NotEvaluated reports whether the rule could not decide for lack of
// values (as opposed to an error).
func (o *Outcome) NotEvaluated() bool { return o.Err == nil && len(o.Gaps) > 0 }

// Passed reports whether the rule was evaluated and is met.
func (o *Outcome) Passed() bool { return o.Err == nil && len(o.Gaps) == 0 && !o.Violated }

// Reason joins the gaps into one sentence for reports, leaving out the
// subject's own label where a gap is about the subject itself
// ("kms_key_id is known only after apply").
func (o *Outcome) Reason() string {
	own := ""
	if o.Subject != nil {
		own = subjectName(o.Subject)
	}
	parts := make([]string, 0, len(o.Gaps))
	for _, g := range o.Gaps {
		if g.Resource == own {
			g.Resource = ""
		}
		parts = append(parts, g.String())
	}
	return strings.Join(parts, "; ")
}

// Gap is one value an evaluation needed and did not have.
type Gap struct {
	// Resource is the label (address or id) of the resource the value
	// belongs to: the subject, or a related resource.
	Resource string
	// Attribute is the attribute path ("kms_key_id",
	// "ingress[0].cidr_blocks"); empty for a related lookup.
	Attribute string
	// Related is the Terraform type a related() lookup could not
	// complete; empty for an attribute.
	Related string
	// Reason says why the value is missing: "known only after apply",
	// "not read by the live inventory", or why a lookup is incomplete.
	Reason string
}

// String renders the gap for people: "aws_cloudtrail.main.kms_key_id is
// known only after apply", "aws_flow_log of vpc-1: not listed in
// eu-west-1".
func (g Gap) String() string {
	switch {
	case g.Related != "" && g.Resource != "":
		return g.Related + " related to " + g.Resource + ": " + g.Reason
	case g.Related != "":
		return g.Related + ": " + g.Reason
	case g.Attribute != "" && g.Resource != "":
		return g.Resource + "." + g.Attribute + " " + g.Reason
	case g.Attribute != "":
		return g.Attribute + " " + g.Reason
	}
	return g.Reason
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

// Evaluate runs every rule on every subject of its types, as a plan check
// does: the subjects are every resource there is (related() finds a
// companion among them or knows there is none), and an absent attribute
// is unset. Outcomes come subject by subject, in the order of subjects,
// and rule by rule in the order of the set, whatever the parallelism.
// Evaluation errors (a cost limit, bad JSON) and verdicts that depend on
// unknown values are outcomes, not a failure of Evaluate; only a
// cancelled context or a rule set that does not compile is.
func (s *Set) Evaluate(ctx context.Context, subjects []Subject) ([]Outcome, error) {
	return s.EvaluateWith(ctx, subjects, EvalOptions{})
}

// EvaluateWorkers is Evaluate with an explicit number of workers (0 means
// GOMAXPROCS), for callers that share the machine with other work.
func (s *Set) EvaluateWorkers(ctx context.Context, subjects []Subject, workers int) ([]Outcome, error) {
	return s.EvaluateWith(ctx, subjects, EvalOptions{Workers: workers})
}

// EvalOptions tune an evaluation.
type EvalOptions struct {
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
	// Live marks subjects read from a live inventory: an attribute that is
	// absent was not read (rather than not set), so a verdict that
	// depends on it is not evaluated, and related() trusts the absence of
	// a resource only where Coverage says the type was read.
	Live bool
	// Coverage says, in live mode, which related types were read
	// completely where; nil means none was (a single resource read back
	// at event time). Plan evaluation ignores it: a plan lists every
	// resource of its configuration.
	Coverage Coverage
}

// EvaluateWith is Evaluate with options.
func (s *Set) EvaluateWith(ctx context.Context, subjects []Subject, opts EvalOptions) ([]Outcome, error) {
	if err := s.compile(); err != nil {
		return nil, err
	}
	return s.compiled.evaluate(ctx, subjects, opts)
}

// Check evaluates one rule on one attribute map, outside any Set index.
// Tests and `plumb policy test` use it to run a rule's examples. A verdict
// that depends on an unknown value is an error here: examples are known.
func (s *Set) Check(r *Rule, attrs map[string]any) (bool, error) {
	return s.CheckExample(r, Example{Attributes: attrs})
}

// CheckExample evaluates one rule on an example and the related
// resources it lists, as a plan check would.
func (s *Set) CheckExample(r *Rule, ex Example) (bool, error) {
	if err := s.compile(); err != nil {
		return false, err
	}
	cr, ok := s.compiled.programs[r]
	if !ok {
		return false, errors.New("policy: rule " + r.ID + " is not part of this set")
	}
	subjects := []Subject{{Type: firstType(r), Address: "example", Attributes: ex.Attributes}}
	for _, typ := range sortedKeys(ex.Related) {
		for i, attrs := range ex.Related[typ] {
			subjects = append(subjects, Subject{Type: typ, Address: fmt.Sprintf("%s.example[%d]", typ, i), Attributes: attrs})
		}
	}
	one := &compiledSet{programs: s.compiled.programs, byType: map[string][]*compiledRule{subjects[0].Type: {cr}}, lookups: s.compiled.lookups}
	out, err := one.evaluate(context.Background(), subjects, EvalOptions{Workers: 1})
	if err != nil {
		return false, err
	}
	o := out[0]
	switch {
	case o.Err != nil:
		return false, o.Err
	case len(o.Gaps) > 0:
		return false, fmt.Errorf("rule %s: not evaluated: %s", r.ID, o.Reason())
	}
	return o.Violated, nil
}

func firstType(r *Rule) string {
	if len(r.Resources) > 0 {
		return r.Resources[0]
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
