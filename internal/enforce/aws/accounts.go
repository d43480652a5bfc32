package aws

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	plumbconfig "plumb/internal/config"
	awsinv "plumb/internal/inventory/aws"
)

// EnforceSessionName names the assumed-role sessions plumb acts through,
// so CloudTrail tells its writes apart from its scans' reads (plumb-scan).
const EnforceSessionName = "plumb-enforce"

// AccountRole is the role plumb assumes to act in an account other than
// the one of its own credentials (an account's enforce_role_arn).
type AccountRole struct {
	Account    string
	RoleARN    string
	ExternalID string
}

// RolesOf lists the enforce_role_arn of a configuration's accounts, for
// SetAccountRoles.
func RolesOf(cfg *plumbconfig.Config) []AccountRole {
	var out []AccountRole
	for _, a := range cfg.EnforceRoles() {
		out = append(out, AccountRole{Account: a.ID, RoleARN: a.EnforceRoleARN, ExternalID: a.ExternalID})
	}
	return out
}

// accountState holds the roles of other accounts and what was learnt
// about each: the identity plumb acts as there (guarded by mu).
type accountState struct {
	mu    sync.Mutex
	roles map[string]AccountRole
	cache *awsinv.RoleCache
	// selves are the identities plumb acts as through the accounts'
	// roles, by account.
	selves map[string]*self
}

// SetAccountRoles makes the executor act in each given account through
// its role (STS AssumeRole, session plumb-enforce, credentials cached and
// refreshed before they expire). A resource in an account that is neither
// plumb's own nor one of these cannot be acted on. Call before use.
func (e *Executor) SetAccountRoles(roles []AccountRole) {
	e.acct.mu.Lock()
	defer e.acct.mu.Unlock()
	e.acct.roles = map[string]AccountRole{}
	for _, r := range roles {
		e.acct.roles[r.Account] = r
	}
}

// ownAccount is the account of plumb's own credentials.
func (e *Executor) ownAccount(ctx context.Context) (string, error) { return e.Caller(ctx) }

// roleFor returns the role plumb acts through in account, or ok false
// when it acts there with its own credentials. An account that is
// neither is an error saying so.
func (e *Executor) roleFor(ctx context.Context, account string) (AccountRole, bool, error) {
	if account == "" {
		return AccountRole{}, false, nil
	}
	e.acct.mu.Lock()
	r, has := e.acct.roles[account]
	e.acct.mu.Unlock()
	own, err := e.ownAccount(ctx)
	if err != nil {
		return AccountRole{}, false, err
	}
	switch {
	case account == own:
		return AccountRole{}, false, nil
	case has:
		return r, true, nil
	}
	return AccountRole{}, false, fmt.Errorf("the resource is in account %s and plumb's credentials are in %s; the environment names no enforce_role_arn for %s", account, own, account)
}

// configIn returns the SDK configuration that acts in account (plumb's
// own for its own account or an unknown one, "").
func (e *Executor) configIn(ctx context.Context, account string) (aws.Config, error) {
	r, viaRole, err := e.roleFor(ctx, account)
	if err != nil || !viaRole {
		return e.cfg, err
	}
	base := e.cfg.Copy()
	if base.Region == "" {
		base.Region = "us-east-1"
	}
	e.acct.mu.Lock()
	if e.acct.cache == nil {
		e.acct.cache = awsinv.NewRoleCache()
	}
	cache := e.acct.cache
	e.acct.mu.Unlock()
	cfg := e.cfg.Copy()
	cfg.Credentials = cache.Credentials(base, awsinv.Target{Account: r.Account, RoleARN: r.RoleARN, ExternalID: r.ExternalID, SessionName: EnforceSessionName})
	return cfg, nil
}

// loadOptsIn are the executor's load options with the credentials of
// account, for the inventory scanners that read resources back there.
func (e *Executor) loadOptsIn(ctx context.Context, account string) ([]func(*config.LoadOptions) error, error) {
	_, viaRole, err := e.roleFor(ctx, account)
	if err != nil || !viaRole {
		return e.loadOpts, err
	}
	cfg, err := e.configIn(ctx, account)
	if err != nil {
		return nil, err
	}
	return append(append([]func(*config.LoadOptions) error{}, e.loadOpts...), config.WithCredentialsProvider(cfg.Credentials)), nil
}

// clientsIn builds the clients of an action: the resource's account and
// region.
func (e *Executor) clientsIn(ctx context.Context, account, region string) (*clients, error) {
	cfg, err := e.configIn(ctx, account)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Copy()
	if region != "" {
		cfg.Region = region
	} else if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return &clients{cfg: cfg, wait: e.Wait, account: account}, nil
}

// ActsIn implements enforce.AccountActor: it checks that plumb can act in
// account, its own or one it has a role for, by asking STS who it is
// there (assuming the role). The answer must be that account.
func (e *Executor) ActsIn(ctx context.Context, account string) error {
	if _, _, err := e.roleFor(ctx, account); err != nil {
		return err
	}
	me, err := e.identityIn(ctx, account)
	if err != nil {
		return err
	}
	if got := accountOfARN(me.arn); got != account {
		return fmt.Errorf("the role for account %s acts in account %s", account, got)
	}
	return nil
}

// identityIn is who plumb acts as in account: its own credentials' principal
// ("" or its own account; see ownSelf), or the session of the account's
// role, asked of STS once and kept for the executor's lifetime.
func (e *Executor) identityIn(ctx context.Context, account string) (self, error) {
	own, err := e.ownSelf(ctx)
	if err != nil || account == "" || accountOfARN(own.arn) == account {
		return own, err
	}
	e.acct.mu.Lock()
	if s, ok := e.acct.selves[account]; ok {
		e.acct.mu.Unlock()
		return *s, nil
	}
	e.acct.mu.Unlock()
	cfg, err := e.configIn(ctx, account)
	if err != nil {
		return self{}, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return self{}, fmt.Errorf("act in account %s: %s", account, errorText(err))
	}
	s := parseSelf(aws.ToString(out.Arn))
	e.acct.mu.Lock()
	if e.acct.selves == nil {
		e.acct.selves = map[string]*self{}
	}
	e.acct.selves[account] = &s
	e.acct.mu.Unlock()
	return s, nil
}

// parseSelf reads the principal in an STS caller ARN:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or
// arn:aws:iam::ACCOUNT:user/PATH/NAME.
func parseSelf(arn string) self {
	s := self{arn: arn}
	if _, rest, ok := strings.Cut(arn, ":assumed-role/"); ok {
		s.role, _, _ = strings.Cut(rest, "/")
	} else if _, rest, ok := strings.Cut(arn, ":user/"); ok {
		s.user = rest[strings.LastIndexByte(rest, '/')+1:]
	}
	return s
}

// accountOfARN is the account field of an ARN ("" when it has none).
func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
