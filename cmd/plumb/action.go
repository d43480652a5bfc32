package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"plumb/internal/ghaction"
)

// newActionCmd is the program behind the GitHub Action (action.yml). It is
// hidden from help: people call plumb scan or plumb check; the action
// calls this with its inputs in PLUMB_INPUT_* variables.
func newActionCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    "action",
		Short:  "Run plumb as a step of the plumb GitHub Action (reads PLUMB_INPUT_* and GITHUB_* variables)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := ghaction.ReadInputs(os.Getenv)
			if err != nil {
				fmt.Fprintln(stdout, ghaction.Annotation("error", "plumb action", err.Error()))
				return &exitCodeError{code: exitError, err: err}
			}
			rn, err := ghaction.RunnerFromEnv(os.Getenv)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			self, err := os.Executable()
			if err != nil {
				return &exitCodeError{code: exitError, err: fmt.Errorf("find the plumb binary: %w", err)}
			}
			res, err := ghaction.Run(cmd.Context(), in, rn, self, stdout, stderr)
			if err != nil {
				fmt.Fprintln(stdout, ghaction.Annotation("error", "plumb action", err.Error()))
				return &exitCodeError{code: exitError, err: err}
			}
			if res.StepExit != 0 {
				return &exitCodeError{code: res.StepExit}
			}
			return nil
		},
	}
}
