package tfdrift

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// localConfig is two files with fixed content and a random password that
// is written nowhere but the state.
const localConfig = `
resource "random_password" "db" {
  length  = 24
  special = true
}

resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "alpha\n"
}

resource "local_file" "b" {
  filename = "${path.module}/b.txt"
  content  = "bravo\n"
}
`

// statePassword reads the random password from the state file, to prove
// it never reaches a result.
func statePassword(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string
			Instances []struct {
				Attributes map[string]any
			}
		}
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type == "random_password" && len(r.Instances) == 1 {
			if pw, _ := r.Instances[0].Attributes["result"].(string); len(pw) == 24 {
				return pw
			}
		}
	}
	t.Fatal("no 24-character random_password result in the state")
	return ""
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestRunCleanApply covers hashicorp/terraform#36403: right after an apply
// there is no drift, whatever the exit code of a detailed plan would say.
// It also checks that Run writes nothing: not into the configuration
// directory (state, lock, plan, backup) and not into the temporary
// directory once it returns.
func TestRunCleanApply(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, localConfig)
	apply(t, tf, dir)
	tmp := isolateTemp(t)
	before := snapshot(t, dir)

	res, err := Run(context.Background(), dir, options(tf))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 0 {
		t.Errorf("drift after a clean apply: %+v", res.Drift)
	}
	if res.Source != dir || !strings.HasPrefix(res.TerraformVersion, "1.") {
		t.Errorf("Source %q, TerraformVersion %q", res.Source, res.TerraformVersion)
	}
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("Run changed the configuration directory:\nbefore %q\nafter  %q", before, after)
	}
	assertNoPlanLeft(t, tmp)
}

func TestRunDeletedFile(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, localConfig)
	apply(t, tf, dir)
	password := statePassword(t, dir)
	if err := os.Remove(filepath.Join(dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	tmp := isolateTemp(t)
	before := snapshot(t, dir)

	res, err := Run(context.Background(), dir, options(tf))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 1 {
		t.Fatalf("want one drifted resource, got %+v", res.Drift)
	}
	d := res.Drift[0]
	want := struct{ addr, typ, provider, id, mode string }{"local_file.b", "local_file", "local", sha1Hex("bravo\n"), "managed"}
	got := struct{ addr, typ, provider, id, mode string }{d.Desired.Address, d.Desired.Type, d.Desired.Provider, d.Desired.ID, d.Desired.Mode}
	if got != want {
		t.Errorf("resource = %+v, want %+v", got, want)
	}
	if !d.Missing || len(d.Changes) != 0 || d.Desired.Source != dir {
		t.Errorf("Missing %v, Changes %+v, Source %q", d.Missing, d.Changes, d.Desired.Source)
	}
	// Raw is the state before the deletion; the provider marks
	// sensitive_content sensitive, but it is null so there is nothing to
	// hide.
	if d.Desired.Raw["content"] != "bravo\n" || d.Desired.Raw["sensitive_content"] != nil {
		t.Errorf("Raw = %v", d.Desired.Raw)
	}
	assertSecretAbsent(t, res, password)
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("Run changed the configuration directory:\nbefore %q\nafter  %q", before, after)
	}
	assertNoPlanLeft(t, tmp)
}

// TestRunChangedFile: the local provider checks a file against the
// checksum of the content it wrote, and on refresh it removes a file whose
// content changed from the state (its Read treats a mismatch like a
// missing file), so Terraform reports the edited file as deleted, not as a
// changed content attribute.
func TestRunChangedFile(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, localConfig)
	apply(t, tf, dir)
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), dir, options(tf))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 1 || res.Drift[0].Desired.Address != "local_file.a" || !res.Drift[0].Missing {
		t.Fatalf("want local_file.a missing, got %+v", res.Drift)
	}
	if got := res.Drift[0].Desired.Raw["content"]; got != "alpha\n" {
		t.Errorf("Raw content = %q, want the recorded content", got)
	}
	assertSecretAbsent(t, res, statePassword(t, dir))
}

// TestRunSensitiveRaw: local_sensitive_file's content is sensitive in the
// provider's schema, so the recorded content of a deleted file must be
// redacted in Raw.
func TestRunSensitiveRaw(t *testing.T) {
	tf := localTerraform(t)
	const secret = "hunter2-<&>-tfdrift-secret"
	dir := writeConfig(t, `
resource "local_sensitive_file" "key" {
  filename = "${path.module}/key.pem"
  content  = "`+secret+`"
}
`)
	apply(t, tf, dir)
	if err := os.Remove(filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), dir, options(tf))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 1 || !res.Drift[0].Missing {
		t.Fatalf("want one missing resource, got %+v", res.Drift)
	}
	if got := res.Drift[0].Desired.Raw["content"]; got != Redacted {
		t.Errorf("Raw content = %v, want %q", got, Redacted)
	}
	assertSecretAbsent(t, res, secret)
}

// TestRunWorkspace: Workspace selects the state for one run without
// switching the directory's selected workspace.
func TestRunWorkspace(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, `
resource "local_file" "w" {
  filename = "${path.module}/${terraform.workspace}.txt"
  content  = "workspace\n"
}
`)
	if _, err := tf.Run(context.Background(), dir, "workspace", "new", "-no-color", "staging"); err != nil {
		t.Fatal(err)
	}
	apply(t, tf, dir)
	if _, err := tf.Run(context.Background(), dir, "workspace", "select", "-no-color", "default"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "staging.txt")); err != nil {
		t.Fatal(err)
	}

	opts := options(tf)
	res, err := Run(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 0 {
		t.Errorf("default workspace has no resources, got %+v", res.Drift)
	}
	opts.Workspace = "staging"
	res, err = Run(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 1 || res.Drift[0].Desired.Address != "local_file.w" || !res.Drift[0].Missing {
		t.Errorf("staging: want local_file.w missing, got %+v", res.Drift)
	}
}

// TestRunDetailedExitcode: a pipeline's TF_CLI_ARGS_plan=-detailed-exitcode
// makes plan exit 2 on drift. Run does not treat that as an error, and the
// drift still comes from resource_drift.
func TestRunDetailedExitcode(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, localConfig)
	apply(t, tf, dir)
	opts := options(tf)
	opts.Env = append(opts.Env, "TF_CLI_ARGS_plan=-detailed-exitcode")
	res, err := Run(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 0 {
		t.Errorf("clean apply: %+v", res.Drift)
	}
	if err := os.Remove(filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	res, err = Run(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 1 || res.Drift[0].Desired.Address != "local_file.a" {
		t.Errorf("want local_file.a, got %+v", res.Drift)
	}
}

func TestRunErrors(t *testing.T) {
	tf := localTerraform(t)
	tmp := isolateTemp(t)

	dir := writeConfig(t, `resource "local_file" "x" {`)
	_, err := Run(context.Background(), dir, options(tf))
	if err == nil {
		t.Fatal("invalid configuration: no error")
	}
	for _, want := range []string{"terraform plan in " + dir, "exit status 1", "Error:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	opts := options(tf)
	opts.Bin = filepath.Join(t.TempDir(), "no-such-terraform")
	if _, err := Run(context.Background(), dir, opts); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("missing binary: error %v", err)
	}
	if _, err := Run(context.Background(), filepath.Join(dir, "missing"), options(tf)); err == nil {
		t.Error("missing directory: no error")
	}
	assertNoPlanLeft(t, tmp)
}

// TestRunCanceled: canceling the context interrupts a plan that is stuck
// in a provider, and the plan directory is still removed. The provider
// blocks reading a named pipe (a data source is read during a
// refresh-only plan) until the test opens the other end.
func TestRunCanceled(t *testing.T) {
	tf := localTerraform(t)
	dir := writeConfig(t, `
data "local_file" "wait" {
  filename = "${path.module}/fifo"
}
`)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Whatever happens, release the provider: opening the pipe for
	// writing unblocks its reader, closing it gives it end of file.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	})
	tmp := isolateTemp(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, dir, options(tf))
		done <- err
	}()
	time.Sleep(3 * time.Second)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * interruptGrace):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	assertNoPlanLeft(t, tmp)
}
