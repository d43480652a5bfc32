package config

import (
	"strings"
	"testing"
)

func TestComplianceSettings(t *testing.T) {
	const good = `environments:
  - name: prod
    states: [prod.tfstate]
    production: true
    account_baseline: true
  - name: staging
    states: [staging.tfstate]
policy_params:
  observability: {max_retention_days: 365}
  obs-log-bucket-lifecycle:
    colder_classes: [GLACIER, DEEP_ARCHIVE]
`
	cfg, err := Parse("plumb.yaml", []byte(good), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Production(); !p["prod"] || p["staging"] || len(p) != 1 {
		t.Errorf("Production() = %v", p)
	}
	if !cfg.Environments[0].AccountBaseline || cfg.Environments[1].AccountBaseline {
		t.Errorf("account_baseline = %v, %v", cfg.Environments[0].AccountBaseline, cfg.Environments[1].AccountBaseline)
	}
	if cfg.PolicyParams["observability"]["max_retention_days"] != 365 {
		t.Errorf("policy_params = %v", cfg.PolicyParams)
	}

	tests := []struct{ yaml, want string }{
		{"policy_params:\n  obs x: {a: 1}\n", `plumb.yaml:2: policy_params.obs x: "obs x": want a rule id or a pack name`},
		{"policy_params:\n  observability:\n    max-days: 3\n", `plumb.yaml:3: policy_params.observability.max-days: "max-days": parameter names`},
		{"policy_params:\n  observability:\n    limits: {a: 1}\n", "plumb.yaml:3: policy_params.observability.limits: want a number, string, boolean or list, not a mapping"},
		{"policy_params:\n  observability: {}\n", "plumb.yaml:2: policy_params.observability: no parameters"},
		{"environments:\n  - name: prod\n    production: maybe\n", "plumb.yaml:3"},
	}
	for _, tt := range tests {
		_, err := Parse("plumb.yaml", []byte(tt.yaml), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
