package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"plumb/internal/inventory"
	"plumb/internal/parallel"
)

// Target is one AWS account a multi-account scan reads.
type Target struct {
	// Account is the 12-digit account id.
	Account string
	// RoleARN is the role assumed to read the account; empty means
	// plumb's own credentials, which must belong to Account.
	RoleARN string
	// ExternalID is passed to AssumeRole when set.
	ExternalID string
	// SessionName names the assumed-role session (default plumb-scan).
	SessionName string
	// Regions overrides the scan's regions for this account.
	Regions []string
}

// Discovery finds accounts through AWS Organizations: every active
// account, or those under OUs (nested units included), less Exclude.
// RoleName is assumed in each.
type Discovery struct {
	RoleName    string
	OUs         []string
	Exclude     []string
	ExternalID  string
	SessionName string
}

// Limits bound the units of one account listed at once: all of its units
// (Account), and those of one service (Service). Zero means no bound
// beyond Options.Concurrency.
type Limits struct {
	Account int
	Service int
}

// DefaultSessionName is the assumed-role session name CloudTrail shows
// for plumb's reads when none is configured.
const DefaultSessionName = "plumb-scan"

// RoleCache holds assumed-role credentials, one cache per (role, external
// id, session name), refreshed by the SDK five minutes before they expire.
// One process keeps one RoleCache for all its scans, so a scan every few
// minutes does not call AssumeRole every few minutes.
type RoleCache struct {
	mu    sync.Mutex
	byKey map[string]*aws.CredentialsCache
	// verified remembers the account STS confirmed for a role.
	verified map[string]string
}

// NewRoleCache returns an empty cache.
func NewRoleCache() *RoleCache {
	return &RoleCache{byKey: map[string]*aws.CredentialsCache{}, verified: map[string]string{}}
}

func (t Target) key() string { return t.RoleARN + "\x00" + t.ExternalID + "\x00" + t.session() }

func (t Target) session() string {
	if t.SessionName == "" {
		return DefaultSessionName
	}
	return t.SessionName
}

// provider returns the cached credentials of a role; base signs the
// AssumeRole calls.
func (c *RoleCache) provider(base aws.Config, t Target) aws.CredentialsProvider {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.byKey[t.key()]; ok {
		return cc
	}
	client := sts.NewFromConfig(base)
	p := stscreds.NewAssumeRoleProvider(client, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = t.session()
		o.Duration = time.Hour
		if t.ExternalID != "" {
			o.ExternalID = aws.String(t.ExternalID)
		}
	})
	cc := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute
		o.ExpiryWindowJitterFrac = 0.2
	})
	c.byKey[t.key()] = cc
	return cc
}

// accountConfig is the AWS configuration that reads a target's account.
func (s *Scanner) accountConfig(t Target) aws.Config {
	if t.RoleARN == "" {
		return s.cfg
	}
	base := s.cfg.Copy()
	if base.Region == "" {
		base.Region = s.opts.Regions[0]
	}
	cfg := s.cfg.Copy()
	cfg.Credentials = s.roles.provider(base, t)
	return cfg
}

// RegionsOf returns the regions a target is read in.
func (s *Scanner) RegionsOf(t Target) []string {
	if len(t.Regions) > 0 {
		return append([]string(nil), t.Regions...)
	}
	return s.Regions()
}

// Failure is an account a scan set out to read and could not: its role
// could not be assumed, or its credentials are another account's.
type Failure struct {
	Target  Target
	Message string
}

// ScopeError is the failure as the report's errors show it: aws/ACCOUNT.
func (f Failure) ScopeError() inventory.ScopeError {
	return inventory.ScopeError{Scope: "aws/" + f.Target.Account, Message: f.Message}
}

// Resolution is the accounts of a multi-account scan: those it can read,
// those it cannot, and problems of discovery (aws/organizations).
type Resolution struct {
	Accounts []Target
	Failed   []Failure
	Errors   []inventory.ScopeError
}

// Resolve checks plumb's own credentials (the gate: an
// *inventory.AccessError when AWS cannot be used at all), discovers the
// organization's accounts, and checks each account: its role is assumed
// and STS must say the credentials are in that account. An account that
// fails is a Failure, never an error of the whole scan.
func (s *Scanner) Resolve(ctx context.Context, targets []Target, disc *Discovery) (*Resolution, error) {
	own, err := s.CheckIdentity(ctx)
	if err != nil {
		return nil, err
	}
	res := &Resolution{}
	all := map[string]Target{}
	var order []string
	for _, t := range targets {
		if _, dup := all[t.Account]; dup {
			continue
		}
		all[t.Account] = t
		order = append(order, t.Account)
	}
	if disc != nil {
		found, err := s.discover(ctx, own, disc)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Errors = append(res.Errors, inventory.ScopeError{Scope: "aws/organizations",
				Message: "could not list the organization's accounts, so only the accounts listed by id were scanned: " + shortCause(err)})
		}
		for _, t := range found {
			if _, listed := all[t.Account]; listed {
				continue
			}
			all[t.Account] = t
			order = append(order, t.Account)
		}
	}
	sort.Strings(order)
	checked := make([]*Failure, len(order))
	_ = parallel.ForEach(ctx, len(order), parallel.Limit(8), func(ctx context.Context, i int) error {
		t := all[order[i]]
		if msg := s.checkAccount(ctx, own, t); msg != "" {
			checked[i] = &Failure{Target: t, Message: msg}
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for i, acct := range order {
		if checked[i] != nil {
			res.Failed = append(res.Failed, *checked[i])
			continue
		}
		res.Accounts = append(res.Accounts, all[acct])
	}
	return res, nil
}

// checkAccount makes sure a target can be read: its role can be assumed
// and the credentials are in its account. It returns what is wrong.
func (s *Scanner) checkAccount(ctx context.Context, own string, t Target) string {
	if t.RoleARN == "" {
		if t.Account != own {
			return fmt.Sprintf("no role_arn for account %s, and plumb's own credentials belong to account %s", t.Account, own)
		}
		return ""
	}
	s.roles.mu.Lock()
	done := s.roles.verified[t.key()] == t.Account
	s.roles.mu.Unlock()
	if done {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.IdentityTimeout)
	defer cancel()
	cfg := s.accountConfig(t)
	if cfg.Region == "" {
		cfg.Region = s.RegionsOf(t)[0]
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fmt.Sprintf("cannot assume role %s: %s", t.RoleARN, credentialCause(errors.New(shortCause(err))))
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Sprintf("the credentials of role %s were refused: %s", t.RoleARN, shortCause(err))
	}
	if got := aws.ToString(out.Account); got != t.Account {
		return fmt.Sprintf("role %s gives credentials of account %s, not %s", t.RoleARN, got, t.Account)
	}
	s.roles.mu.Lock()
	s.roles.verified[t.key()] = t.Account
	s.roles.mu.Unlock()
	return ""
}

// discover lists the organization's active accounts (under d.OUs when
// set), less the excluded ones, as targets assuming d.RoleName.
func (s *Scanner) discover(ctx context.Context, own string, d *Discovery) ([]Target, error) {
	cfg := s.cfg.Copy()
	if cfg.Region == "" {
		cfg.Region = s.opts.Regions[0]
	}
	client := organizations.NewFromConfig(cfg)
	var accounts []orgtypes.Account
	if len(d.OUs) == 0 {
		p := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("organizations ListAccounts: %w", err)
			}
			accounts = append(accounts, page.Accounts...)
		}
	} else {
		seen := map[string]bool{}
		var walk func(parent string) error
		walk = func(parent string) error {
			if seen[parent] {
				return nil
			}
			seen[parent] = true
			p := organizations.NewListAccountsForParentPaginator(client, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("organizations ListAccountsForParent %s: %w", parent, err)
				}
				accounts = append(accounts, page.Accounts...)
			}
			ous := organizations.NewListOrganizationalUnitsForParentPaginator(client, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
			for ous.HasMorePages() {
				page, err := ous.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("organizations ListOrganizationalUnitsForParent %s: %w", parent, err)
				}
				for _, ou := range page.OrganizationalUnits {
					if err := walk(aws.ToString(ou.Id)); err != nil {
						return err
					}
				}
			}
			return nil
		}
		for _, ou := range d.OUs {
			if err := walk(ou); err != nil {
				return nil, err
			}
		}
	}
	partition := partitionOf(cfg.Region)
	var out []Target
	seen := map[string]bool{}
	for _, a := range accounts {
		id := aws.ToString(a.Id)
		if id == "" || seen[id] || slices.Contains(d.Exclude, id) || !active(a) {
			continue
		}
		seen[id] = true
		out = append(out, Target{Account: id, RoleARN: fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, id, d.RoleName),
			ExternalID: d.ExternalID, SessionName: d.SessionName})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out, nil
}

// active reports whether an organization account can be read: suspended
// and closing accounts cannot.
func active(a orgtypes.Account) bool {
	if a.State != "" {
		return a.State == orgtypes.AccountStateActive
	}
	return a.Status == "" || a.Status == orgtypes.AccountStatusActive
}

// partitionOf is the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// Part names one unit of a multi-account scan: a service in a region
// ("" for global services) of an account.
type Part struct {
	Service string
	Region  string
}

// Label names the part as errors and progress do: ec2/us-east-1.
func (p Part) Label() string { return p.Service + "/" + regionLabel(p.Region) }

// Parts lists the units of a target, in a stable order.
func (s *Scanner) Parts(t Target) []Part {
	units := s.unitsIn(s.RegionsOf(t))
	out := make([]Part, len(units))
	for i, u := range units {
		out[i] = Part{Service: u.service, Region: u.region}
	}
	return out
}

type callCounterKey struct{}

// ScanPart lists one part of an account. Failures are in the result's
// errors, under the scope aws/ACCOUNT/REGION/SERVICE; the result records
// the account and its regions, so joining the parts of a scan tells a
// complete account from one that was not read. APICalls counts the
// calls of this part only.
func (s *Scanner) ScanPart(ctx context.Context, t Target, p Part) (*inventory.Result, error) {
	var u *unit
	for _, cand := range s.unitsIn(s.RegionsOf(t)) {
		if cand.service == p.Service && cand.region == p.Region {
			u = &cand
			break
		}
	}
	if u == nil {
		return nil, fmt.Errorf("account %s has no part %s", t.Account, p.Label())
	}
	res := inventory.NewResult(nil)
	res.AddAccount(t.Account, s.RegionsOf(t))
	sess := s.newAccountSession(t)
	var calls atomic.Int64
	ctx = context.WithValue(ctx, callCounterKey{}, &calls)
	s.listUnit(withUnit(ctx, t.Account+"/"+u.label()), sess, *u, res, t.Account)
	res.APICalls = calls.Load()
	res.Sort()
	return res, nil
}

func (s *Scanner) newAccountSession(t Target) *session {
	sess := newSession(s.accountConfig(t), s.opts.PerUnitConcurrency)
	sess.declared = s.opts.Declared
	sess.policyAttrs = s.opts.PolicyAttributes
	sess.account = t.Account
	return sess
}

// ScanAccounts reads several accounts in one process: Resolve, then every
// part of every account, at most Options.Concurrency at once and within
// lim per account and per service of an account. An account that cannot
// be read is one error (aws/ACCOUNT) and its resources are never missing.
func (s *Scanner) ScanAccounts(ctx context.Context, targets []Target, disc *Discovery, lim Limits) (*inventory.Result, error) {
	resolved, err := s.Resolve(ctx, targets, disc)
	if err != nil {
		return nil, err
	}
	res := inventory.NewResult(nil)
	res.Errors = append(res.Errors, resolved.Errors...)
	for _, f := range resolved.Failed {
		res.AddAccount(f.Target.Account, s.RegionsOf(f.Target))
		res.Errors = append(res.Errors, f.ScopeError())
	}
	type job struct {
		t    Target
		part Part
	}
	var jobs []job
	for _, t := range resolved.Accounts {
		res.AddAccount(t.Account, s.RegionsOf(t))
		for _, p := range s.Parts(t) {
			jobs = append(jobs, job{t, p})
		}
	}
	// Spread the first parts over the accounts.
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].part.Label() < jobs[j].part.Label() })
	if s.opts.Observer != nil {
		labels := make([]string, len(jobs))
		for i, j := range jobs {
			labels[i] = j.t.Account + "/" + j.part.Label()
		}
		s.opts.Observer.Planned(labels)
	}
	limiter := newLimiter(lim)
	global := make(chan struct{}, s.opts.Concurrency)
	sessions := map[string]*session{}
	for _, t := range resolved.Accounts {
		sessions[t.Account] = s.newAccountSession(t)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			label := j.t.Account + "/" + j.part.Label()
			finished := func() {
				if s.opts.Observer != nil {
					s.opts.Observer.Finished(label)
				}
			}
			scope := inventory.Scope{Provider: "aws", Account: j.t.Account, Region: regionLabel(j.part.Region), Service: j.part.Service}
			release, err := limiter.acquire(ctx, j.t.Account, j.part.Service)
			if err != nil {
				res.Fail(scope, limitReached(ctx, activity{}))
				finished()
				return
			}
			defer release()
			select {
			case global <- struct{}{}:
			case <-ctx.Done():
				res.Fail(scope, limitReached(ctx, activity{}))
				finished()
				return
			}
			defer func() { <-global }()
			// Finished before the slots are given back, so an observer
			// never sees more units of an account than the limits allow.
			defer finished()
			var u unit
			for _, cand := range s.unitsIn(s.RegionsOf(j.t)) {
				if cand.service == j.part.Service && cand.region == j.part.Region {
					u = cand
				}
			}
			s.listUnit(withUnit(ctx, label), sessions[j.t.Account], u, res, j.t.Account)
		}()
	}
	wg.Wait()
	res.APICalls = s.calls.Load()
	res.APIAttempts = s.attempts.Load()
	res.Sort()
	return res, nil
}

// limiter bounds units per account and per (account, service) within one
// process.
type limiter struct {
	lim Limits
	mu  sync.Mutex
	sem map[string]chan struct{}
}

func newLimiter(lim Limits) *limiter { return &limiter{lim: lim, sem: map[string]chan struct{}{}} }

func (l *limiter) chanFor(key string, n int) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.sem[key]
	if !ok {
		c = make(chan struct{}, n)
		l.sem[key] = c
	}
	return c
}

// acquire waits for a slot of the service in the account, then of the
// account (always in that order, so waiting cannot deadlock).
func (l *limiter) acquire(ctx context.Context, account, service string) (func(), error) {
	var held []chan struct{}
	release := func() {
		for _, c := range held {
			<-c
		}
	}
	for _, slot := range []struct {
		key string
		n   int
	}{{account + "|" + service, l.lim.Service}, {account, l.lim.Account}} {
		if slot.n <= 0 {
			continue
		}
		c := l.chanFor(slot.key, slot.n)
		select {
		case c <- struct{}{}:
			held = append(held, c)
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// OwnParts lists the units of a single-account scan (the account of
// plumb's own credentials, in the scanner's regions), in a stable order.
func (s *Scanner) OwnParts() []Part {
	units := s.units()
	out := make([]Part, len(units))
	for i, u := range units {
		out[i] = Part{Service: u.service, Region: u.region}
	}
	return out
}

// ScanOwnPart lists one part of a single-account scan as Scan would: its
// scopes carry no account (aws/REGION/SERVICE) and its resources are
// those of account, the account CheckIdentity returned. Joining the parts
// of the scan gives what Scan gives, apart from the order of the work.
func (s *Scanner) ScanOwnPart(ctx context.Context, account string, p Part) (*inventory.Result, error) {
	var u *unit
	for _, cand := range s.units() {
		if cand.service == p.Service && cand.region == p.Region {
			u = &cand
			break
		}
	}
	if u == nil {
		return nil, fmt.Errorf("the scan has no part %s", p.Label())
	}
	res := inventory.NewResult(nil)
	sess := newSession(s.cfg, s.opts.PerUnitConcurrency)
	sess.declared = s.opts.Declared
	sess.policyAttrs = s.opts.PolicyAttributes
	sess.account = account
	var calls atomic.Int64
	ctx = context.WithValue(ctx, callCounterKey{}, &calls)
	s.listUnit(withUnit(ctx, u.label()), sess, *u, res, "")
	res.APICalls = calls.Load()
	res.Sort()
	return res, nil
}
