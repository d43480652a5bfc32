package config

import (
	"strings"
	"testing"
	"time"
)

// TestAccountsForms checks both forms of an accounts entry, organization
// discovery and the scan limits, with their defaults.
func TestAccountsForms(t *testing.T) {
	cfg, err := Parse("plumb.yaml", []byte(`server:
  rescue_after: 30s
environments:
  - name: org
    regions: [us-east-1, eu-west-1]
    accounts:
      - "111111111111"
      - 222222222222
      - id: "333333333333"
        role_arn: arn:aws:iam::333333333333:role/plumb-read
        external_id: ext-1
        regions: [eu-west-1]
    organization:
      role_name: audit/plumb-read
      ous: [ou-ab12-cdef3456, r-ab12]
      exclude: ["999999999999"]
    scan_limits: {account: 4}
  - name: single
    accounts: ["444444444444"]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.RescueAfter != 30*time.Second {
		t.Errorf("server.rescue_after = %s", cfg.Server.RescueAfter)
	}
	org := cfg.Environments[0]
	want := []Account{
		{ID: "111111111111"},
		{ID: "222222222222"},
		{ID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/plumb-read", ExternalID: "ext-1", SessionName: DefaultSessionName, Regions: []string{"eu-west-1"}},
	}
	for i, w := range want {
		got := org.Accounts[i]
		if got.ID != w.ID || got.RoleARN != w.RoleARN || got.ExternalID != w.ExternalID || got.SessionName != w.SessionName || strings.Join(got.Regions, ",") != strings.Join(w.Regions, ",") {
			t.Errorf("accounts[%d] = %+v, want %+v", i, got, w)
		}
	}
	if o := org.Organization; o == nil || o.RoleName != "audit/plumb-read" || len(o.OUs) != 2 || o.Exclude[0] != "999999999999" || o.SessionName != DefaultSessionName {
		t.Errorf("organization = %+v", org.Organization)
	}
	if org.ScanLimits != (ScanLimits{Account: 4, Service: 3}) {
		t.Errorf("scan_limits = %+v", org.ScanLimits)
	}
	if !org.MultiAccount() {
		t.Error("org is not multi-account")
	}
	single := cfg.Environments[1]
	if single.MultiAccount() || single.ScanLimits != (ScanLimits{Account: DefaultAccountLimit, Service: DefaultServiceLimit}) {
		t.Errorf("single: multi %v, limits %+v", single.MultiAccount(), single.ScanLimits)
	}
}

// TestAccountsErrors checks each mistake is named with its line and field.
func TestAccountsErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"role of another account", `environments:
  - name: org
    accounts:
      - id: "111111111111"
        role_arn: arn:aws:iam::222222222222:role/plumb-read
`, []string{`plumb.yaml:5: environments[0].accounts[0].role_arn: "arn:aws:iam::222222222222:role/plumb-read" is a role of account 222222222222, not of 111111111111`}},
		{"enforce role of another account, malformed, conflicting", `environments:
  - name: a
    accounts:
      - id: "111111111111"
        enforce_role_arn: arn:aws:iam::222222222222:role/plumb-enforce
      - id: "333333333333"
        enforce_role_arn: plumb-enforce
      - id: "444444444444"
        enforce_role_arn: arn:aws:iam::444444444444:role/act
  - name: b
    accounts:
      - id: "444444444444"
        enforce_role_arn: arn:aws:iam::444444444444:role/other
`, []string{`plumb.yaml:5: environments[0].accounts[0].enforce_role_arn: "arn:aws:iam::222222222222:role/plumb-enforce" is a role of account 222222222222, not of 111111111111: plumb would act in the wrong account`,
			`plumb.yaml:7: environments[0].accounts[1].enforce_role_arn: "plumb-enforce": want an IAM role ARN such as arn:aws:iam::333333333333:role/plumb-enforce`,
			`plumb.yaml:13: environments[1].accounts[0].enforce_role_arn: account 444444444444 already has enforce_role_arn "arn:aws:iam::444444444444:role/act" (environments[0].accounts[2]): plumb acts in an account through one role`}},
		{"enforce role on an Azure subscription", `environments:
  - name: az
    accounts:
      - id: 00000000-0000-0000-0000-000000000001
        enforce_role_arn: arn:aws:iam::111111111111:role/act
`, []string{`plumb.yaml:4: environments[0].accounts[0]: 00000000-0000-0000-0000-000000000001 is an Azure subscription id: role_arn, enforce_role_arn and regions are for AWS accounts`}},
		{"mapping without id", `environments:
  - name: org
    accounts:
      - role_arn: arn:aws:iam::222222222222:role/plumb-read
`, []string{`plumb.yaml:4: environments[0].accounts[0].id: required: the 12-digit AWS account id`}},
		{"external id without role", `environments:
  - name: org
    accounts:
      - {id: "111111111111", external_id: abc}
`, []string{`plumb.yaml:4: environments[0].accounts[0].role_arn: required by external_id and session_name`}},
		{"duplicate account", `environments:
  - name: org
    accounts: ["111111111111", {id: "111111111111", role_arn: "arn:aws:iam::111111111111:role/r"}]
`, []string{`plumb.yaml:3: environments[0].accounts[1]: account 111111111111 is listed twice (first at accounts[0])`}},
		{"unknown account field", `environments:
  - name: org
    accounts:
      - {id: "111111111111", role: x}
`, []string{"plumb.yaml:4: environments[0].accounts[0].role: unknown field `role`"}},
		{"bad session name and region", `environments:
  - name: org
    accounts:
      - id: "111111111111"
        role_arn: arn:aws:iam::111111111111:role/r
        session_name: "a b"
        regions: [useast1]
`, []string{`plumb.yaml:6: environments[0].accounts[0].session_name: "a b": want 2 to 64`,
			`plumb.yaml:7: environments[0].accounts[0].regions[0]: "useast1": want an AWS region name`}},
		{"organization without role", `environments:
  - name: org
    organization:
      ous: [team-a]
      exclude: ["12"]
`, []string{`plumb.yaml:3: environments[0].organization.role_name: required`,
			`plumb.yaml:4: environments[0].organization.ous[0]: "team-a": want an organizational unit id`,
			`plumb.yaml:5: environments[0].organization.exclude[0]: "12": want a 12-digit AWS account id`}},
		{"organization on azure", `environments:
  - name: org
    cloud: azure
    organization: {role_name: r}
`, []string{`plumb.yaml:4: environments[0].organization: organization discovery is for AWS`}},
		{"limits", `environments:
  - name: org
    scan_limits: {account: 2, service: 5}
  - name: b
    scan_limits: {account: -1}
`, []string{`plumb.yaml:3: environments[0].scan_limits.service: 5 is more than scan_limits.account (2)`,
			`plumb.yaml:5: environments[1].scan_limits.account: -1: want at least 1`}},
		{"rescue too short", `server: {rescue_after: 10ms}
`, []string{`plumb.yaml:1: server.rescue_after: 10ms: want at least 1s`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("plumb.yaml", []byte(tc.yaml), env(nil))
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
