package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"plumb/internal/model"
)

// TestRegionalAndBaseline: regional() keeps to the subject's account and
// region; at plan time a lookup for an account or region subject that
// finds nothing is not evaluated unless the plan manages the account
// baseline; live it is a violation where the type was read.
func TestRegionalAndBaseline(t *testing.T) {
	const deny = `regional("aws_accessanalyzer_analyzer").size() == 0`
	east := Subject{Type: RegionType, Address: "region us-east-1", Region: "us-east-1", Account: "111", Attributes: map[string]any{"region": "us-east-1"}}
	analyzer := func(region, account string) Subject {
		return Subject{Type: "aws_accessanalyzer_analyzer", Address: "aws_accessanalyzer_analyzer." + region, Region: region, Account: account, Attributes: map[string]any{"type": "ACCOUNT"}}
	}
	noRegion := Subject{Type: "aws_accessanalyzer_analyzer", Address: "aws_accessanalyzer_analyzer.somewhere", Attributes: map[string]any{"type": "ACCOUNT"}}
	tests := []struct {
		name   string
		opts   EvalOptions
		others []Subject
		want   string
	}{
		{"plan: present", EvalOptions{}, []Subject{analyzer("us-east-1", "111")}, "pass"},
		{"plan: absent, not the baseline", EvalOptions{}, nil, "not evaluated: aws_accessanalyzer_analyzer: " + baselineReason},
		{"plan: only elsewhere, not the baseline", EvalOptions{}, []Subject{analyzer("eu-west-1", "111")}, "not evaluated: aws_accessanalyzer_analyzer: " + baselineReason},
		{"plan: only elsewhere, baseline", EvalOptions{AccountBaseline: true}, []Subject{analyzer("eu-west-1", "111")}, "violated"},
		{"plan: another account", EvalOptions{AccountBaseline: true}, []Subject{analyzer("us-east-1", "222")}, "violated"},
		{"plan: region unknown", EvalOptions{AccountBaseline: true}, []Subject{noRegion}, "not evaluated: aws_accessanalyzer_analyzer: the region of aws_accessanalyzer_analyzer.somewhere is not known"},
		{"live: absent where read", EvalOptions{Live: true, Coverage: coverage{"aws_accessanalyzer_analyzer": {"us-east-1"}}}, nil, "violated"},
		{"live: not read", EvalOptions{Live: true, Coverage: coverage{}}, nil, "not evaluated: aws_accessanalyzer_analyzer: not listed in us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, deny, east, tt.opts, tt.others...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
	// An ordinary subject's empty lookup is a violation at plan time,
	// baseline or not: only account and region subjects wait for one.
	bucket := Subject{Type: "aws_s3_bucket", Address: "aws_s3_bucket.b", Region: "us-east-1", Attributes: map[string]any{"id": "b"}}
	if got := verdict(evalOne(t, `regional("aws_macie2_account").size() == 0`, bucket, EvalOptions{})); got != "violated" {
		t.Errorf("ordinary subject: %s, want violated", got)
	}
}

// TestAcrossAndOverlaps: environments on the two sides of the production
// boundary are compared, same-side environments are not, and an
// evaluation without both sides is not evaluated.
func TestAcrossAndOverlaps(t *testing.T) {
	const deny = `environment.production && overlaps("aws_vpc", "cidr_block", resource.cidr_block).size() > 0`
	vpc := func(env, addr, cidr string) Subject {
		return Subject{Type: "aws_vpc", Address: addr, Environment: env, Attributes: map[string]any{"cidr_block": cidr}}
	}
	prod := vpc("prod", "aws_vpc.prod", "10.10.0.0/16")
	prodMap := map[string]bool{"prod": true, "prod-eu": true}
	tests := []struct {
		name   string
		opts   EvalOptions
		others []Subject
		want   string
	}{
		{"disjoint", EvalOptions{Production: prodMap}, []Subject{vpc("staging", "aws_vpc.stg", "10.20.0.0/16")}, "pass"},
		{"inside", EvalOptions{Production: prodMap}, []Subject{vpc("staging", "aws_vpc.stg", "10.10.128.0/17")}, "violated"},
		{"containing", EvalOptions{Production: prodMap}, []Subject{vpc("dev", "aws_vpc.dev", "10.0.0.0/8")}, "violated"},
		{"equal", EvalOptions{Production: prodMap}, []Subject{vpc("dev", "aws_vpc.dev", "10.10.0.0/16")}, "violated"},
		{"two production environments may overlap", EvalOptions{Production: prodMap}, []Subject{vpc("prod-eu", "aws_vpc.eu", "10.10.0.0/16"), vpc("dev", "aws_vpc.dev", "10.99.0.0/16")}, "pass"},
		{"one environment only", EvalOptions{Production: prodMap}, []Subject{vpc("prod", "aws_vpc.other", "10.20.0.0/16")}, "not evaluated: " + envReason},
		{"no production marked", EvalOptions{}, []Subject{vpc("staging", "aws_vpc.stg", "10.10.0.0/16")}, "not evaluated: " + envReason},
		{"unknown block elsewhere", EvalOptions{Production: prodMap}, []Subject{{Type: "aws_vpc", Address: "aws_vpc.ipam", Environment: "dev", Attributes: map[string]any{"cidr_block": &Unknown{}}}},
			"not evaluated: aws_vpc.ipam.cidr_block is known only after apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whether a subject is production says nothing until the
			// evaluation holds both sides: never a pass for want of
			// anything to compare.
			if got := verdict(evalOne(t, deny, prod, tt.opts, tt.others...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
	const peering = `across("aws_vpc", "id", [resource.vpc_id, resource.peer_vpc_id]).size() > 0`
	pcx := Subject{Type: "aws_vpc_peering_connection", Address: "aws_vpc_peering_connection.x", Environment: "prod", Attributes: map[string]any{"vpc_id": "vpc-p", "peer_vpc_id": "vpc-s"}}
	stg := Subject{Type: "aws_vpc", ID: "vpc-s", Environment: "staging", Attributes: map[string]any{"id": "vpc-s"}}
	prodVPC := Subject{Type: "aws_vpc", ID: "vpc-p", Environment: "prod", Attributes: map[string]any{"id": "vpc-p"}}
	if got := verdict(evalOne(t, peering, pcx, EvalOptions{Production: prodMap}, stg, prodVPC)); got != "violated" {
		t.Errorf("peering prod-staging: %s, want violated", got)
	}
	stg.ID, stg.Attributes = "vpc-z", map[string]any{"id": "vpc-z"}
	if got := verdict(evalOne(t, peering, pcx, EvalOptions{Production: prodMap}, stg, prodVPC)); got != "pass" {
		t.Errorf("peering within prod: %s, want pass", got)
	}
}

// TestOverlapsIsIndexed: the CIDR index answers a lookup without
// visiting every block, so comparing environments stays linear.
func TestOverlapsIsIndexed(t *testing.T) {
	set, err := Compile([]*Rule{{ID: "o", Resources: []string{"aws_vpc"}, Severity: model.SeverityLow,
		Deny: `environment.production && overlaps("aws_vpc", "cidr_block", resource.cidr_block).size() > 0`}})
	if err != nil {
		t.Fatal(err)
	}
	estate := func(n int) []Subject {
		subs := make([]Subject, 0, 2*n)
		for i := range n {
			subs = append(subs, Subject{Type: "aws_vpc", ID: fmt.Sprintf("p%d", i), Environment: "prod", Attributes: map[string]any{"cidr_block": fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}})
			subs = append(subs, Subject{Type: "aws_vpc", ID: fmt.Sprintf("s%d", i), Environment: "staging", Attributes: map[string]any{"cidr_block": fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256)}})
		}
		// One overlap.
		subs[1].Attributes["cidr_block"] = "10.0.0.0/23"
		return subs
	}
	opts := EvalOptions{Production: map[string]bool{"prod": true}, Workers: 1}
	for _, n := range []int{100, 10000} {
		out, err := set.EvaluateWith(context.Background(), estate(n), opts)
		if err != nil {
			t.Fatal(err)
		}
		var violated []string
		for _, o := range out {
			if o.Violated {
				violated = append(violated, o.Subject.ID)
			}
		}
		if strings.Join(violated, ",") != "p0,p1" {
			t.Errorf("n=%d: violated %v, want p0,p1", n, violated)
		}
	}
	small, large := estate(100), estate(5000)
	allocs := func(subs []Subject) float64 {
		return testing.AllocsPerRun(3, func() {
			if _, err := set.EvaluateWith(context.Background(), subs, opts); err != nil {
				t.Fatal(err)
			}
		}) / float64(len(subs))
	}
	if a, b := allocs(small), allocs(large); b > 2*a {
		t.Errorf("allocations per resource grow with the estate: %.1f at 100, %.1f at 5000", a, b)
	}
}

// TestSetParams: defaults, pack and rule overrides (the rule's own
// winning), and the errors that stop a typo.
func TestSetParams(t *testing.T) {
	load := func() *Set {
		s, err := LoadPacks([]string{"observability"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	group := Example{Attributes: map[string]any{"name": "/a", "retention_in_days": 500.0}}
	s := load()
	r := s.Rule("obs-log-group-retention-max")
	if v, err := s.CheckExample(r, group); err != nil || !v {
		t.Fatalf("default 400: violated=%v err=%v", v, err)
	}
	if err := s.SetParams(Params{"observability": {"max_retention_days": 1000}}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.CheckExample(r, group); err != nil || v {
		t.Errorf("pack 1000: violated=%v err=%v", v, err)
	}
	s = load()
	if err := s.SetParams(Params{"observability": {"max_retention_days": 1000}, "obs-log-group-retention-max": {"max_retention_days": 90}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.CheckExample(s.Rule("obs-log-group-retention-max"), group); !v {
		t.Error("the rule's own value must win over its pack's")
	}
	if got := s.ParamValues(s.Rule("obs-log-group-retention-max"))["max_retention_days"]; got != 90.0 {
		t.Errorf("ParamValues = %v, want 90", got)
	}
	for _, tt := range []struct {
		p    Params
		want string
	}{
		{Params{"obs-log-group-retention-max": {"max_days": 3}}, `rule obs-log-group-retention-max has no parameter "max_days" (it has: max_retention_days)`},
		{Params{"obs-log-group-retention-max": {"max_retention_days": "long"}}, "is a number, got long"},
		{Params{"nope": {"x": 1}}, "nope: neither a rule id nor a pack"},
		{Params{"observability": {"typo": 1}}, `no rule of pack observability has a parameter "typo"`},
	} {
		if err := load().SetParams(tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetParams(%v) = %v, want %q", tt.p, err, tt.want)
		}
	}
}

// TestReferencesStayInTheirEnvironment: an address names a resource of
// one configuration, so an unknown value computed from aws_vpc.main in
// one environment's plan pairs with that plan's aws_vpc.main only, never
// with another environment's resource of the same address.
func TestReferencesStayInTheirEnvironment(t *testing.T) {
	const deny = `across("aws_vpc", "id", [resource.vpc_id]).size() > 0 || related("aws_vpc", "id", resource.vpc_id).size() == 0`
	peering := func(env string) Subject {
		return Subject{Type: "aws_vpc_peering_connection", Address: "aws_vpc_peering_connection.p", Environment: env,
			Attributes: map[string]any{"vpc_id": &Unknown{Configured: true, Refs: []string{"aws_vpc.main"}}}}
	}
	vpc := func(env string) Subject {
		return Subject{Type: "aws_vpc", Address: "aws_vpc.main", Environment: env, Attributes: map[string]any{"id": &Unknown{}}}
	}
	opts := EvalOptions{Production: map[string]bool{"prod": true}}
	tests := []struct {
		name   string
		others []Subject
		want   string
	}{
		// Its own aws_vpc.main is found; staging's is not across.
		{"both environments declare the address", []Subject{vpc("prod"), vpc("staging")}, "pass"},
		// Only staging declares aws_vpc.main: prod's reference finds nothing.
		{"only the other environment declares it", []Subject{vpc("staging"), {Type: "aws_vpc", Address: "aws_vpc.x", Environment: "staging", Attributes: map[string]any{"id": "vpc-1"}}}, "violated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(evalOne(t, deny, peering("prod"), opts, tt.others...)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}
