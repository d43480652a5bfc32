package enforce

import (
	"context"
	"fmt"
	"strings"

	"plumb/internal/model"
)

// Live re-reads every candidate's resource right before the guards that
// need its current state: a resource already gone needs nothing done (a
// success); one that could not be read is not acted on; one read back in
// an account outside the allow-list is stopped by the account guard.
type Live struct{}

// Name implements Guard.
func (Live) Name() string { return GuardLive }

// Check implements Guard.
func (Live) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	byProvider := map[string][]*Candidate{}
	for _, c := range cands {
		byProvider[c.Action.Resource.Provider] = append(byProvider[c.Action.Resource.Provider], c)
	}
	allowed := run.Environment.AccountIDs()
	list := strings.Join(allowed, ", ")
	for p, cs := range byProvider {
		ex := run.Executors[p]
		if ex == nil {
			for _, c := range cs {
				c.Block(GuardLive, "no executor for "+providerName(p))
			}
			continue
		}
		rs := make([]model.Resource, len(cs))
		for i, c := range cs {
			rs[i] = c.Action.Resource
		}
		found, unknown, err := ex.Read(ctx, rs)
		if err != nil {
			for _, c := range cs {
				c.Block(GuardLive, "could not read the resource back: "+err.Error())
			}
			continue
		}
		for _, c := range cs {
			k := ResourceKey(c.Action.Resource)
			if e, ok := unknown[k]; ok {
				c.Block(GuardLive, "could not read the resource back: "+e.Error())
				continue
			}
			live, ok := found[k]
			switch {
			case c.Action.Verb == VerbRecreate && ok:
				c.Finish(GuardLive, "exists again: nothing to recreate")
				continue
			case c.Action.Verb == VerbRecreate:
				// Gone, as the finding says: recreate has work to do. The
				// account, if the state tells it, is the one judged.
				if c.Action.Resource.Account != "" {
					blockForeignAccount(c, c.Action.Resource.Account, allowed, list)
				}
				continue
			case !ok:
				c.Finish(GuardLive, "already gone")
				continue
			}
			c.Live = &live
			blockForeignAccount(c, live.Account, allowed, list)
		}
	}
	return nil
}

// AWSDefault stops actions on resources the cloud created itself (the
// default VPC, its subnets and security group, main route tables,
// service-linked roles, AWS-managed keys), judged on the live resource.
type AWSDefault struct{}

// Name implements Guard.
func (AWSDefault) Name() string { return GuardDefault }

// Check implements Guard.
func (AWSDefault) Check(_ context.Context, _ *Run, cands []*Candidate) error {
	for _, c := range cands {
		if c.Action.Verb == VerbRecreate {
			continue // nothing live to judge: it is gone
		}
		if c.Live == nil {
			c.Block(GuardDefault, "the resource was not read back live")
			continue
		}
		if c.Live.Default != "" {
			c.Block(GuardDefault, "created by the cloud itself: "+c.Live.Default)
		}
	}
	return nil
}

// Precondition asks the executor whether the action can run on the
// resource as it is now (a bucket that still holds objects without
// force_empty, deletion protection on, a volume attached to an instance
// plumb is not deleting). Reads only.
type Precondition struct{}

// Name implements Guard.
func (Precondition) Name() string { return GuardPrecondition }

// Check implements Guard.
func (Precondition) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	acting := run.Acting
	if acting == nil {
		set := map[string]bool{}
		for _, c := range cands {
			set[c.Action.Resource.Type+"\x00"+c.Action.Resource.ID] = true
		}
		acting = func(typ, id string) bool { return set[typ+"\x00"+id] }
	}
	for _, c := range cands {
		if IsRevert(c.Action.Verb) {
			continue // the revert-plan stage is a revert's precondition
		}
		ex := run.Executors[c.Action.Resource.Provider]
		if ex == nil || c.Live == nil {
			c.Block(GuardPrecondition, "the resource was not read back live")
			continue
		}
		reason, err := ex.Check(ctx, c.Action, *c.Live, run.Settings(), acting)
		if err != nil {
			c.Block(GuardPrecondition, "could not check: "+err.Error())
			continue
		}
		if reason != "" {
			c.Block(GuardPrecondition, reason)
		}
	}
	return nil
}

// DryRun is the last stage: unless the run applies and the environment
// is armed (dry_run: false), everything that passed stays a plan.
type DryRun struct{}

// Name implements Guard.
func (DryRun) Name() string { return GuardDryRun }

// Check implements Guard.
func (DryRun) Check(_ context.Context, run *Run, cands []*Candidate) error {
	var reason string
	switch {
	case run.Settings().DryRun:
		reason = fmt.Sprintf("environment %s has dry_run: true (set dry_run: false to let plumb act)", run.Environment.Name)
	case !run.Apply:
		reason = "dry run: pass --apply to act"
	default:
		return nil
	}
	for _, c := range cands {
		c.Block(GuardDryRun, reason)
	}
	return nil
}
