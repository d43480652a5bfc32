package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/server"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		cfgPath, dataDir, database, listen, logFormat, tfBin string
		shutdown                                             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --config plumb.yaml --data-dir DIR",
		Short: "Run the continuous service: event intake, durable queue, handlers, scheduled scans, API",
		Long: `plumb serve receives cloud events (Azure Event Grid and CloudEvents webhooks,
EventBridge through SQS, Event Grid through Azure Storage Queues) and monitoring
alerts (Azure Monitor, Alertmanager), filters them by the subscriptions in
plumb.yaml, and processes every match through a durable queue with retry,
dead-letter and succeeded states. Handlers validate resources, flag writes by
anyone but the deployment pipeline, report resources created outside the code,
and run runbooks. Scheduled scans run per environment.

A 200 to a sender means the event is committed to disk. The queue lives in one
SQLite file in --data-dir, or in PostgreSQL with --database, where several
replicas share the work and periodic scans run once.

Endpoints:
  POST /v1/events/eventgrid      Event Grid schema (and its validation handshake)
  POST /v1/events/cloudevents    CloudEvents 1.0: structured, batch, binary (OPTIONS handshake)
  POST /v1/alerts/azure-monitor  Azure Monitor common alert schema
  POST /v1/alerts/alertmanager   Prometheus Alertmanager webhook
  GET  /v1/events?state=pending|retry|succeeded|dead, GET /v1/events/{id},
  POST /v1/events/{id}/retry, GET /v1/findings    (bearer token)
  POST /v1/enforce/plan, POST /v1/enforce/apply, GET /v1/actions (bearer token)
  GET  /metrics, /healthz, /readyz

SIGINT or SIGTERM stops intake (503 + Retry-After), finishes running work and exits.`,
		Example: `  plumb serve --config plumb.yaml --data-dir /var/lib/plumb
  plumb serve --config plumb.yaml --database postgres://plumb@db/plumb --listen 0.0.0.0:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return &exitCodeError{code: exitError, err: fmt.Errorf("--config is required (see plumb serve --help)")}
			}
			if dataDir == "" && database == "" {
				return &exitCodeError{code: exitError, err: fmt.Errorf("--data-dir (SQLite) or --database (PostgreSQL) is required")}
			}
			if dataDir != "" {
				if err := os.MkdirAll(dataDir, 0o750); err != nil {
					return fmt.Errorf("create data dir: %w", err)
				}
			}
			cfg, err := config.Load(cfgPath, os.Getenv)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			var h slog.Handler = slog.NewTextHandler(stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(stderr, nil)
			}
			logger := slog.New(h)
			// A state pattern that matches nothing does not stop the
			// server, but every scan of its environment would fail:
			// say so now, with the line to fix.
			for _, w := range cfg.StateWarnings(cmd.Context()) {
				logger.Warn("state source matches no file", "config", fmt.Sprintf("%s:%d", w.File, w.Line), "field", w.Field, "problem", w.Msg)
			}
			return server.Run(cmd.Context(), server.Options{
				Config: cfg, DataDir: dataDir, DatabaseURL: database, Listen: listen,
				Logger: logger, ShutdownTimeout: shutdown, TerraformBin: tfBin,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "plumb.yaml: environments, sources, subscriptions, queue alerts")
	f.StringVar(&dataDir, "data-dir", "", "directory of the SQLite database (default store)")
	f.StringVar(&database, "database", "", "PostgreSQL URL (postgres://...) instead of SQLite, for several replicas")
	f.StringVar(&listen, "listen", "", "address to listen on (default server.listen, else 127.0.0.1:8080)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.DurationVar(&shutdown, "shutdown-timeout", 30*time.Second, "how long to drain requests and running deliveries on stop")
	f.StringVar(&tfBin, "terraform-bin", "terraform", "terraform binary (e.g. tofu) that reverts run in an environment's terraform_dir")
	return cmd
}
