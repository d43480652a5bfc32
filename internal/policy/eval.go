package policy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// activation hands `resource` to a program without building a map per
// evaluation: one activation per worker, pointed at each subject in turn.
// It also supplies related(), which needs the worker's subject and the
// shared index of related resources.
type activation struct {
	resource ref.Val
	// frame wraps the activation in the interpreter's execution frame once,
	// for every evaluation of the worker: Program.Eval given a frame uses
	// it as is, instead of taking one from a pool, searching the activation
	// for function bindings and returning the frame after each of the
	// ~50 evaluations of a resource. The only state an evaluation leaves
	// on it is a cost tracker, which run clears.
	frame *interpreter.ExecutionFrame
	// maxSize is the size of the subject's largest value (see
	// converter.maxSize); it picks the program of a compiledRule.
	maxSize int

	conv  converter
	table sources // this worker's sources: the subject's and its lookups'
	index *relIndex
	live  bool
	pos   int // the subject's position in the evaluated slice
	subj  *Subject
	// relatedOp and knownOp are the bound related() and known()
	// implementations, made once.
	relatedOp, knownOp functions.LateBoundOp
}

func newActivation(index *relIndex, live bool) *activation {
	a := &activation{index: index, live: live}
	a.conv.table = &a.table
	a.relatedOp = a.related
	a.knownOp = a.known
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

// set points the activation at subject i. A subject the index already
// converted (a type some rule looks up) is reused as is.
func (a *activation) set(subjects []Subject, i int) {
	a.pos, a.subj = i, &subjects[i]
	a.table.list = a.table.list[:0]
	if a.index != nil {
		if iv := a.index.values[i]; iv.val != nil {
			a.resource, a.maxSize = iv.val, iv.maxSize
			return
		}
	}
	a.conv.label = subjectName(a.subj)
	a.conv.own = a.subj.Address
	a.conv.open = a.live
	a.resource = a.conv.convert(a.subj.Attributes)
	a.maxSize = a.conv.maxSize
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	if name == "resource" {
		return a.resource, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation: related() is
// bound to this activation.
func (a *activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	switch name {
	case relatedFunc:
		return a.relatedOp, true
	case knownFunc:
		return a.knownOp, true
	}
	return nil, false
}

// known is the known() CEL function: false for a value a plan leaves to
// the apply; the unknown itself for anything else unknown (an attribute
// the live inventory did not read, an incomplete lookup), so a rule never
// mistakes "not read" for "left to the provider"; true for a known value
// and for an attribute that is absent (known to be unset). Other errors
// pass through.
func (a *activation) known(_ string, args ...ref.Val) ref.Val {
	switch v := args[0].(type) {
	case *types.Unknown:
		for _, id := range v.IDs() {
			if src, ok := a.source(id); !ok || src.reason != reasonAfterApply || src.related != "" {
				return v
			}
		}
		return types.False
	case *types.Err:
		if strings.Contains(v.Error(), "no such key") {
			return types.True
		}
		return v
	}
	return types.True
}

// source finds the source of an Unknown id: this evaluation's table for
// ids from 0 up, the index's for negative ids.
func (a *activation) source(id int64) (source, bool) {
	if id < 0 {
		if a.index == nil {
			return source{}, false
		}
		return a.index.table.get(id)
	}
	return a.table.get(id)
}

// gaps explains an unknown verdict: one Gap per attribute trail.
func (a *activation) gaps(u *types.Unknown) []Gap {
	var out []Gap
	for _, id := range u.IDs() {
		src, ok := a.source(id)
		trails, _ := u.GetAttributeTrails(id)
		for _, t := range trails {
			g := Gap{Resource: src.label, Related: src.related, Reason: src.reason}
			if !ok {
				g.Reason = "is not known"
			}
			if t.Variable() != "" {
				g.Attribute = t.String()
			}
			dup := false
			for _, o := range out {
				if o == g {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, g)
			}
		}
	}
	// Ids follow the order attributes were converted in (map order), so
	// sort for stable reports.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Related != b.Related {
			return a.Related < b.Related
		}
		if a.Attribute != b.Attribute {
			return a.Attribute < b.Attribute
		}
		return a.Reason < b.Reason
	})
	return out
}

// run evaluates one rule on the activation's subject.
func run(cr *compiledRule, act *activation) Outcome {
	r := cr.rule
	s := act.subj
	mark := len(act.table.list)
	out, _, err := cr.program(act.maxSize).Eval(act.input())
	if act.frame != nil && act.frame.CostTracker() != nil {
		// A tracked program leaves its tracker (and the cost it counted)
		// on the frame; the next rule must start from zero or untracked.
		act.frame.SetCostTracker(nil)
	}
	o := Outcome{Rule: r, Subject: s}
	switch v := out.(type) {
	case *types.Unknown:
		o.Gaps = act.gaps(v)
	case types.Bool:
		if err == nil {
			o.Violated = bool(v)
		}
	}
	switch {
	case o.Gaps != nil:
	case err != nil:
		o.Err = evalErr(r, s, err)
	case out == nil:
		o.Err = fmt.Errorf("rule %s on %s: deny returned nothing", r.ID, subjectName(s))
	default:
		if _, ok := out.(types.Bool); !ok {
			o.Err = fmt.Errorf("rule %s on %s: deny returned %s, want bool", r.ID, subjectName(s), out.Type().TypeName())
		}
	}
	// Lookups of this rule registered their gaps after the subject's.
	act.table.list = act.table.list[:mark]
	return o
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
// order does not depend on scheduling. When a rule looks at related
// resources, the index of them is built first, once, and shared read-only.
func (cs *compiledSet) evaluate(ctx context.Context, subjects []Subject, opts EvalOptions) ([]Outcome, error) {
	offsets := make([]int, len(subjects)+1)
	for i := range subjects {
		offsets[i+1] = offsets[i] + len(cs.byType[subjects[i].Type])
	}
	out := make([]Outcome, offsets[len(subjects)])
	if len(out) == 0 {
		return out, ctx.Err()
	}
	var index *relIndex
	if len(cs.lookups) > 0 {
		index = buildIndex(subjects, cs.lookups, opts)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunks := (len(subjects) + chunk - 1) / chunk
	workers = min(workers, chunks)

	work := func(lo, hi int, act *activation) {
		for i := lo; i < hi; i++ {
			rules := cs.byType[subjects[i].Type]
			if len(rules) == 0 {
				continue
			}
			act.set(subjects, i)
			o := out[offsets[i]:offsets[i+1]]
			for j, cr := range rules {
				o[j] = run(cr, act)
			}
		}
	}

	if workers <= 1 {
		act := newActivation(index, opts.Live)
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
			act := newActivation(index, opts.Live)
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
