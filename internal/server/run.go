package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	plumbconfig "plumb/internal/config"
	"plumb/internal/drift"
	"plumb/internal/enforce"
	"plumb/internal/eventformat"
	"plumb/internal/findings"
	"plumb/internal/handler"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/poller"
	"plumb/internal/queue"
	"plumb/internal/report"
	"plumb/internal/routing"
	"plumb/internal/scan"
	"plumb/internal/scanhistory"
	"plumb/internal/scanjob"
	"plumb/internal/state"
)

// Options describe one plumb serve process.
type Options struct {
	Config      *plumbconfig.Config
	DataDir     string
	DatabaseURL string
	// Listen overrides server.listen; "127.0.0.1:0" picks a free port.
	Listen string
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain of in-flight requests and
	// deliveries after the stop signal.
	ShutdownTimeout time.Duration
	// AlertInterval is how often queue alerts are evaluated; 0 derives
	// it from their `for` (QueueAlertInterval).
	AlertInterval time.Duration
	// OnListen is called with the bound address once the server accepts
	// connections (tests use it to find a server started on port 0).
	OnListen func(addr string)
	// ScanTimeout bounds each scheduled scan (default 30m). A scan that
	// does not finish in time fails with that reason and runs again at
	// its next tick, so an unreachable cloud never holds a schedule.
	ScanTimeout time.Duration

	// sourceBackoffMax overrides the pollers' error back-off cap (tests).
	sourceBackoffMax time.Duration

	// Executors overrides the enforcement executors (nil: Executors(cfg,
	// ExecutorOptions) builds them when something in the config acts).
	Executors map[string]enforce.Executor
	// ExecutorOptions reach the clouds when Executors builds them.
	ExecutorOptions ExecutorOptions
	// EnforceNow is enforcement's clock (nil: time.Now); tests move it
	// past the grace period.
	EnforceNow func() time.Time
	// TerraformBin is the terraform (or tofu) binary reverts run in an
	// environment's terraform_dir (empty: terraform).
	TerraformBin string
}

// DefaultScanTimeout bounds a scheduled scan when Options.ScanTimeout is
// not set.
const DefaultScanTimeout = 30 * time.Minute

// Run serves until ctx ends, then shuts down in order: intake stops (new
// requests get 503), in-flight requests finish their commits, pollers stop
// (messages not yet committed stay in their queues), running deliveries
// finish, and the database closes. Nothing accepted is lost.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.ScanTimeout == 0 {
		o.ScanTimeout = DefaultScanTimeout
	}
	listen := o.Listen
	if listen == "" {
		listen = cfg.Server.Listen
	}
	if listen == "" {
		listen = "127.0.0.1:8080"
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var q *queue.Queue
	m := NewMetrics(reg, func(ctx context.Context) (map[string]int, error) { return q.Depth(ctx) })

	pipeline, err := NewPipeline(cfg, NewStateDesired(cfg), logger, m)
	if err != nil {
		return err
	}
	q, err = queue.Open(ctx, queue.Options{
		DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, Workers: cfg.Server.Workers,
		Dispatch: pipeline, RetentionSucceeded: cfg.Server.RetentionSucceeded,
		RetentionDead: cfg.Server.RetentionDead, MaxPending: cfg.Server.MaxPending, Logger: logger,
		RescueAfter: cfg.Server.RescueAfter, DeliveryTimeout: deliveryTimeouts(cfg),
	})
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return fmt.Errorf("open findings store: %w", err)
	}
	pipeline.SetStore(store)
	if pipeline.receivers, err = BuildReceivers(cfg, store.ReceiverState()); err != nil {
		return err
	}
	policies, err := environmentPolicies(cfg)
	if err != nil {
		return err
	}
	srv := New(cfg, q, store, pipeline, m, reg, logger)
	execs := o.Executors
	if execs == nil {
		if execs, err = Executors(ctx, cfg, o.ExecutorOptions); err != nil {
			return err
		}
	}
	enforceNow := o.EnforceNow
	if enforceNow == nil {
		enforceNow = time.Now
	}
	enf, err := newEnforcement(ctx, cfg, q, store, execs, enforceNow, logger, o.TerraformBin)
	if err != nil {
		return fmt.Errorf("open action store: %w", err)
	}
	pipeline.SetEnforcer(enf.runner)
	pipeline.SetService(enf.service)
	pipeline.SetBreakGlass(enf.breakglass)
	// Windows that ended hand their drift back to normal handling.
	if err := q.Periodic("breakglass-sweep", "@every 1m", func(ctx context.Context) error {
		_, err := enf.breakglass.Sweep(ctx, enforceNow())
		return err
	}); err != nil {
		return fmt.Errorf("schedule break-glass sweep: %w", err)
	}
	hist, consoleHandler, err := openConsoleStores(ctx, cfg, q, store, enf, logger)
	if err != nil {
		return fmt.Errorf("open console: %w", err)
	}
	srv.enforcement = enf
	srv.console = consoleHandler

	var schedules []string
	// One cache of assumed-role credentials for every scheduled scan, so
	// AssumeRole runs once an hour per account, not once a scan.
	roles := awsinv.NewRoleCache()
	scanOptions := func(env plumbconfig.Environment) scan.Options {
		return scheduledOptions(env, cfg.IgnoreRules, policies[env.Name], o.ScanTimeout, roles)
	}
	inProcess := func(ctx context.Context, env plumbconfig.Environment) error {
		if err := scheduledScan(ctx, env, scanOptions(env), store, hist, policies[env.Name], logger, o.ScanTimeout); err != nil {
			return err
		}
		return enf.afterScan(ctx, env, logger)
	}
	runner, err := scanjob.New(ctx, scanjob.Options{Queue: q, Config: cfg, Roles: roles, Logger: logger,
		ScanOptions: scanOptions, InProcess: inProcess,
		Finish: func(ctx context.Context, env plumbconfig.Environment, start time.Time, out *scan.Outcome, err error) error {
			if err := storeScan(ctx, env, start, out, err, store, hist, policies[env.Name], logger, o.ScanTimeout); err != nil {
				return err
			}
			return enf.afterScan(ctx, env, logger)
		},
		PartTimeout: cfg.Server.RescueAfter, ScanTimeout: o.ScanTimeout, JobName: scheduleJob})
	if err != nil {
		return fmt.Errorf("open scan runs: %w", err)
	}
	for _, env := range cfg.Environments {
		if env.Schedule == "" {
			continue
		}
		env := env
		var err error
		if scan.Splittable(scanOptions(env)) {
			// The planner reads the state and resolves the accounts; its
			// parts and join are tasks, so it is bounded like them.
			err = q.PeriodicWithin(scheduleJob(env.Name), env.Schedule, cfg.Server.RescueAfter, func(ctx context.Context) error {
				return runner.Plan(ctx, env)
			})
		} else {
			err = q.Periodic(scheduleJob(env.Name), env.Schedule, func(ctx context.Context) error { return inProcess(ctx, env) })
		}
		if err != nil {
			return fmt.Errorf("schedule scan of %s: %w", env.Name, err)
		}
		schedules = append(schedules, env.Name)
	}
	if err := scheduleRetention(cfg, q, store, hist, logger); err != nil {
		return err
	}
	// Built before anything runs: a source that cannot be set up fails
	// the start with no work in flight.
	pollers, err := buildPollers(ctx, cfg, sink{srv}, o.sourceBackoffMax, logger)
	if err != nil {
		return err
	}
	srv.pollers, srv.schedules = pollers, schedules
	reg.MustRegister(sourceCollector(pollers), scheduleCollector{schedules: schedules, runs: q.PeriodicRuns})
	if notifier := newNotifier(cfg, store, q); notifier != nil {
		// A periodic job, so that with several replicas on PostgreSQL one
		// routing pass runs at a time (River's leader) and a group is not
		// sent twice.
		every := fmt.Sprintf("@every %s", cfg.Server.NotifyInterval)
		err := q.Periodic("route-findings", every, func(ctx context.Context) error {
			if _, err := notifier.Flush(ctx, routing.FlushOptions{}); err != nil {
				return fmt.Errorf("route findings: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("schedule routing: %w", err)
		}
	}
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
		defer cancel()
		_ = q.Stop(stopCtx)
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	srv.ready.Store(true)
	logger.Info("plumb serve started", "addr", ln.Addr().String(), "store", storeName(o),
		"environments", envNames(cfg), "schedules", schedules, "sources", sourceNames(cfg), "workers", cfg.Server.Workers)
	if o.OnListen != nil {
		o.OnListen(ln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	startPollers(bg, &wg, pollers, logger)
	if len(cfg.QueueAlerts) > 0 {
		qa := &queueAlerter{alerts: cfg.QueueAlerts, depth: q.Depth, open: store.Upsert, close: store.Resolve,
			over: map[string]time.Time{}, firing: map[string]bool{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			qa.run(bg, o.AlertInterval, func(err error) { logger.Warn("queue alerts", "error", err) })
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}

	logger.Info("plumb serve stopping: intake closed, draining")
	srv.draining.Store(true)
	srv.ready.Store(false)
	shutCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("http shutdown", "error", err)
	}
	stopBG()
	wg.Wait()
	if err := q.Stop(shutCtx); err != nil {
		logger.Warn("queue stop", "error", err)
	}
	logger.Info("plumb serve stopped")
	return runErr
}

// storeName says where the queue and findings live, without a password.
func storeName(o Options) string {
	if o.DatabaseURL == "" {
		return "sqlite " + filepath.Join(o.DataDir, "plumb.db")
	}
	u, err := url.Parse(o.DatabaseURL)
	if err != nil || u.Host == "" {
		return "postgres (connection string)"
	}
	return "postgres " + u.Host + u.Path
}

func envNames(cfg *plumbconfig.Config) []string {
	names := make([]string, 0, len(cfg.Environments))
	for _, e := range cfg.Environments {
		names = append(names, e.Name)
	}
	return names
}

// sourceNames lists the configured event sources: webhook receivers by
// kind, queue sources as kind:name.
func sourceNames(cfg *plumbconfig.Config) []string {
	var out []string
	src := cfg.Sources
	for _, w := range []struct {
		name string
		on   bool
	}{{"eventgrid", src.EventGrid != nil}, {"cloudevents", src.CloudEvents != nil},
		{"azure_monitor", src.AzureMonitor != nil}, {"alertmanager", src.Alertmanager != nil}} {
		if w.on {
			out = append(out, w.name)
		}
	}
	for _, sc := range src.SQS {
		out = append(out, "sqs:"+sc.Name)
	}
	for _, sc := range src.StorageQueues {
		out = append(out, "storage_queue:"+sc.Name)
	}
	return out
}

// deliveryTimeouts gives each subscription's deliveries the time their
// runbooks may take plus server.rescue_after for the other handlers, so a
// long runbook is neither cancelled nor taken for a dead replica's work.
func deliveryTimeouts(cfg *plumbconfig.Config) func(string) time.Duration {
	by := map[string]time.Duration{}
	for _, sub := range cfg.Subscriptions {
		d := cfg.Server.RescueAfter
		for _, h := range sub.Handlers {
			if h.Type == "runbook" {
				d += h.Timeout
			}
		}
		by[sub.Name] = d
	}
	return func(sub string) time.Duration { return by[sub] }
}

// scheduleJob names the periodic job of an environment's scheduled scan.
func scheduleJob(env string) string { return "scan-" + env }

// scheduledOptions are the options of an environment's scheduled scan,
// whether it runs in one process or split into parts.
func scheduledOptions(env plumbconfig.Environment, ignore *drift.Ignore, set *policy.Set, timeout time.Duration, roles *awsinv.RoleCache) scan.Options {
	// The scan's own time limit stops it and keeps what it read, so the
	// findings of the parts it finished are still stored.
	opts := scan.Options{Environment: env.Name, States: env.States, Regions: env.Regions, AzureSubscriptions: env.AzureSubscriptions, Ignore: ignore, Policy: set, Timeout: timeout}
	if env.Cloud != "" {
		opts.Clouds = []string{env.Cloud}
	}
	if opts.Accounts = scan.AccountsOf(env); opts.Accounts != nil {
		opts.Accounts.Roles = roles
	}
	return opts
}

// scheduledScan runs the scan engine for an environment in this process
// and stores its outcome (storeScan).
func scheduledScan(ctx context.Context, env plumbconfig.Environment, opts scan.Options, store *findings.Store,
	hist *scanhistory.Store, set *policy.Set, logger *slog.Logger, timeout time.Duration) error {
	start := time.Now()
	out, err := scan.Run(ctx, opts)
	return storeScan(ctx, env, start, out, err, store, hist, set, logger, timeout)
}

// storeScan stores a scheduled scan's findings and records the scan in
// the history (the console's overview, trend and compliance pages). It
// returns an error, which the queue records, exposes in /readyz and the
// metrics and logs once, when the scan failed (scanErr), did not finish
// within timeout, or could not read part of the estate: a partial scan
// stores what it did read but is not a success, since the parts it missed
// were not checked.
func storeScan(ctx context.Context, env plumbconfig.Environment, start time.Time, out *scan.Outcome, scanErr error, store *findings.Store,
	hist *scanhistory.Store, set *policy.Set, logger *slog.Logger, timeout time.Duration) error {
	if scanErr != nil {
		if herr := scanFailed(ctx, hist, env.Name, start, scanErr); herr != nil {
			logger.Warn("record failed scan", "environment", env.Name, "error", herr)
		}
		return fmt.Errorf("scan %s: %w", env.Name, scanErr)
	}
	res, err := store.Reconcile(ctx, time.Now(), env.Name, scanKinds, out.Report.Findings, out.Covered)
	if err != nil {
		return fmt.Errorf("store findings of %s: %w", env.Name, err)
	}
	if err := NewScanRecord(scanhistory.SourceSchedule, out, set, env.Packs).record(ctx, hist); err != nil {
		return fmt.Errorf("scan of %s: %w", env.Name, err)
	}
	logger.Debug("scheduled scan done", "environment", env.Name, "findings", len(out.Report.Findings), "errors", len(out.Report.Errors),
		"opened", res.Opened, "reopened", res.Reopened, "resolved", res.Resolved)
	switch {
	case out.TimedOut:
		return fmt.Errorf("scan %s did not finish within %s (%d findings stored from what was read): %s",
			env.Name, timeout, len(out.Report.Findings), report.ErrorSummary(out.Report.Errors))
	case len(out.Report.Errors) > 0:
		return fmt.Errorf("scan %s could not read part of the estate (%d findings stored from the rest): %s",
			env.Name, len(out.Report.Findings), report.ErrorSummary(out.Report.Errors))
	case out.Partial():
		return fmt.Errorf("scan %s is incomplete: %s", env.Name, out.Report.NotEvaluatedLine())
	}
	return nil
}

// sourcePoller is a configured queue source, built and ready to run.
type sourcePoller struct {
	kind, name string
	run        func(context.Context) error
	stats      func() poller.Stats
	health     func() poller.Health
}

// buildPollers builds one poller per configured queue source. It does not
// contact the clouds, so the server starts while they are unreachable and
// the pollers report that through /readyz and metrics.
func buildPollers(ctx context.Context, cfg *plumbconfig.Config, k poller.Sink, backoffMax time.Duration, logger *slog.Logger) ([]sourcePoller, error) {
	decodeEventBridge := func(b []byte) ([]model.Event, error) {
		ev, err := eventformat.ParseEventBridge(b)
		if err != nil {
			return nil, err
		}
		return []model.Event{ev}, nil
	}
	var out []sourcePoller
	for _, sc := range cfg.Sources.SQS {
		awsCfg, err := config.LoadDefaultConfig(ctx, func(lo *config.LoadOptions) error {
			if sc.Region != "" {
				lo.Region = sc.Region
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqs source %s: aws config: %w", sc.Name, err)
		}
		// The poller backs off on its own; the SDK only smooths over a
		// single failed request, and without a retry quota, which would
		// otherwise run dry while SQS is down and change the error.
		client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 2
				so.MaxBackoff = 200 * time.Millisecond
				so.RateLimiter = ratelimit.None
			})
		})
		// The poller names its source in its log lines itself.
		p, err := poller.NewSQS(poller.SQSConfig{Name: sc.Name, QueueURL: sc.QueueURL, WaitTime: sc.WaitTime,
			BatchSize: sc.BatchSize, VisibilityTimeout: sc.VisibilityTimeout, MaxErrorBackoff: backoffMax},
			client, decodeEventBridge, k, logger)
		if err != nil {
			return nil, fmt.Errorf("sqs source %s: %w", sc.Name, err)
		}
		out = append(out, sourcePoller{kind: "sqs", name: sc.Name, stats: p.Stats, health: p.Health, run: p.Run})
	}
	for _, sc := range cfg.Sources.StorageQueues {
		decode := func(b []byte) ([]model.Event, error) {
			ev, err := eventformat.ParseEventGridEvent(b)
			if err != nil {
				return nil, err
			}
			return []model.Event{ev}, nil
		}
		if sc.Schema == "cloudevents" {
			decode = func(b []byte) ([]model.Event, error) {
				ev, err := eventformat.ParseCloudEvent(b)
				if err != nil {
					return nil, err
				}
				return []model.Event{ev}, nil
			}
		}
		p, err := poller.NewStorageQueue(poller.StorageQueueConfig{Name: sc.Name, ConnectionString: sc.ConnectionString.Value(),
			Queue: sc.Queue, BatchSize: sc.BatchSize, VisibilityTimeout: sc.VisibilityTimeout,
			MaxPollingInterval: sc.MaxPollingInterval, MaxDequeueCount: sc.MaxDequeueCount, Base64: true, MaxErrorBackoff: backoffMax},
			decode, k, logger)
		if err != nil {
			return nil, fmt.Errorf("storage queue source %s: %w", sc.Name, err)
		}
		out = append(out, sourcePoller{kind: "storage queue", name: sc.Name, stats: p.Stats, health: p.Health, run: p.Run})
	}
	return out, nil
}

// startPollers runs each poller in its own goroutine until ctx ends.
func startPollers(ctx context.Context, wg *sync.WaitGroup, pollers []sourcePoller, logger *slog.Logger) {
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(ctx); err != nil {
				logger.Error(p.kind+" poller stopped", "source", p.name, "error", err)
			}
		}()
	}
}

// Metric descriptions of the queue sources, shared by every scrape.
var (
	pollerMessagesDesc = prometheus.NewDesc("plumb_poller_messages_total",
		"Queue messages handled by a poller, by source and outcome.", []string{"source", "outcome"}, nil)
	sourceUpDesc = prometheus.NewDesc("plumb_source_up",
		"1 if the last poll of the source's cloud queue succeeded, 0 if it failed; absent until the first poll finishes.", []string{"source"}, nil)
	sourceErrorsDesc = prometheus.NewDesc("plumb_source_errors_total",
		"Failed calls to a source's cloud queue (polls and deletes).", []string{"source"}, nil)
)

// sourceCollector exports the pollers' counters and health at scrape
// time. One collector for all of them, because collectors describing the
// same metric cannot be registered twice.
func sourceCollector(pollers []sourcePoller) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		for _, p := range pollers {
			st := p.stats()
			for outcome, v := range map[string]int64{"received": st.Received, "accepted": st.Accepted, "deleted": st.Deleted,
				"poisoned": st.Poisoned, "decode_error": st.DecodeErrors, "sink_error": st.SinkErrors} {
				ch <- prometheus.MustNewConstMetric(pollerMessagesDesc, prometheus.CounterValue, float64(v), p.name, outcome)
			}
			h := p.health()
			switch h.State {
			case poller.StateOK:
				ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, 1, p.name)
			case poller.StateFailing:
				ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, 0, p.name)
			}
			ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, float64(h.Errors), p.name)
		}
	})
}

// NewStateDesired gives drift-check the declared resources of each
// environment, read from its state sources and cached for a few minutes.
func NewStateDesired(cfg *plumbconfig.Config) handler.Desired {
	sources := map[string][]string{}
	for _, e := range cfg.Environments {
		sources[e.Name] = e.States
	}
	return &handler.StateDesired{
		Load: handler.LoadStates(func(env string) []string { return sources[env] }, state.Options{}),
		TTL:  5 * time.Minute,
	}
}
