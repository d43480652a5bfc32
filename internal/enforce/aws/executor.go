// Package aws carries out enforcement actions on AWS: one file per
// service, one entry per Terraform type, in the manner of the inventory
// (internal/inventory/aws) whose type names and import ids it shares.
//
// Every call goes through SDK middleware that counts it as a read
// (Describe, List, Get, Head) or a write (everything else) and records it
// on the action being executed, so the audit trail lists the calls made
// and tests can assert that a dry run made no write at all.
package aws

import (
	"context"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// deleter is how one Terraform type is deleted.
type deleter struct {
	// rank orders a run: lower first (dependents before what they use).
	rank int
	// read returns the resource's current state, saved as the action's
	// before-state; gone is true when it no longer exists.
	read func(ctx context.Context, c *clients, r model.Resource) (before any, gone bool, err error)
	// check returns why the delete cannot run now, or "" (optional).
	// acting tells whether another resource is acted on in the same run.
	check func(ctx context.Context, c *clients, r model.Resource, s plumbconfig.Enforcement, acting func(typ, id string) bool) (string, error)
	// delete deletes; before is the saved before-state. It returns what
	// was done. A "not found" from AWS is handled by the caller.
	delete func(ctx context.Context, c *clients, a *enforce.Action, s plumbconfig.Enforcement, before json.RawMessage) (string, error)
	// notFound are the error codes meaning the resource is gone.
	notFound []string
}

// deleters is the catalogue. Each service file contributes its own.
func deleters() map[string]deleter {
	out := map[string]deleter{}
	for _, group := range []map[string]deleter{
		ec2Deleters(), s3Deleters(), iamDeleters(), sqsDeleters(), snsDeleters(),
		dynamodbDeleters(), logsDeleters(), rdsDeleters(), lambdaDeleters(), kmsDeleters(),
	} {
		for k, v := range group {
			out[k] = v
		}
	}
	return out
}

// Executor is the AWS enforce.Executor. Safe for concurrent use.
type Executor struct {
	cfg          aws.Config
	loadOpts     []func(*config.LoadOptions) error
	deleters     map[string]deleter
	quarantiners map[string]quarantiner
	acct         accountState
	// callerCache is the principal of the last access key ownSelf asked
	// STS about.
	callerCache selfByKey
	types       map[string]typeInfo
	reads       atomic.Int64
	writes      atomic.Int64
	// get is the inventory scanner of reads by id, made on first use.
	getMu sync.Mutex
	get   map[string]*awsinv.Scanner
	// groupLocks serialize the grants of one IAM group (grant.go).
	groupLocks sync.Map
	// Wait bounds the waits for AWS to finish (termination, snapshots).
	Wait time.Duration
}

type typeInfo struct {
	service string
	global  bool
}

var _ enforce.Executor = (*Executor)(nil)

// New loads the AWS configuration through the standard chain (profiles,
// AWS_ENDPOINT_URL, ...), as `plumb scan` does, with the call counter
// installed. loadOpts are added to the chain (tests pass moto's).
func New(ctx context.Context, loadOpts ...func(*config.LoadOptions) error) (*Executor, error) {
	e := &Executor{deleters: deleters(), quarantiners: quarantiners(), types: map[string]typeInfo{}, Wait: 15 * time.Minute}
	count := middleware.InitializeMiddlewareFunc("plumbEnforceCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		write := IsWrite(op)
		if write {
			e.writes.Add(1)
		} else {
			e.reads.Add(1)
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if rec, ok := ctx.Value(recorderKey{}).(enforce.Recorder); ok {
			c := enforce.Call{At: time.Now().UTC(), Service: awsmiddleware.GetServiceID(ctx), Operation: op,
				Region: awsmiddleware.GetRegion(ctx), Write: write}
			if err != nil {
				c.Error = errorText(err)
			}
			rec.Call(c)
		}
		return out, md, err
	})
	apiOpt := config.WithAPIOptions([]func(*middleware.Stack) error{
		func(st *middleware.Stack) error { return st.Initialize.Add(count, middleware.After) },
	})
	e.loadOpts = append([]func(*config.LoadOptions) error{apiOpt}, loadOpts...)
	cfg, err := config.LoadDefaultConfig(ctx, e.loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	e.cfg = cfg
	for _, t := range awsinv.NewMapper().Types() {
		e.types[t.Name] = typeInfo{service: t.Service, global: t.Global}
	}
	return e, nil
}

// IsWrite classifies an AWS operation: anything that is not a Describe,
// List, Get or Head call may change the estate.
func IsWrite(operation string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Head"} {
		if strings.HasPrefix(operation, p) {
			return false
		}
	}
	return true
}

// Calls returns how many read and write calls the executor (and the
// inventory reads it made) sent so far.
func (e *Executor) Calls() (reads, writes int64) { return e.reads.Load(), e.writes.Load() }

type recorderKey struct{}

// Provider implements enforce.Executor.
func (e *Executor) Provider() string { return "aws" }

// Supports implements enforce.Executor: delete of the types with a
// deleter; quarantine and release, tag and grant (quarantine.go); the
// built-in revert (revert.go) of the types whose tags or settings it
// writes.
func (e *Executor) Supports(verb enforce.Verb, typ string) bool {
	if verb == enforce.VerbRevert {
		return revertable(typ)
	}
	if verb != enforce.VerbDelete {
		return e.supportsMore(verb, typ)
	}
	_, ok := e.deleters[typ]
	return verb == enforce.VerbDelete && ok
}

// Rank implements enforce.Executor.
func (e *Executor) Rank(verb enforce.Verb, typ string) int {
	if verb != enforce.VerbDelete {
		return e.rankMore(verb, typ)
	}
	return e.deleters[typ].rank
}

// Types lists the types delete supports, for docs and errors.
func (e *Executor) Types() []string {
	out := make([]string, 0, len(e.deleters))
	for t := range e.deleters {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Caller implements enforce.Executor: the account of plumb's own
// credentials (see ownSelf).
func (e *Executor) Caller(ctx context.Context) (string, error) {
	me, err := e.ownSelf(ctx)
	if err != nil {
		return "", err
	}
	return accountOfARN(me.arn), nil
}

// ownSelf asks STS who plumb's own credentials are, once per access key
// id: a key belongs to one principal for life, and credentials that
// rotate come with a new key, which is asked about again.
func (e *Executor) ownSelf(ctx context.Context) (self, error) {
	cfg := e.cfg.Copy()
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	key := ""
	if cfg.Credentials != nil {
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return self{}, fmt.Errorf("aws credentials: %s", errorText(err))
		}
		key = creds.AccessKeyID
	}
	if me, ok := e.callerCache.get(key); ok {
		return me, nil
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return self{}, fmt.Errorf("sts GetCallerIdentity: %s", errorText(err))
	}
	me := parseSelf(aws.ToString(out.Arn))
	e.callerCache.put(key, me)
	return me, nil
}

// selfByKey remembers the principal STS named for an access key id.
type selfByKey struct {
	mu  sync.Mutex
	key string
	me  self
}

func (c *selfByKey) get(key string) (self, bool) {
	if key == "" {
		return self{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.me, c.key == key && c.me.arn != ""
}

func (c *selfByKey) put(key string, me self) {
	if key == "" || me.arn == "" {
		return
	}
	c.mu.Lock()
	c.key, c.me = key, me
	c.mu.Unlock()
}

// Read implements enforce.Executor through plumb's inventory, so the
// resource read back has exactly the id, tags and Default marking the
// scan gave it. A type the inventory reads by id (instances, security
// groups: one call per type and region asked about; buckets: two per
// bucket) is read by id, so the cost does not grow with the region; any
// other type is listed, once per type and region asked about, with
// per-resource detail calls only for the resources asked about.
//
// Resources of another account than plumb's own are read there through
// the account's role (SetAccountRoles); one of an account plumb has no
// way into is unknown, with the reason.
func (e *Executor) Read(ctx context.Context, rs []model.Resource) (map[string]model.Resource, map[string]error, error) {
	found := map[string]model.Resource{}
	unknown := map[string]error{}
	byAccount := map[string][]model.Resource{}
	var accounts []string
	for _, r := range rs {
		if _, seen := byAccount[r.Account]; !seen {
			accounts = append(accounts, r.Account)
		}
		byAccount[r.Account] = append(byAccount[r.Account], r)
	}
	sort.Strings(accounts)
	for _, acct := range accounts {
		if _, _, err := e.roleFor(ctx, acct); err != nil {
			for _, r := range byAccount[acct] {
				unknown[enforce.ResourceKey(r)] = err
			}
			continue
		}
		if err := e.readIn(ctx, acct, byAccount[acct], found, unknown); err != nil {
			return nil, nil, err
		}
	}
	return found, unknown, nil
}

// readIn reads resources of one account into found and unknown.
func (e *Executor) readIn(ctx context.Context, account string, rs []model.Resource, found map[string]model.Resource, unknown map[string]error) error {
	getter, err := e.getter(ctx, account)
	if err != nil {
		return err
	}
	byID := map[[2]string][]model.Resource{}
	var listed []model.Resource
	for _, r := range rs {
		info, ok := e.types[r.Type]
		switch {
		case !ok:
			unknown[enforce.ResourceKey(r)] = fmt.Errorf("plumb cannot read %s resources", r.Type)
		case getter.CanGet(r.Type) && (info.global || r.Region != ""):
			k := [2]string{r.Type, regionOrEmpty(info, r.Region)}
			byID[k] = append(byID[k], r)
		default:
			listed = append(listed, r)
		}
	}
	for k, group := range byID {
		ids := make([]string, len(group))
		for i, r := range group {
			ids[i] = r.ID
		}
		got, err := getter.Get(ctx, k[0], k[1], ids)
		for _, r := range group {
			if err != nil {
				unknown[enforce.ResourceKey(r)] = err
				continue
			}
			for _, x := range got {
				if x.ID == r.ID {
					found[enforce.ResourceKey(r)] = x
				}
			}
		}
	}
	if len(listed) == 0 {
		return nil
	}
	return e.readListed(ctx, account, listed, found, unknown)
}

// getter is the inventory scanner that reads by id in an account, made
// once per account.
func (e *Executor) getter(ctx context.Context, account string) (*awsinv.Scanner, error) {
	e.getMu.Lock()
	defer e.getMu.Unlock()
	if sc, ok := e.get[account]; ok {
		return sc, nil
	}
	opts, err := e.loadOptsIn(ctx, account)
	if err != nil {
		return nil, err
	}
	sc, err := awsinv.New(ctx, awsinv.Options{Regions: []string{e.defaultRegion()}}, opts...)
	if err != nil {
		return nil, err
	}
	if e.get == nil {
		e.get = map[string]*awsinv.Scanner{}
	}
	e.get[account] = sc
	return sc, nil
}

// defaultRegion is the region of plumb's configuration, or us-east-1.
func (e *Executor) defaultRegion() string {
	if e.cfg.Region != "" {
		return e.cfg.Region
	}
	return "us-east-1"
}

// readListed reads rs (of one account) through an inventory listing of
// their types and regions, adding to found and unknown.
func (e *Executor) readListed(ctx context.Context, account string, rs []model.Resource, found map[string]model.Resource, unknown map[string]error) error {
	want := map[string]model.Resource{}
	typeSet := map[string]bool{}
	regionSet := map[string]bool{}
	for _, r := range rs {
		info := e.types[r.Type]
		want[r.Type+"\x00"+r.ID] = r
		typeSet[r.Type] = true
		if !info.global && r.Region != "" {
			regionSet[r.Region] = true
		}
	}
	if len(typeSet) == 0 {
		return nil
	}
	opts := awsinv.Options{Concurrency: 4,
		Declared: func(typ, id string) bool { _, ok := want[typ+"\x00"+id]; return ok }}
	for t := range typeSet {
		opts.Types = append(opts.Types, t)
	}
	for r := range regionSet {
		opts.Regions = append(opts.Regions, r)
	}
	sort.Strings(opts.Types)
	sort.Strings(opts.Regions)
	if len(opts.Regions) == 0 {
		// Only global types: any region serves them.
		opts.Regions = []string{e.defaultRegion()}
	}
	loadOpts, err := e.loadOptsIn(ctx, account)
	if err != nil {
		return err
	}
	sc, err := awsinv.New(ctx, opts, loadOpts...)
	if err != nil {
		return err
	}
	res, err := sc.Scan(ctx)
	if err != nil {
		return err
	}
	failed := map[string]string{}
	for _, se := range res.Errors {
		failed[se.Scope] = se.Message
	}
	for _, x := range res.Resources {
		r, ok := want[x.Type+"\x00"+x.ID]
		if !ok || (!e.types[x.Type].global && x.Region != r.Region) {
			continue
		}
		found[enforce.ResourceKey(r)] = x
	}
	for _, r := range want {
		k := enforce.ResourceKey(r)
		if _, ok := found[k]; ok {
			continue
		}
		info := e.types[r.Type]
		region := r.Region
		if info.global || region == "" {
			region = "global"
		}
		if msg, ok := failed["aws/"+region+"/"+info.service]; ok {
			unknown[k] = errors.New(msg)
		} else if !info.global && r.Region == "" {
			unknown[k] = fmt.Errorf("the resource's region is unknown")
		} else if !res.Complete(r.Type, regionOrEmpty(info, r.Region)) {
			unknown[k] = fmt.Errorf("%s in %s was not listed completely", r.Type, region)
		}
	}
	return nil
}

func regionOrEmpty(info typeInfo, region string) string {
	if info.global {
		return ""
	}
	return region
}

// Check implements enforce.Executor.
func (e *Executor) Check(ctx context.Context, a *enforce.Action, live model.Resource, s plumbconfig.Enforcement, acting func(typ, id string) bool) (string, error) {
	if a.Verb != enforce.VerbDelete {
		return e.checkMore(ctx, a, live)
	}
	d, ok := e.deleters[a.Resource.Type]
	if !ok || a.Verb != enforce.VerbDelete {
		return fmt.Sprintf("plumb cannot %s %s", a.Verb, a.Resource.Type), nil
	}
	if d.check == nil {
		return "", nil
	}
	if acting == nil {
		acting = func(string, string) bool { return false }
	}
	c, err := e.clientsIn(ctx, live.Account, live.Region)
	if err != nil {
		return err.Error(), nil
	}
	reason, err := d.check(ctx, c, live, s, acting)
	if err != nil && isCode(err, d.notFound) {
		return "", nil // gone since the read: the delete will find nothing to do
	}
	if err != nil {
		return "", errors.New(errorText(err))
	}
	return reason, nil
}

// Execute implements enforce.Executor: read the resource (gone is a
// success), save the before-state once, delete.
func (e *Executor) Execute(ctx context.Context, a *enforce.Action, s plumbconfig.Enforcement, rec enforce.Recorder) (string, error) {
	if a.Verb != enforce.VerbDelete {
		return e.executeMore(ctx, a, s, rec)
	}
	d, ok := e.deleters[a.Resource.Type]
	if !ok || a.Verb != enforce.VerbDelete {
		return "", enforce.Permanent(fmt.Errorf("plumb cannot %s %s", a.Verb, a.Resource.Type))
	}
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	c, err := e.clientsIn(ctx, a.Resource.Account, a.Resource.Region)
	if err != nil {
		return "", enforce.Permanent(err)
	}
	before, gone, err := d.read(ctx, c, a.Resource)
	if err != nil && !isCode(err, d.notFound) {
		return "", fmt.Errorf("read before deleting: %s", errorText(err))
	}
	if gone || err != nil {
		return "already gone", nil
	}
	stored, err := rec.SaveBefore(ctx, before)
	if err != nil {
		return "", err
	}
	result, err := d.delete(ctx, c, a, s, stored)
	if err != nil {
		if isCode(err, d.notFound) {
			return "already gone", nil
		}
		if enforce.IsPermanent(err) {
			return "", err
		}
		return "", errors.New(errorText(err))
	}
	return result, nil
}

// clients builds service clients for an account and region on demand.
type clients struct {
	cfg  aws.Config
	wait time.Duration
	// account is where cfg acts ("": plumb's own credentials).
	account string
}

// isCode reports whether err is an AWS API error with one of codes.
func isCode(err error, codes []string) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	for _, c := range codes {
		if apiErr.ErrorCode() == c {
			return true
		}
	}
	return false
}

// errorText keeps the AWS error code and message, not the SDK's wrapping.
func errorText(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	return err.Error()
}
