package scan

import (
	"testing"

	"plumb/internal/config"
	"plumb/internal/model"
)

// TestInferAccounts: a declared resource whose attributes name no account
// takes the one account its provider configuration's other resources
// name; a configuration naming two accounts, or none, tells nothing.
func TestInferAccounts(t *testing.T) {
	d := func(source, provider, account, id string) model.DesiredResource {
		return model.DesiredResource{Resource: model.Resource{Provider: "aws", Account: account, ID: id}, Source: source, ProviderConfig: provider}
	}
	desired := []model.DesiredResource{
		d("a.tfstate", "p.a", "111111111111", "q1"),
		d("a.tfstate", "p.a", "", "bucket-a"),
		d("a.tfstate", "p.b", "", "bucket-b"),           // nothing names p.b's account
		d("b.tfstate", "p.a", "", "bucket-other-state"), // p.a of another state
		d("a.tfstate", "p.m", "111111111111", "m1"),
		d("a.tfstate", "p.m", "222222222222", "m2"),
		d("a.tfstate", "p.m", "", "mixed"),
	}
	inferAccounts(desired)
	want := map[string]string{"q1": "111111111111", "bucket-a": "111111111111", "bucket-b": "", "bucket-other-state": "",
		"m1": "111111111111", "m2": "222222222222", "mixed": ""}
	for _, r := range desired {
		if r.Account != want[r.ID] {
			t.Errorf("%s: account %q, want %q", r.ID, r.Account, want[r.ID])
		}
	}
}

// TestAccountsOf: only environments with a role or organization scan
// several accounts; Azure subscriptions of the allow-list are not AWS
// accounts to read.
func TestAccountsOf(t *testing.T) {
	cfg, err := config.Parse("plumb.yaml", []byte(`environments:
  - name: org
    accounts:
      - "111111111111"
      - {id: "222222222222", role_arn: "arn:aws:iam::222222222222:role/r", regions: [eu-west-1]}
      - 0b1f6f3c-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    organization: {role_name: plumb-read, exclude: ["333333333333"]}
    scan_limits: {account: 4, service: 2}
  - name: one
    accounts: ["111111111111"]
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	org, _ := cfg.Environment("org")
	a := AccountsOf(org)
	if a == nil || len(a.Targets) != 2 || a.Targets[1].RoleARN != "arn:aws:iam::222222222222:role/r" || a.Targets[1].Regions[0] != "eu-west-1" ||
		a.Targets[1].SessionName != "plumb-scan" || a.Organization == nil || a.Organization.RoleName != "plumb-read" || a.Limits.Account != 4 || a.Limits.Service != 2 {
		t.Errorf("AccountsOf(org) = %+v", a)
	}
	one, _ := cfg.Environment("one")
	if a := AccountsOf(one); a != nil {
		t.Errorf("AccountsOf(one) = %+v, want nil", a)
	}
}
