package retention

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRun: each enabled rule is called once with now minus its age, a
// disabled rule is skipped, and a failing rule neither stops the others
// nor hides its error.
func TestRun(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	got := map[string]time.Time{}
	rule := func(name string, keep time.Duration, n int64, err error) Rule {
		return Rule{Name: name, Keep: keep, Prune: func(_ context.Context, before time.Time) (int64, error) {
			if _, dup := got[name]; dup {
				t.Errorf("%s called twice", name)
			}
			got[name] = before
			return n, err
		}}
	}
	boom := errors.New("disk full")
	p := &Pruner{Now: func() time.Time { return now }, Rules: []Rule{
		rule("a", time.Hour, 3, nil),
		rule("off", 0, 9, nil),
		rule("broken", 24*time.Hour, 1, boom),
		rule("b", 90*24*time.Hour, 0, nil),
	}}
	res, err := p.Run(context.Background())
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want it to wrap %v", err, boom)
	}
	tests := []struct {
		rule   string
		before time.Time
		rows   int64
		called bool
	}{
		{"a", now.Add(-time.Hour), 3, true},
		{"off", time.Time{}, 0, false},
		{"broken", now.Add(-24 * time.Hour), 1, true},
		{"b", now.AddDate(0, 0, -90), 0, true},
	}
	for _, tc := range tests {
		before, called := got[tc.rule]
		if called != tc.called || !before.Equal(tc.before) {
			t.Errorf("%s: called=%v before=%v, want called=%v before=%v", tc.rule, called, before, tc.called, tc.before)
		}
		if res[tc.rule] != tc.rows {
			t.Errorf("%s: result %d rows, want %d", tc.rule, res[tc.rule], tc.rows)
		}
	}
}
