package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"plumb/internal/config"
	"plumb/internal/enforce"
)

// newDecideCmd is plumb enforce approve and plumb enforce reject.
func newDecideCmd(stdout io.Writer, f *enforceFlags, decision string) *cobra.Command {
	var actor, comment string
	verb := "Approve"
	if decision == enforce.DecisionReject {
		verb = "Reject"
	}
	cmd := &cobra.Command{
		Use:   decision + " ACTION_ID",
		Short: verb + " an action awaiting approval (its exact plan)",
		Long: verb + ` an action that waits in awaiting_approval because its environment has
approval: peer or approval: management. ACTION_ID is the id plumb enforce
printed (or a unique prefix of at least 8 characters).

Who decides must be one of the environment's approvers; nobody may approve
an action they requested (the requester may reject it, which withdraws it).
The decision is bound to the plan the action carries: if the drift changes,
the next plumb enforce plans a new action that needs a new approval. An
approval expires after the environment's approval_ttl (default 24h).

With --server, who decides is the name of the API token (server.api_tokens)
and an approved action is queued at once. With --data-dir, who decides is
--actor and an approved action runs at the next plumb enforce --apply.

Exit codes: 0 recorded, 1 refused or an error.`,
		Example: "  plumb enforce " + decision + " 3f2a9c1d0b --config plumb.yaml --data-dir .plumb --actor alice\n" +
			"  plumb enforce " + decision + " 3f2a9c1d0b --server https://plumb.internal --comment \"INC-1234 reviewed\"",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "table" && f.output != "json" {
				return usageErr(fmt.Errorf("--output %q: want table or json", f.output))
			}
			var out enforce.Decided
			if f.serverMode() {
				if err := f.api.send(cmd, "POST", "/v1/actions/"+url.PathEscape(args[0])+"/"+decision, map[string]string{"comment": comment}, &out); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			} else {
				d, err := decideLocal(cmd.Context(), f, enforce.DecideRequest{ActionID: args[0], Approver: actor, Decision: decision, Via: enforce.ViaCLI, Comment: comment})
				if err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
				out = *d
			}
			if f.output == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			a := out.Action
			fmt.Fprintf(stdout, "%s %s %s %s: %s\n", a.ID, a.Verb, a.Resource.Type, a.Resource.ID, out.Note)
			return nil
		},
	}
	cmd.Flags().StringVar(&actor, "actor", "cli", "who decides, checked against the environment's approvers (with --data-dir)")
	envDefault(cmd.Flags(), "actor", "USER", "cli")
	cmd.Flags().StringVar(&comment, "comment", "", "why, recorded with the decision")
	return cmd
}

// decideLocal records a decision in the data directory's store.
func decideLocal(ctx context.Context, f *enforceFlags, req enforce.DecideRequest) (*enforce.Decided, error) {
	if f.configPath == "" {
		return nil, errors.New("--config plumb.yaml is required (it names the environments' approvers)")
	}
	cfg, err := config.Load(f.configPath, os.Getenv)
	if err != nil {
		return nil, err
	}
	var out *enforce.Decided
	err = withLocalActions(ctx, f.dataDir, "plumb enforce", func(s *enforce.Store) error {
		var derr error
		out, derr = (&enforce.Approvals{Config: cfg, Actions: s}).Decide(ctx, req)
		return derr
	})
	return out, err
}
