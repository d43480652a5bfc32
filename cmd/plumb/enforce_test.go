package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scan"
	"plumb/internal/server"
	"plumb/internal/testenv"
)

// TestEnforceUsage: mistakes on the command line or in the config are
// exit 1 with a message that says what to fix.
func TestEnforceUsage(t *testing.T) {
	dir := t.TempDir()
	two := writeFile(t, dir, "two.yaml", "environments: [{name: prod}, {name: test}]\n")
	one := writeFile(t, dir, "one.yaml", "environments: [{name: prod}]\n")
	bad := writeFile(t, dir, "bad.yaml", "environments:\n  - name: prod\n    enforcement:\n      unmanaged: nuke\n      max_actions: 0\n")
	noAccounts := writeFile(t, dir, "noaccounts.yaml", "environments:\n  - name: prod\n    enforcement:\n      unmanaged: delete\n")
	data := filepath.Join(dir, "data")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"enforce", "--data-dir", data}, []string{"--config plumb.yaml is required"}},
		{[]string{"enforce", "--config", two, "--data-dir", data}, []string{"--env is required", "has 2 environments"}},
		{[]string{"enforce", "--config", one, "--env", "staging", "--data-dir", data}, []string{`--env "staging": no such environment`}},
		{[]string{"enforce", "--config", one, "--kind", "weird", "--data-dir", data}, []string{`--kind "weird": want unmanaged, changed`}},
		{[]string{"enforce", "--config", one, "-o", "yaml", "--data-dir", data}, []string{`--output "yaml": want table or json`}},
		{[]string{"enforce", "--server", "http://127.0.0.1:1"}, []string{"--env is required with --server"}},
		{[]string{"enforce", "log", "--limit", "0", "--data-dir", data}, []string{"--limit 0: want 1 to 1000"}},
		{[]string{"enforce", "log", "--data-dir", filepath.Join(dir, "missing")}, []string{"run plumb enforce --apply there first"}},
		{[]string{"enforce", "--config", bad, "--data-dir", data}, []string{
			`bad.yaml:4: environments[0].enforcement.unmanaged: "nuke": want report, quarantine or delete`,
			`bad.yaml:5: environments[0].enforcement.max_actions: 0: want at least 1`}},
		{[]string{"enforce", "--config", noAccounts, "--data-dir", data}, []string{
			`noaccounts.yaml:4: environments[0].accounts: required by enforcement unmanaged: delete`}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitError {
				t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestEnforceNothingToDo: an environment that only reports has nothing to
// do: exit 0, and the plan says why.
func TestEnforceNothingToDo(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "plumb.yaml", "environments: [{name: test, enforcement: report}]\n")
	data := filepath.Join(dir, "data")
	// An open unmanaged finding in the store.
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	f := model.Finding{Kind: model.KindUnmanaged, Environment: "test", Fingerprint: "fp1", Message: "Undefined resource exists (x)",
		Resource: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "x"}}
	if err := store.Upsert(ctx, time.Now(), []model.Finding{f}); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	for _, args := range [][]string{{"enforce"}, {"enforce", "--apply"}} {
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--config", cfg, "--data-dir", data), &stdout, &stderr)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		out := stdout.String()
		if !strings.Contains(out, "nothing to do") || !strings.Contains(out, "1 unmanaged resource(s) are reported only (unmanaged: report)") {
			t.Errorf("%v:\n%s", args, out)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"enforce", "log", "--data-dir", data}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "UPDATED") {
		t.Errorf("empty log: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestEnforceThroughServer plans and applies through a running plumb
// serve (--server): the table shows the plan, the apply waits for the
// server to finish, the log lists what was done.
func TestEnforceThroughServer(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("served-victim")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := writeFile(t, dir, "prod.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	cfgPath := writeFile(t, dir, "plumb.yaml", fmt.Sprintf(`server:
  api_token: {env: PLUMB_TEST_API_TOKEN}
environments:
  - name: prod
    states: [%q]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement: {unmanaged: delete, dry_run: false, max_fraction: 1}
`, state))
	t.Setenv("PLUMB_TEST_API_TOKEN", "served-token")
	t.Setenv("PLUMB_API_TOKEN", "served-token")
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	// What a scan with notifications two hours ago left in the store.
	out, err := scan.Run(ctx, scan.Options{Environment: "prod", States: []string{state}, Regions: []string{"us-east-1"},
		Types: []string{"aws_s3_bucket"}, AllowEmptyState: true})
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	if _, err := store.Reconcile(ctx, past, "prod", []model.Kind{model.KindUnmanaged}, out.Report.Findings, out.Covered); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkNotified(ctx, past, "team", []string{out.Report.Findings[0].Fingerprint}); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()

	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{Config: cfg, DataDir: data, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.DiscardHandler), OnListen: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"enforce", "--server", base, "--env", "prod"}, &stdout, &stderr); code != exitFindings {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, w := range []string{"environment prod", "dry run (pass --apply to act)", "delete  aws_s3_bucket served-victim",
		"Undefined resource exists (served-victim)", "stopped by dry-run: dry run: pass --apply to act", "1 blocked"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("plan lacks %q:\n%s", w, stdout.String())
		}
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"enforce", "--server", base, "--env", "prod", "--apply", "--actor", "carol", "-o", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var p enforce.Plan
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil || len(p.Actions) != 1 || p.Actions[0].State != enforce.StateSucceeded {
		t.Fatalf("apply result %v: %s", err, stdout.String())
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("served-victim")}); err == nil {
		t.Error("bucket still there")
	}
	stdout.Reset()
	if code := run([]string{"enforce", "log", "--server", base, "--env", "prod", "--state", "succeeded"}, &stdout, &stderr); code != 0 {
		t.Fatalf("log: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "succeeded") || !strings.Contains(stdout.String(), "carol") || !strings.Contains(stdout.String(), "done: deleted") {
		t.Errorf("log:\n%s", stdout.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
