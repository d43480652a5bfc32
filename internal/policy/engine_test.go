package policy

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// A rule is evaluated without cost tracking only on resources small
// enough that its static worst case is under CostLimit; these tests hold
// the split to that and check it changes no result.

func TestCostTrackingSplit(t *testing.T) {
	simple := compileOne(t, `has(resource.size) && resource.size > 3`)
	if cr := simple.compiled.programs[simple.Rules[0]]; cr.tracked != nil || cr.fast == nil || cr.fastUpTo != math.MaxInt {
		t.Errorf("linear rule: tracked=%v fast=%v fastUpTo=%d, want only an untracked program", cr.tracked != nil, cr.fast != nil, cr.fastUpTo)
	}

	const nested = `resource.items.exists(a, resource.items.exists(b, a + b < 0.0))`
	s := compileOne(t, nested)
	cr := s.compiled.programs[s.Rules[0]]
	if cr.tracked == nil || cr.fast == nil || cr.fastUpTo <= 0 || cr.fastUpTo >= maxAttrSize {
		t.Fatalf("nested rule: tracked=%v fast=%v fastUpTo=%d", cr.tracked != nil, cr.fast != nil, cr.fastUpTo)
	}
	// fastUpTo is proven: the static bound for that size is under the limit.
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(nested)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	if est, err := env.EstimateCost(ast, attrSizes(cr.fastUpTo)); err != nil || est.Max > CostLimit {
		t.Errorf("estimate at fastUpTo %d = %+v, %v; want <= %d", cr.fastUpTo, est, err, CostLimit)
	}
	if est, err := env.EstimateCost(ast, attrSizes(2*cr.fastUpTo)); err != nil || est.Max <= CostLimit {
		t.Errorf("estimate at twice fastUpTo %d = %+v, %v; want over %d (fastUpTo is too small)", cr.fastUpTo, est, err, CostLimit)
	}

	// Just under and just over the threshold, the verdict is the same.
	for _, n := range []int{cr.fastUpTo, cr.fastUpTo + 1} {
		items := make([]any, n)
		for i := range items {
			items[i] = float64(i)
		}
		items[n-1] = -1.0 // a + b < 0 only for the last pair
		if size, want := measure(map[string]any{"items": items}), cr.fastUpTo; (size <= want) != (n == cr.fastUpTo) {
			t.Errorf("n=%d: maxSize %d picks the wrong program (fastUpTo %d)", n, size, want)
		}
		v, err := s.Check(s.Rules[0], map[string]any{"items": items})
		if err != nil || !v {
			t.Errorf("n=%d: violated=%v err=%v, want violated", n, v, err)
		}
	}
}

// measure is the size a worker's converter finds for a subject's
// attributes, which picks the program of a tracked rule.
func measure(attrs map[string]any) int {
	c := converter{table: &sources{}}
	c.convert(attrs)
	return c.maxSize
}

func TestActivationMaxSize(t *testing.T) {
	tests := []struct {
		attrs map[string]any
		want  int
	}{
		{nil, 0},
		{map[string]any{"a": 1.0, "b": true, "c": nil, "d": 3}, 4},
		{map[string]any{"name": strings.Repeat("x", 40)}, 40},
		{map[string]any{"l": []any{1.0, []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0}}}, 6},
		{map[string]any{"m": map[string]any{"k": "v", strings.Repeat("k", 9): 1.0}}, 9},
		// Types the adapter converts lazily are not measured: never fast.
		{map[string]any{"l": []string{"a"}}, math.MaxInt},
		{map[string]any{"m": map[string]string{"a": "b"}}, math.MaxInt},
	}
	for i, tt := range tests {
		if got := measure(tt.attrs); got != tt.want {
			t.Errorf("%d: maxSize = %d, want %d", i, got, tt.want)
		}
	}
}

// TestTrackedCostDoesNotCarryOver runs several tracked rules on one
// resource through one reused execution frame: each costs over a third of
// the limit, so a tracker left over from the previous rule would stop the
// next one.
func TestTrackedCostDoesNotCarryOver(t *testing.T) {
	const deny = `resource.items.exists(a, resource.items.exists(b, a + b < 0.0))`
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(deny)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		t.Fatal(err)
	}
	// The smallest list whose evaluation costs over a third of the limit.
	var items []any
	for n := 100; ; n += 20 {
		items = make([]any, n)
		for i := range items {
			items[i] = float64(i)
		}
		_, det, err := prg.Eval(map[string]any{"resource": map[string]any{"items": items}})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if c := *det.ActualCost(); c > CostLimit/3 {
			if c > CostLimit {
				t.Fatalf("n=%d costs %d, over the limit", n, c)
			}
			break
		}
	}
	var rules []*Rule
	for i := range 4 {
		rules = append(rules, &Rule{ID: fmt.Sprintf("r%d", i), Resources: []string{"aws_thing"}, Deny: deny, Severity: "low"})
	}
	s, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	// A long string makes the resource too large for the untracked program.
	attrs := map[string]any{"items": items, "pad": strings.Repeat("x", maxAttrSize)}
	out, err := s.EvaluateWorkers(context.Background(), []Subject{{Type: "aws_thing", ID: "a", Attributes: attrs}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Err != nil || o.Violated {
			t.Errorf("%s: violated=%v err=%v, want a pass", o.Rule.ID, o.Violated, o.Err)
		}
	}
}
