package enforce

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/model"
)

// approvalConfig parses a config with prod needing approval, as loaded in
// production (approval_ttl defaulted).
func approvalConfig(t *testing.T, approval string) *config.Config {
	t.Helper()
	y := "environments:\n  - name: prod\n    accounts: [\"123456789012\"]\n    approval: " + approval +
		"\n    approvers: [alice, bob, \"github:Octo-Cat\"]\n    enforcement: {unmanaged: delete, changed: revert, dry_run: false}\n"
	cfg, err := config.Parse("plumb.yaml", []byte(y), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestVerdict(t *testing.T) {
	cfg := approvalConfig(t, "peer")
	e := cfg.Environments[0]
	if e.ApprovalTTL != 24*time.Hour {
		t.Fatalf("default approval_ttl = %s, want 24h", e.ApprovalTTL)
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := func(who, what string, ago time.Duration) Decision {
		return Decision{ID: who + what, Approver: who, Decision: what, At: t0.Add(-ago)}
	}
	tests := []struct {
		name               string
		requesters         []string
		ds                 []Decision
		approved, rejected bool
		valid, expired     int
	}{
		{"none", []string{"carol"}, nil, false, false, 0, 0},
		{"an approver approves", []string{"carol"}, []Decision{d("alice", DecisionApprove, time.Hour)}, true, false, 1, 0},
		{"the requester cannot approve their own", []string{"alice"}, []Decision{d("alice", DecisionApprove, time.Hour)}, false, false, 0, 0},
		{"not an approver", []string{"carol"}, []Decision{d("mallory", DecisionApprove, time.Hour)}, false, false, 0, 0},
		{"expired after approval_ttl", []string{"carol"}, []Decision{d("alice", DecisionApprove, 24*time.Hour)}, false, false, 0, 1},
		{"just within approval_ttl", []string{"carol"}, []Decision{d("alice", DecisionApprove, 24*time.Hour-time.Second)}, true, false, 1, 0},
		{"a rejection stands against an approval", []string{"carol"}, []Decision{d("alice", DecisionApprove, time.Hour), d("bob", DecisionReject, time.Hour)}, false, true, 2, 0},
		{"a later approval replaces the approver's rejection", []string{"carol"}, []Decision{d("alice", DecisionReject, 2*time.Hour), d("alice", DecisionApprove, time.Hour)}, true, false, 1, 0},
		{"the requester withdraws", []string{"carol"}, []Decision{d("carol", DecisionReject, time.Hour)}, false, true, 1, 0},
		{"GitHub logins without case", []string{"carol"}, []Decision{d("github:octo-cat", DecisionApprove, time.Hour)}, true, false, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			valid, expired, approved, rejected := Verdict(e, tc.requesters, tc.ds, t0)
			if approved != tc.approved || rejected != tc.rejected || len(valid) != tc.valid || len(expired) != tc.expired {
				t.Fatalf("approved=%v rejected=%v valid=%d expired=%d, want %v %v %d %d",
					approved, rejected, len(valid), len(expired), tc.approved, tc.rejected, tc.valid, tc.expired)
			}
		})
	}
}

// TestApprovals: decisions through the store, as the CLI and the API make
// them: who may decide, the plan an approval is bound to, expiry seen by
// the approval guard at planning and at execution.
func TestApprovals(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			store, _ := openStores(t, backend)
			cfg := approvalConfig(t, "peer")
			e := cfg.Environments[0]
			t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			now := t0
			svc := &Approvals{Config: cfg, Actions: store, Now: func() time.Time { return now }}

			// The approval guard parks an action of alice's run.
			plan := &RevertPlan{Method: MethodTerraform, Address: "aws_vpc.main", Hash: "hash-1", Summary: "aws_vpc.main will be updated in-place"}
			fp := model.Fingerprint(model.KindChanged, "prod", "aws", "aws_vpc", "us-east-1", "vpc-1", "")
			park := func(p *RevertPlan, at time.Time) *Action {
				t.Helper()
				a := &Action{RunID: "run-1", Fingerprint: fp, Environment: "prod", Kind: model.KindChanged, Verb: VerbRevert, State: StatePlanned,
					Resource: model.Resource{Provider: "aws", Type: "aws_vpc", ID: "vpc-1", Region: "us-east-1"}, Revert: p, Actor: "alice", CreatedAt: at, UpdatedAt: at}
				c := &Candidate{Action: a}
				RunGuards(ctx, &Run{Environment: e, Now: at}, []Guard{Approval{Store: store}}, []*Candidate{c})
				if a.State != StateAwaiting || a.Guard != GuardApproval || a.Approval == nil || a.Approval.PlanHash != p.Hash {
					t.Fatalf("not parked: %+v", a)
				}
				if err := store.Put(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a
			}
			a := park(plan, t0)
			if !strings.Contains(a.Reason, "waits for peer approval by one of bob, github:Octo-Cat (requested by alice)") {
				t.Errorf("reason: %s", a.Reason)
			}

			var de *DecisionError
			_, err := svc.Decide(ctx, DecideRequest{ActionID: a.ID, Approver: "alice", Decision: DecisionApprove, Via: ViaAPI})
			if !errors.As(err, &de) || !de.Forbidden || !strings.Contains(err.Error(), "alice requested action") {
				t.Fatalf("self-approval: %v", err)
			}
			_, err = svc.Decide(ctx, DecideRequest{ActionID: a.ID, Approver: "mallory", Decision: DecisionApprove, Via: ViaAPI})
			if !errors.As(err, &de) || !de.Forbidden || !strings.Contains(err.Error(), "mallory is not an approver of environment prod") {
				t.Fatalf("non-approver: %v", err)
			}
			if _, err := svc.Decide(ctx, DecideRequest{ActionID: a.ID, Approver: "bob", Decision: "maybe"}); err == nil {
				t.Fatal("decision maybe accepted")
			}

			// bob approves through a prefix of the id, as plumb enforce prints it.
			now = t0.Add(time.Minute)
			got, err := svc.Decide(ctx, DecideRequest{ActionID: a.ID[:12], Approver: "bob", Decision: DecisionApprove, Via: ViaCLI})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Action.Approval.Approved || got.Released || !strings.Contains(got.Note, "runs at the next plumb enforce --apply") {
				t.Fatalf("approved: %+v %+v", got.Action.Approval, got)
			}
			// The next run plans the same plan: same request, approved, passes.
			again := park2(t, ctx, store, e, a, plan, now.Add(time.Hour))
			if again.State != StatePlanned || again.ID != a.ID {
				t.Fatalf("approved plan planned again: %s %s (%s)", again.ID, again.State, again.Reason)
			}
			// At execution after approval_ttl: blocked, the approval expired.
			exe := *a
			exe.State = StatePlanned
			c := &Candidate{Action: &exe}
			RunGuards(ctx, &Run{Environment: e, Now: now.Add(25 * time.Hour)}, []Guard{Approval{Store: store, Execution: true}}, []*Candidate{c})
			if exe.State != StateBlocked || !strings.Contains(exe.Reason, "the approval by bob at 2026-05-01T12:01:00Z expired (approval_ttl 24h0m0s)") {
				t.Fatalf("expired at execution: %s %s", exe.State, exe.Reason)
			}

			// The drift changed: a new plan is a new request, bob's approval
			// does not carry over.
			changed := &RevertPlan{Method: MethodTerraform, Address: "aws_vpc.main", Hash: "hash-2", Summary: "aws_vpc.main will be updated in-place"}
			b := park(changed, now.Add(2*time.Hour))
			if b.ID == a.ID || b.Approval.Approved || len(b.Approval.Decisions) != 0 {
				t.Fatalf("changed plan kept the approval: %+v", b.Approval)
			}
			// bob rejects it: blocked, with his words.
			got, err = svc.Decide(ctx, DecideRequest{ActionID: b.ID, Approver: "bob", Decision: DecisionReject, Via: ViaAPI, Comment: "not during the freeze"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Released || !strings.HasPrefix(got.Note, "rejected: the action will not run") {
				t.Errorf("rejection: %+v", got)
			}
			stored, err := store.Get(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.State != StateBlocked || !strings.Contains(stored.Reason, "rejected: by bob at") || !strings.Contains(stored.Reason, "not during the freeze") {
				t.Fatalf("rejected: %s %s", stored.State, stored.Reason)
			}
			if _, err := svc.Decide(ctx, DecideRequest{ActionID: b.ID, Approver: "github:octo-cat", Decision: DecisionApprove, Via: ViaGitHub}); !errors.As(err, &de) || de.Forbidden {
				t.Fatalf("deciding a blocked action: %v", err)
			}
			// A decision id is recorded once (a GitHub comment read twice).
			d := Decision{ID: "gh-1", Subject: b.ID, Environment: "prod", PlanHash: "hash-2", Approver: "github:octo-cat", Decision: DecisionApprove, Via: ViaGitHub, At: now}
			if ins, err := store.RecordDecision(ctx, d); err != nil || !ins {
				t.Fatalf("first record: %v %v", ins, err)
			}
			if ins, err := store.RecordDecision(ctx, d); err != nil || ins {
				t.Fatalf("second record: %v %v", ins, err)
			}
		})
	}
}

// park2 runs the approval guard over a fresh candidate for the same
// finding and plan, as the next run does.
func park2(t *testing.T, ctx context.Context, store *Store, e config.Environment, prev *Action, p *RevertPlan, at time.Time) *Action {
	t.Helper()
	a := &Action{RunID: "run-2", Fingerprint: prev.Fingerprint, Environment: "prod", Kind: prev.Kind, Verb: prev.Verb, State: StatePlanned,
		Resource: prev.Resource, Revert: p, Actor: "alice", CreatedAt: at, UpdatedAt: at}
	RunGuards(ctx, &Run{Environment: e, Now: at}, []Guard{Approval{Store: store}}, []*Candidate{{Action: a}})
	return a
}
