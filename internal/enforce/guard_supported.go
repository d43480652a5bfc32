package enforce

import (
	"context"
	"fmt"
)

// Supported stops actions no executor can carry out: a provider without
// an executor, or a verb the executor has no implementation of for the
// type (delete of an aws_route53_zone, any delete on Azure).
type Supported struct{}

// Name implements Guard.
func (Supported) Name() string { return GuardSupported }

// Check implements Guard.
func (Supported) Check(_ context.Context, run *Run, cands []*Candidate) error {
	for _, c := range cands {
		a := c.Action
		ex := run.Executors[a.Resource.Provider]
		if IsRevert(a.Verb) {
			if why, ok := revertSupported(run, c); !ok {
				c.Block(GuardSupported, why)
			} else if ex != nil {
				a.Rank = ex.Rank(a.Verb, a.Resource.Type)
			}
			continue
		}
		switch {
		case ex == nil:
			c.Block(GuardSupported, fmt.Sprintf("plumb cannot %s %s resources", a.Verb, providerName(a.Resource.Provider)))
		case !ex.Supports(a.Verb, a.Resource.Type):
			c.Block(GuardSupported, fmt.Sprintf("plumb cannot %s %s yet", a.Verb, a.Resource.Type))
		default:
			a.Rank = ex.Rank(a.Verb, a.Resource.Type)
		}
	}
	return nil
}

func providerName(p string) string {
	if p == "" {
		return "unknown-provider"
	}
	return p
}
