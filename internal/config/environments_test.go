package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestControlsDefaults: the three-environment model as written in
// docs/environments.md loads with the documented defaults.
func TestControlsDefaults(t *testing.T) {
	cfg, err := Parse("/etc/plumb/plumb.yaml", []byte(`server:
  api_tokens:
    - {name: alice, token: {env: ALICE}}
    - {name: bob, token: {env: BOB}}
environments:
  - name: test
  - name: staging
    promotes_from: test
    approval: peer
    approvers: [alice, bob, github:Carol-1]
    accounts: ["123456789012"]
    terraform_dir: infra/staging
    enforcement: {changed: revert, missing: recreate, allow_replace: true}
  - name: prod
    promotes_from: staging
    approval: management
    approvers: [github:dana]
    approval_ttl: 2h
    terraform_dir: /srv/infra/prod
    terraform_workspace: prod
    packs: [cis-aws-3.0]
    policies: [policies/]
`), env(map[string]string{"ALICE": "tok-a", "BOB": "tok-b"}))
	if err != nil {
		t.Fatal(err)
	}
	test, staging, prod := cfg.Environments[0], cfg.Environments[1], cfg.Environments[2]
	if test.Approval != ApprovalNone || test.NeedsApproval() || test.ApprovalTTL != DefaultApprovalTTL || test.Enforcement.Missing != ActionReport {
		t.Errorf("test = %+v", test.Controls)
	}
	if staging.Approval != ApprovalPeer || !staging.NeedsApproval() || staging.PromotesFrom != "test" ||
		staging.TerraformDir != filepath.Join("/etc/plumb", "infra/staging") || staging.Enforcement.Missing != ActionRecreate ||
		!staging.Enforcement.AllowReplace || !staging.Enforcement.Acts() {
		t.Errorf("staging = %+v %+v", staging.Controls, staging.Enforcement)
	}
	if prod.ApprovalTTL != 2*time.Hour || prod.TerraformDir != "/srv/infra/prod" || prod.TerraformWorkspace != "prod" ||
		!slices.Equal(prod.Policies, []string{filepath.Join("/etc/plumb", "policies")}) {
		t.Errorf("prod = %+v", prod.Controls)
	}
	for _, tc := range []struct {
		env      Controls
		identity string
		want     bool
	}{
		{staging.Controls, "alice", true},
		{staging.Controls, "Alice", false},
		{staging.Controls, "github:carol-1", true},
		{staging.Controls, "carol-1", false},
		{prod.Controls, "github:DANA", true},
		{prod.Controls, "dana", false},
		{test.Controls, "alice", false},
	} {
		if got := tc.env.MayApprove(tc.identity); got != tc.want {
			t.Errorf("MayApprove(%q) in %v = %v, want %v", tc.identity, tc.env.Approvers, got, tc.want)
		}
	}
	for _, tc := range []struct{ token, want string }{{"tok-a", "alice"}, {"tok-b", "bob"}, {"tok-c", ""}, {"", ""}} {
		if got := cfg.Server.Identity(tc.token); got != tc.want {
			t.Errorf("Identity(%q) = %q, want %q", tc.token, got, tc.want)
		}
	}
	if !cfg.Server.APIEnabled() {
		t.Error("named tokens enable the API")
	}
}

// TestControlsErrors: each mistake is one error naming file, line and
// field in the user's words.
func TestControlsErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"approvers missing", `environments:
  - name: prod
    approval: management
`, []string{`plumb.yaml:3: environments[0].approvers: required by approval: management: name who may approve`}},
		{"approval word", `environments:
  - name: prod
    approval: everyone
`, []string{`plumb.yaml:3: environments[0].approval: "everyone": want none, peer or management`}},
		{"approvers without approval", `environments:
  - name: prod
    approvers: [alice]
`, []string{`plumb.yaml:3: environments[0].approvers: approvers without approval`}},
		{"peer with one approver", `environments:
  - name: staging
    approval: peer
    approvers: [alice]
`, []string{`plumb.yaml:4: environments[0].approvers: approval: peer with one approver: alice could never approve their own actions`}},
		{"bad github login", `environments:
  - name: prod
    approval: management
    approvers:
      - alice
      - "github:not a login"
      - alice
`, []string{`plumb.yaml:6: environments[0].approvers[1]: "github:not a login"`, `plumb.yaml:7: environments[0].approvers[2]: "alice" is listed twice`}},
		{"promotes_from unknown", `environments:
  - name: staging
  - name: prod
    promotes_from: stagin
`, []string{`plumb.yaml:4: environments[1].promotes_from: unknown environment "stagin" (environments: prod, staging)`}},
		{"promotes_from itself", `environments:
  - name: prod
    promotes_from: prod
`, []string{`plumb.yaml:3: environments[0].promotes_from: "prod": an environment cannot promote from itself`}},
		{"promotion cycle", `environments:
  - name: a
    promotes_from: b
  - name: b
    promotes_from: a
`, []string{`environments[0].promotes_from: promotion order has a cycle: a <- b <- a`}},
		{"recreate without terraform_dir", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      missing: recreate
`, []string{`plumb.yaml:5: environments[0].enforcement.missing: recreate needs terraform_dir`}},
		{"missing word", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      missing: delete
`, []string{`plumb.yaml:5: environments[0].enforcement.missing: "delete": want report or recreate`}},
		{"recreate without accounts", `environments:
  - name: prod
    terraform_dir: infra
    enforcement:
      missing: recreate
`, []string{`plumb.yaml:5: environments[0].accounts: required by enforcement missing: recreate`}},
		{"allow_replace without terraform_dir", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement: {changed: revert, allow_replace: true}
`, []string{`environments[0].enforcement.allow_replace: allow_replace applies to Terraform reverts`}},
		{"approval ttl", `environments:
  - name: prod
    approval: management
    approvers: [alice]
    approval_ttl: 10s
`, []string{`plumb.yaml:5: environments[0].approval_ttl: 10s: want 1m to 720h`}},
		{"workspace without dir", `environments:
  - name: prod
    terraform_workspace: prod
`, []string{`plumb.yaml:3: environments[0].terraform_workspace: set terraform_dir too`}},
		{"unknown pack", `environments:
  - name: prod
    packs: [pci]
`, []string{`plumb.yaml:3: environments[0].packs[0]: "pci": unknown pack`}},
		{"token twice", `server:
  api_token: {env: SHARED}
  api_tokens:
    - {name: alice, token: {env: SHARED}}
    - {name: alice, token: {env: OTHER}}
    - {name: api, token: {env: THIRD}}
`, []string{`plumb.yaml:4: server.api_tokens[0].token: the same token as server.api_token`,
			`plumb.yaml:5: server.api_tokens[1].name: token "alice" is defined twice`,
			`plumb.yaml:6: server.api_tokens[2].name: "api" is the identity of the shared server.api_token`}},
		{"token without secret", `server:
  api_tokens:
    - {name: alice}
`, []string{`plumb.yaml:3: server.api_tokens[0].token: required`}},
	}
	vars := env(map[string]string{"SHARED": "s", "OTHER": "o", "THIRD": "t"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("plumb.yaml", []byte(tc.yaml), vars)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
