package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/server"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		cfgPath, dataDir, database, listen, logFormat string
		shutdown                                      time.Duration
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
				Logger: logger, ShutdownTimeout: shutdown,
				OnListen: func(addr string) { fmt.Fprintf(stdout, "listening on %s\n", addr) },
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
	return cmd
}

// apiClient is the CLI side of the serve API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func apiFlags(cmd *cobra.Command, c *apiClient) {
	cmd.PersistentFlags().StringVar(&c.base, "server", "http://127.0.0.1:8080", "plumb serve URL")
	envDefault(cmd.PersistentFlags(), "server", "PLUMB_SERVER", "http://127.0.0.1:8080")
	cmd.PersistentFlags().StringVar(&c.token, "token", "", "API bearer token (default env PLUMB_API_TOKEN)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (c *apiClient) do(cmd *cobra.Command, method, path string, out any) error {
	return c.send(cmd, method, path, nil, out)
}

// send is do with a JSON request body.
func (c *apiClient) send(cmd *cobra.Command, method, path string, in, out any) error {
	token := c.token
	if token == "" {
		token = os.Getenv("PLUMB_API_TOKEN")
	}
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, strings.TrimRight(c.base, "/")+path, reqBody)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// eventRecord and findingRecord mirror the API's JSON; the CLI decodes
// only what it prints.
type eventRecord struct {
	ID         int64     `json:"id"`
	Key        string    `json:"key"`
	State      string    `json:"state"`
	ReceivedAt time.Time `json:"received_at"`
	Event      struct {
		Type      string `json:"type"`
		Subject   string `json:"subject"`
		Principal string `json:"principal"`
	} `json:"event"`
}

func newEventsCmd(stdout io.Writer) *cobra.Command {
	c := &apiClient{}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect and re-run events in a running plumb serve",
		Long: `Events move through states as plumb serve processes them:
  pending    waiting for or running its handlers
  retry      a handler failed; it runs again on the subscription's schedule
  succeeded  every handler finished
  dead       attempts exhausted or a permanent error (dead-letter)
  filtered   matched no subscription (kept so a redelivery stays a duplicate)`,
	}
	apiFlags(cmd, c)
	var state string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List events, optionally by state",
		Example: "  plumb events list --state dead\n  plumb events list --state retry --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Events []json.RawMessage `json:"events"`
			}
			v := url.Values{}
			if state != "" {
				v.Set("state", state)
			}
			v.Set("limit", fmt.Sprint(limit))
			if err := c.do(cmd, "GET", "/v1/events?"+v.Encode(), &out); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(out.Events)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tRECEIVED\tTYPE\tSUBJECT")
			for _, raw := range out.Events {
				var e eventRecord
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("decode event: %w", err)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.ReceivedAt.Format(time.RFC3339), e.Event.Type, e.Event.Subject)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "pending, retry, succeeded, dead or filtered")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many events")
	list.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one event with its deliveries and their last errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if err := c.do(cmd, "GET", "/v1/events/"+url.PathEscape(args[0]), &raw); err != nil {
				return err
			}
			var pretty strings.Builder
			var v any
			_ = json.Unmarshal(raw, &v)
			enc := json.NewEncoder(&pretty)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
			_, err := io.WriteString(stdout, pretty.String())
			return err
		},
	}
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Run an event's dead and retrying deliveries again now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Retried int `json:"retried"`
			}
			if err := c.do(cmd, "POST", "/v1/events/"+url.PathEscape(args[0])+"/retry", &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "event %s: %d deliveries queued again\n", args[0], out.Retried)
			return nil
		},
	}
	cmd.AddCommand(list, show, retry)
	return cmd
}

func newFindingsCmd(stdout io.Writer) *cobra.Command {
	c := &apiClient{}
	cmd := &cobra.Command{Use: "findings", Short: "List findings stored by a running plumb serve"}
	apiFlags(cmd, c)
	var status, kind, env string
	var asJSON bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List findings (one per fingerprint)",
		Example: "  plumb findings list --status open --kind audit.unexpected_write",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{}
			for k, val := range map[string]string{"status": status, "kind": kind, "environment": env} {
				if val != "" {
					v.Set(k, val)
				}
			}
			var out struct {
				Findings []json.RawMessage `json:"findings"`
			}
			if err := c.do(cmd, "GET", "/v1/findings?"+v.Encode(), &out); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(out.Findings)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATUS\tKIND\tSEVERITY\tCOUNT\tLAST SEEN\tMESSAGE")
			for _, raw := range out.Findings {
				var r struct {
					Finding struct {
						Kind     string `json:"kind"`
						Severity string `json:"severity"`
						Message  string `json:"message"`
					} `json:"finding"`
					Status   string    `json:"status"`
					Count    int       `json:"count"`
					LastSeen time.Time `json:"last_seen"`
				}
				if err := json.Unmarshal(raw, &r); err != nil {
					return fmt.Errorf("decode finding: %w", err)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Status, r.Finding.Kind, r.Finding.Severity, r.Count, r.LastSeen.Format(time.RFC3339), r.Finding.Message)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "open, resolved or suppressed")
	list.Flags().StringVar(&kind, "kind", "", "finding kind, e.g. drift.unmanaged")
	list.Flags().StringVar(&env, "environment", "", "environment name")
	list.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	show := &cobra.Command{
		Use:   "show FINGERPRINT",
		Short: "Show a finding with its history (opened, resolved, reopened, suppressed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v any
			if err := c.do(cmd, "GET", "/v1/findings/"+url.PathEscape(args[0]), &v); err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}
	action := func(name, short string, needReason bool) *cobra.Command {
		var reason string
		ac := &cobra.Command{
			Use:   name + " FINGERPRINT",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if needReason && reason == "" {
					return fmt.Errorf("--reason is required: it is kept in the finding's history")
				}
				var out struct {
					Status string `json:"status"`
				}
				if err := c.send(cmd, "POST", "/v1/findings/"+url.PathEscape(args[0])+"/"+name, map[string]string{"reason": reason}, &out); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "finding %s: %s\n", args[0], out.Status)
				return nil
			},
		}
		ac.Flags().StringVar(&reason, "reason", "", "why (kept in the history)")
		return ac
	}
	cmd.AddCommand(list, show,
		action("resolve", "Resolve a finding now (a later scan or event that finds it again reopens it)", false),
		action("suppress", "Suppress a finding: kept and counted, never routed to receivers", true),
		action("unsuppress", "Undo suppress: the finding is open and routed again", false))
	return cmd
}

func newSilenceCmd(stdout io.Writer) *cobra.Command {
	c := &apiClient{}
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Mute notifications for matching findings for a while (maintenance, known incident)",
		Long: `A silence keeps findings that match all its matchers from being sent to
receivers until it ends; the findings are still stored and counted. Matchers use
Alertmanager's syntax on finding labels: kind, severity, environment, provider,
type, region, account, id, name, rule, status, security and tags.KEY.`,
	}
	apiFlags(cmd, c)
	var matchers []string
	var duration, comment, author string
	add := &cobra.Command{
		Use:     "add",
		Short:   "Add a silence",
		Example: `  plumb silence add -m 'environment="staging"' -m 'kind=~"drift.*"' --duration 2h --comment "migration"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(matchers) == 0 {
				return fmt.Errorf("at least one --matcher is required (a silence of everything is a mistake)")
			}
			var out struct {
				ID     string    `json:"id"`
				EndsAt time.Time `json:"ends_at"`
			}
			in := map[string]any{"matchers": matchers, "duration": duration, "comment": comment, "created_by": author}
			if err := c.send(cmd, "POST", "/v1/silences", in, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "silence %s until %s\n", out.ID, out.EndsAt.Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringArrayVarP(&matchers, "matcher", "m", nil, `label matcher, repeatable: kind="drift.unmanaged", severity=~"high|critical"`)
	add.Flags().StringVar(&duration, "duration", "2h", "how long the silence lasts")
	add.Flags().StringVar(&comment, "comment", "", "why (shown in list)")
	add.Flags().StringVar(&author, "author", "", "who added it")
	envDefault(add.Flags(), "author", "USER", "")
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List active silences (--all for expired ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Silences []struct {
					ID        string    `json:"id"`
					Matchers  []string  `json:"matchers"`
					EndsAt    time.Time `json:"ends_at"`
					CreatedBy string    `json:"created_by"`
					Comment   string    `json:"comment"`
					Active    bool      `json:"active"`
				} `json:"silences"`
			}
			path := "/v1/silences"
			if all {
				path += "?all=true"
			}
			if err := c.do(cmd, "GET", path, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTIVE\tENDS\tMATCHERS\tBY\tCOMMENT")
			for _, s := range out.Silences {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Active, s.EndsAt.Format(time.RFC3339), strings.Join(s.Matchers, ","), s.CreatedBy, s.Comment)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include expired silences")
	expire := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out map[string]string
			if err := c.do(cmd, "POST", "/v1/silences/"+url.PathEscape(args[0])+"/expire", &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "silence %s expired\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, expire)
	return cmd
}
