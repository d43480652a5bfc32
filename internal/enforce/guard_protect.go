package enforce

import (
	"context"
	"fmt"
)

// ProtectPattern stops actions on resources matching the environment's
// protect patterns (TYPE.ID in .plumbignore syntax, negation included).
type ProtectPattern struct{}

// Name implements Guard.
func (ProtectPattern) Name() string { return GuardProtectPattern }

// Check implements Guard.
func (ProtectPattern) Check(_ context.Context, run *Run, cands []*Candidate) error {
	rules := run.Settings().ProtectRules
	for _, c := range cands {
		r := c.Action.Resource
		if rules.Resource(r.Type, r.ID) {
			c.Block(GuardProtectPattern, fmt.Sprintf("%s.%s matches a protect pattern", r.Type, r.ID))
		}
	}
	return nil
}

// ProtectTag stops actions on resources carrying a protect tag
// (plumb:protect, plus the environment's protect_tags). The static stage
// judges the tags the scan saw, so a protected resource does not count
// against the circuit breaker; the live stage (Live: true) judges the
// tags read right before acting, and there tags that could not be read
// stop the action.
type ProtectTag struct {
	Live bool
}

// Name implements Guard.
func (ProtectTag) Name() string { return GuardProtectTag }

// Check implements Guard.
func (g ProtectTag) Check(_ context.Context, run *Run, cands []*Candidate) error {
	s := run.Settings()
	for _, c := range cands {
		tags := c.Action.Resource.Tags
		if g.Live {
			if c.Live == nil && c.Action.Verb == VerbRecreate {
				continue // gone: the tags the scan saw were judged already
			}
			if c.Live == nil {
				c.Block(GuardProtectTag, "the resource was not read back live")
				continue
			}
			tags = c.Live.Tags
			if tags == nil {
				c.Block(GuardProtectTag, "the resource's tags could not be read, so a protect tag cannot be ruled out")
				continue
			}
		}
		if k, ok := s.Protected(tags); ok {
			c.Block(GuardProtectTag, fmt.Sprintf("tagged %s", k))
		}
	}
	return nil
}
