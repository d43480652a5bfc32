package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/server"
)

// eventRecord mirrors the API's JSON of an event; the CLI decodes only
// what it prints.
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

// limitFlag is the --limit of the list commands: 0 (the default) lists
// everything, page after page; N stops after N and says how many were
// not shown.
func limitFlag(cmd *cobra.Command, limit *int, what string) {
	cmd.Flags().IntVar(limit, "limit", 0, "show at most this many "+what+" (0: all of them, read page by page); the rest are counted on stderr")
}

func checkLimit(limit int) error {
	if limit < 0 {
		return usageErr(fmt.Errorf("--limit %d: want 0 (all) or more", limit))
	}
	return nil
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
	var state string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List events, optionally by state",
		Long: `List events, oldest first, optionally by state. Every page of the API is
read, so the whole list is printed; with --limit N only the first N are,
and stderr says how many were not shown.`,
		Example: "  plumb events list --state dead\n  plumb events list --state retry --json\n  plumb events list --limit 20",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			l, err := c.list(cmd, "/v1/events", url.Values{"state": {state}}, "events", server.EventsPage, limit)
			if err != nil {
				return err
			}
			if asJSON {
				err = json.NewEncoder(stdout).Encode(nonNil(l.items))
			} else {
				err = printEvents(stdout, l.items)
			}
			if err != nil {
				return err
			}
			reportUnshown(cmd.ErrOrStderr(), l, "events", limit)
			return nil
		},
	}
	list.Flags().StringVar(&state, "state", "", "pending, retry, succeeded, dead or filtered")
	limitFlag(list, &limit, "events")
	list.Flags().BoolVar(&asJSON, "json", false, "print the events as the API's JSON (one array of every page's events)")
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
	// Only the commands that talk to plumb serve take --server and
	// --token; the testers run locally.
	for _, sub := range []*cobra.Command{list, show, retry} {
		apiFlagsOn(sub.Flags(), c)
	}
	cmd.AddCommand(list, show, retry, newTestPatternCmd(stdout), newTestFilterCmd(stdout))
	return cmd
}

func printEvents(w io.Writer, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRECEIVED\tTYPE\tSUBJECT")
	for _, raw := range items {
		var e eventRecord
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.ReceivedAt.Format(time.RFC3339), e.Event.Type, e.Event.Subject)
	}
	return tw.Flush()
}

// nonNil makes an empty listing print as [] rather than null.
func nonNil(items []json.RawMessage) []json.RawMessage {
	if items == nil {
		return []json.RawMessage{}
	}
	return items
}
