package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/server"
)

func newFindingsCmd(stdout io.Writer) *cobra.Command {
	c := &apiClient{}
	cmd := &cobra.Command{Use: "findings", Short: "List findings stored by a running plumb serve"}
	apiFlags(cmd, c)
	var status, kind, env string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List findings (one per fingerprint)",
		Long: `List findings, newest first (by first sighting). Every page of the API is
read, so every matching finding is printed; with --limit N only the first N
are, and stderr says how many were not shown.`,
		Example: "  plumb findings list --status open --kind audit.unexpected_write\n  plumb findings list --environment prod --json\n  plumb findings list --limit 50",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			filters := url.Values{"status": {status}, "kind": {kind}, "environment": {env}}
			l, err := c.list(cmd, "/v1/findings", filters, "findings", server.FindingsPage, limit)
			if err != nil {
				return err
			}
			if asJSON {
				err = json.NewEncoder(stdout).Encode(nonNil(l.items))
			} else {
				err = printFindings(stdout, l.items)
			}
			if err != nil {
				return err
			}
			reportUnshown(cmd.ErrOrStderr(), l, "findings", limit)
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "open, resolved or suppressed")
	list.Flags().StringVar(&kind, "kind", "", "finding kind, e.g. drift.unmanaged")
	list.Flags().StringVar(&env, "environment", "", "environment name")
	limitFlag(list, &limit, "findings")
	list.Flags().BoolVar(&asJSON, "json", false, "print the findings as the API's JSON (one array of every page's findings)")
	show := &cobra.Command{
		Use:   "show FINGERPRINT",
		Short: "Show a finding with its history (opened, resolved, reopened, suppressed)",
		Long: `Show a finding with its latest 200 transitions; history_total counts them
all, and stderr says how many earlier ones were not shown.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v map[string]any
			if err := c.do(cmd, "GET", "/v1/findings/"+url.PathEscape(args[0]), &v); err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(v); err != nil {
				return err
			}
			hist, _ := v["history"].([]any)
			if total, ok := v["history_total"].(float64); ok && int(total) > len(hist) {
				fmt.Fprintf(cmd.ErrOrStderr(), "showing the latest %d of %d history entries: %d earlier ones not shown\n", len(hist), int(total), int(total)-len(hist))
			}
			return nil
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

func printFindings(w io.Writer, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tKIND\tSEVERITY\tCOUNT\tLAST SEEN\tMESSAGE")
	for _, raw := range items {
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
}
