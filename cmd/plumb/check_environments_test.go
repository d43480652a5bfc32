package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Environments evaluated together: plumb check ENV=FILE ... with the
// production ones marked, over plans (the ordinary suite's, planned by
// terraform) and states.

// stateResource is one resource of a test state.
type stateResource struct {
	typ, name string
	attrs     map[string]any
}

// writeState writes a Terraform state (tfstate v4) holding resources.
func writeState(t *testing.T, dir, name string, resources ...stateResource) string {
	t.Helper()
	var rs []map[string]any
	for _, r := range resources {
		rs = append(rs, map[string]any{
			"mode":      "managed",
			"type":      r.typ,
			"name":      r.name,
			"provider":  `provider["registry.terraform.io/hashicorp/aws"]`,
			"instances": []any{map[string]any{"schema_version": 0, "attributes": r.attrs, "sensitive_attributes": []any{}}},
		})
	}
	data, err := json.MarshalIndent(map[string]any{
		"version": 4, "terraform_version": "1.11.0", "serial": 1,
		"lineage": "0f5c3a52-2d1e-4b7a-9e0d-" + fmt.Sprintf("%012d", len(name)), "outputs": map[string]any{}, "resources": rs,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func vpcState(name, id, cidr string) stateResource {
	return stateResource{"aws_vpc", name, map[string]any{"id": id, "cidr_block": cidr, "arn": "arn:aws:ec2:eu-west-1:123456789012:vpc/" + id}}
}

// envCheck is one multi-environment check's JSON report, reduced.
type envCheck struct {
	findings     [][3]string // rule, environment, address
	notEvaluated [][3]string // rule, address, reason
}

// runEnvCheck runs plumb check with the PCI DSS pack and returns the
// findings and not-evaluated entries of the environment rules only.
// The configurations break other PCI DSS rules too (VPCs without flow
// logs), so the exit code is 2 whenever findings are expected at all.
func runEnvCheck(t *testing.T, args ...string) envCheck {
	t.Helper()
	out := filepath.Join(t.TempDir(), "check.json")
	code, stdout, stderr := runCheckCLI(t, append(args, "--pack", "pci-dss-4.0", "-o", "json="+out)...)
	if code != exitOK && code != exitFindings {
		t.Fatalf("exit %d\n%s%s", code, stderr, stdout)
	}
	var rep struct {
		Findings []struct {
			Rule, Environment, Address string
		} `json:"findings"`
		NotEvaluated []struct{ Rule, Address, Reason string } `json:"policy_not_evaluated"`
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	var got envCheck
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.Rule, "env-") {
			got.findings = append(got.findings, [3]string{f.Rule, f.Environment, f.Address})
		}
	}
	for _, n := range rep.NotEvaluated {
		if strings.HasPrefix(n.Rule, "env-") {
			got.notEvaluated = append(got.notEvaluated, [3]string{n.Rule, n.Address, n.Reason})
		}
	}
	slices.SortFunc(got.findings, func(a, b [3]string) int { return strings.Compare(strings.Join(a[:], "|"), strings.Join(b[:], "|")) })
	return got
}

func TestCheckEnvironments(t *testing.T) {
	compliant := filepath.Join(ordinaryDir, "compliant", "plan.json")
	violations := filepath.Join(ordinaryDir, "violations", "plan.json")
	dir := t.TempDir()
	// staging's state: one VPC inside production's 10.60.0.0/16, one apart,
	// and a peering connection from the apart one to a production VPC.
	stagingOverlap := writeState(t, dir, "staging.tfstate",
		vpcState("inside", "vpc-stg1", "10.60.128.0/17"),
		vpcState("apart", "vpc-stg2", "172.16.0.0/16"),
		stateResource{"aws_vpc_peering_connection", "to_prod", map[string]any{"id": "pcx-1", "vpc_id": "vpc-stg2", "peer_vpc_id": "vpc-prod1"}},
	)
	stagingApart := writeState(t, dir, "staging-apart.tfstate", vpcState("apart", "vpc-stg2", "172.16.0.0/16"))
	prodState := writeState(t, dir, "prod.tfstate",
		vpcState("main", "vpc-prod1", "10.60.0.0/16"),
		vpcState("edge", "vpc-prod2", "192.168.0.0/24"),
		stateResource{"aws_subnet", "edge", map[string]any{"id": "subnet-1", "vpc_id": "vpc-prod2", "cidr_block": "192.168.0.0/25"}},
	)

	tests := []struct {
		name   string
		args   []string
		want   [][3]string
		wantNE int // not-evaluated environment entries
	}{
		{
			// Two plans of the same address plan: every production
			// network overlaps staging's.
			"two plans overlapping",
			[]string{"prod=" + compliant, "staging=" + violations, "--production", "prod"},
			[][3]string{
				{"env-production-address-space-overlap", "prod", "aws_subnet.private"},
				{"env-production-address-space-overlap", "prod", "aws_vpc.main"},
				{"env-production-address-space-overlap", "prod", "aws_vpc.shared"},
			},
			// Each plan's peering joins two VPCs of its own configuration.
			0,
		},
		{
			"plan and state apart",
			[]string{"prod=" + compliant, "staging=" + stagingApart, "--production", "prod", "--allow-partial"},
			nil, 0,
		},
		{
			"two states: overlap and peering",
			[]string{"prod=" + prodState, "staging=" + stagingOverlap, "--production", "prod"},
			[][3]string{
				{"env-production-address-space-overlap", "prod", "aws_vpc.main"},
				{"env-production-peering", "staging", "aws_vpc_peering_connection.to_prod"},
			},
			0,
		},
		{
			"two states apart",
			[]string{"prod=" + prodState, "staging=" + stagingApart, "--production", "prod"},
			nil, 0,
		},
		{
			// Nothing marked production: nothing to compare, never a pass.
			"no production",
			[]string{"prod=" + prodState, "staging=" + stagingOverlap, "--allow-partial"},
			nil, 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runEnvCheck(t, tt.args...)
			if !slices.Equal(got.findings, tt.want) {
				t.Errorf("findings:\n got %q\nwant %q", got.findings, tt.want)
			}
			if len(got.notEvaluated) != tt.wantNE {
				t.Errorf("not evaluated: %q, want %d", got.notEvaluated, tt.wantNE)
			}
		})
	}
}

// TestCheckEnvironmentsFromConfig: with --config and no file, every
// environment's states are read and environments[].production marks
// production.
func TestCheckEnvironmentsFromConfig(t *testing.T) {
	dir := t.TempDir()
	writeState(t, dir, "prod.tfstate", vpcState("main", "vpc-prod1", "10.60.0.0/16"))
	writeState(t, dir, "staging.tfstate", vpcState("copy", "vpc-stg1", "10.60.0.0/16"))
	cfg := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(cfg, []byte(`environments:
  - name: prod
    states: [prod.tfstate]
    production: true
  - name: staging
    states: [staging.tfstate]
policy_params:
  observability: {max_retention_days: 365}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// policy_params names the observability pack, not loaded here: left out.
	got := runEnvCheck(t, "--config", cfg)
	want := [][3]string{{"env-production-address-space-overlap", "prod", "aws_vpc.main"}}
	if !slices.Equal(got.findings, want) {
		t.Errorf("findings = %q, want %q", got.findings, want)
	}
}

// TestCheckParams: --param overrides a parameter of a rule or a pack.
func TestCheckParams(t *testing.T) {
	dir := filepath.Join(ordinaryDir, "compliant")
	plan := filepath.Join(dir, "plan.json")
	tests := []struct {
		name   string
		params []string
		found  bool
	}{
		// aws_cloudwatch_log_group.trail keeps its logs 365 days.
		{"default maximum (400 days)", nil, false},
		{"pack parameter", []string{"observability.max_retention_days=90"}, true},
		{"rule parameter wins over the pack's", []string{"observability.max_retention_days=90", "obs-log-group-retention-max.max_retention_days=365"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "check.json")
			args := []string{plan, "--config-dir", dir, "--pack", "observability", "--allow-partial", "-o", "json=" + out}
			for _, p := range tt.params {
				args = append(args, "--param", p)
			}
			code, _, stderr := runCheckCLI(t, args...)
			if code != exitOK && code != exitFindings {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			found := bytes.Contains(data, []byte(`"rule": "obs-log-group-retention-max"`)) && bytes.Contains(data, []byte(`aws_cloudwatch_log_group.trail`))
			if found != tt.found {
				t.Errorf("obs-log-group-retention-max on aws_cloudwatch_log_group.trail: found %v, want %v\n%s", found, tt.found, data)
			}
		})
	}
}

func TestCheckEnvironmentUsageErrors(t *testing.T) {
	plan := filepath.Join(ordinaryDir, "compliant", "plan.json")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"several files unnamed", []string{plan, plan}, exitError, "several files are several environments: name each one ENV=FILE"},
		{"environment twice", []string{"prod=" + plan, "prod=" + plan}, exitError, "environment prod is given twice"},
		{"bad environment name", []string{"pr od=" + plan}, exitError, `"pr od" is not an environment name`},
		{"no file", []string{"prod="}, exitError, `"prod=": no file after prod=`},
		{"production not an input", []string{"prod=" + plan, "--production", "live"}, exitError, "--production live: no input of that environment (inputs: prod)"},
		{"config dir with several", []string{"prod=" + plan, "dev=" + plan, "--config-dir", "."}, exitError, "--config-dir applies to one plan"},
		{"param shape", []string{plan, "--param", "max_retention_days=3"}, exitError, `--param "max_retention_days=3": want RULE_OR_PACK.NAME=VALUE`},
		{"param mapping", []string{plan, "--param", "observability.max_retention_days={a: 1}"}, exitError, "not a mapping"},
		{"param unknown", []string{plan, "--param", "observability.nope=1"}, exitError, `observability: no rule of pack observability has a parameter "nope"`},
		{"param kind", []string{plan, "--param", "observability.max_retention_days=lots"}, exitError, "parameter max_retention_days of rule obs-log-group-retention-max is a number, got lots"},
		{"param names nothing loaded", []string{plan, "--param", "cis-aws-3.0.max_retention_days=3"}, exitError, "cis-aws-3.0: neither a rule id nor a pack of the loaded rules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCheckCLI(t, append(c.args, "--pack", "observability")...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
		})
	}
}

// TestReportComplianceEnvironments: the control that compares
// environments fails when production overlaps staging, and is not
// evaluated (never Pass) on one environment alone.
func TestReportComplianceEnvironments(t *testing.T) {
	dir := t.TempDir()
	prod := writeState(t, dir, "prod.tfstate", vpcState("main", "vpc-prod1", "10.60.0.0/16"))
	overlap := writeState(t, dir, "staging.tfstate", vpcState("copy", "vpc-stg1", "10.60.0.0/16"))
	apart := writeState(t, dir, "staging-apart.tfstate", vpcState("apart", "vpc-stg2", "172.16.0.0/16"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"overlap", []string{"--plan", "prod=" + prod, "--plan", "staging=" + overlap, "--production", "prod"}, "| `6.5.3` | Fail |"},
		{"apart", []string{"--plan", "prod=" + prod, "--plan", "staging=" + apart, "--production", "prod"}, "| `6.5.3` | Pass |"},
		{"one environment", []string{"--plan", prod}, "| `6.5.3` | Not evaluated |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"report", "compliance", "--pack", "pci-dss-4.0"}, tt.args...), &stdout, &stderr)
			if code != exitOK && code != exitFindings {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Errorf("report lacks %q:\n%s", tt.want, stdout.String())
			}
		})
	}
}
