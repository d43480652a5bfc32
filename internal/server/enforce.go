package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/prometheus/client_golang/prometheus"

	"plumb/internal/breakglass"
	"plumb/internal/config"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	enforceazure "plumb/internal/enforce/azure"
	"plumb/internal/enforce/tfrevert"
	"plumb/internal/findings"
	"plumb/internal/queue"
	"plumb/internal/routing"
)

// ExecutorOptions say how the executors reach the clouds when the
// default chains are not the way: tests point them at moto (through
// AWS_ENDPOINT_URL, which needs no option) and at the ARM test server.
type ExecutorOptions struct {
	// AzureCredential authenticates ARM requests (nil: the default Azure
	// credential chain).
	AzureCredential azcore.TokenCredential
	// AzureClient configures the ARM pipeline: cloud, endpoint, transport
	// (nil: public Azure).
	AzureClient *arm.ClientOptions
}

// Executors builds the executors enforcement acts through, for plumb serve
// and plumb enforce alike: AWS, through the standard SDK chain (profiles,
// AWS_ENDPOINT_URL); Azure, through Azure Resource Manager with the
// default Azure credential chain, when an environment of cloud azure
// enforces. None is built when nothing in the config acts.
func Executors(ctx context.Context, cfg *config.Config, o ExecutorOptions) (map[string]enforce.Executor, error) {
	acts := actsAnywhere(cfg)
	if !acts {
		return map[string]enforce.Executor{}, nil
	}
	ex, err := enforceaws.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("enforcement: %w", err)
	}
	ex.SetAccountRoles(enforceaws.RolesOf(cfg))
	out := map[string]enforce.Executor{ex.Provider(): ex}
	if sub, ok := azureSubscription(cfg); ok {
		az, err := enforceazure.New(enforceazure.Options{Subscription: sub, Credential: o.AzureCredential, ClientOptions: o.AzureClient})
		if err != nil {
			return nil, fmt.Errorf("enforcement: %w", err)
		}
		out[az.Provider()] = az
	}
	return out, nil
}

// azureSubscription tells whether an Azure environment enforces, and the
// subscription the Azure executor acts in: AZURE_SUBSCRIPTION_ID, else the
// one subscription those environments name in accounts ("" when they
// name several: the account guard then stops every Azure action).
func azureSubscription(cfg *config.Config) (string, bool) {
	subs := map[string]bool{}
	enforcing := false
	for _, e := range cfg.Environments {
		if e.Cloud != "azure" || !e.Enforcement.Acts() {
			continue
		}
		enforcing = true
		for _, a := range e.AccountIDs() {
			subs[a] = true
		}
	}
	if !enforcing {
		return "", false
	}
	if env := strings.TrimSpace(os.Getenv("AZURE_SUBSCRIPTION_ID")); env != "" {
		return env, true
	}
	if len(subs) == 1 {
		for s := range subs {
			return s, true
		}
	}
	return "", true
}

// enforcement is the server's enforcement wiring: the service and runner,
// the approvals of actions awaiting them and the break-glass windows.
type enforcement struct {
	service    *enforce.Service
	runner     *enforce.Runner
	actions    *enforce.Store
	approvals  *enforce.Approvals
	breakglass *breakglass.Store
}

// newEnforcement wires the service and runner over the open stores. The
// Terraform reverter runs tfBin (terraform or tofu; empty is terraform)
// in the terraform_dir of environments that set one.
func newEnforcement(ctx context.Context, cfg *config.Config, q *queue.Queue, store *findings.Store,
	execs map[string]enforce.Executor, now func() time.Time, logger *slog.Logger, tfBin string) (*enforcement, error) {
	actions, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return nil, err
	}
	windows, err := breakglass.NewStore(ctx, q.DB(), q.Dialect(), store)
	if err != nil {
		return nil, err
	}
	rev := &tfrevert.Reverter{Bin: tfBin}
	runner := &enforce.Runner{Actions: actions, Findings: store, Executors: execs, Environment: cfg.Environment,
		Enqueue: q.Enqueue, Now: now, Logger: logger, Terraform: rev}
	svc := &enforce.Service{Config: cfg, Findings: store, Actions: actions, Executors: execs, Runner: runner, Now: now,
		Terraform: rev, BreakGlass: windows, DeclaredCache: &enforce.DeclaredCache{}}
	return &enforcement{service: svc, runner: runner, actions: actions, breakglass: windows,
		approvals: &enforce.Approvals{Config: cfg, Actions: actions, Runner: runner, Now: now}}, nil
}

// EnforceResult is what a one-shot enforcement run did.
type EnforceResult struct {
	Plan *enforce.Plan
	// Actions are the run's records after the wait, in execution order
	// (blocked ones as planned).
	Actions []*enforce.Action
	// Unfinished counts actions still queued or retrying when the wait
	// ended; they stay in the data dir and run on the next start.
	Unfinished int
	// Sent counts notifications queued, Pending those not delivered yet.
	Sent, Pending int
}

// EnforceOptions describe one `plumb enforce` run on a local store.
type EnforceOptions struct {
	Config  *config.Config
	DataDir string
	Request enforce.Request
	// Wait bounds how long an apply waits for its actions and the
	// notifications that follow.
	Wait   time.Duration
	Logger *slog.Logger
	// Executors overrides the executors (nil: Executors(cfg,
	// ExecutorOptions)).
	Executors map[string]enforce.Executor
	// ExecutorOptions reach the clouds when Executors builds them.
	ExecutorOptions ExecutorOptions
	// Now is the clock (nil: time.Now); tests pass a fake one.
	Now func() time.Time
	// Release, when set, releases a quarantine instead of planning
	// Request (plumb enforce release).
	Release *enforce.ReleaseRequest
	// TerraformBin is the terraform (or tofu) binary reverts run in an
	// environment's terraform_dir (empty: terraform).
	TerraformBin string
}

// EnforceOnce is `plumb enforce` with --data-dir: it plans from the
// findings `plumb scan --notify` stored there and, when the request
// applies, runs the durable queue in-process until the run's actions
// finish or the wait elapses, then sends the finding updates to the
// receivers, as plumb serve would.
func EnforceOnce(ctx context.Context, o EnforceOptions) (EnforceResult, error) {
	var res EnforceResult
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	execs := o.Executors
	if execs == nil {
		var err error
		if execs, err = Executors(ctx, o.Config, o.ExecutorOptions); err != nil {
			return res, err
		}
	}
	p := &Pipeline{byName: map[string]*subscription{}, logger: logger, metrics: NewMetrics(prometheus.NewRegistry(), nil), now: now}
	q, err := queue.Open(ctx, queue.Options{DataDir: o.DataDir, Dispatch: p, Workers: 4, Logger: logger})
	if err != nil {
		return res, fmt.Errorf("open store in %s: %w", o.DataDir, err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return res, err
	}
	p.SetStore(store)
	if p.receivers, err = BuildReceivers(o.Config, store.ReceiverState()); err != nil {
		return res, err
	}
	enf, err := newEnforcement(ctx, o.Config, q, store, execs, now, logger, o.TerraformBin)
	if err != nil {
		return res, err
	}
	p.SetEnforcer(enf.runner)
	if o.Release != nil {
		res.Plan, err = enf.service.Release(ctx, *o.Release)
	} else {
		res.Plan, err = enf.service.Plan(ctx, o.Request)
	}
	if err != nil {
		return res, err
	}
	res.Actions = res.Plan.Actions
	if !o.Request.Apply && o.Release == nil {
		return res, nil
	}
	if err := q.Start(ctx); err != nil {
		return res, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = q.Stop(stopCtx)
	}()
	deadline := time.Now().Add(o.Wait)
	runnable := len(res.Plan.Runnable())
	for runnable > 0 {
		acts, err := enf.actions.Run(ctx, res.Plan.RunID)
		if err != nil {
			return res, err
		}
		res.Unfinished = 0
		for _, a := range acts {
			if a.State == enforce.StatePlanned || a.State == enforce.StateRunning {
				res.Unfinished++
			}
		}
		res.Actions = mergeRun(res.Plan.Actions, acts)
		if res.Unfinished == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if o.Config.Route == nil {
		return res, nil
	}
	n := newNotifier(o.Config, store, q)
	n.Now = now
	if res.Sent, err = n.Flush(ctx, routing.FlushOptions{Immediate: true}); err != nil {
		return res, fmt.Errorf("route findings: %w", err)
	}
	for {
		d, err := q.Depth(ctx)
		if err != nil {
			return res, err
		}
		res.Pending = d[queue.StatePending] + d[queue.StateRetry]
		if res.Unfinished > 0 {
			res.Pending-- // the run's own delivery
		}
		if res.Pending <= 0 || time.Now().After(deadline) || ctx.Err() != nil {
			res.Pending = max(res.Pending, 0)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res, nil
}

// mergeRun replaces a plan's runnable actions by their stored records.
func mergeRun(planned, stored []*enforce.Action) []*enforce.Action {
	byID := map[string]*enforce.Action{}
	for _, a := range stored {
		byID[a.ID] = a
	}
	out := make([]*enforce.Action, len(planned))
	for i, a := range planned {
		if s, ok := byID[a.ID]; ok {
			out[i] = s
		} else {
			out[i] = a
		}
	}
	return out
}
