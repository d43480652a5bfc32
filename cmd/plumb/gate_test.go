package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// TestGateCLI: plumb gate on a data directory, from a never-promoted plan
// to one that may be applied, and the flag errors.
func TestGateCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plumb.yaml")
	y := "environments:\n  - name: staging\n  - name: prod\n    promotes_from: staging\n    approval: management\n    approvers: [boss]\n"
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, _ := filepath.Abs(filepath.Join("..", "..", "internal", "gate", "testdata", "plan_sg.json"))
	prodPlan, _ := filepath.Abs(filepath.Join("..", "..", "internal", "gate", "testdata", "plan_sg_prod.json"))
	data := filepath.Join(dir, "data")
	common := []string{"--config", cfg, "--data-dir", data}
	gate := func(args ...string) (int, string, string) {
		return cli(append(append([]string{"gate"}, args...), common...)...)
	}

	code, out, errOut := gate("--env", "prod", "--actor", "ci", prodPlan)
	if code != 2 || !strings.Contains(out, "may NOT be applied to prod") || !strings.Contains(out, "FAIL promotion") ||
		!strings.Contains(out, "was never applied to staging") || !strings.Contains(out, "FAIL approval") {
		t.Fatalf("unpromoted: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = gate("--env", "staging", "--record-applied", "--actor", "ci", plan); code != 0 || !strings.Contains(out, "recorded as applied to staging by ci") {
		t.Fatalf("record-applied: exit %d %s %s", code, out, errOut)
	}
	// staging scanned clean after the apply.
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Reconcile(ctx, time.Now().Add(time.Second), "staging", []model.Kind{model.KindChanged}, nil, func(model.Finding) bool { return true }); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	if code, _, errOut = gate("--env", "prod", "--approve", "--actor", "mallory", prodPlan); code != 1 || !strings.Contains(errOut, "mallory is not an approver of environment prod") {
		t.Fatalf("approve by a non-approver: exit %d %s", code, errOut)
	}
	if code, out, errOut = gate("--env", "prod", "--approve", "--actor", "boss", "--comment", "release 42", prodPlan); code != 0 || !strings.Contains(out, "approve by boss recorded for prod (valid for 24h0m0s)") {
		t.Fatalf("approve: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = gate("--env", "prod", "--actor", "ci", "-o", "json", prodPlan)
	if code != 0 || !strings.Contains(out, `"passed": true`) {
		t.Fatalf("promoted and approved: exit %d\n%s%s", code, out, errOut)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no env", []string{prodPlan}, "--env is required"},
		{"two modes", []string{"--env", "prod", "--approve", "--reject", prodPlan}, "at most one of --record-applied, --approve and --reject"},
		{"unknown env", []string{"--env", "qa", prodPlan}, `--env "qa": no such environment`},
		{"not a plan", []string{"--env", "prod", cfg}, "read plan JSON"},
		{"no plan", []string{"--env", "prod"}, "accepts 1 arg(s)"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := gate(tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errOut, tc.want)
			}
		})
	}
}
