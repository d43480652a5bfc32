package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

const bgRole = "arn:aws:iam::123456789012:role/BreakGlass"

// TestBreakglassCLI drives plumb breakglass open, list and close on a data
// directory, and the input errors.
func TestBreakglassCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(cfg, []byte("environments:\n  - name: prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	local := []string{"--data-dir", data, "--config", cfg, "--actor", "alice"}

	code, out, errOut := cli(append([]string{"breakglass", "open", "--env", "prod", "--principal", bgRole, "--reason", "INC-1234", "--for", "2h", "-o", "json"}, local...)...)
	if code != 0 {
		t.Fatalf("open: exit %d: %s", code, errOut)
	}
	var w windowRow
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("open printed %q: %v", out, err)
	}
	if w.State != "open" || w.OpenedBy != "alice" || w.Principal != bgRole || w.ExpiresAt.Sub(w.OpenedAt) != 2*time.Hour {
		t.Fatalf("opened %+v", w)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"overlap", []string{"open", "--env", "prod", "--principal", bgRole, "--reason", "INC-1235", "--for", "1h"}, "overlaps break-glass window " + w.ID},
		{"unknown env", []string{"open", "--env", "qa", "--principal", bgRole, "--reason", "x", "--for", "1h"}, `--env "qa": no such environment in`},
		{"missing flags", []string{"open", "--env", "prod"}, "--principal is required"},
		{"too long", []string{"open", "--env", "prod", "--principal", "arn:aws:iam::123456789012:user/eve", "--reason", "x", "--for", "30h"}, "--for 30h0m0s: at most 24h0m0s"},
		{"unknown window", []string{"close", "bg-nope"}, "window not found"},
		{"bad output", []string{"list", "-o", "yaml"}, `--output "yaml": want table or json`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(append(append([]string{"breakglass"}, tc.args...), local...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errOut, tc.want)
			}
		})
	}

	code, out, errOut = cli(append([]string{"breakglass", "list", "--open"}, local...)...)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	_, rows := tableRows(t, out)
	if len(rows) != 1 || rows[0]["ID"] != w.ID || rows[0]["STATE"] != "open" || rows[0]["REASON"] != "INC-1234" {
		t.Fatalf("list rows %v", rows)
	}
	if code, out, errOut = cli(append([]string{"breakglass", "close", w.ID, "--actor", "bob"}, local[:4]...)...); code != 0 || !strings.Contains(out, w.ID) {
		t.Fatalf("close: exit %d %q %s", code, out, errOut)
	}
	code, out, _ = cli(append([]string{"breakglass", "list", "-o", "json"}, local...)...)
	var all []windowRow
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil || len(all) != 1 || all[0].State != "closed" || all[0].ClosedBy != "bob" {
		t.Fatalf("after close: exit %d %v %s", code, err, out)
	}
}

// TestEnforceApproveCLI: plumb enforce approve and reject on a data
// directory, with --actor as who decides.
func TestEnforceApproveCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plumb.yaml")
	y := "environments:\n  - name: prod\n    accounts: [\"123456789012\"]\n    approval: management\n    approvers: [alice, bob]\n    enforcement: {changed: revert, dry_run: false}\n"
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := findings.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		t.Fatal(err)
	}
	s, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, id := range []string{"act-aaaaaaaa01", "act-bbbbbbbb02"} {
		a := &enforce.Action{ID: id, RunID: "run-1", Fingerprint: "fp-" + id, Environment: "prod", Kind: model.KindChanged,
			Verb: enforce.VerbRevert, State: enforce.StateAwaiting, Guard: enforce.GuardApproval, Actor: "carol",
			Resource:  model.Resource{Provider: "aws", Type: "aws_vpc", ID: "vpc-" + id, Region: "us-east-1"},
			Revert:    &enforce.RevertPlan{Method: enforce.MethodTerraform, Address: "aws_vpc.main", Hash: "h-" + id},
			Approval:  &enforce.ApprovalStatus{Required: "management", Approvers: []string{"alice", "bob"}, Requesters: []string{"carol"}, PlanHash: "h-" + id},
			CreatedAt: now, UpdatedAt: now}
		if err := s.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.Close()
	local := []string{"--config", cfg, "--data-dir", data}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not an approver", []string{"approve", "act-aaaaaaaa01", "--actor", "carol"}, 1, "carol is not an approver of environment prod"},
		{"needs an id", []string{"approve"}, 1, "accepts 1 arg(s)"},
		{"approved by prefix", []string{"approve", "act-aaaa", "--actor", "alice"}, 0, "act-aaaaaaaa01 revert aws_vpc vpc-act-aaaaaaaa01: approved: runs at the next plumb enforce --apply"},
		{"rejected", []string{"reject", "act-bbbbbbbb02", "--actor", "bob", "--comment", "not now"}, 0, "rejected: the action will not run"},
		{"decided already", []string{"approve", "act-bbbbbbbb02", "--actor", "alice"}, 1, "is blocked (rejected: by bob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(append(append([]string{"enforce"}, tc.args...), local...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d (want %d), out %q, stderr %q, want %q", code, tc.code, out, errOut, tc.want)
			}
		})
	}
}
