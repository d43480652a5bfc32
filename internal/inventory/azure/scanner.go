package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"plumb/internal/inventory"
)

// moduleName and moduleVersion identify plumb's own ARM client (event
// subscriptions) in the User-Agent telemetry azcore sends.
const (
	moduleName    = "plumb/inventory/azure"
	moduleVersion = "v0.1.0"
)

// Retry defaults. ARM throttles per principal and answers 429 with a
// Retry-After header; azcore waits exactly that long when one is given,
// and backs off exponentially (1 s, 3 s, 7 s, ... capped) otherwise. A
// Retry-After longer than maxRetryDelay makes azcore give up, so the cap
// is generous.
const (
	defaultMaxRetries  = 6
	defaultRetryDelay  = time.Second
	maxRetryDelay      = 2 * time.Minute
	defaultConcurrency = 8
	// defaultTokenTimeout bounds the identity check (the first token).
	defaultTokenTimeout = 20 * time.Second
)

// Options tune a scan.
type Options struct {
	// Subscriptions to scan. Empty means AZURE_SUBSCRIPTION_ID when it is
	// set, and otherwise every subscription the credential can see.
	Subscriptions []string
	// ResourceGroups restricts the scan to these groups in every
	// subscription. A restricted scan never marks a type complete for a
	// whole subscription (see Scan), so declared resources are never
	// reported missing from it; unmanaged resources are still reported.
	ResourceGroups []string
	// Credential authenticates requests; nil uses
	// azidentity.NewDefaultAzureCredential (environment, workload identity,
	// managed identity, Azure CLI, ...).
	Credential azcore.TokenCredential
	// ClientOptions configure the ARM pipeline (cloud, transport, retry).
	// Tests point Cloud at a test server and Transport at its client.
	// Unset retry fields get plumb's defaults.
	ClientOptions *arm.ClientOptions
	// Concurrency bounds how many subscriptions are scanned at once, and
	// separately how many per-resource reads (virtual networks) are in
	// flight at once. Default 8.
	Concurrency int
	// Observer, when set, follows the subscriptions as they are read.
	Observer inventory.Observer
	// TokenTimeout bounds acquiring the first token, the identity check
	// that runs before anything is listed (default 20 s).
	TokenTimeout time.Duration
}

// Scanner lists Azure resources in one or more subscriptions. It is safe to
// call Scan more than once; each call returns a fresh result.
type Scanner struct {
	opts    Options
	cred    azcore.TokenCredential
	client  arm.ClientOptions
	subs    []string
	calls   atomic.Int64
	armHost string
}

// New prepares a scanner: it settles the credential, the ARM pipeline
// options and the subscriptions to scan. Listing subscriptions (when none
// are given) is the only request New may send.
func New(ctx context.Context, opts Options) (*Scanner, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = defaultConcurrency
	}
	s := &Scanner{opts: opts}
	if opts.ClientOptions != nil {
		s.client = *opts.ClientOptions
	}
	endpoint, err := armEndpoint(s.client.Cloud)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid Azure Resource Manager endpoint %q", endpoint)
	}
	s.armHost = hostKey(u)
	s.configurePipeline()

	s.cred = opts.Credential
	if s.cred == nil {
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: policy.ClientOptions{Cloud: s.client.Cloud, Transport: s.client.Transport},
		})
		if err != nil {
			return nil, fmt.Errorf("azure credentials: %w", err)
		}
		s.cred = cred
	}
	if err := s.checkToken(ctx); err != nil {
		return nil, err
	}

	s.subs = cleanList(opts.Subscriptions)
	if len(s.subs) == 0 {
		if env := strings.TrimSpace(os.Getenv("AZURE_SUBSCRIPTION_ID")); env != "" {
			s.subs = []string{env}
		}
	}
	if len(s.subs) == 0 {
		subs, err := s.listSubscriptions(ctx)
		if err != nil {
			return nil, err
		}
		if len(subs) == 0 {
			return nil, errors.New("no enabled Azure subscription is visible to the credential: pass --subscription or set AZURE_SUBSCRIPTION_ID")
		}
		s.subs = subs
	}
	return s, nil
}

// armEndpoint returns the Resource Manager endpoint of a cloud
// configuration (Azure public cloud when unset).
func armEndpoint(c cloud.Configuration) (string, error) {
	if len(c.Services) == 0 {
		c = cloud.AzurePublic
	}
	svc, ok := c.Services[cloud.ResourceManager]
	if !ok || svc.Endpoint == "" || svc.Audience == "" {
		return "", errors.New("cloud configuration has no Azure Resource Manager endpoint and audience")
	}
	return svc.Endpoint, nil
}

// configurePipeline fills in retry defaults and adds plumb's policies. It
// copies the caller's policy slices so the caller's options stay untouched.
func (s *Scanner) configurePipeline() {
	c := &s.client
	// Resource provider registration is a write (POST .../register);
	// an inventory must never change the estate it reads.
	c.DisableRPRegistration = true
	if c.Retry.MaxRetries == 0 {
		c.Retry.MaxRetries = defaultMaxRetries
	}
	if c.Retry.RetryDelay == 0 {
		c.Retry.RetryDelay = defaultRetryDelay
	}
	if c.Retry.MaxRetryDelay == 0 {
		c.Retry.MaxRetryDelay = maxRetryDelay
	}
	c.PerCallPolicies = append(append([]policy.Policy(nil), c.PerCallPolicies...), hostGuard{host: s.armHost})
	c.PerCallPolicies = append(c.PerCallPolicies, callStart{})
	c.PerRetryPolicies = append(append([]policy.Policy(nil), c.PerRetryPolicies...), callCounter{n: &s.calls}, attemptObserver{s: s})
}

// callCounter counts every HTTP attempt, retries included (it runs after
// the retry policy), which is what the calls-per-resource figure and the
// ARM throttling budget are about.
type callCounter struct{ n *atomic.Int64 }

// Do implements policy.Policy.
func (c callCounter) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

// hostGuard refuses requests to any host but the ARM endpoint. Pagers
// follow the nextLink URLs the service returns, and the bearer token is
// attached to whatever URL that is; the guard keeps the token on ARM.
type hostGuard struct{ host string }

// Do implements policy.Policy.
func (g hostGuard) Do(req *policy.Request) (*http.Response, error) {
	if h := hostKey(req.Raw().URL); h != g.host {
		return nil, fmt.Errorf("refusing request to %s: not the Azure Resource Manager endpoint %s", h, g.host)
	}
	return req.Next()
}

// hostKey is a URL's host with an explicit port, so that
// management.azure.com and management.azure.com:443 (as some nextLinks
// spell it) are the same host.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// Subscriptions returns the subscriptions this scanner covers.
func (s *Scanner) Subscriptions() []string { return append([]string(nil), s.subs...) }

// APICalls returns the number of HTTP requests sent so far, retries
// included.
func (s *Scanner) APICalls() int64 { return s.calls.Load() }

// listSubscriptions lists the subscriptions the credential can read.
// Disabled and deleted subscriptions are left out: their resources cannot
// drift.
func (s *Scanner) listSubscriptions(ctx context.Context) ([]string, error) {
	client, err := armsubscriptions.NewClient(s.cred, &s.client)
	if err != nil {
		return nil, fmt.Errorf("azure subscriptions client: %w", err)
	}
	var out []string
	pager := client.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list Azure subscriptions: %w", describeErr(err))
		}
		for _, sub := range page.Value {
			if sub == nil || sub.SubscriptionID == nil {
				continue
			}
			if sub.State != nil {
				switch *sub.State {
				case armsubscriptions.SubscriptionStateDisabled, armsubscriptions.SubscriptionStateDeleted:
					continue
				}
			}
			out = append(out, *sub.SubscriptionID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Scan lists every supported type in every subscription.
//
// Completeness: a type is marked complete for a subscription
// (Result.Add(type, subscription, ...)) only when everything it depends on
// was read; a failure is recorded as a scope error
// (azure/<subscription>/<service>) and leaves the type incomplete, so the
// drift engine counts its declared resources as not evaluated instead of
// missing. When the scan is restricted to resource groups, types are
// recorded under "<subscription>/resourceGroups/<groups>" instead, which
// the engine (judging by subscription) never takes as a complete
// subscription.
func (s *Scanner) Scan(ctx context.Context) (*inventory.Result, error) {
	res := inventory.NewResult(s.subs)
	// leaf bounds per-resource reads across all subscriptions. Only leaf
	// requests take it, so it cannot deadlock with the unit semaphore.
	leaf := make(chan struct{}, s.opts.Concurrency)
	units := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	if s.opts.Observer != nil {
		labels := make([]string, 0, len(s.subs))
		for _, sub := range s.subs {
			labels = append(labels, "subscription/"+sub)
		}
		s.opts.Observer.Planned(labels)
	}
	for _, sub := range s.subs {
		wg.Add(1)
		go func(sub string) {
			defer wg.Done()
			if s.opts.Observer != nil {
				defer s.opts.Observer.Finished("subscription/" + sub)
			}
			select {
			case units <- struct{}{}:
			case <-ctx.Done():
				res.Fail(scope(sub, serviceResources), fmt.Errorf("stopped before it started: %w", ctx.Err()))
				return
			}
			defer func() { <-units }()
			s.scanSubscription(withUnit(ctx, "subscription/"+sub), sub, res, leaf)
		}(sub)
	}
	wg.Wait()
	res.APICalls = s.calls.Load()
	res.Sort()
	return res, nil
}

// scope names a failing part of a subscription in the report's errors.
func scope(sub, service string) inventory.Scope {
	return inventory.Scope{Provider: "azure", Region: sub, Service: service}
}

// completeKey is the scope under which listed types are marked complete:
// the subscription, or a narrower key when the scan is restricted to
// resource groups (see Scan).
func (s *Scanner) completeKey(sub string) string {
	if len(s.opts.ResourceGroups) == 0 {
		return sub
	}
	groups := make([]string, 0, len(s.opts.ResourceGroups))
	for _, g := range cleanList(s.opts.ResourceGroups) {
		groups = append(groups, strings.ToLower(g))
	}
	return sub + "/resourceGroups/" + strings.Join(groups, ",")
}

// scanSubscription reads one subscription. Resource groups come first
// because their managedBy property decides which resources are defaults;
// subnets and event subscriptions depend on the generic list (virtual
// networks, locations) and run side by side after it.
func (s *Scanner) scanSubscription(ctx context.Context, sub string, res *inventory.Result, leaf chan struct{}) {
	key := s.completeKey(sub)
	c, err := s.newClients(sub)
	if err != nil {
		for _, svc := range []string{serviceResources, serviceNetwork, serviceEventGrid} {
			res.Fail(scope(sub, svc), err)
		}
		return
	}

	groups, err := c.listGroups(ctx, cleanList(s.opts.ResourceGroups))
	defaults := groupDefaults{}
	if err != nil {
		res.Fail(scope(sub, serviceResources), fmt.Errorf("%s: %w", typeResourceGroup, err))
	} else {
		for _, g := range groups {
			if reason := g.Default; reason != "" {
				defaults[strings.ToLower(g.Name)] = reason
			}
		}
		res.Add(typeResourceGroup, key, groups)
	}

	list, err := c.listGeneric(ctx, cleanList(s.opts.ResourceGroups), defaults)
	if err != nil {
		res.Fail(scope(sub, serviceResources), fmt.Errorf("resources: %w", err))
		// Subnets and regional event subscriptions are found through the
		// generic list; without it they cannot be read either.
		res.Fail(scope(sub, serviceNetwork), fmt.Errorf("%s: not read because the resource list failed", typeSubnet))
		res.Fail(scope(sub, serviceEventGrid), fmt.Errorf("%s: not read because the resource list failed", typeEventSubscription))
		return
	}
	for _, t := range catalog() {
		if fromGenericList(t.Name) {
			res.Add(t.Name, key, list.byType[t.Name])
		}
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		subnets, err := c.listSubnets(ctx, list.byType[typeVirtualNetwork], defaults, leaf)
		if err != nil {
			res.Fail(scope(sub, serviceNetwork), fmt.Errorf("%s: %w", typeSubnet, err))
			return
		}
		res.Add(typeSubnet, key, subnets)
	}()
	go func() {
		defer wg.Done()
		subsEG, err := c.listEventSubscriptions(ctx, cleanList(s.opts.ResourceGroups), list.locations, defaults)
		if err != nil {
			res.Fail(scope(sub, serviceEventGrid), fmt.Errorf("%s: %w", typeEventSubscription, err))
			return
		}
		res.Add(typeEventSubscription, key, subsEG)
	}()
	wg.Wait()
}

// cleanList trims, drops empty entries and removes case-insensitive
// duplicates, keeping the first spelling.
func cleanList(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" || seen[strings.ToLower(v)] {
			continue
		}
		seen[strings.ToLower(v)] = true
		out = append(out, v)
	}
	return out
}

// apiError is an ARM error reduced to what an operator acts on: the error
// code (AuthorizationFailed, ...), the HTTP status and ARM's message. It
// wraps the SDK's *azcore.ResponseError, whose own text is a multi-line
// dump of the request.
type apiError struct {
	code    string
	status  int
	message string
	err     *azcore.ResponseError
}

func (e *apiError) Error() string {
	msg := e.code
	if msg == "" {
		msg = http.StatusText(e.status)
	}
	msg = fmt.Sprintf("%s (HTTP %d)", msg, e.status)
	if e.message != "" {
		msg += ": " + e.message
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.err }

// describeErr turns an ARM response error into an apiError and leaves
// other errors (network, context) as they are.
func describeErr(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	out := &apiError{code: re.ErrorCode, status: re.StatusCode, err: re}
	if re.RawResponse != nil {
		if body, perr := runtime.Payload(re.RawResponse); perr == nil {
			var envelope struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &envelope) == nil {
				out.message = envelope.Error.Message
				if out.code == "" {
					out.code = envelope.Error.Code
				}
			}
		}
	}
	return out
}

// isNotFound reports whether ARM answered 404: the object was deleted
// between two calls, or a named resource group does not exist.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
