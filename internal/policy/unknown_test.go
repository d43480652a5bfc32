package policy

import (
	"context"
	"strings"
	"testing"

	"plumb/internal/model"
)

// verdict is an outcome in one word, with the reason of a not-evaluated
// one, for table tests.
func verdict(o Outcome) string {
	switch {
	case o.Err != nil:
		return "error: " + o.Err.Error()
	case len(o.Gaps) > 0:
		return "not evaluated: " + o.Reason()
	case o.Violated:
		return "violated"
	}
	return "pass"
}

func evalOne(t *testing.T, deny string, s Subject, opts EvalOptions, others ...Subject) Outcome {
	t.Helper()
	set, err := Compile([]*Rule{{ID: "r", Resources: []string{s.Type}, Deny: deny, Severity: model.SeverityLow}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := set.EvaluateWith(context.Background(), append([]Subject{s}, others...), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no outcome")
	}
	return out[0]
}

// TestPlanUnknowns: a value known only after apply is never a violation.
// A rule whose verdict depends on it is not evaluated and names the
// attribute; a rule that does not depend on it still decides; a value the
// configuration sets (a reference) is set.
func TestPlanUnknowns(t *testing.T) {
	ref := &Unknown{Configured: true, Refs: []string{"aws_kms_key.logs"}}
	computed := &Unknown{}
	attrs := map[string]any{
		"name":       "main",
		"size":       5.0,
		"kms_key_id": ref,
		"arn":        computed,
		"policy":     &Unknown{Configured: true, Refs: []string{"aws_s3_bucket.data", "aws_iam_role.reader"}},
		"empty":      "",
		"ingress": []any{
			map[string]any{"from_port": 22.0, "cidr_blocks": []any{&Unknown{Configured: true, Refs: []string{"aws_vpc.main"}}}},
		},
		"egress": []any{
			map[string]any{"from_port": 22.0, "cidr_blocks": []any{"0.0.0.0/0", &Unknown{Configured: true}}},
		},
		"tags": map[string]any{"data-classification": &Unknown{Configured: true}},
	}
	s := Subject{Type: "aws_cloudtrail", Address: "aws_cloudtrail.main", Attributes: attrs}
	tests := []struct {
		name, deny, want string
	}{
		{"set by a reference satisfies isSet", `!isSet(resource.kms_key_id)`, "pass"},
		{"set by a reference satisfies has", `!has(resource.kms_key_id)`, "pass"},
		{"set by a reference is in the map", `!("kms_key_id" in resource)`, "pass"},
		{"its value is not known", `resource.kms_key_id == ""`, "not evaluated: kms_key_id is known only after apply"},
		{"known() is false", `!known(resource.kms_key_id)`, "violated"},
		{"computed: has is unknown", `has(resource.arn)`, "not evaluated: arn is known only after apply"},
		{"computed: isSet is unknown", `!isSet(resource.arn)`, "not evaluated: arn is known only after apply"},
		{"computed: in is unknown", `"arn" in resource`, "not evaluated: arn is known only after apply"},
		{"computed: known() is false", `known(resource.arn)`, "pass"},
		{"absent: known() is true", `!known(resource.missing)`, "pass"},
		{"empty string is not set", `!isSet(resource.empty)`, "violated"},
		{"absent is not set", `!isSet(resource.missing)`, "violated"},
		{"json of an unknown policy", `json(resource.policy).Statement.size() > 0`, "not evaluated: policy is known only after apply"},
		{"true || unknown decides", `resource.size > 3 || resource.kms_key_id == "x"`, "violated"},
		{"false && unknown decides", `resource.size > 9 && resource.kms_key_id == "x"`, "pass"},
		{"two unknowns are both named", `resource.kms_key_id == "x" || resource.arn == "y"`, "not evaluated: arn is known only after apply; kms_key_id is known only after apply"},
		{"nested unknown named by path", `resource.ingress.exists(r, r.cidr_blocks.exists(c, c == "0.0.0.0/0"))`, "not evaluated: ingress[0].cidr_blocks[0] is known only after apply"},
		{"a known element decides", `resource.egress.exists(r, r.cidr_blocks.exists(c, c == "0.0.0.0/0"))`, "violated"},
		{"keys that are not identifiers are quoted", `resource.tags["data-classification"] == "secret"`, `not evaluated: tags["data-classification"] is known only after apply`},
		{"absent stays an error", `resource.missing == 1`, "error: rule r on aws_cloudtrail.main: no such key: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, tt.deny, s, EvalOptions{})); got != tt.want {
				t.Errorf("deny %s: %s, want %s", tt.deny, got, tt.want)
			}
		})
	}
}

// TestLiveUnread: live, an attribute the inventory did not read is
// unknown, never unset, and known() of it stays unknown.
func TestLiveUnread(t *testing.T) {
	s := Subject{Type: "aws_sqs_queue", ID: "jobs", Attributes: map[string]any{"name": "jobs", "kms_master_key_id": ""}}
	tests := []struct {
		name, deny, want string
	}{
		{"unread attribute", `!has(resource.sqs_managed_sse_enabled) || resource.sqs_managed_sse_enabled != true`, "not evaluated: sqs_managed_sse_enabled is not read by the live inventory"},
		{"known() of unread is unknown", `known(resource.sqs_managed_sse_enabled)`, "not evaluated: sqs_managed_sse_enabled is not read by the live inventory"},
		{"read attributes decide", `resource.name == "jobs" || resource.sqs_managed_sse_enabled == true`, "violated"},
		{"the built-in SQS rule", builtinDeny(t, "aws-sqs-encrypted"), "not evaluated: sqs_managed_sse_enabled is not read by the live inventory"},
		{"computed key", `resource["na" + "me"] == "x" || resource["k" + "ms"] == "y"`, "not evaluated: kms is not read by the live inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, tt.deny, s, EvalOptions{Live: true})); got != tt.want {
				t.Errorf("deny %s: %s, want %s", tt.deny, got, tt.want)
			}
		})
	}
}

func builtinDeny(t *testing.T, id string) string {
	t.Helper()
	all, err := embeddedRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.ID == id {
			return r.Deny
		}
	}
	t.Fatalf("no built-in rule %s", id)
	return ""
}

// TestBuiltinRulesOnPlanValues runs built-in rules on the values a plan
// written with references holds: set by a reference passes, left to the
// provider follows AWS's default where the rule says so, and anything
// else the rule depends on is not evaluated.
func TestBuiltinRulesOnPlanValues(t *testing.T) {
	tests := []struct {
		rule  string
		attrs map[string]any
		want  string
	}{
		{"aws-cloudtrail-kms", map[string]any{"name": "main", "kms_key_id": &Unknown{Configured: true, Refs: []string{"aws_kms_key.trail"}}}, "pass"},
		{"aws-cloudtrail-kms", map[string]any{"name": "main", "kms_key_id": nil}, "violated"},
		{"aws-sns-encrypted", map[string]any{"name": "alerts", "kms_master_key_id": &Unknown{Configured: true, Refs: []string{"aws_kms_key.sns"}}}, "pass"},
		{"aws-sqs-encrypted", map[string]any{"name": "jobs", "sqs_managed_sse_enabled": &Unknown{}, "kms_master_key_id": nil}, "pass"},
		{"aws-sqs-encrypted", map[string]any{"name": "jobs", "sqs_managed_sse_enabled": false, "kms_master_key_id": &Unknown{Configured: true, Refs: []string{"aws_kms_key.q"}}}, "pass"},
		{"aws-sqs-encrypted", map[string]any{"name": "jobs", "sqs_managed_sse_enabled": false, "kms_master_key_id": nil}, "violated"},
		{"aws-s3-bucket-default-encryption", map[string]any{"bucket": "data", "server_side_encryption_configuration": &Unknown{}}, "pass"},
		{"aws-s3-bucket-deny-http", map[string]any{"bucket": &Unknown{Configured: true}, "policy": &Unknown{Configured: true, Refs: []string{"aws_s3_bucket.data"}}}, "not evaluated: policy is known only after apply"},
		{"aws-iam-no-star-star-policy", map[string]any{"name": "p", "policy": &Unknown{Configured: true}}, "not evaluated: policy is known only after apply"},
		{"aws-ec2-imdsv2", map[string]any{"ami": "ami-1", "metadata_options": &Unknown{}}, "not evaluated: metadata_options is known only after apply"},
	}
	all, err := embeddedRules()
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.want, func(t *testing.T) {
			r := set.Rule(tt.rule)
			one, err := Compile([]*Rule{r})
			if err != nil {
				t.Fatal(err)
			}
			out, err := one.Evaluate(context.Background(), []Subject{{Type: r.Resources[0], Address: "x", Attributes: tt.attrs}})
			if err != nil {
				t.Fatal(err)
			}
			if got := verdict(out[0]); got != tt.want {
				t.Errorf("%s", got)
			}
		})
	}
}

// TestCheckExampleRejectsUnknownVerdicts: examples are known values; a
// rule that cannot decide on one is reported, not counted as a pass.
func TestCheckExampleRejectsUnknownVerdicts(t *testing.T) {
	set, err := Compile([]*Rule{{ID: "r", Resources: []string{"aws_vpc"}, Deny: `resource.cidr == "x"`, Severity: model.SeverityLow}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.Check(set.Rules[0], map[string]any{"cidr": &Unknown{}})
	if err == nil || !strings.Contains(err.Error(), "not evaluated: cidr is known only after apply") {
		t.Errorf("err = %v", err)
	}
}
