package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"cel.dev/cel-go/cel"
	celcommon "cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
)

// compiledSet is the evaluation form of a Set: one CEL program per rule
// and the rules indexed by Terraform type, so a resource only meets the
// rules written for its type.
type compiledSet struct {
	programs map[*Rule]*compiledRule
	byType   map[string][]*compiledRule
	// lookups are the related() lookups the rules make, so an evaluation
	// indexes exactly the resources and keys they need.
	lookups map[lookup]bool
}

// compiledRule holds up to two programs for one rule. Runtime cost
// tracking more than doubles the time of a comprehension rule, and the
// rules that need it (nested loops over attributes) are the expensive
// ones, so a rule is tracked only on the resources where its static worst
// case, computed for that resource's largest attribute, could exceed
// CostLimit. On every other resource the tracker could never fire, and the
// untracked program returns the same result.
type compiledRule struct {
	rule *Rule
	// lookups are this rule's related() calls.
	lookups []lookup
	// fast evaluates without cost tracking; nil when no input size is
	// provably under the limit.
	fast cel.Program
	// tracked stops at CostLimit; nil when the rule never needs it.
	tracked cel.Program
	// fastUpTo is the attribute size (see activation.maxSize) up to which
	// fast may run: the static estimate for inputs no larger stays within
	// CostLimit. math.MaxInt when the rule is never tracked.
	fastUpTo int
}

// program picks the program for a resource whose largest string, list or
// map has maxSize elements.
func (cr *compiledRule) program(maxSize int) cel.Program {
	if maxSize <= cr.fastUpTo {
		return cr.fast
	}
	return cr.tracked
}

// newEnv declares what a rule may use: `resource`, a map of the resource's
// Terraform attributes; `json(string)`, because IAM and bucket policies are
// JSON documents held in string attributes; the CEL string extensions;
// `related(...)` to look at other resources (see related.go); `known(v)`
// and the `isSet(resource.x)` macro for values a plan does not know yet.
// Numbers from JSON are doubles and numbers in rules are ints, so
// cross-type numeric comparisons are on (`r.from_port <= 22` must work).
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
		cel.Function("json",
			cel.Overload("json_string_dyn", []*cel.Type{cel.StringType}, cel.DynType,
				cel.UnaryBinding(decodeJSON))),
		// known(v) is false for a value the plan does not know yet, true
		// for a known one (an absent attribute is known to be unset): it
		// is how a rule states what a value left to the provider means
		// (S3 encrypts every new bucket, so an encryption block the plan
		// leaves unknown is not a violation). Live, an attribute the
		// inventory did not read stays unknown: known() of it is unknown,
		// not false. Late-bound because it asks the evaluation why a
		// value is unknown.
		cel.Function(knownFunc,
			cel.Overload(knownFunc+"_dyn", []*cel.Type{cel.DynType}, cel.BoolType,
				cel.LateFunctionBinding(), cel.OverloadIsNonStrict())),
		cel.Function(nonEmptyFunc,
			cel.Overload(nonEmptyFunc+"_dyn", []*cel.Type{cel.DynType}, cel.BoolType,
				cel.UnaryBinding(nonEmpty))),
		cel.Macros(cel.GlobalMacro("isSet", 1, expandIsSet)),
		// related() is bound per evaluation (it needs the other
		// resources), hence late binding; it is non-strict so that it can
		// pair resources through values that are not known yet.
		cel.Function(relatedFunc,
			cel.Overload(relatedFunc+"_type", []*cel.Type{cel.StringType}, cel.ListType(cel.MapType(cel.StringType, cel.DynType)),
				cel.LateFunctionBinding(), cel.OverloadIsNonStrict()),
			cel.Overload(relatedFunc+"_type_attr_value", []*cel.Type{cel.StringType, cel.StringType, cel.DynType}, cel.ListType(cel.MapType(cel.StringType, cel.DynType)),
				cel.LateFunctionBinding(), cel.OverloadIsNonStrict())),
	)
}

const (
	relatedFunc  = "related"
	knownFunc    = "known"
	nonEmptyFunc = "plumb_non_empty"
)

// nonEmpty is true for a value that says something: not null, not an
// empty string, list or map. false and 0 are values.
func nonEmpty(v ref.Val) ref.Val {
	switch x := v.(type) {
	case types.Null:
		return types.False
	case types.String:
		return types.Bool(x != "")
	case traits.Sizer:
		if n, ok := x.Size().(types.Int); ok {
			return types.Bool(n > 0)
		}
	}
	return types.True
}

// expandIsSet expands isSet(resource.x) to
//
//	has(resource.x) && (!known(resource.x) || plumb_non_empty(resource.x))
//
// so "is set" means: present, and either not known yet but set by the
// configuration (a reference to another resource), or a known value that
// is not null or empty. An attribute the provider computes by itself is
// neither: isSet() on it is unknown, and the rule is not evaluated.
func expandIsSet(eh cel.MacroExprFactory, _ celast.Expr, args []celast.Expr) (celast.Expr, *celcommon.Error) {
	arg := args[0]
	if arg.Kind() != celast.SelectKind || arg.AsSelect().IsTestOnly() {
		return nil, eh.NewError(arg.ID(), "isSet() wants a field selection such as resource.kms_key_id")
	}
	sel := arg.AsSelect()
	has := eh.NewPresenceTest(eh.Copy(sel.Operand()), sel.FieldName())
	unknown := eh.NewCall(operators.LogicalNot, eh.NewCall(knownFunc, eh.Copy(arg)))
	nonEmpty := eh.NewCall(nonEmptyFunc, eh.Copy(arg))
	return eh.NewCall(operators.LogicalAnd, has, eh.NewCall(operators.LogicalOr, unknown, nonEmpty)), nil
}

// decodeJSON is the `json` CEL function. Invalid JSON is an evaluation
// error (the outcome is an error, not a violation): a document plumb
// cannot read must not be reported as compliant or as violating.
func decodeJSON(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return types.NewErr("json: %v", err)
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

// compileRules checks every rule and compiles its deny expression. All
// problems are reported at once, each with the rule's file and line.
func compileRules(rules []*Rule) (*compiledSet, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy: building CEL environment: %w", err)
	}
	cs := &compiledSet{
		programs: make(map[*Rule]*compiledRule, len(rules)),
		byType:   map[string][]*compiledRule{},
		lookups:  map[lookup]bool{},
	}
	var errs []error
	ids := map[string]*Rule{}
	for _, r := range rules {
		if r == nil {
			errs = append(errs, errors.New("policy: nil rule"))
			continue
		}
		if prev, dup := ids[r.ID]; dup {
			errs = append(errs, ruleErr(r, r.Line, "duplicate rule id %q (first defined at %s)", r.ID, where(prev.File, prev.Line)))
			continue
		}
		ids[r.ID] = r
		if err := checkRule(r); err != nil {
			errs = append(errs, err)
			continue
		}
		cr, err := compileRule(env, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs.programs[r] = cr
		for _, l := range cr.lookups {
			cs.lookups[l] = true
		}
		for _, t := range r.Resources {
			cs.byType[t] = append(cs.byType[t], cr)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cs, nil
}

// checkRule validates the fields the YAML loader also checks, for rules
// built in code.
func checkRule(r *Rule) error {
	line := r.Line
	switch {
	case r.ID == "":
		return ruleErr(r, line, "rule has no id")
	case len(r.Resources) == 0:
		return ruleErr(r, line, "rule %s: no resource types", r.ID)
	case strings.TrimSpace(r.Deny) == "":
		return ruleErr(r, line, "rule %s: no deny expression", r.ID)
	}
	if _, ok := severityRank[r.Severity]; !ok {
		return ruleErr(r, line, "rule %s: severity %q is not one of low, medium, high, critical", r.ID, r.Severity)
	}
	return nil
}

func compileRule(env *cel.Env, r *Rule) (*compiledRule, error) {
	line := r.DenyLine
	if line == 0 {
		line = r.Line
	}
	ast, iss := env.Compile(r.Deny)
	if iss != nil && iss.Err() != nil {
		return nil, ruleErr(r, line, "rule %s: %s", r.ID, strings.TrimSpace(iss.Err().Error()))
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, ruleErr(r, line, "rule %s: deny must be a boolean expression, got %s", r.ID, t)
	}
	lookups, err := ruleLookups(ast)
	if err != nil {
		return nil, ruleErr(r, line, "rule %s: %v", r.ID, err)
	}
	program := func(opts ...cel.ProgramOption) (cel.Program, error) {
		prg, err := env.Program(ast, append([]cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}, opts...)...)
		if err != nil {
			return nil, ruleErr(r, line, "rule %s: %v", r.ID, err)
		}
		return prg, nil
	}
	cr := &compiledRule{rule: r, lookups: lookups}
	// Runtime cost tracking roughly doubles the work of a simple rule, so
	// only rules that could exceed the limit pay for it. The static
	// estimate assumes no attribute string or list is longer than
	// maxAttrSize: a rule under the limit on that assumption does at most
	// a few linear passes over its input, and only superlinear rules
	// (nested loops over attributes) can run away; those are tracked on
	// any resource with an attribute too large for fastUpTo and stopped
	// at CostLimit.
	if est, err := env.EstimateCost(ast, attrSizes(maxAttrSize)); err == nil && est.Max <= CostLimit {
		prg, err := program()
		if err != nil {
			return nil, err
		}
		cr.fast, cr.fastUpTo = prg, math.MaxInt
		return cr, nil
	}
	tracked, err := program(cel.CostLimit(CostLimit))
	if err != nil {
		return nil, err
	}
	cr.tracked = tracked
	cr.fastUpTo = fastLimit(env, ast)
	if cr.fastUpTo >= 0 {
		if cr.fast, err = program(); err != nil {
			return nil, err
		}
	}
	return cr, nil
}

// fastLimit is a large attribute size for which the static cost estimate
// of ast stays within CostLimit, or -1 when even empty inputs may exceed it
// (or the estimate fails). The estimate grows with the size bound, so a
// search finds it: first the power of two, then three halvings within it.
// The result is within 1/8 of the largest such size; exactness would only
// move a few resources from the tracked to the fast program, for twice the
// estimates (the estimator dominates the compile time of such rules).
func fastLimit(env *cel.Env, ast *cel.Ast) int {
	under := func(size int) bool {
		est, err := env.EstimateCost(ast, attrSizes(size))
		return err == nil && est.Max <= CostLimit
	}
	if !under(1) {
		if under(0) {
			return 0
		}
		return -1
	}
	// under(1<<lo) holds; under(1<<hi) does not (1<<hi >= maxAttrSize,
	// which the caller found over the limit).
	lo, hi := 0, bits.Len(maxAttrSize-1)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; under(1 << mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	ok, bad := 1<<lo, 1<<hi
	for range 3 {
		if mid := ok + (bad-ok)/2; under(mid) {
			ok = mid
		} else {
			bad = mid
		}
	}
	return ok
}

func ruleErr(r *Rule, line int, format string, args ...any) error {
	return &LoadError{File: r.File, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// maxAttrSize is the longest attribute string or list the static cost
// estimate assumes (64 Ki: above IAM's 6 KiB policy documents and
// EC2's 16 KiB user data).
const maxAttrSize = 1 << 16

// attrSizes bounds every size (of an attribute or of a value derived from
// one, such as a decoded JSON document) at its value for the static
// estimate.
type attrSizes uint64

func (attrSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (a attrSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: uint64(a)}
}
