// Command plumb keeps a cloud estate true to its infrastructure code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, the same convention as terraform plan -detailed-exitcode.
const (
	exitOK       = 0
	exitError    = 1
	exitFindings = 2
)

// exitCodeError carries a specific exit code out of a command.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code. It takes its
// arguments and writers explicitly so tests can drive it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, enforceDeps{})
}

// runWith is run with the enforce command's dependencies given (tests
// pass a clock past the grace period).
func runWith(args []string, stdout, stderr io.Writer, deps enforceDeps) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr, deps)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", ec.err)
		}
		return ec.code
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	return exitError
}

func newRootCmd(stdout, stderr io.Writer, deps enforceDeps) *cobra.Command {
	root := &cobra.Command{
		Use:   "plumb",
		Short: "Keep a cloud estate true to its infrastructure code",
		Long: `plumb compares what your Terraform/OpenTofu code declares with what really
exists in your cloud accounts, and reports every resource that is unmanaged
(exists, not in code), missing (in code, gone) or changed outside the code.

Run 'plumb scan --state terraform.tfstate' for a one-shot drift report.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints what `plumb version` prints.
		Version: versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print the plumb version (as plumb version does)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newScanCmd(stdout, stderr), newCheckCmd(stdout, stderr), newReportCmd(stdout), newVersionCmd(stdout),
		newServeCmd(stdout, stderr), newEventsCmd(stdout), newFindingsCmd(stdout), newSilenceCmd(stdout),
		newEnforceCmd(stdout, stderr, deps), newCodifyCmd(stdout, stderr), newConfigCmd(stdout), newDocsCmd(stdout),
		newActionCmd(stdout, stderr), newConsoleCmd(stdout), newBreakglassCmd(stdout), newGateCmd(stdout))
	return root
}
