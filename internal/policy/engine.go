package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// compiledSet is the evaluation form of a Set: one CEL program per rule
// and the rules indexed by Terraform type, so a resource only meets the
// rules written for its type.
type compiledSet struct {
	programs map[*Rule]*compiledRule
	byType   map[string][]*compiledRule
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
// JSON documents held in string attributes; the CEL string extensions.
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
	)
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
	program := func(opts ...cel.ProgramOption) (cel.Program, error) {
		prg, err := env.Program(ast, append([]cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}, opts...)...)
		if err != nil {
			return nil, ruleErr(r, line, "rule %s: %v", r.ID, err)
		}
		return prg, nil
	}
	cr := &compiledRule{rule: r}
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

// activation hands `resource` to a program without building a map per
// evaluation: one activation per worker, pointed at each subject in turn.
type activation struct {
	resource ref.Val
	// frame wraps the activation in the interpreter's execution frame once,
	// for every evaluation of the worker: Program.Eval given a frame uses
	// it as is, instead of taking one from a pool, searching the activation
	// for function bindings and returning the frame after each of the
	// ~50 evaluations of a resource. The only state an evaluation leaves
	// on it is a cost tracker, which run clears.
	frame *interpreter.ExecutionFrame
	// maxSize is the length of the subject's largest string (in bytes, at
	// least its CEL size in code points), list or map, the attribute map
	// itself included; math.MaxInt when a value of a type CEL sizes
	// differently is present. It picks the program of a compiledRule.
	maxSize int
}

func newActivation() *activation {
	a := &activation{}
	if f, err := interpreter.NewExecutionFrame(a); err == nil {
		a.frame = f
	}
	return a
}

// input is what Program.Eval gets: the frame, or the activation itself if
// the frame could not be built (it can only fail for other input types).
func (a *activation) input() any {
	if a.frame != nil {
		return a.frame
	}
	return a
}

// close hands the frame back to the interpreter's pool.
func (a *activation) close() {
	if a.frame != nil {
		a.frame.Close()
		a.frame = nil
	}
}

// set converts the subject's attributes to CEL values once, deeply, so
// the ~50 rules a resource meets do not each re-wrap the same nested lists
// and maps (the dominant cost of comprehension rules otherwise), and
// measures the largest of them on the way.
func (a *activation) set(attrs map[string]any) {
	a.maxSize = 0
	a.resource = a.toCEL(attrs)
}

func (a *activation) grow(n int) {
	a.maxSize = max(a.maxSize, n)
}

func (a *activation) toCEL(v any) ref.Val {
	switch x := v.(type) {
	case map[string]any:
		a.grow(len(x))
		m := make(map[string]ref.Val, len(x))
		for k, e := range x {
			a.grow(len(k))
			m[k] = a.toCEL(e)
		}
		return types.NewMap(types.DefaultTypeAdapter, m)
	case []any:
		a.grow(len(x))
		l := make([]ref.Val, len(x))
		for i, e := range x {
			l[i] = a.toCEL(e)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	case nil:
		return types.NullValue
	case string:
		a.grow(len(x))
	case bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	default:
		// A container or string type converted lazily by the adapter
		// ([]string, map[string]string, []byte, ...): its sizes are not
		// measured here, so every tracked rule stays tracked.
		a.maxSize = math.MaxInt
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == "resource" {
		return a.resource, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// evalOne runs one rule on one subject. It sets the activation itself
// only when called standalone (Check); evaluate sets it once per subject.
func evalOne(cr *compiledRule, s *Subject, act *activation) (bool, error) {
	if act.resource == nil {
		act.set(s.Attributes)
	}
	return run(cr, s, act)
}

func run(cr *compiledRule, s *Subject, act *activation) (bool, error) {
	r := cr.rule
	out, _, err := cr.program(act.maxSize).Eval(act.input())
	if act.frame != nil && act.frame.CostTracker() != nil {
		// A tracked program leaves its tracker (and the cost it counted)
		// on the frame; the next rule must start from zero or untracked.
		act.frame.SetCostTracker(nil)
	}
	if err != nil {
		return false, evalErr(r, s, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("rule %s on %s: deny returned %s, want bool", r.ID, subjectName(s), out.Type().TypeName())
	}
	return bool(b), nil
}

func evalErr(r *Rule, s *Subject, err error) error {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return fmt.Errorf("rule %s on %s: %w (limit %d)", r.ID, subjectName(s), ErrCostLimit, CostLimit)
	}
	return fmt.Errorf("rule %s on %s: %w", r.ID, subjectName(s), err)
}

func subjectName(s *Subject) string {
	if l := s.Label(); l != "" {
		return l
	}
	return s.Type
}

// chunk is how many subjects a worker takes at a time: large enough that
// the shared counter is not contended, small enough to balance uneven
// types across workers.
const chunk = 512

// evaluate lays out every outcome up front (one allocation, positions from
// a prefix sum) so workers write disjoint ranges without locks and the
// order does not depend on scheduling.
func (cs *compiledSet) evaluate(ctx context.Context, subjects []Subject, workers int) ([]Outcome, error) {
	offsets := make([]int, len(subjects)+1)
	for i := range subjects {
		offsets[i+1] = offsets[i] + len(cs.byType[subjects[i].Type])
	}
	out := make([]Outcome, offsets[len(subjects)])
	if len(out) == 0 {
		return out, ctx.Err()
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunks := (len(subjects) + chunk - 1) / chunk
	workers = min(workers, chunks)

	work := func(lo, hi int, act *activation) {
		for i := lo; i < hi; i++ {
			s := &subjects[i]
			rules := cs.byType[s.Type]
			if len(rules) == 0 {
				continue
			}
			act.set(s.Attributes)
			o := out[offsets[i]:offsets[i+1]]
			for j, cr := range rules {
				v, err := run(cr, s, act)
				o[j] = Outcome{Rule: cr.rule, Subject: s, Violated: v, Err: err}
			}
		}
	}

	if workers <= 1 {
		act := newActivation()
		defer act.close()
		for c := 0; c < chunks; c++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("policy: evaluation stopped: %w", err)
			}
			work(c*chunk, min((c+1)*chunk, len(subjects)), act)
		}
		return out, nil
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			act := newActivation()
			defer act.close()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks || ctx.Err() != nil {
					return
				}
				work(c*chunk, min((c+1)*chunk, len(subjects)), act)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("policy: evaluation stopped: %w", err)
	}
	return out, nil
}
