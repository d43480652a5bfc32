package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/breakglass"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

const controlsConfig = `
server:
  api_tokens:
    - {name: alice, token: {file: DIR/alice}}
    - {name: bob, token: {file: DIR/bob}}
    - {name: carol, token: {file: DIR/carol}}
environments:
  - name: prod
    accounts: ["123456789012"]
    approval: peer
    approvers: [alice, bob]
    enforcement: {changed: revert, dry_run: true}
`

// TestControlsAPI: approvals and break-glass windows through the API,
// with the caller's identity taken from the named token presented.
func TestControlsAPI(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"alice", "bob", "carol"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("token-of-"+n+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	ts := startServer(t, strings.ReplaceAll(controlsConfig, "DIR", dir), nil)
	as := func(who, method, path string, body any, out any) int {
		t.Helper()
		var b []byte
		if body != nil {
			b = mustJSON(t, body)
		}
		resp, got := ts.do(method, path, map[string]string{"Authorization": "Bearer token-of-" + who}, b)
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(got, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, got)
			}
		}
		if resp.StatusCode >= 300 {
			t.Logf("%s %s as %s: %d %s", method, path, who, resp.StatusCode, got)
		}
		return resp.StatusCode
	}
	if code := as("alice", "GET", "/v1/breakglass", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("break-glass without enforcement: %d", code)
	}
	if code := as("mallory", "GET", "/v1/breakglass", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", code)
	}
	enf, err := newEnforcement(ctx, ts.srv.cfg, ts.queue, ts.store, map[string]enforce.Executor{}, time.Now, ts.srv.logger, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.enforcement = enf

	// An action alice's run parked for approval.
	now := time.Now().UTC()
	a := &enforce.Action{ID: "act-0123456789", RunID: "run-1", Fingerprint: "fp-1", Environment: "prod", Kind: model.KindChanged,
		Verb: enforce.VerbRevert, State: enforce.StateAwaiting, Guard: enforce.GuardApproval, Actor: "alice",
		Resource:  model.Resource{Provider: "aws", Type: "aws_vpc", ID: "vpc-1", Region: "us-east-1"},
		Revert:    &enforce.RevertPlan{Method: enforce.MethodTerraform, Address: "aws_vpc.main", Hash: "h1"},
		Approval:  &enforce.ApprovalStatus{Required: "peer", Approvers: []string{"alice", "bob"}, Requesters: []string{"alice"}, PlanHash: "h1"},
		CreatedAt: now, UpdatedAt: now}
	if err := enf.actions.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		who, path string
		want      int
	}{
		{"alice", "/v1/actions/act-0123456789/approve", http.StatusForbidden}, // her own request
		{"carol", "/v1/actions/act-0123456789/approve", http.StatusForbidden}, // not an approver
		{"bob", "/v1/actions/act-nope/approve", http.StatusNotFound},
		{"bob", "/v1/actions/act-0123456789/approve", http.StatusOK},
	}
	for _, tc := range tests {
		if code := as(tc.who, "POST", tc.path, map[string]string{"comment": "ok"}, nil); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.who, tc.path, code, tc.want)
		}
	}
	var dec enforce.Decided
	if code := as("bob", "POST", "/v1/actions/act-0123456789/reject", map[string]string{"comment": "wrong window"}, &dec); code != http.StatusOK {
		t.Fatalf("reject: %d", code)
	}
	if dec.Action.State != enforce.StateBlocked || !strings.Contains(dec.Action.Reason, "rejected: by bob") || !strings.Contains(dec.Action.Reason, "wrong window") {
		t.Errorf("rejected action: %+v", dec.Action)
	}
	if code := as("bob", "POST", "/v1/actions/act-0123456789/approve", nil, nil); code != http.StatusConflict {
		t.Errorf("approving a rejected action: %d", code)
	}

	// Break-glass windows: opened and closed by the token's name.
	var w windowView
	open := map[string]string{"environment": "prod", "principal": "arn:aws:iam::123456789012:role/BreakGlass", "reason": "INC-1234", "for": "2h"}
	if code := as("carol", "POST", "/v1/breakglass", open, &w); code != http.StatusCreated {
		t.Fatalf("open: %d", code)
	}
	if w.OpenedBy != "carol" || w.State != "open" || !strings.HasPrefix(w.ID, "bg-") {
		t.Errorf("opened %+v", w)
	}
	bad := []struct {
		name string
		edit func(map[string]string)
		want int
	}{
		{"overlap", func(map[string]string) {}, http.StatusConflict},
		{"unknown environment", func(m map[string]string) { m["environment"] = "qa" }, http.StatusNotFound},
		{"bad duration", func(m map[string]string) { m["for"] = "2 hours" }, http.StatusBadRequest},
		{"too long", func(m map[string]string) { m["for"] = "48h" }, http.StatusBadRequest},
		{"no reason", func(m map[string]string) { m["reason"] = "" }, http.StatusBadRequest},
		{"not a principal", func(m map[string]string) { m["principal"] = "dana" }, http.StatusBadRequest},
	}
	for _, tc := range bad {
		body := map[string]string{}
		for k, v := range open {
			body[k] = v
		}
		tc.edit(body)
		if code := as("carol", "POST", "/v1/breakglass", body, nil); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	var list struct {
		Windows []windowView `json:"windows"`
	}
	if code := as("alice", "GET", "/v1/breakglass?environment=prod&open=true", nil, &list); code != http.StatusOK || len(list.Windows) != 1 {
		t.Fatalf("list: %d %+v", code, list)
	}
	if code := as("alice", "GET", "/v1/breakglass?open=maybe", nil, nil); code != http.StatusBadRequest {
		t.Errorf("open=maybe: %d", code)
	}
	// While it is open, enforcement in prod is stopped by the break-glass guard.
	ows, err := enf.breakglass.OpenWindows(ctx, "prod", time.Now())
	if err != nil || len(ows) != 1 {
		t.Fatalf("open windows for the guard: %v %+v", err, ows)
	}
	var closed windowView
	if code := as("alice", "POST", "/v1/breakglass/"+w.ID+"/close", nil, &closed); code != http.StatusOK {
		t.Fatalf("close: %d", code)
	}
	if closed.ClosedBy != "alice" || closed.State != "closed" {
		t.Errorf("closed %+v", closed)
	}
	if code := as("alice", "POST", "/v1/breakglass/"+w.ID+"/close", nil, nil); code != http.StatusConflict {
		t.Errorf("closing twice: %d", code)
	}
	if code := as("alice", "POST", "/v1/breakglass/bg-nope/close", nil, nil); code != http.StatusNotFound {
		t.Errorf("closing an unknown window: %d", code)
	}
	list.Windows = nil
	if code := as("alice", "GET", "/v1/breakglass?open=true", nil, &list); code != http.StatusOK || len(list.Windows) != 0 {
		t.Errorf("open after close: %d %+v", code, list)
	}
}

// TestBreakGlassIntake: through the intake and the queue, a write by the
// principal of an open break-glass window gives audit.break_glass and
// drift.reconcile instead of audit.unexpected_write; another principal's
// write at the same time still alarms.
func TestBreakGlassIntake(t *testing.T) {
	ts := startServer(t, baseConfig, nil)
	ctx := context.Background()
	enf, err := newEnforcement(ctx, ts.srv.cfg, ts.queue, ts.store, map[string]enforce.Executor{}, time.Now, ts.srv.logger, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.enforcement = enf
	ts.srv.pipeline.SetBreakGlass(enf.breakglass)
	const engineer, other = "22222222-2222-2222-2222-222222222222", "99999999-9999-9999-9999-999999999999"
	// eventGridEvent's writes happen at 2026-11-22T10:00:00Z.
	opened := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	if _, err := enf.breakglass.Open(ctx, opened, breakglass.OpenRequest{Environment: "prod", Principal: engineer, Reason: "INC-1234", For: time.Hour, OpenedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	batch := []any{
		eventGridEvent("bg1", "Microsoft.Resources.ResourceWriteSuccess", engineer),
		eventGridEvent("bg2", "Microsoft.Resources.ResourceWriteSuccess", other),
	}
	if resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), map[string]string{"aeg-event-type": "Notification"}, mustJSON(t, batch)); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var succeeded eventsAnswer
	waitFor(t, "two succeeded events", func() bool {
		ts.apiGet("/v1/events?state=succeeded", &succeeded)
		return len(succeeded.Events) == 2
	})
	kinds := map[string][]string{}
	for _, k := range []string{"audit.break_glass", "drift.reconcile", "audit.unexpected_write"} {
		var fs struct {
			Findings []findingView `json:"findings"`
		}
		if code := ts.apiGet("/v1/findings?kind="+k, &fs); code != 200 {
			t.Fatalf("findings: %d", code)
		}
		for _, f := range fs.Findings {
			kinds[k] = append(kinds[k], f.Finding.Resource.ID+" "+f.Finding.Message)
		}
	}
	if len(kinds["audit.break_glass"]) != 1 || !strings.Contains(kinds["audit.break_glass"][0], "nsg-bg1") || !strings.Contains(kinds["audit.break_glass"][0], "INC-1234") {
		t.Errorf("break-glass records: %q", kinds["audit.break_glass"])
	}
	if len(kinds["drift.reconcile"]) != 1 || !strings.Contains(kinds["drift.reconcile"][0], "nsg-bg1") {
		t.Errorf("reconcile findings: %q", kinds["drift.reconcile"])
	}
	if len(kinds["audit.unexpected_write"]) != 1 || !strings.Contains(kinds["audit.unexpected_write"][0], "nsg-bg2") {
		t.Errorf("unexpected writes: %q (want only the other principal's)", kinds["audit.unexpected_write"])
	}
}
