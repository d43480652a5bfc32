package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"plumb/internal/config"
)

func newConfigCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check plumb.yaml before plumb serve or plumb scan --notify uses it",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigValidateCmd(stdout))
	return cmd
}

func newConfigValidateCmd(stdout io.Writer) *cobra.Command {
	var noSecrets bool
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Report every problem of a plumb.yaml with its line (default ./plumb.yaml)",
		Long: `Check a plumb.yaml the way plumb serve and plumb scan --notify load it, and
print every problem at once, each with FILE:LINE and the field:

  errors    stop plumb serve from starting: unknown fields, values of the
            wrong kind, bad durations, unknown environments or receivers,
            secrets written inline or that do not resolve (a variable
            not set, a file not readable)
  warnings  do not stop it: an environment's state source that matches no
            file yet (scans of that environment fail until it does)

Secrets are read as plumb serve reads them (from the environment and from
files relative to the config). With --no-secrets, secrets that do not
resolve are warnings, for a CI job that has the config but not the
secrets; their shape ({env: NAME} or {file: PATH}) is still checked.
s3:// state sources are not listed.

Exit codes: 0 valid (warnings allowed), 1 invalid or unreadable.`,
		Example: `  plumb config validate
  plumb config validate deploy/plumb.yaml --no-secrets`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "plumb.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return &exitCodeError{code: exitError, err: fmt.Errorf("read config: %w", err)}
			}
			cfg, warnings, err := config.Check(path, data, config.Options{Getenv: os.Getenv, SecretsOptional: noSecrets})
			var errs config.Errors
			if err != nil && !errors.As(err, &errs) {
				return &exitCodeError{code: exitError, err: err}
			}
			if cfg != nil {
				warnings = append(warnings, cfg.StateWarnings(cmd.Context())...)
			}
			for _, e := range mergeByLine(errs, warnings) {
				fmt.Fprintln(stdout, e.Error())
			}
			if len(errs) > 0 {
				fmt.Fprintf(stdout, "%s: invalid: %s, %s\n", path, count(len(errs), "error"), count(len(warnings), "warning"))
				return &exitCodeError{code: exitError}
			}
			fmt.Fprintf(stdout, "%s: valid (%s, %s, %s, %s, %s)\n", path,
				count(len(cfg.Environments), "environment"), count(sourceCount(cfg), "event source"),
				count(len(cfg.Subscriptions), "subscription"), count(len(cfg.Receivers), "receiver"),
				count(len(warnings), "warning"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&noSecrets, "no-secrets", false, "report secrets that do not resolve as warnings, not errors (for CI without the secrets)")
	return cmd
}

// mergeByLine lists errors and warnings together in file order.
func mergeByLine(a, b config.Errors) config.Errors {
	out := append(append(config.Errors{}, a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sourceCount(c *config.Config) int {
	n := len(c.Sources.SQS) + len(c.Sources.StorageQueues)
	for _, w := range []*config.WebhookSource{c.Sources.EventGrid, c.Sources.CloudEvents, c.Sources.AzureMonitor, c.Sources.Alertmanager} {
		if w != nil {
			n++
		}
	}
	return n
}
