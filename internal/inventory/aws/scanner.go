// Package aws lists live AWS resources under their Terraform type names and
// import ids. Each service has its own file with one lister per Terraform
// type; a lister pairs the live listing with the mapping of the same type
// from Terraform state, so both sides of a drift comparison are defined in
// one place.
package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// lister lists one Terraform type. list is called once per region (or once
// with region "" for global types) and must page through every result.
// fromState maps a state instance of the same type (or of one of aliases)
// to the Resource list would produce for it.
type lister struct {
	inventory.Type
	list      func(ctx context.Context, s *session, region string) ([]model.Resource, error)
	fromState func(attrs map[string]any) (model.Resource, bool)
	// get, when set, reads given resources by id (optional): what the
	// listing would give for them, without listing the whole region.
	// getGone are the error codes by which the API says an id is gone
	// (or cannot exist); one id per call then tells which.
	get     func(ctx context.Context, s *session, region string, ids []string) ([]model.Resource, error)
	getGone []string
	// aliases are other Terraform types whose state describes this live
	// type, such as aws_default_vpc for aws_vpc.
	aliases []string
	// policyOnly listers run only when Options.PolicyAttributes is set:
	// account settings rules check but a drift scan does not need. In a
	// plain drift scan their type is never complete, so a declared one is
	// not evaluated rather than missing.
	policyOnly bool
}

// allListers is the catalogue of supported types. Each service file
// contributes its own slice; adding a type is a change to that file only.
func allListers() []lister {
	var all []lister
	for _, group := range [][]lister{
		ec2Listers(),
		s3Listers(),
		s3AccountListers(),
		iamListers(),
		dynamodbListers(),
		sqsListers(),
		snsListers(),
		rdsListers(),
		lambdaListers(),
		kmsListers(),
		ecrListers(),
		logsListers(),
		route53Listers(),
		cloudtrailListers(),
		flowLogListers(),
		iamPasswordPolicyListers(),
	} {
		all = append(all, group...)
	}
	return all
}

// Options tune a scan.
type Options struct {
	// Regions to scan. Empty means the region of the AWS configuration.
	Regions []string
	// Types restricts the scan to these Terraform types; empty means all.
	Types []string
	// Concurrency bounds how many (service, region) units list at once.
	Concurrency int
	// PerUnitConcurrency bounds the listers running at once inside one
	// unit, and the per-resource detail calls of each (default 8).
	PerUnitConcurrency int
	// MaxAttempts is the retry budget per API call for throttling and
	// other retryable answers (adaptive mode). Default 8.
	MaxAttempts int
	// TransportAttempts bounds the attempts of a call whose attempts fail
	// before AWS answers (connection refused or reset, no answer in
	// time). Default 3, a second apart at most.
	TransportAttempts int
	// ConnectTimeout bounds opening a connection (default 5 s);
	// AttemptTimeout one HTTP request with its answer (default 1 min);
	// OperationTimeout one API call with all its retries (default 5 min).
	ConnectTimeout   time.Duration
	AttemptTimeout   time.Duration
	OperationTimeout time.Duration
	// IdentityTimeout bounds the identity check that runs before anything
	// is listed (default 20 s).
	IdentityTimeout time.Duration
	// Observer, when set, follows the units (service/region) as they run
	// and the calls they wait on.
	Observer inventory.Observer
	// Declared, when set, reports whether the code declares a resource
	// (Terraform type and import id). Details that cost one API call per
	// resource are then read only for declared resources; the tags of
	// undeclared ones of those types are reported as unknown (null). Nil
	// reads details for everything.
	Declared func(typ, id string) bool
	// PolicyAttributes makes the listers read attributes that policy rules
	// check but drift never compares (queue and topic encryption, KMS key
	// rotation, DynamoDB server-side encryption, S3 bucket encryption,
	// policy and public access block, CloudTrail logging status). They
	// cost detail calls per resource, so they are read only when policy
	// rules will read them;
	// a plain drift scan leaves this false and keeps its call budget.
	PolicyAttributes bool
	// Roles caches assumed-role credentials across scans of one process
	// (nil: a cache of this scanner's own).
	Roles *RoleCache
}

// Scanner lists AWS resources through the standard SDK configuration chain,
// so credentials, profiles and AWS_ENDPOINT_URL work as operators expect.
type Scanner struct {
	cfg     aws.Config
	opts    Options
	listers []lister
	// calls counts operations (one per API call made, whatever its
	// retries); attempts counts every HTTP request, retries included.
	calls    atomic.Int64
	attempts atomic.Int64

	mu        sync.Mutex
	byService map[string]int64
	// roles holds the credentials of the accounts' roles.
	roles *RoleCache

	// activity is what each unit is waiting on now, to say so when the
	// scan's time limit stops it.
	actMu    sync.Mutex
	activity map[string]activity

	// get is the state of reads by id (Get).
	get getState
}

// New loads the AWS configuration and prepares a scanner; it sends no
// request. Throttling is handled by the SDK's adaptive retry mode, which
// backs off and rate-limits the client itself when AWS answers with
// throttling errors; transport errors get a few quick retries only (see
// Options.TransportAttempts), and connections, requests and calls are
// bounded in time.
func New(ctx context.Context, opts Options, loadOpts ...func(*config.LoadOptions) error) (*Scanner, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.PerUnitConcurrency <= 0 {
		opts.PerUnitConcurrency = 8
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.TransportAttempts <= 0 {
		opts.TransportAttempts = defaultTransportAttempts
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = defaultAttemptTimeout
	}
	if opts.OperationTimeout <= 0 {
		opts.OperationTimeout = defaultOperationTimeout
	}
	if opts.IdentityTimeout <= 0 {
		opts.IdentityTimeout = defaultIdentityTimeout
	}
	s := &Scanner{opts: opts, byService: map[string]int64{}, activity: map[string]activity{}, roles: opts.Roles}
	if s.roles == nil {
		s.roles = NewRoleCache()
	}
	perCall, perAttempt := s.callMiddleware()
	countOps := middleware.InitializeMiddlewareFunc("plumbCountCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		s.calls.Add(1)
		if c, ok := ctx.Value(callCounterKey{}).(*atomic.Int64); ok {
			c.Add(1)
		}
		svc := awsmiddleware.GetServiceID(ctx)
		s.mu.Lock()
		s.byService[svc]++
		s.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	countAttempts := middleware.FinalizeMiddlewareFunc("plumbCountAttempts", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		s.attempts.Add(1)
		return next.HandleFinalize(ctx, in)
	})
	base := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(opts.MaxAttempts) }),
		config.WithHTTPClient(newHTTPClient(opts.ConnectTimeout, opts.AttemptTimeout)),
		config.WithAPIOptions([]func(*middleware.Stack) error{
			func(st *middleware.Stack) error {
				if err := st.Initialize.Add(countOps, middleware.After); err != nil {
					return err
				}
				if err := st.Initialize.Add(perCall, middleware.After); err != nil {
					return err
				}
				// After the retry middleware, so every attempt is counted
				// and seen.
				if err := st.Finalize.Add(countAttempts, middleware.After); err != nil {
					return err
				}
				return st.Finalize.Add(perAttempt, middleware.After)
			},
		}),
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(base, loadOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	s.cfg = cfg
	if len(s.opts.Regions) == 0 {
		if cfg.Region == "" {
			return nil, errors.New("no AWS region: pass --region or set AWS_REGION / a profile region")
		}
		s.opts.Regions = []string{cfg.Region}
	}
	all := allListers()
	if len(opts.Types) > 0 {
		want := map[string]bool{}
		for _, t := range opts.Types {
			want[t] = true
		}
		for _, l := range all {
			if want[l.Name] {
				s.listers = append(s.listers, l)
				delete(want, l.Name)
			}
		}
		if len(want) > 0 {
			var unknown []string
			for t := range want {
				unknown = append(unknown, t)
			}
			sort.Strings(unknown)
			return nil, fmt.Errorf("unsupported resource types: %s", strings.Join(unknown, ", "))
		}
	} else {
		s.listers = all
	}
	return s, nil
}

// Regions returns the regions this scanner covers.
func (s *Scanner) Regions() []string { return append([]string(nil), s.opts.Regions...) }

// APICalls returns the number of API operations called so far, one per
// call whatever its retries: the figure the calls-per-resource budget and
// the tests' exact budgets are about.
func (s *Scanner) APICalls() int64 { return s.calls.Load() }

// APIAttempts returns the number of HTTP requests sent so far, retries of
// throttled or failed calls included: what AWS actually served.
func (s *Scanner) APIAttempts() int64 { return s.attempts.Load() }

// APICallsByService breaks APICalls down by AWS service id, for the
// benchmark and for diagnosing a slow scan.
func (s *Scanner) APICallsByService() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.byService))
	for k, v := range s.byService {
		out[k] = v
	}
	return out
}

type unit struct {
	service string
	region  string // "" for global
	listers []lister
}

// label names a unit as progress and errors do: ec2/us-east-1, iam/global.
func (u unit) label() string { return u.service + "/" + regionLabel(u.region) }

// Scan lists every supported type in every region. It first checks the
// identity of the credentials (CheckIdentity): when AWS cannot be reached
// or refuses them, Scan returns that one *inventory.AccessError and lists
// nothing. Otherwise a failing unit is recorded in the result's errors
// and marks none of its types complete, so the drift engine will not call
// their desired resources missing; when ctx ends (the scan's time limit)
// the units still running are recorded as errors saying what they were
// waiting for, and the result holds what was read until then.
func (s *Scanner) Scan(ctx context.Context) (*inventory.Result, error) {
	account, err := s.CheckIdentity(ctx)
	if err != nil {
		return nil, err
	}
	res := inventory.NewResult(s.opts.Regions)
	sess := newSession(s.cfg, s.opts.PerUnitConcurrency)
	sess.declared = s.opts.Declared
	sess.policyAttrs = s.opts.PolicyAttributes
	sess.account = account

	units := s.units()
	if s.opts.Observer != nil {
		labels := make([]string, 0, len(units))
		for _, u := range units {
			labels = append(labels, u.label())
		}
		s.opts.Observer.Planned(labels)
	}
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, s.opts.Concurrency)
	)
	for _, u := range units {
		wg.Add(1)
		go func(u unit) {
			defer wg.Done()
			scope := inventory.Scope{Provider: "aws", Region: regionLabel(u.region), Service: u.service}
			if s.opts.Observer != nil {
				defer s.opts.Observer.Finished(u.label())
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res.Fail(scope, limitReached(ctx, activity{}))
				return
			}
			defer func() { <-sem }()
			s.listUnit(withUnit(ctx, u.label()), sess, u, res, "")
		}(u)
	}
	wg.Wait()
	res.APICalls = s.calls.Load()
	res.APIAttempts = s.attempts.Load()
	res.Sort()
	return res, nil
}

// listUnit runs the listers of one unit into res, in account (empty for
// a single-account scan, whose scopes carry no account). The listers of a
// unit (EC2 has a dozen) run side by side, PerUnitConcurrency at a time:
// one after another, each list call's latency would add up. Every lister
// gets its turn even after the time limit, so each type is recorded as
// read or failed.
func (s *Scanner) listUnit(uctx context.Context, sess *session, u unit, res *inventory.Result, account string) {
	scope := inventory.Scope{Provider: "aws", Account: account, Region: regionLabel(u.region), Service: u.service}
	label := unitOf(uctx)
	lsem := make(chan struct{}, max(s.opts.PerUnitConcurrency, 1))
	var lwg sync.WaitGroup
	for _, l := range u.listers {
		lsem <- struct{}{}
		lwg.Add(1)
		go func(l lister) {
			defer func() { <-lsem; lwg.Done() }()
			s.runLister(uctx, sess, res, scope, u, l, label, account)
		}(l)
	}
	lwg.Wait()
}

// runLister lists one type of a unit into res, or records why it could
// not.
func (s *Scanner) runLister(uctx context.Context, sess *session, res *inventory.Result, scope inventory.Scope, u unit, l lister, label, account string) {
	if uctx.Err() != nil {
		res.FailType(scope, l.Name, limitReached(uctx, s.activityOf(label)))
		return
	}
	out, err := l.list(uctx, sess, u.region)
	if err != nil {
		if uctx.Err() != nil {
			err = limitReached(uctx, s.activityOf(label))
		} else {
			err = describeErr(err)
		}
		res.FailType(scope, l.Name, err)
		return
	}
	for i := range out {
		out[i].Provider = "aws"
		out[i].Type = l.Name
		if out[i].Account == "" {
			out[i].Account = sess.account
		}
		if out[i].Region == "" && !l.Global {
			out[i].Region = u.region
		}
	}
	res.AddIn(account, l.Name, u.region, out)
}

func (s *Scanner) units() []unit { return s.unitsIn(s.opts.Regions) }

// unitsIn lists the units of a scan of regions.
func (s *Scanner) unitsIn(regions []string) []unit {
	byKey := map[string]*unit{}
	var order []string
	add := func(service, region string, l lister) {
		k := service + "|" + region
		u, ok := byKey[k]
		if !ok {
			u = &unit{service: service, region: region}
			byKey[k] = u
			order = append(order, k)
		}
		u.listers = append(u.listers, l)
	}
	for _, l := range s.listers {
		if l.policyOnly && !s.opts.PolicyAttributes {
			continue
		}
		if l.Global {
			add(l.Service, "", l)
			continue
		}
		for _, r := range regions {
			add(l.Service, r, l)
		}
	}
	out := make([]unit, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

func regionLabel(region string) string {
	if region == "" {
		return "global"
	}
	return region
}

// Mapper maps Terraform state to the shape live listers produce. It needs
// no AWS access.
type Mapper struct {
	byType map[string]lister
}

// NewMapper returns the state mapper for every supported AWS type.
func NewMapper() *Mapper {
	m := &Mapper{byType: map[string]lister{}}
	for _, l := range allListers() {
		m.byType[l.Name] = l
		for _, a := range l.aliases {
			m.byType[a] = l
		}
	}
	return m
}

// FromState implements inventory.StateMapper.
func (m *Mapper) FromState(typ string, attrs map[string]any) (model.Resource, bool) {
	l, ok := m.byType[typ]
	if !ok || l.fromState == nil {
		return model.Resource{}, false
	}
	r, ok := l.fromState(attrs)
	if !ok {
		return model.Resource{}, false
	}
	r.Provider = "aws"
	r.Type = l.Name
	if r.Region == "" && !l.Global {
		r.Region = regionFromAttrs(attrs)
	}
	return r, true
}

// Fold implements inventory.StateMapper.
func (m *Mapper) Fold(typ string, attrs map[string]any) (string, string, map[string][]string, bool) {
	for _, l := range foldListers() {
		if l.childType != typ {
			continue
		}
		id, add, ok := l.fold(attrs)
		return l.parentType, id, add, ok
	}
	return "", "", nil, false
}

// Types implements inventory.StateMapper.
func (m *Mapper) Types() []inventory.Type {
	var out []inventory.Type
	for _, l := range allListers() {
		out = append(out, l.Type)
	}
	return out
}

// folder maps a child Terraform type onto its parent live type.
type folder struct {
	childType  string
	parentType string
	fold       func(attrs map[string]any) (parentID string, add map[string][]string, ok bool)
}
