package enforce

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Account is the account allow-list: plumb acts only when the
// credentials it runs with belong to one of the environment's accounts
// (asked once per run: STS GetCallerIdentity on AWS), and only on a
// resource whose account is one of them too. A resource whose account is
// unknown is not acted on. On AWS a resource in another account than
// plumb's credentials is acted on only through that account's
// enforce_role_arn, which must work (STS answers from that account). The live stage checks the account of the
// resource read back as well.
type Account struct{}

// Name implements Guard.
func (Account) Name() string { return GuardAccount }

// Check implements Guard.
func (Account) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	allowed := run.Environment.AccountIDs()
	list := strings.Join(allowed, ", ")
	for _, c := range cands {
		if len(allowed) == 0 {
			c.Block(GuardAccount, fmt.Sprintf("environment %s names no accounts", run.Environment.Name))
			continue
		}
		caller, err := run.caller(ctx, c.Action.Resource.Provider)
		if err != nil {
			c.Block(GuardAccount, "could not tell which account plumb's credentials act in: "+err.Error())
			continue
		}
		if !slices.Contains(allowed, caller) {
			c.Block(GuardAccount, fmt.Sprintf("plumb's credentials act in account %s, not one of %s", caller, list))
			continue
		}
		if acct := resourceOf(c).Account; acct == "" && c.Action.Verb == VerbRecreate {
			// A missing resource's account is often not in its state
			// (bucket ARNs carry none): it is created where the
			// environment's credentials, checked above, act.
			continue
		}
		acct := resourceOf(c).Account
		blockForeignAccount(c, acct, allowed, list)
		if c.Action.Resource.Provider == "aws" && acct != "" && acct != caller && !c.Blocked() {
			// AWS credentials act in one account: another needs its
			// enforce_role_arn, checked by assuming it. Without this a
			// call would go to the wrong account (a bucket name is
			// global: possibly to the wrong bucket).
			if err := run.actsIn(ctx, c.Action.Resource.Provider, acct); err != nil {
				c.Block(GuardAccount, fmt.Sprintf("cannot act in account %s: %s", acct, err))
			}
		}
	}
	return nil
}

// actsIn asks a provider's executor once per run whether it can act in an
// account other than its credentials'.
func (r *Run) actsIn(ctx context.Context, provider, account string) error {
	key := provider + "/" + account
	if err, ok := r.actsInAccount[key]; ok {
		return err
	}
	var err error
	if aa, ok := r.Executors[provider].(AccountActor); ok {
		err = aa.ActsIn(ctx, account)
	} else {
		err = fmt.Errorf("plumb acts only in the account of its own credentials")
	}
	if r.actsInAccount == nil {
		r.actsInAccount = map[string]error{}
	}
	r.actsInAccount[key] = err
	return err
}

// blockForeignAccount blocks a candidate whose resource is in an account
// outside the allow-list, or in an unknown one.
func blockForeignAccount(c *Candidate, acct string, allowed []string, list string) {
	switch {
	case acct == "":
		c.Block(GuardAccount, "the resource's account is unknown")
	case !slices.Contains(allowed, acct):
		c.Block(GuardAccount, fmt.Sprintf("the resource is in account %s, not one of %s", acct, list))
	}
}
