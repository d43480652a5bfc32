package enforce

import (
	"context"
	"fmt"
)

// DeclaredAnywhere stops actions on resources declared in any state of
// any environment of the config, not only the environment being enforced:
// a resource that is unmanaged in prod because staging's code owns it is
// not prod's to delete. Child resources folded into a parent
// (aws_security_group_rule) declare the parent.
type DeclaredAnywhere struct {
	Set *Declared
}

// Name implements Guard.
func (DeclaredAnywhere) Name() string { return GuardDeclared }

// Check implements Guard.
func (g DeclaredAnywhere) Check(_ context.Context, _ *Run, cands []*Candidate) error {
	if g.Set == nil && !allRevert(cands) {
		return fmt.Errorf("the environments' states were not loaded")
	}
	for _, c := range cands {
		if IsRevert(c.Action.Verb) {
			// A revert acts on a declared resource by definition: it puts
			// it back as that declaration says.
			continue
		}
		if where, ok := g.Set.Lookup(c.Action.Resource); ok {
			c.Block(GuardDeclared, "declared in "+where)
		}
	}
	return nil
}

// allRevert reports whether every candidate is a revert or recreate,
// which the declared guard lets through without the states.
func allRevert(cands []*Candidate) bool {
	for _, c := range cands {
		if !IsRevert(c.Action.Verb) {
			return false
		}
	}
	return true
}
