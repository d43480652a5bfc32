package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/model"
)

const (
	teamAccount = "222222222222"
	actRole     = "arn:aws:iam::222222222222:role/plumb-enforce"
)

// multiYAML is a prod environment of plumb's own account and a team
// account read through plumb-read; enforceRole is that account's
// enforce_role_arn line (empty: none).
func multiYAML(enforceRole string) string {
	y := `environments:
  - name: prod
    states: [prod.tfstate]
    regions: [us-east-1]
    accounts:
      - "123456789012"
      - id: "222222222222"
        role_arn: arn:aws:iam::222222222222:role/plumb-read
        external_id: plumb-ext
`
	if enforceRole != "" {
		y += "        enforce_role_arn: " + enforceRole + "\n"
	}
	return y + `    enforcement:
      unmanaged: delete
      grace: 1h
      max_actions: 10
      max_fraction: 1
      dry_run: false
`
}

// refuseAssumeRole makes STS refuse AssumeRole of one role, as a trust
// policy that does not name plumb does.
func refuseAssumeRole(arn string) func(*awsconfig.LoadOptions) error {
	mw := middleware.InitializeMiddlewareFunc("plumbTestRefuseRole", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*sts.AssumeRoleInput); ok && aws.ToString(p.RoleArn) == arn {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDenied",
				Message: "not authorized to perform: sts:AssumeRole on resource: " + arn}
		}
		return next.HandleInitialize(ctx, in)
	})
	return awsconfig.WithAPIOptions([]func(*middleware.Stack) error{
		func(st *middleware.Stack) error { return st.Initialize.Add(mw, middleware.Before) },
	})
}

// TestActInAnotherAccount: a multi-account environment's finding in a team
// account is acted on there through the account's enforce_role_arn (the
// bucket is deleted in that account, not in plumb's own, where a bucket of
// the same kind stays); without the role, or when STS refuses it, the
// account guard stops the delete and nothing is written.
func TestActInAnotherAccount(t *testing.T) {
	m, cfg := startMoto(t)
	const victim = "team-victim"
	cases := []struct {
		name     string
		role     string
		loadOpts []func(*awsconfig.LoadOptions) error
		guard    string // "": deleted
		reason   string
	}{
		{name: "through the enforce role", role: actRole},
		{name: "no enforce_role_arn", guard: enforce.GuardAccount, reason: "names no enforce_role_arn for 222222222222"},
		{name: "enforce role refused by STS", role: actRole, loadOpts: []func(*awsconfig.LoadOptions) error{refuseAssumeRole(actRole)},
			guard: enforce.GuardAccount, reason: "AccessDenied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m.Reset(t)
			team := m.AccountConfig(t, region, teamAccount)
			createBucket(t, ctx, team, victim)
			createBucket(t, ctx, cfg, "own-bystander")
			h := newHarness(t, multiYAML(tc.role), map[string]string{"prod.tfstate": bucketState("own-bystander")}, tc.loadOpts...)
			fs := h.scan("prod", []string{"aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-90*time.Minute))
			f := findingOf(t, fs, victim)
			if f.Resource.Account != teamAccount {
				t.Fatalf("finding of %s carries account %q, want %s", victim, f.Resource.Account, teamAccount)
			}
			_, w0 := h.ex.Calls()
			p := h.plan("prod", true)
			h.dispatch()
			_, w1 := h.ex.Calls()
			a := h.action(p, f.Fingerprint)
			if tc.guard == "" {
				if a.State != enforce.StateSucceeded {
					t.Fatalf("action %s (%s: %s) %s\n%s", a.State, a.Guard, a.Reason, a.Error, describePlan(p))
				}
				if bucketExists(ctx, team, victim) {
					t.Error("the bucket is still in the team account")
				}
			} else {
				if a.State != enforce.StateBlocked || a.Guard != tc.guard || !strings.Contains(a.Reason, tc.reason) {
					t.Errorf("action %s by %q (%s), want blocked by %s with %q", a.State, a.Guard, a.Reason, tc.guard, tc.reason)
				}
				if !bucketExists(ctx, team, victim) {
					t.Error("the bucket was deleted although the account guard should have stopped it")
				}
				if w1 != w0 {
					t.Errorf("%d write calls were made", w1-w0)
				}
			}
			if !bucketExists(ctx, cfg, "own-bystander") {
				t.Error("the declared bucket of plumb's own account was deleted")
			}
		})
	}
}

// TestReadInAnotherAccount: the executor reads a resource of a team
// account through its role (found there, with the account it is in), and
// one of an account it has no role for is unknown, never gone.
func TestReadInAnotherAccount(t *testing.T) {
	m, _ := startMoto(t)
	ctx := context.Background()
	team := m.AccountConfig(t, region, teamAccount)
	createBucket(t, ctx, team, "team-bucket")
	ex := newExecutor(t)
	ex.SetAccountRoles([]enforceaws.AccountRole{{Account: teamAccount, RoleARN: actRole}})
	there := model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "team-bucket", Region: region, Account: teamAccount}
	elsewhere := model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "team-bucket", Region: region, Account: "333333333333"}
	found, unknown, err := ex.Read(ctx, []model.Resource{there, elsewhere})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := found[enforce.ResourceKey(there)]; !ok || got.Account != teamAccount {
		t.Errorf("team bucket: found %+v (%v), unknown %v", got, ok, unknown)
	}
	if err := unknown[enforce.ResourceKey(elsewhere)]; err == nil || !strings.Contains(err.Error(), "333333333333") {
		t.Errorf("bucket of an account without a role: unknown = %v, found %v", err, found[enforce.ResourceKey(elsewhere)])
	}
	if err := ex.ActsIn(ctx, teamAccount); err != nil {
		t.Errorf("ActsIn(%s) = %v", teamAccount, err)
	}
}
