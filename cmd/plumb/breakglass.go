package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/breakglass"
	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/queue"
)

type breakglassFlags struct {
	configPath, dataDir, actor, output string
	api                                apiClient
}

func (f *breakglassFlags) serverMode() bool {
	if f.api.base == "" {
		f.api.base = os.Getenv("PLUMB_SERVER")
	}
	return f.api.base != ""
}

// windowRow is a window as printed, from either store.
type windowRow struct {
	breakglass.Window
	State string `json:"state"`
}

func newBreakglassCmd(stdout io.Writer) *cobra.Command {
	var f breakglassFlags
	cmd := &cobra.Command{
		Use:   "breakglass",
		Short: "Open, list and close break-glass windows: hand changes on purpose, recorded instead of alarmed about",
		Long: `A break-glass window lets one principal change one environment by hand for
a while (an incident). While it is open:

  - that principal's writes give audit.break_glass (severity info) instead of
    audit.unexpected_write, and each resource written gives a drift.reconcile
    finding asking for the change to be put into code;
  - enforcement acts on nothing in the environment (guard break-glass).

A write counts by its event time, so a CloudTrail event that arrives after
the window closed still counts if it was made inside it. When the window
closes (plumb breakglass close, or at the end of --for), its reconcile
findings are resolved and whatever is still drifted is handled as usual.

Windows live in plumb serve's database (--server) or in the store of a data
directory (--data-dir, the one plumb enforce uses). With --server, who opens
or closes a window is the name of the API token (server.api_tokens); with
--data-dir it is --actor.`,
		Args: cobra.NoArgs,
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.configPath, "config", "", "plumb.yaml: the environment must be one of its environments (with --data-dir)")
	fl.StringVar(&f.dataDir, "data-dir", ".plumb", "directory of the SQLite store plumb enforce uses")
	envDefault(fl, "data-dir", "PLUMB_DATA_DIR", ".plumb")
	fl.StringVar(&f.api.base, "server", "", "plumb serve URL: use its API instead of --data-dir (env PLUMB_SERVER)")
	fl.StringVar(&f.api.token, "token", "", "API bearer token for --server (default env PLUMB_API_TOKEN)")
	fl.StringVar(&f.actor, "actor", "cli", "who opens or closes the window (with --data-dir)")
	envDefault(fl, "actor", "USER", "cli")
	fl.StringVarP(&f.output, "output", "o", "table", "table or json")
	cmd.AddCommand(newBreakglassOpenCmd(stdout, &f), newBreakglassListCmd(stdout, &f), newBreakglassCloseCmd(stdout, &f))
	return cmd
}

func newBreakglassOpenCmd(stdout io.Writer, f *breakglassFlags) *cobra.Command {
	var env, principal, reason string
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "open",
		Short: "Open a break-glass window for one principal in one environment",
		Long: `Open a window now, for --for (at most 24h). --principal is the IAM user or
role ARN (a role's sessions count as the role) or the Entra object id that
will write by hand. A window overlapping an open one of the same principal
in the same environment is refused: close that one first.`,
		Example: `  plumb breakglass open --env prod --principal arn:aws:iam::123456789012:role/BreakGlass \
    --reason "INC-1234" --for 2h --server https://plumb.internal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			var w windowRow
			if f.serverMode() {
				body := map[string]string{"environment": env, "principal": principal, "reason": reason, "for": dur.String()}
				if err := f.api.send(cmd, "POST", "/v1/breakglass", body, &w); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			} else {
				err := withWindows(cmd.Context(), f, func(s *breakglass.Store, cfg *config.Config) error {
					if cfg != nil {
						if _, ok := cfg.Environment(env); env != "" && !ok {
							return fmt.Errorf("--env %q: no such environment in %s", env, f.configPath)
						}
					}
					now := time.Now()
					win, err := s.Open(cmd.Context(), now, breakglass.OpenRequest{Environment: env, Principal: principal, Reason: reason, For: dur, OpenedBy: f.actor})
					w = windowRow{win, win.State(now)}
					return err
				})
				if err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			}
			return printWindows(stdout, f.output, []windowRow{w}, true)
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment the window is for (required)")
	cmd.Flags().StringVar(&principal, "principal", "", "IAM user or role ARN, or Entra object id, that will write by hand (required)")
	cmd.Flags().StringVar(&reason, "reason", "", `the incident or change it is for, such as "INC-1234" (required)`)
	cmd.Flags().DurationVar(&dur, "for", 0, "how long the window stays open, at most 24h (required)")
	return cmd
}

func newBreakglassListCmd(stdout io.Writer, f *breakglassFlags) *cobra.Command {
	var env string
	var open bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List break-glass windows, newest first",
		Example: "  plumb breakglass list --env prod --open",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			var rows []windowRow
			if f.serverMode() {
				v := url.Values{}
				if env != "" {
					v.Set("environment", env)
				}
				if open {
					v.Set("open", "true")
				}
				var out struct {
					Windows []windowRow `json:"windows"`
				}
				if err := f.api.do(cmd, "GET", "/v1/breakglass?"+v.Encode(), &out); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
				rows = out.Windows
			} else {
				err := withWindows(cmd.Context(), f, func(s *breakglass.Store, _ *config.Config) error {
					now := time.Now()
					ws, err := s.List(cmd.Context(), now, env, open)
					for _, w := range ws {
						rows = append(rows, windowRow{w, w.State(now)})
					}
					return err
				})
				if err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			}
			return printWindows(stdout, f.output, rows, false)
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "only this environment's windows")
	cmd.Flags().BoolVar(&open, "open", false, "only windows open now")
	return cmd
}

func newBreakglassCloseCmd(stdout io.Writer, f *breakglassFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "close WINDOW_ID",
		Short: "Close a break-glass window before its end",
		Long: `Close a window now. Its drift.reconcile findings are resolved and what the
principal changed that is still drifted is handled as usual again (the next
scan reports it, enforcement may act on it).`,
		Example: "  plumb breakglass close bg-4f1c2a9e0d3b --server https://plumb.internal",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			var w windowRow
			if f.serverMode() {
				if err := f.api.send(cmd, "POST", "/v1/breakglass/"+url.PathEscape(args[0])+"/close", map[string]string{}, &w); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			} else {
				err := withWindows(cmd.Context(), f, func(s *breakglass.Store, _ *config.Config) error {
					now := time.Now()
					win, err := s.Close(cmd.Context(), now, args[0], f.actor)
					w = windowRow{win, win.State(now)}
					return err
				})
				if err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			}
			return printWindows(stdout, f.output, []windowRow{w}, true)
		},
	}
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageErr(fmt.Errorf("--output %q: want table or json", o))
	}
	return nil
}

// withWindows opens the data directory's store (creating it) and, with
// --config, the config.
func withWindows(ctx context.Context, f *breakglassFlags, fn func(*breakglass.Store, *config.Config) error) error {
	var cfg *config.Config
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath, os.Getenv); err != nil {
			return err
		}
	}
	if f.dataDir == "" {
		return errors.New("--data-dir is empty")
	}
	if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: f.dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", f.dataDir, err)
	}
	defer q.Close()
	fs, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return err
	}
	s, err := breakglass.NewStore(ctx, q.DB(), q.Dialect(), fs)
	if err != nil {
		return err
	}
	return fn(s, cfg)
}

// printWindows prints windows as a table or JSON (one object for open and
// close, a list for list).
func printWindows(w io.Writer, output string, rows []windowRow, single bool) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if single {
			return enc.Encode(rows[0])
		}
		if rows == nil {
			rows = []windowRow{}
		}
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tENV\tPRINCIPAL\tREASON\tOPENED BY\tOPENED\tENDS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Environment, r.Principal, r.Reason, r.OpenedBy,
			r.OpenedAt.UTC().Format(time.RFC3339), r.End().UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
