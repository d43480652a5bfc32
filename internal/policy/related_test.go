package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"plumb/internal/model"
)

const bucketPAB = `related("aws_s3_bucket_public_access_block", "bucket", resource.id).size() == 0 &&
  related("aws_s3_bucket_public_access_block", "bucket", resource.bucket).size() == 0 &&
  related("aws_s3_account_public_access_block").size() == 0`

func pab(addr string, bucket any, refs ...string) Subject {
	s := Subject{Type: "aws_s3_bucket_public_access_block", Address: addr, Attributes: map[string]any{
		"bucket": bucket, "block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true,
	}}
	if len(refs) > 0 {
		s.Refs = map[string][]string{"bucket": refs}
	}
	return s
}

// TestRelatedPlan: at plan time a companion is found by value or, when
// identifiers are known only after apply, through the configuration's
// references; its absence from the plan is a violation.
func TestRelatedPlan(t *testing.T) {
	newBucket := Subject{Type: "aws_s3_bucket", Address: `aws_s3_bucket.data["a"]`, Attributes: map[string]any{"id": &Unknown{}, "bucket": "data-a"}}
	oldBucket := Subject{Type: "aws_s3_bucket", Address: "aws_s3_bucket.old", ID: "old", Attributes: map[string]any{"id": "old", "bucket": "old"}}
	account := Subject{Type: "aws_s3_account_public_access_block", Address: "aws_s3_account_public_access_block.this", Attributes: map[string]any{"account_id": &Unknown{}}}
	tests := []struct {
		name    string
		subject Subject
		others  []Subject
		want    string
	}{
		{"no block at all", newBucket, nil, "violated"},
		{"block through the unknown id", newBucket, []Subject{pab(`aws_s3_bucket_public_access_block.data["a"]`, &Unknown{Configured: true, Refs: []string{`aws_s3_bucket.data["a"]`}})}, "pass"},
		{"block of another instance", newBucket, []Subject{pab(`aws_s3_bucket_public_access_block.data["b"]`, &Unknown{Configured: true, Refs: []string{`aws_s3_bucket.data["b"]`}})}, "violated"},
		{"block with a known name and a reference", newBucket, []Subject{pab("aws_s3_bucket_public_access_block.a", "data-a", `aws_s3_bucket.data["a"]`)}, "pass"},
		{"block by known value", oldBucket, []Subject{pab("aws_s3_bucket_public_access_block.old", "old")}, "pass"},
		// bucket = "data-a" written as a literal, not a reference: the
		// bucket's name pairs them.
		{"block naming a new bucket by its literal name", newBucket, []Subject{pab("aws_s3_bucket_public_access_block.literal", "data-a")}, "pass"},
		{"block for another known bucket", oldBucket, []Subject{pab("aws_s3_bucket_public_access_block.x", "other")}, "violated"},
		{"account-level block", newBucket, []Subject{account}, "pass"},
		{"untraceable block", newBucket, []Subject{pab("aws_s3_bucket_public_access_block.mystery", &Unknown{Configured: true, Untraced: true})},
			"not evaluated: aws_s3_bucket_public_access_block.mystery.bucket is known only after apply and cannot be traced to a resource"},
		{"block referring to two buckets", newBucket, []Subject{pab("aws_s3_bucket_public_access_block.two", &Unknown{Configured: true, Refs: []string{`aws_s3_bucket.data["a"]`, `aws_s3_bucket.data["b"]`}})},
			"not evaluated: aws_s3_bucket_public_access_block.two.bucket is known only after apply and cannot be traced to a resource"},
		{"untraceable block, account block decides", newBucket, []Subject{account, pab("aws_s3_bucket_public_access_block.mystery", &Unknown{Configured: true, Untraced: true})}, "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, bucketPAB, tt.subject, EvalOptions{}, tt.others...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

// coverage is a Coverage for tests: types read in regions.
type coverage map[string][]string

func (c coverage) Covered(typ, region string) (bool, string) {
	for _, r := range c[typ] {
		if r == region || r == "*" {
			return true, ""
		}
	}
	return false, "not listed in " + region
}

func (c coverage) Listed(typ string) (bool, string) {
	if _, ok := c[typ]; ok {
		return true, ""
	}
	return false, "not listed"
}

// TestRelatedLive: live, an absent companion is a violation only where
// its type was read completely; otherwise the rule is not evaluated and
// says which type was missing.
func TestRelatedLive(t *testing.T) {
	vpc := Subject{Type: "aws_vpc", ID: "vpc-1", Region: "eu-west-1", Attributes: map[string]any{"id": "vpc-1", "cidr_block": "10.0.0.0/16"}}
	log := Subject{Type: "aws_flow_log", ID: "fl-1", Region: "eu-west-1", Attributes: map[string]any{"id": "fl-1", "vpc_id": "vpc-1", "traffic_type": "ALL"}}
	subnetLog := Subject{Type: "aws_flow_log", ID: "fl-2", Region: "eu-west-1", Attributes: map[string]any{"id": "fl-2", "subnet_id": "subnet-1", "traffic_type": "ALL"}}
	const deny = `related("aws_flow_log", "vpc_id", resource.id).size() == 0`
	read := coverage{"aws_flow_log": {"eu-west-1"}}
	tests := []struct {
		name   string
		cov    Coverage
		others []Subject
		want   string
	}{
		{"present", read, []Subject{log}, "pass"},
		{"absent where read", read, []Subject{subnetLog}, "violated"},
		{"absent where not read", coverage{"aws_flow_log": {"us-east-1"}}, nil, "not evaluated: aws_flow_log: not listed in eu-west-1"},
		{"present where not read: still not evaluated", coverage{}, []Subject{log}, "not evaluated: aws_flow_log: not listed in eu-west-1"},
		{"event time, nothing read", nil, []Subject{log}, "not evaluated: aws_flow_log: not read: related resources are only read by a scan of the estate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, deny, vpc, EvalOptions{Live: true, Coverage: tt.cov}, tt.others...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
	// The id of a live resource the inventory did not read: nothing to
	// look up by.
	noID := Subject{Type: "aws_vpc", ID: "vpc-2", Region: "eu-west-1", Attributes: map[string]any{"cidr_block": "10.1.0.0/16"}}
	if got, want := verdict(evalOne(t, deny, noID, EvalOptions{Live: true, Coverage: read}, log)), "not evaluated: id is not read by the live inventory"; got != want {
		t.Errorf("unread id: %s, want %s", got, want)
	}
}

// TestRelatedScope: the subject is never its own companion, and the
// unkeyed form keeps to the subject's account.
func TestRelatedScope(t *testing.T) {
	const deny = `related("aws_s3_account_public_access_block").size() == 0`
	mine := Subject{Type: "aws_s3_account_public_access_block", ID: "111", Account: "111", Attributes: map[string]any{"account_id": "111"}}
	theirs := Subject{Type: "aws_s3_account_public_access_block", ID: "222", Account: "222", Attributes: map[string]any{"account_id": "222"}}
	bucket := Subject{Type: "aws_s3_bucket", ID: "b", Account: "111", Attributes: map[string]any{"id": "b"}}
	if got := verdict(evalOne(t, deny, mine, EvalOptions{})); got != "violated" {
		t.Errorf("self: %s, want violated (a resource is not its own companion)", got)
	}
	if got := verdict(evalOne(t, deny, bucket, EvalOptions{}, theirs)); got != "violated" {
		t.Errorf("other account: %s, want violated", got)
	}
	if got := verdict(evalOne(t, deny, bucket, EvalOptions{}, theirs, mine)); got != "pass" {
		t.Errorf("same account: %s, want pass", got)
	}
}

// TestRelatedChain expresses a CIS section 4 control: a multi-region trail
// sends to a log group with a metric filter for unauthorized API calls,
// an alarm on the filter's metric notifies an SNS topic, and someone is
// subscribed to it. The same rule decides on a plan (identifiers known
// only after apply, paired through references) and on live values.
func TestRelatedChain(t *testing.T) {
	const deny = `resource.is_multi_region_trail == true &&
  !related("aws_cloudwatch_log_metric_filter", "log_group_name", resource.cloud_watch_logs_group_arn.split(":")[6]).exists(f,
    f.pattern.contains("UnauthorizedOperation") &&
    related("aws_cloudwatch_metric_alarm", "metric_name", f.metric_transformation[0].name).exists(a,
      a.namespace == f.metric_transformation[0].namespace &&
      related("aws_sns_topic_subscription", "topic_arn", a.alarm_actions).size() > 0))`
	plan := func(withSub bool, pattern string) []Subject {
		subs := []Subject{
			{Type: "aws_cloudtrail", Address: "aws_cloudtrail.main", Attributes: map[string]any{
				"is_multi_region_trail":      true,
				"cloud_watch_logs_group_arn": &Unknown{Configured: true, Refs: []string{"aws_cloudwatch_log_group.trail"}},
			}},
			{Type: "aws_cloudwatch_log_metric_filter", Address: "aws_cloudwatch_log_metric_filter.unauthorized", Attributes: map[string]any{
				"log_group_name":        "trail",
				"pattern":               `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`,
				"metric_transformation": []any{map[string]any{"name": "Unauthorized", "namespace": "CIS"}},
			}, Refs: map[string][]string{"log_group_name": {"aws_cloudwatch_log_group.trail"}}},
			{Type: "aws_cloudwatch_metric_alarm", Address: "aws_cloudwatch_metric_alarm.unauthorized", Attributes: map[string]any{
				"metric_name": "Unauthorized", "namespace": "CIS",
				"alarm_actions": &Unknown{Configured: true, Refs: []string{"aws_sns_topic.alerts"}},
			}},
		}
		subs[1].Attributes["pattern"] = pattern
		if withSub {
			subs = append(subs, Subject{Type: "aws_sns_topic_subscription", Address: "aws_sns_topic_subscription.ops", Attributes: map[string]any{
				"topic_arn": &Unknown{Configured: true, Refs: []string{"aws_sns_topic.alerts"}}, "protocol": "email",
			}})
		}
		return subs
	}
	live := func() []Subject {
		return []Subject{
			{Type: "aws_cloudtrail", ID: "main", Region: "us-east-1", Attributes: map[string]any{
				"is_multi_region_trail":      true,
				"cloud_watch_logs_group_arn": "arn:aws:logs:us-east-1:123456789012:log-group:trail:*",
			}},
			{Type: "aws_cloudwatch_log_metric_filter", ID: "unauthorized", Region: "us-east-1", Attributes: map[string]any{
				"log_group_name":        "trail",
				"pattern":               `{ ($.errorCode = "*UnauthorizedOperation") }`,
				"metric_transformation": []any{map[string]any{"name": "Unauthorized", "namespace": "CIS"}},
			}},
			{Type: "aws_cloudwatch_metric_alarm", ID: "unauthorized", Region: "us-east-1", Attributes: map[string]any{
				"metric_name": "Unauthorized", "namespace": "CIS",
				"alarm_actions": []any{"arn:aws:sns:us-east-1:123456789012:alerts"},
			}},
		}
	}
	liveSub := Subject{Type: "aws_sns_topic_subscription", ID: "sub-1", Region: "us-east-1", Attributes: map[string]any{
		"topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts", "protocol": "email",
	}}
	all := coverage{"aws_cloudwatch_log_metric_filter": {"*"}, "aws_cloudwatch_metric_alarm": {"*"}, "aws_sns_topic_subscription": {"*"}}
	noAlarms := coverage{"aws_cloudwatch_log_metric_filter": {"*"}, "aws_sns_topic_subscription": {"*"}}
	tests := []struct {
		name     string
		subjects []Subject
		opts     EvalOptions
		want     string
	}{
		{"plan: complete chain", plan(true, `{ ($.errorCode = "*UnauthorizedOperation") }`), EvalOptions{}, "pass"},
		{"plan: nobody subscribed", plan(false, `{ ($.errorCode = "*UnauthorizedOperation") }`), EvalOptions{}, "violated"},
		{"plan: filter for something else", plan(true, `{ $.eventName = "ConsoleLogin" }`), EvalOptions{}, "violated"},
		{"live: complete chain", append(live(), liveSub), EvalOptions{Live: true, Coverage: all}, "pass"},
		{"live: nobody subscribed", live(), EvalOptions{Live: true, Coverage: all}, "violated"},
		{"live: alarms not read", append(live(), liveSub), EvalOptions{Live: true, Coverage: noAlarms}, "not evaluated: aws_cloudwatch_metric_alarm: not listed in us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, deny, tt.subjects[0], tt.opts, tt.subjects[1:]...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

// TestRelatedCompileErrors: lookups are declared by literals, so the
// engine can index them; anything else is a load error at the rule.
func TestRelatedCompileErrors(t *testing.T) {
	tests := []struct{ deny, want string }{
		{`related(resource.type).size() == 0`, "related(): the type must be a string literal"},
		{`related("aws_flow_log", resource.k, "x").size() == 0`, "related(): the attribute must be a string literal"},
		{`related("Flow Log", "vpc_id", "x").size() == 0`, `related(): "Flow Log" is not a Terraform type`},
		{`related("aws_flow_log", "vpc_id").size() == 0`, "found no matching overload for 'related'"},
		{`isSet(resource["kms"])`, "isSet() wants a field selection"},
	}
	for _, tt := range tests {
		_, err := Compile([]*Rule{{ID: "r", Resources: []string{"aws_vpc"}, Deny: tt.deny, Severity: model.SeverityLow, File: "rules.yaml", Line: 3, DenyLine: 5}})
		var le *LoadError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &le) || le.Line != 5 {
			t.Errorf("deny %s: err = %v, want %q at rules.yaml:5", tt.deny, err, tt.want)
		}
	}
}

// TestRelatedIsLinear: related() is an index lookup, so rules over
// companions cost the same per resource at any estate size.
func TestRelatedIsLinear(t *testing.T) {
	set, err := Compile([]*Rule{{ID: "flow", Resources: []string{"aws_vpc"}, Deny: `related("aws_flow_log", "vpc_id", resource.id).size() == 0`, Severity: model.SeverityLow}})
	if err != nil {
		t.Fatal(err)
	}
	estate := func(n int) []Subject {
		subs := make([]Subject, 0, 2*n)
		for i := range n {
			id := fmt.Sprintf("vpc-%d", i)
			subs = append(subs, Subject{Type: "aws_vpc", ID: id, Attributes: map[string]any{"id": id}})
			if i%2 == 0 {
				subs = append(subs, Subject{Type: "aws_flow_log", ID: fmt.Sprintf("fl-%d", i), Attributes: map[string]any{"vpc_id": id}})
			}
		}
		return subs
	}
	for _, n := range []int{1000, 20000} {
		out, err := set.Evaluate(context.Background(), estate(n))
		if err != nil {
			t.Fatal(err)
		}
		violated := 0
		for _, o := range out {
			if o.Violated {
				violated++
			}
		}
		if len(out) != n || violated != n/2 {
			t.Errorf("n=%d: %d outcomes, %d violated; want %d and %d", n, len(out), violated, n, n/2)
		}
	}
	// The cost is in the index, not the number of candidates: a lookup
	// touches only its key. Counted by testing.AllocsPerRun on one
	// evaluation of one VPC among many flow logs.
	small, large := estate(100), estate(5000)
	allocs := func(subs []Subject) float64 {
		return testing.AllocsPerRun(3, func() {
			if _, err := set.EvaluateWorkers(context.Background(), subs, 1); err != nil {
				t.Fatal(err)
			}
		}) / float64(len(subs))
	}
	if a, b := allocs(small), allocs(large); b > 2*a {
		t.Errorf("allocations per resource grow with the estate: %.1f at 100 VPCs, %.1f at 5000", a, b)
	}
}
