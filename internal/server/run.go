package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	plumbconfig "plumb/internal/config"
	"plumb/internal/drift"
	"plumb/internal/eventformat"
	"plumb/internal/findings"
	"plumb/internal/handler"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/poller"
	"plumb/internal/queue"
	"plumb/internal/routing"
	"plumb/internal/scan"
	"plumb/internal/scanhistory"
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
	// connections (tests and the CLI print it).
	OnListen func(addr string)
}

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
	})
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return fmt.Errorf("open findings store: %w", err)
	}
	hist, consoleHandler, err := openConsoleStores(ctx, cfg, q, store, logger)
	if err != nil {
		return fmt.Errorf("open console: %w", err)
	}
	pipeline.SetStore(store)
	if pipeline.receivers, err = BuildReceivers(cfg, store.ReceiverState()); err != nil {
		return err
	}
	policies, err := environmentPolicies(cfg)
	if err != nil {
		return err
	}

	for _, env := range cfg.Environments {
		if env.Schedule == "" {
			continue
		}
		env := env
		err := q.Periodic("scan-"+env.Name, env.Schedule, func(ctx context.Context) error {
			return scheduledScan(ctx, env, cfg.IgnoreRules, store, hist, policies[env.Name], logger)
		})
		if err != nil {
			return fmt.Errorf("schedule scan of %s: %w", env.Name, err)
		}
	}
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

	srv := New(cfg, q, store, pipeline, m, reg, logger)
	srv.console = consoleHandler
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
	logger.Info("plumb serve listening", "addr", ln.Addr().String())
	if o.OnListen != nil {
		o.OnListen(ln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	if err := startPollers(bg, &wg, cfg, sink{srv}, reg, logger); err != nil {
		// Through the normal shutdown below, so running work drains.
		runErr = err
	}
	if len(cfg.QueueAlerts) > 0 {
		qa := &queueAlerter{alerts: cfg.QueueAlerts, depth: q.Depth, open: store.Upsert, close: store.Resolve,
			over: map[string]time.Time{}, firing: map[string]bool{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			qa.run(bg, o.AlertInterval, func(err error) { logger.Warn("queue alerts", "error", err) })
		}()
	}

	if runErr == nil {
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			runErr = fmt.Errorf("http server: %w", err)
		}
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

// scheduledScan runs the scan engine for an environment and stores its
// findings. A partial scan stores what it found; its errors are logged.
func scheduledScan(ctx context.Context, env plumbconfig.Environment, ignore *drift.Ignore, store *findings.Store,
	hist *scanhistory.Store, set *policy.Set, logger *slog.Logger) error {
	opts := scan.Options{Environment: env.Name, States: env.States, Regions: env.Regions, AzureSubscriptions: env.AzureSubscriptions, Ignore: ignore, Policy: set}
	if env.Cloud != "" {
		opts.Clouds = []string{env.Cloud}
	}
	start := time.Now()
	out, err := scan.Run(ctx, opts)
	if err != nil {
		if herr := scanFailed(ctx, hist, env.Name, start, err); herr != nil {
			logger.Warn("record failed scan", "environment", env.Name, "error", herr)
		}
		return fmt.Errorf("scan %s: %w", env.Name, err)
	}
	for _, e := range out.Report.Errors {
		logger.Warn("scheduled scan could not read part of the estate", "environment", env.Name, "scope", e.Scope, "error", e.Message)
	}
	res, err := store.Reconcile(ctx, time.Now(), env.Name, scanKinds, out.Report.Findings, out.Covered)
	if err != nil {
		return fmt.Errorf("store findings of %s: %w", env.Name, err)
	}
	if err := NewScanRecord(scanhistory.SourceSchedule, out, set, env.Packs).record(ctx, hist); err != nil {
		return fmt.Errorf("scan of %s: %w", env.Name, err)
	}
	logger.Info("scheduled scan done", "environment", env.Name, "findings", len(out.Report.Findings), "errors", len(out.Report.Errors),
		"opened", res.Opened, "reopened", res.Reopened, "resolved", res.Resolved)
	return nil
}

// startPollers starts one goroutine per configured queue source. Every
// poller is built before any starts, so a bad source fails the start with
// nothing running, and their counters are exported by one collector:
// collectors describing the same metric cannot be registered twice.
func startPollers(ctx context.Context, wg *sync.WaitGroup, cfg *plumbconfig.Config, k poller.Sink, reg *prometheus.Registry, logger *slog.Logger) error {
	decodeEventBridge := func(b []byte) ([]model.Event, error) {
		ev, err := eventformat.ParseEventBridge(b)
		if err != nil {
			return nil, err
		}
		return []model.Event{ev}, nil
	}
	type runner struct {
		kind, name string
		run        func(context.Context) error
	}
	var (
		runners []runner
		stats   []prometheus.Collector
	)
	for _, sc := range cfg.Sources.SQS {
		awsCfg, err := config.LoadDefaultConfig(ctx, func(lo *config.LoadOptions) error {
			if sc.Region != "" {
				lo.Region = sc.Region
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqs source %s: aws config: %w", sc.Name, err)
		}
		// The poller names its source in its log lines itself.
		p, err := poller.NewSQS(poller.SQSConfig{Name: sc.Name, QueueURL: sc.QueueURL, WaitTime: sc.WaitTime,
			BatchSize: sc.BatchSize, VisibilityTimeout: sc.VisibilityTimeout},
			sqs.NewFromConfig(awsCfg), decodeEventBridge, k, logger)
		if err != nil {
			return fmt.Errorf("sqs source %s: %w", sc.Name, err)
		}
		stats = append(stats, pollerCollector(sc.Name, p.Stats))
		runners = append(runners, runner{"sqs", sc.Name, p.Run})
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
			MaxPollingInterval: sc.MaxPollingInterval, MaxDequeueCount: sc.MaxDequeueCount, Base64: true},
			decode, k, logger)
		if err != nil {
			return fmt.Errorf("storage queue source %s: %w", sc.Name, err)
		}
		stats = append(stats, pollerCollector(sc.Name, p.Stats))
		runners = append(runners, runner{"storage queue", sc.Name, p.Run})
	}
	if len(stats) > 0 {
		reg.MustRegister(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
			for _, c := range stats {
				c.Collect(ch)
			}
		}))
	}
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(ctx); err != nil {
				logger.Error(r.kind+" poller stopped", "source", r.name, "error", err)
			}
		}()
	}
	return nil
}

// pollerCollector exports a poller's counters at scrape time.
func pollerCollector(name string, stats func() poller.Stats) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		st := stats()
		desc := prometheus.NewDesc("plumb_poller_messages_total", "Queue messages handled by a poller, by source and outcome.", []string{"source", "outcome"}, nil)
		for outcome, v := range map[string]int64{"received": st.Received, "accepted": st.Accepted, "deleted": st.Deleted,
			"poisoned": st.Poisoned, "decode_error": st.DecodeErrors, "sink_error": st.SinkErrors} {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), name, outcome)
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
