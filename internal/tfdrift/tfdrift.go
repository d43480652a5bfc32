// Package tfdrift asks Terraform itself for drift. Terraform's refresh knows
// every attribute of every resource type of every provider, so a
// refresh-only plan finds changes plumb's own listers cannot see (a rule
// added to a security group, a shortened log retention, a file edited on
// disk). The package runs that plan, or reads one a pipeline already saved,
// and turns Terraform's resource_drift into plumb's model.
//
// Only resource_drift is read: resource_changes also holds code that was
// merged but not applied, which is not drift, and the plan's exit code is
// not trustworthy (hashicorp/terraform#36403: after a clean apply
// `plan -refresh-only -detailed-exitcode` can exit 2 with no drift).
package tfdrift

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"plumb/internal/model"
)

// Options says how to run Terraform. The zero value runs `terraform` in the
// current workspace with plumb's own environment.
type Options struct {
	// Bin is the Terraform executable, "terraform" by default. OpenTofu's
	// "tofu" works too: its CLI and plan JSON are the same.
	Bin string
	// Workspace selects a workspace for this run only (through
	// TF_WORKSPACE), so plumb never switches the workspace a person or a
	// pipeline left selected. Empty means the current one.
	Workspace string
	// Env is extra environment (KEY=VALUE) on top of plumb's own, for
	// credentials, TF_VAR_* values or TF_CLI_CONFIG_FILE. Later entries win.
	Env []string
}

// Drifted is one resource whose real state differs from the last state
// Terraform recorded.
type Drifted struct {
	// Desired describes the resource as Terraform last recorded it. Raw is
	// the recorded (before) attribute object with every sensitive value
	// replaced by "(sensitive)", so it can be shown and stored safely.
	Desired model.DesiredResource
	// Missing says the resource no longer exists.
	Missing bool
	// Changes lists the attributes that differ, one per leaf path
	// (tags.env, ingress[1].from_port), in path order. Empty when Missing.
	Changes []model.Change
}

// Result is what Terraform found for one configuration directory or plan.
type Result struct {
	// Source is the directory Run planned, or the name given to ReadPlan.
	Source string
	// TerraformVersion is the version that made the plan, as the plan
	// records it.
	TerraformVersion string
	// Drift holds the drifted resources in the plan's order (Terraform
	// sorts them by address).
	Drift []Drifted
	// Refreshed lists, sorted, the addresses of the managed resources
	// Terraform evaluated: those of the plan's prior state (the refreshed
	// state) and those it found deleted. A declared resource named here
	// was judged by Terraform, drifted or not.
	Refreshed []string
}

// Redacted replaces every sensitive value plumb reports, in changes and in
// Raw, so a secret never reaches a report, a log or the findings store.
const Redacted = "(sensitive)"

// interruptGrace is how long Terraform gets to stop its providers after an
// interrupt before it is killed.
const interruptGrace = 10 * time.Second

// Run asks Terraform for drift in the configuration directory dir, which
// must already be initialised (`terraform init`), as it is in the pipeline
// that applies it.
//
// It runs `plan -refresh-only -input=false -lock=false -no-color` with the
// plan written into a private temporary directory, then `show -json` of
// that plan, and reads resource_drift. A refresh-only plan that is never
// applied does not write the state, and -lock=false means plumb neither
// waits for nor blocks the pipeline's own runs, so Run is safe against a
// live estate. Nothing is written into dir, and the plan file (which holds
// the state's values, secrets included) is removed even on error or
// cancellation. Canceling ctx interrupts Terraform so it can stop its
// providers, and kills it if it has not exited within ten seconds.
func Run(ctx context.Context, dir string, opts Options) (*Result, error) {
	bin := opts.Bin
	if bin == "" {
		bin = "terraform"
	}
	tmp, err := os.MkdirTemp("", "plumb-tfdrift-")
	if err != nil {
		return nil, fmt.Errorf("terraform plan in %s: create temporary directory: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	planFile := filepath.Join(tmp, "drift.tfplan")
	env := runEnv(opts)

	if _, err := terraform(ctx, dir, bin, env, "plan", "-refresh-only", "-input=false", "-lock=false", "-no-color", "-out="+planFile); err != nil {
		// The exit code decides nothing about drift, but 2 is only a
		// success when something (TF_CLI_ARGS_plan=-detailed-exitcode)
		// asked for it; a written plan file tells that case from an error.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !nonEmptyFile(planFile) {
			return nil, fmt.Errorf("terraform plan in %s: %w", dir, err)
		}
	}
	out, err := terraform(ctx, dir, bin, env, "show", "-json", planFile)
	if err != nil {
		return nil, fmt.Errorf("terraform show in %s: %w", dir, err)
	}
	res, err := ReadPlan(dir, out)
	if err != nil {
		return nil, fmt.Errorf("terraform plan in %s: %w", dir, err)
	}
	return res, nil
}

// runEnv is plumb's environment plus the caller's, with the workspace last
// so it cannot be overridden by accident. exec keeps the last value of a
// repeated key.
func runEnv(opts Options) []string {
	env := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_INPUT=0")
	env = append(env, opts.Env...)
	if opts.Workspace != "" {
		env = append(env, "TF_WORKSPACE="+opts.Workspace)
	}
	return env
}

// terraform runs one Terraform command in dir and returns its standard
// output. On failure the error carries the trimmed standard error, where
// Terraform explains itself (standard output only holds the plan's
// rendering and warnings).
func terraform(ctx context.Context, dir, bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("%w (%v)", ctxErr, err)
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return nil, fmt.Errorf("%w: %s", err, msg)
	}
	return nil, err
}

func nonEmptyFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}
