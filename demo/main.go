// Command demo shows plumb end to end on a laptop: it starts moto_server on
// 127.0.0.1, applies a small Terraform configuration to it with the real
// AWS provider, makes three changes behind Terraform's back (an unmanaged
// bucket, a deleted queue, an edited tag) and runs plumb scan, which must
// report those three and nothing else.
//
//	make demo    (or: go build -o bin/plumb ./cmd/plumb && go run ./demo -plumb bin/plumb)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"plumb/internal/demo"
	"plumb/internal/testenv"
)

func main() {
	plumbBin := flag.String("plumb", "bin/plumb", "path to the plumb binary")
	keep := flag.Bool("keep", false, "keep the work directory (state file, configuration)")
	flag.Parse()
	if err := run(context.Background(), *plumbBin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, plumbBin string, keep bool) error {
	plumbBin, err := filepath.Abs(plumbBin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "plumb-demo-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	if err := preflight(); err != nil {
		return err
	}

	step("starting moto_server on 127.0.0.1")
	moto, stop, err := testenv.StartMotoProcess()
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println("   ", moto.Endpoint)

	step("terraform apply (real AWS provider) against moto")
	tfBin, err := exec.LookPath("terraform")
	if err != nil {
		return fmt.Errorf("terraform (1.11) is not on PATH: run make setup, which says how to get it: %w", err)
	}
	mirror, err := testenv.FindProviderMirror()
	if err != nil {
		return err
	}
	tf, err := testenv.NewTerraformIn(dir, tfBin, mirror)
	if err != nil {
		return err
	}
	statePath, err := demo.Apply(ctx, tf, dir, moto.Endpoint)
	if err != nil {
		return err
	}
	fmt.Println("    state:", statePath)

	env := os.Environ()
	for k, v := range moto.Env() {
		env = append(env, k+"="+v)
	}
	step("plumb scan on the freshly applied estate (expect no drift)")
	if err := plumb(plumbBin, env, dir, "scan", "--state", statePath); err != nil {
		return err
	}

	step("out-of-band changes: create bucket " + demo.UnmanagedBucket + ", delete queue " + demo.DeletedQueue + ", set tag env=prod on VPC " + demo.ChangedVPCName)
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(moto.Endpoint),
	)
	if err != nil {
		return err
	}
	if err := demo.Drift(ctx, cfg); err != nil {
		return err
	}

	step("plumb scan again (expect exactly those three findings, exit code 2)")
	return plumb(plumbBin, env, dir, "scan", "--state", statePath)
}

// preflight checks everything the demo needs before starting anything,
// and names every missing piece at once with the command that provides
// it, instead of failing on the first after a minute of work.
func preflight() error {
	var missing []string
	if _, err := exec.LookPath("terraform"); err != nil {
		missing = append(missing, "terraform 1.11 is not on PATH")
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		missing = append(missing, "moto_server (the AWS emulator, moto[server] 5.2) is not on PATH")
	}
	if _, err := testenv.FindProviderMirror(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing what the demo needs:\n  - %s\nRun make setup: it installs what it can and says how to get the rest", strings.Join(missing, "\n  - "))
}

func step(msg string) { fmt.Printf("\n==> %s\n", msg) }

// plumb runs the CLI, showing its output and exit code as a user would
// see them. Exit codes 0 and 2 are both success for the demo.
func plumb(bin string, env []string, dir string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Printf("$ plumb %s\n", strings.Join(args, " "))
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	fmt.Printf("(exit code %d)\n", code)
	if code == 0 || code == 2 {
		return nil
	}
	return err
}
