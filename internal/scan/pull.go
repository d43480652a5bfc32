package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"plumb/internal/state"
	"plumb/internal/tfdrift"
)

// pullState reads the current state of a Terraform working directory with
// `terraform state pull`, which works for every backend (local, S3, remote)
// and never writes anything. The document and its resources are named
// after the directory.
func pullState(ctx context.Context, dir string, opts tfdrift.Options) (*state.Document, error) {
	bin := opts.Bin
	if bin == "" {
		bin = "terraform"
	}
	cmd := exec.CommandContext(ctx, bin, "state", "pull")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_INPUT=0", "TF_IN_AUTOMATION=1")
	if opts.Workspace != "" {
		cmd.Env = append(cmd.Env, "TF_WORKSPACE="+opts.Workspace)
	}
	cmd.Env = append(cmd.Env, opts.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("terraform state pull in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	name := dir + " (terraform state pull)"
	if stdout.Len() == 0 {
		return nil, fmt.Errorf("read state %s: %w", name, state.ErrNoResources)
	}
	doc, err := state.ParseDocument(name, stdout.Bytes())
	if err != nil {
		return nil, err
	}
	doc.Source = dir
	for i := range doc.Resources {
		doc.Resources[i].Source = dir
	}
	return doc, nil
}
