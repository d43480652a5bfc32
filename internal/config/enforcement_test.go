package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEnforcementDefaults checks what each form of the setting resolves
// to: nothing written and the short form are report everywhere, with the
// documented limits filled in.
func TestEnforcementDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Enforcement
	}{
		{"absent", "environments: [{name: prod}]\n",
			Enforcement{Unmanaged: "report", Changed: "report", Grace: time.Hour, MaxActions: 10, MaxFraction: 0.1, DryRun: true, KMSDeletionWindowDays: 30}},
		{"short report", "environments: [{name: prod, enforcement: report}]\n",
			Enforcement{Unmanaged: "report", Changed: "report", Grace: time.Hour, MaxActions: 10, MaxFraction: 0.1, DryRun: true, KMSDeletionWindowDays: 30}},
		{"mapping with defaults", "environments: [{name: prod, accounts: ['123456789012'], enforcement: {unmanaged: delete}}]\n",
			Enforcement{Unmanaged: "delete", Changed: "report", Grace: time.Hour, MaxActions: 10, MaxFraction: 0.1, DryRun: true, KMSDeletionWindowDays: 30}},
		{"quarantine without grace", "environments: [{name: prod, accounts: [123456789012], enforcement: {unmanaged: quarantine, grace: 0s}}]\n",
			Enforcement{Unmanaged: "quarantine", Changed: "report", Grace: 0, MaxActions: 10, MaxFraction: 0.1, DryRun: true, KMSDeletionWindowDays: 30}},
		{"revert accepted", "environments: [{name: prod, accounts: ['123456789012'], enforcement: {changed: revert, dry_run: false, max_actions: 3, max_fraction: 1, kms_deletion_window_in_days: 7, force_empty: true}}]\n",
			Enforcement{Unmanaged: "report", Changed: "revert", Grace: time.Hour, MaxActions: 3, MaxFraction: 1, DryRun: false, ForceEmpty: true, KMSDeletionWindowDays: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("plumb.yaml", []byte(tc.yaml), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Environments[0].Enforcement
			w := tc.want
			if got.Unmanaged != w.Unmanaged || got.Changed != w.Changed || got.Grace != w.Grace || got.MaxActions != w.MaxActions ||
				got.MaxFraction != w.MaxFraction || got.DryRun != w.DryRun || got.ForceEmpty != w.ForceEmpty ||
				got.KMSDeletionWindowDays != w.KMSDeletionWindowDays {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
			if !slices.Equal(got.ProtectTags, []string{"plumb:protect"}) {
				t.Errorf("protect tags = %v, want plumb:protect", got.ProtectTags)
			}
			if got.Acts() != (w.Unmanaged != "report" || w.Changed != "report") {
				t.Errorf("Acts() = %v", got.Acts())
			}
		})
	}
}

// TestEnforcementAccounts checks the allow-list keeps ids exactly as
// written, including leading zeros YAML would read as a number.
func TestEnforcementAccounts(t *testing.T) {
	cfg, err := Parse("plumb.yaml", []byte(`environments:
  - name: prod
    accounts: [012345678901, "123456789012", 0f6c3e1a-1b2c-4d5e-8f90-1234567890ab]
    enforcement: {unmanaged: delete}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"012345678901", "123456789012", "0f6c3e1a-1b2c-4d5e-8f90-1234567890ab"}
	if got := cfg.Environments[0].AccountIDs(); !slices.Equal(got, want) {
		t.Errorf("accounts = %v, want %v", got, want)
	}
}

// TestEnforcementErrors: every mistake names the file, the line and the
// field, and says what is accepted.
func TestEnforcementErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown unmanaged word", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: nuke
`, []string{`plumb.yaml:5: environments[0].enforcement.unmanaged: "nuke": want report, quarantine or delete`}},
		{"unknown changed word", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      changed: delete
`, []string{`plumb.yaml:5: environments[0].enforcement.changed: "delete": want report or revert`}},
		{"short form other than report", `environments:
  - name: prod
    enforcement: delete
`, []string{`plumb.yaml:3: environments[0].enforcement: "delete": the short form takes only report`}},
		{"delete without accounts", `environments:
  - name: prod
    enforcement:
      unmanaged: delete
`, []string{`plumb.yaml:4: environments[0].accounts: required by enforcement unmanaged: delete`}},
		{"revert without accounts", `environments:
  - name: prod
    enforcement:
      changed: revert
`, []string{`plumb.yaml:4: environments[0].accounts: required by enforcement changed: revert`}},
		{"max_actions zero", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      max_actions: 0
`, []string{`plumb.yaml:6: environments[0].enforcement.max_actions: 0: want at least 1`}},
		{"max_actions negative", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement: {unmanaged: quarantine, max_actions: -3}
`, []string{`plumb.yaml:4: environments[0].enforcement.max_actions: -3: want at least 1`}},
		{"delete with zero grace", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      grace: 0s
`, []string{`plumb.yaml:6: environments[0].enforcement.grace: 0s: a delete needs a grace period`}},
		{"negative grace", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement: {unmanaged: quarantine, grace: -1h}
`, []string{`plumb.yaml:4: environments[0].enforcement.grace: -1h0m0s: must not be negative`}},
		{"fraction out of range", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      max_fraction: 1.5
`, []string{`plumb.yaml:6: environments[0].enforcement.max_fraction: 1.5: want a share above 0 and at most 1`}},
		{"kms window", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      kms_deletion_window_in_days: 3
`, []string{`plumb.yaml:6: environments[0].enforcement.kms_deletion_window_in_days: 3: AWS schedules key deletion 7 to 30 days ahead`}},
		{"unknown setting", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      blast_radius: 3
`, []string{`plumb.yaml:6: environments[0].enforcement.blast_radius: unknown field ` + "`blast_radius`" + ` in ` + "`enforcement`" + ` of environment ` + "`prod`" + ` (known fields: unmanaged, changed, missing, allow_replace, grace,`}},
		{"bad protect pattern", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      protect:
        - aws_s3_bucket.logs
        - justatype
        - aws_instance.*.tags.Name
`, []string{
			`plumb.yaml:8: environments[0].enforcement.protect[1]:`, "not TYPE.ID",
			`plumb.yaml:9: environments[0].enforcement.protect[2]: "aws_instance.*.tags.Name": protect names whole resources`}},
		{"bad account id", `environments:
  - name: prod
    accounts: ["1234", prod-account]
    enforcement: {unmanaged: delete}
`, []string{`plumb.yaml:3: environments[0].accounts[0]: "1234": want a 12-digit AWS account id`,
			`environments[0].accounts[1]: "prod-account"`}},
		{"account as mapping with a bad role", `environments:
  - name: prod
    accounts:
      - {id: "123456789012", role_arn: x}
`, []string{`plumb.yaml:4: environments[0].accounts[0].role_arn: "x": want an IAM role ARN`}},
		{"account as a list", `environments:
  - name: prod
    accounts:
      - [123456789012]
`, []string{`plumb.yaml:4: environments[0].accounts[0]: expected an account id (123456789012), an Azure subscription id, or a mapping`}},
		{"wrong type", `environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement:
      max_actions: many
`, []string{"plumb.yaml:5: environments[0].enforcement.max_actions: expected a whole number, found `many`"}},
		{"empty protect tag", `environments:
  - name: prod
    enforcement:
      protect_tags: [""]
`, []string{`plumb.yaml:4: environments[0].enforcement.protect_tags[0]: empty tag key`}},
		{"delete on azure", `environments:
  - name: prod
    cloud: azure
    accounts: [0f6c3e1a-1b2c-4d5e-8f90-1234567890ab]
    enforcement: {unmanaged: delete}
`, []string{`plumb.yaml:5: environments[0].enforcement.unmanaged: delete is not available on Azure yet`}},
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
