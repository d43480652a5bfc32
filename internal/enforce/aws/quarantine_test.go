package aws_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// quarantineYAML is a prod environment armed to quarantine.
const quarantineYAML = `environments:
  - name: prod
    states: [prod.tfstate]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement:
      unmanaged: quarantine
      grace: 1h
      max_actions: 10
      max_fraction: 1
      dry_run: false
      stop_quarantined_instances: true
      break_glass_roles: ["arn:aws:iam::123456789012:role/break-glass"]
`

// snapshot is everything a quarantine may change on a resource, read back
// from moto with plain SDK calls (not plumb's code), as JSON.
type snapshot func(t *testing.T, ctx context.Context, cfg aws.Config, id string) string

// quarantineCase creates one resource by hand, reads its state back, and
// checks the quarantined state.
type quarantineCase struct {
	typ   string
	setup func(t *testing.T, ctx context.Context, cfg aws.Config) (id string)
	snap  snapshot
	// quarantined checks moto while the quarantine holds.
	quarantined func(t *testing.T, ctx context.Context, cfg aws.Config, id, fp string)
	// releaseSays is a part of the release's result that must be there
	// (what it documents it cannot restore).
	releaseSays string
}

// TestQuarantineAndReleaseRestoreExactly quarantines one real resource of
// every supported type through the whole flow (scan, plan, guards, queue
// delivery), checks the quarantine in moto, releases it through the
// service and compares what moto reports after the release with what it
// reported before the quarantine.
func TestQuarantineAndReleaseRestoreExactly(t *testing.T) {
	m, cfg := startMoto(t)
	cases := map[string]quarantineCase{
		"instance": {typ: "aws_instance", setup: setupInstance, snap: instanceSnapshot, quarantined: instanceQuarantined},
		"security group": {typ: "aws_security_group", setup: setupGroup, snap: groupSnapshot,
			quarantined: func(t *testing.T, ctx context.Context, cfg aws.Config, id, fp string) {
				g := describeGroup(t, ctx, cfg, id)
				if len(g.IpPermissions)+len(g.IpPermissionsEgress) != 0 {
					t.Errorf("quarantined group still has rules: %+v %+v", g.IpPermissions, g.IpPermissionsEgress)
				}
				if got := ec2Tag(g.Tags, enforceaws.TagQuarantined); got != fp {
					t.Errorf("quarantine tag %q, want %q", got, fp)
				}
			}},
		"bucket with policy, block and tags": {typ: "aws_s3_bucket", setup: setupBucket(true), snap: bucketSnapshot, quarantined: bucketQuarantined},
		"bare bucket":                        {typ: "aws_s3_bucket", setup: setupBucket(false), snap: bucketSnapshot, quarantined: bucketQuarantined},
		"user": {typ: "aws_iam_user", setup: setupUser, snap: userSnapshot, quarantined: userQuarantined,
			// AWS never reveals a password: the login profile comes back
			// with a new random one that must be reset, and says so.
			releaseSays: "must be reset"},
		"role": {typ: "aws_iam_role", setup: setupRole, snap: roleSnapshot,
			quarantined: func(t *testing.T, ctx context.Context, cfg aws.Config, id, fp string) {
				c := iam.NewFromConfig(cfg)
				p, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(id), PolicyName: aws.String(enforceaws.QuarantinePolicyName)})
				must(t, err, "GetRolePolicy")
				assertDenyAll(t, aws.ToString(p.PolicyDocument))
				tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String(id)})
				must(t, err, "ListRoleTags")
				if got := iamTag(tags.Tags, enforceaws.TagQuarantined); got != fp {
					t.Errorf("quarantine tag %q, want %q", got, fp)
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m.Reset(t)
			ctx := context.Background()
			id := tc.setup(t, ctx, cfg)
			before := tc.snap(t, ctx, cfg, id)
			h := newHarness(t, quarantineYAML, map[string]string{"prod.tfstate": emptyState})
			fs := h.scan("prod", []string{tc.typ}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
			fp := findingOf(t, fs, id).Fingerprint

			p := h.plan("prod", true)
			if a := h.action(p, fp); a.State != enforce.StatePlanned || a.Verb != enforce.VerbQuarantine {
				t.Fatalf("plan: %s", describePlan(p))
			}
			h.dispatch()
			q := h.action(p, fp)
			if q.State != enforce.StateSucceeded || len(q.Before) == 0 {
				t.Fatalf("quarantine: %s %q %q", q.State, q.Result, q.Error)
			}
			tc.quarantined(t, ctx, cfg, id, fp)
			rec, err := h.findings.Get(ctx, fp)
			must(t, err, "get finding")
			if rec.Status != "open" || rec.Finding.Enforcement == nil || rec.Finding.Enforcement.Verb != "quarantine" {
				t.Errorf("finding after quarantine: %s %+v", rec.Status, rec.Finding.Enforcement)
			}

			// A second run does not quarantine again: the quarantined
			// guard stops it.
			p2 := h.plan("prod", true)
			if a := p2.Actions[0]; a.State != enforce.StateBlocked || a.Guard != enforce.GuardQuarantined {
				t.Errorf("second run: %s by %s: %s", a.State, a.Guard, a.Reason)
			}
			if len(h.queued) != 0 {
				t.Fatalf("second run queued %d runs", len(h.queued))
			}

			rp, err := h.svc.Release(ctx, enforce.ReleaseRequest{Fingerprint: fp, Actor: "alice", Reason: "cause fixed"})
			must(t, err, "release")
			if a := rp.Actions[0]; a.State != enforce.StatePlanned {
				t.Fatalf("release plan: %s", describePlan(rp))
			}
			h.dispatch()
			rel, err := h.actions.Get(ctx, rp.Actions[0].ID)
			must(t, err, "get release")
			if rel.State != enforce.StateSucceeded || rel.Undoes != q.ID {
				t.Fatalf("release: %s %q %q", rel.State, rel.Result, rel.Error)
			}
			if after := tc.snap(t, ctx, cfg, id); after != before {
				t.Errorf("after release:\n %s\nwant (before quarantine):\n %s", after, before)
			}
			if !strings.Contains(rel.Result, tc.releaseSays) {
				t.Errorf("release result %q lacks %q", rel.Result, tc.releaseSays)
			}
			if got, _ := h.actions.Get(ctx, q.ID); got.State != enforce.StateReleased || !strings.Contains(got.Reason, "alice") {
				t.Errorf("quarantine record after release: %s %q", got.State, got.Reason)
			}
			rec, err = h.findings.Get(ctx, fp)
			must(t, err, "get finding")
			if rec.Finding.Enforcement == nil || rec.Finding.Enforcement.Verb != "release" || rec.Status != "open" {
				t.Errorf("finding after release: %s %+v", rec.Status, rec.Finding.Enforcement)
			}
			// Released while the finding stays open: not quarantined again.
			p3 := h.plan("prod", true)
			if a := p3.Actions[0]; a.State != enforce.StateBlocked || a.Guard != enforce.GuardQuarantined || !strings.Contains(a.Reason, "released by alice") {
				t.Errorf("run after release: %s by %s: %s", a.State, a.Guard, a.Reason)
			}
			if _, err := h.svc.Release(ctx, enforce.ReleaseRequest{Fingerprint: fp, Actor: "alice"}); err == nil || !strings.Contains(err.Error(), "released already") {
				t.Errorf("second release: %v", err)
			}
		})
	}
}

// TestQuarantineResumesFromTheFirstSavedState: an attempt that failed
// half-way (the public access block on, the policy not yet) is retried;
// the retry works from the state saved before the first write, so the
// release restores the original public access block, not the half-changed
// one, and nothing is written twice that did not need to be.
func TestQuarantineResumesFromTheFirstSavedState(t *testing.T) {
	m, cfg := startMoto(t)
	ctx := context.Background()
	id := setupBucket(true)(t, ctx, cfg)
	before := bucketSnapshot(t, ctx, cfg, id)
	t.Setenv("AWS_ENDPOINT_URL", restFaultProxy(t, m.Endpoint, "PUT", "policy", 1))
	h := newHarness(t, quarantineYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	fp := findingOf(t, fs, id).Fingerprint
	p := h.plan("prod", true)
	item := h.queued[0]
	h.queued = nil
	err := h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: 1, MaxAttempts: 8})
	if err == nil {
		t.Fatal("the first attempt succeeded despite the injected failure")
	}
	half := h.action(p, fp)
	if half.State != enforce.StateRunning || len(half.Before) == 0 {
		t.Fatalf("after the failed attempt: %s, before %s", half.State, half.Before)
	}
	if err := h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: 2, MaxAttempts: 8}); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	q := h.action(p, fp)
	if q.State != enforce.StateSucceeded || string(q.Before) != string(half.Before) {
		t.Fatalf("second attempt: %s, before changed from %s to %s", q.State, half.Before, q.Before)
	}
	bucketQuarantined(t, ctx, cfg, id, fp)
	if _, err := h.svc.Release(ctx, enforce.ReleaseRequest{Fingerprint: fp, Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	h.dispatch()
	if after := bucketSnapshot(t, ctx, cfg, id); after != before {
		t.Errorf("after release:\n %s\nwant:\n %s", after, before)
	}
}

// TestIsolationGroupOncePerVPC: two instances in one VPC share one
// isolation group, which has no rule at all.
func TestIsolationGroupOncePerVPC(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	a := setupInstance(t, ctx, cfg)
	b := setupInstance(t, ctx, cfg)
	h := newHarness(t, quarantineYAML, map[string]string{"prod.tfstate": emptyState})
	h.scan("prod", []string{"aws_instance"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	p := h.plan("prod", true)
	if len(p.Runnable()) != 2 {
		t.Fatalf("plan: %s", describePlan(p))
	}
	h.dispatch()
	c := ec2.NewFromConfig(cfg)
	groups := map[string]bool{}
	for _, id := range []string{a, b} {
		for _, g := range describeInstanceSDK(t, ctx, c, id).SecurityGroups {
			groups[aws.ToString(g.GroupId)] = true
		}
	}
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("group-name"), Values: []string{enforceaws.IsolationGroupName}}}})
	must(t, err, "DescribeSecurityGroups")
	if len(out.SecurityGroups) != 1 || len(groups) != 1 || !groups[aws.ToString(out.SecurityGroups[0].GroupId)] {
		t.Fatalf("instances use %v; isolation groups %d", groups, len(out.SecurityGroups))
	}
	g := out.SecurityGroups[0]
	if len(g.IpPermissions)+len(g.IpPermissionsEgress) != 0 || ec2Tag(g.Tags, "plumb:protect") == "" || ec2Tag(g.Tags, enforceaws.TagIsolation) == "" {
		t.Errorf("isolation group: %+v", g)
	}
}

// TestQuarantineKeepsDeclaredRules: a quarantine action that names the
// rules the code declares (an isolation of a managed group) revokes only
// the others.
func TestQuarantineKeepsDeclaredRules(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	id := setupGroup(t, ctx, cfg)
	ex := newExecutor(t)
	a := &enforce.Action{ID: "keep", Fingerprint: "fp-keep", Verb: enforce.VerbQuarantine,
		Resource: model.Resource{Provider: "aws", Type: "aws_security_group", ID: id, Region: region},
		Keep:     map[string][]string{"ingress": {"tcp 22:22 10.0.0.0/8"}, "egress": {"-1 0:0 0.0.0.0/0"}}}
	rec := &memRecorder{}
	res, err := ex.Execute(ctx, a, envSettings(t), rec)
	must(t, err, "quarantine")
	g := describeGroup(t, ctx, cfg, id)
	in, _ := json.Marshal(g.IpPermissions)
	eg, _ := json.Marshal(g.IpPermissionsEgress)
	if !strings.Contains(string(in), "10.0.0.0/8") || strings.Contains(string(in), "0.0.0.0/0") || strings.Contains(string(in), "443") ||
		!strings.Contains(string(eg), "0.0.0.0/0") {
		t.Errorf("%s: ingress %s egress %s", res, in, eg)
	}
}

func envSettings(t *testing.T) plumbconfig.Enforcement {
	t.Helper()
	cfg, err := plumbconfig.Parse("plumb.yaml", []byte(quarantineYAML), func(string) string { return "" })
	must(t, err, "parse config")
	return cfg.Environments[0].Enforcement
}

// restFaultProxy puts a proxy in front of moto that answers the first
// `times` S3 REST requests of a method carrying a query key (PUT ?policy)
// with a 503, and forwards everything else.
func restFaultProxy(t *testing.T, target, method, queryKey string, times int) string {
	t.Helper()
	u, err := url.Parse(target)
	must(t, err, "parse moto URL")
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method && r.URL.Query().Has(queryKey) {
			mu.Lock()
			n++
			fail := n <= times
			mu.Unlock()
			if fail {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>injected by the test</Message></Error>`))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// --- fixtures and snapshots ---

func setupInstance(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	must(t, err, "DescribeVpcs")
	vpc := vpcs.Vpcs[0].VpcId
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpc)}}}})
	must(t, err, "DescribeSubnets")
	var groups []string
	for _, n := range []string{"web", "admin"} {
		g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(n + "-" + time.Now().Format("150405.000000")),
			Description: aws.String(n), VpcId: vpc})
		must(t, err, "CreateSecurityGroup")
		groups = append(groups, aws.ToString(g.GroupId))
	}
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(amiID(t, ctx, c)), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: subnets.Subnets[0].SubnetId, SecurityGroupIds: groups,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String("by-hand")}, {Key: aws.String("team"), Value: aws.String("payments")}}}}})
	must(t, err, "RunInstances")
	return aws.ToString(out.Instances[0].InstanceId)
}

func describeInstanceSDK(t *testing.T, ctx context.Context, c *ec2.Client, id string) ec2types.Instance {
	t.Helper()
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	must(t, err, "DescribeInstances")
	return out.Reservations[0].Instances[0]
}

func instanceSnapshot(t *testing.T, ctx context.Context, cfg aws.Config, id string) string {
	t.Helper()
	in := describeInstanceSDK(t, ctx, ec2.NewFromConfig(cfg), id)
	var groups []string
	for _, g := range in.SecurityGroups {
		groups = append(groups, aws.ToString(g.GroupId))
	}
	var nis []string
	for _, ni := range in.NetworkInterfaces {
		for _, g := range ni.Groups {
			nis = append(nis, aws.ToString(ni.NetworkInterfaceId)+"="+aws.ToString(g.GroupId))
		}
	}
	return mustJSON(t, map[string]any{"groups": groups, "interfaces": nis, "state": string(in.State.Name), "tags": ec2TagMap(in.Tags)})
}

func instanceQuarantined(t *testing.T, ctx context.Context, cfg aws.Config, id, fp string) {
	t.Helper()
	in := describeInstanceSDK(t, ctx, ec2.NewFromConfig(cfg), id)
	if len(in.SecurityGroups) != 1 {
		t.Fatalf("quarantined instance has groups %+v", in.SecurityGroups)
	}
	g := describeGroup(t, ctx, cfg, aws.ToString(in.SecurityGroups[0].GroupId))
	if aws.ToString(g.GroupName) != enforceaws.IsolationGroupName || len(g.IpPermissions)+len(g.IpPermissionsEgress) != 0 {
		t.Errorf("instance's group is %s with rules %+v %+v", aws.ToString(g.GroupName), g.IpPermissions, g.IpPermissionsEgress)
	}
	if in.State.Name != ec2types.InstanceStateNameStopped && in.State.Name != ec2types.InstanceStateNameStopping {
		t.Errorf("state %s, want stopped (stop_quarantined_instances)", in.State.Name)
	}
	if got := ec2Tag(in.Tags, enforceaws.TagQuarantined); got != fp {
		t.Errorf("quarantine tag %q, want %q", got, fp)
	}
}

func setupGroup(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	must(t, err, "DescribeVpcs")
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("opened-by-hand"), Description: aws.String("x"),
		VpcId: vpcs.Vpcs[0].VpcId, TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
			Tags: []ec2types.Tag{{Key: aws.String("owner"), Value: aws.String("alice")}}}}})
	must(t, err, "CreateSecurityGroup")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8"), Description: aws.String("office")}, {CidrIp: aws.String("0.0.0.0/0")}}},
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}},
	}})
	must(t, err, "AuthorizeSecurityGroupIngress")
	return aws.ToString(g.GroupId)
}

func describeGroup(t *testing.T, ctx context.Context, cfg aws.Config, id string) ec2types.SecurityGroup {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	must(t, err, "DescribeSecurityGroups")
	return out.SecurityGroups[0]
}

// groupSnapshot lists every rule, one source per line with its
// description, sorted (AWS does not promise an order).
func groupSnapshot(t *testing.T, ctx context.Context, cfg aws.Config, id string) string {
	t.Helper()
	g := describeGroup(t, ctx, cfg, id)
	rules := func(ps []ec2types.IpPermission) []string {
		var out []string
		for _, p := range ps {
			head := aws.ToString(p.IpProtocol) + " " + mustJSON(t, p.FromPort) + ":" + mustJSON(t, p.ToPort)
			for _, r := range p.IpRanges {
				out = append(out, head+" "+aws.ToString(r.CidrIp)+" "+aws.ToString(r.Description))
			}
			for _, r := range p.Ipv6Ranges {
				out = append(out, head+" "+aws.ToString(r.CidrIpv6)+" "+aws.ToString(r.Description))
			}
			for _, r := range p.UserIdGroupPairs {
				out = append(out, head+" "+aws.ToString(r.GroupId)+" "+aws.ToString(r.Description))
			}
		}
		sort.Strings(out)
		return out
	}
	return mustJSON(t, map[string]any{"ingress": rules(g.IpPermissions), "egress": rules(g.IpPermissionsEgress), "tags": ec2TagMap(g.Tags)})
}

func setupBucket(full bool) func(t *testing.T, ctx context.Context, cfg aws.Config) string {
	return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
		t.Helper()
		name := "bare-bucket"
		if full {
			name = "shared-data"
		}
		createBucket(t, ctx, cfg, name)
		if !full {
			return name
		}
		c := s3c(cfg)
		_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(name),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(false),
				BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}})
		must(t, err, "PutPublicAccessBlock")
		_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared-data/*"}]}`)})
		must(t, err, "PutBucketPolicy")
		_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
			{Key: aws.String("team"), Value: aws.String("data")}, {Key: aws.String("cost-center"), Value: aws.String("42")}}}})
		must(t, err, "PutBucketTagging")
		return name
	}
}

func bucketSnapshot(t *testing.T, ctx context.Context, cfg aws.Config, name string) string {
	t.Helper()
	c := s3c(cfg)
	out := map[string]any{}
	if pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(name)}); err == nil {
		out["public_access_block"] = pab.PublicAccessBlockConfiguration
	} else {
		out["public_access_block"] = apiCode(err)
	}
	if p, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(name)}); err == nil {
		out["policy"] = aws.ToString(p.Policy)
	} else {
		out["policy"] = apiCode(err)
	}
	if tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)}); err == nil {
		m := map[string]string{}
		for _, x := range tg.TagSet {
			m[aws.ToString(x.Key)] = aws.ToString(x.Value)
		}
		out["tags"] = m
	} else {
		out["tags"] = apiCode(err)
	}
	return mustJSON(t, out)
}

func bucketQuarantined(t *testing.T, ctx context.Context, cfg aws.Config, name, fp string) {
	t.Helper()
	c := s3c(cfg)
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(name)})
	must(t, err, "GetPublicAccessBlock")
	p := pab.PublicAccessBlockConfiguration
	if !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("public access block not fully on: %+v", p)
	}
	pol, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(name)})
	must(t, err, "GetBucketPolicy")
	var doc struct {
		Statement []struct {
			Effect, Principal, Action string
			Resource                  []string
			Condition                 map[string]map[string][]string
		}
	}
	must(t, json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc), "decode policy")
	if len(doc.Statement) != 1 {
		t.Fatalf("policy %s", aws.ToString(pol.Policy))
	}
	st := doc.Statement[0]
	spared := st.Condition["ArnNotLike"]["aws:PrincipalArn"]
	if st.Effect != "Deny" || st.Principal != "*" || st.Action != "s3:*" || len(st.Resource) != 2 ||
		!contains(spared, "arn:aws:iam::123456789012:role/break-glass") {
		t.Errorf("policy %s", aws.ToString(pol.Policy))
	}
	tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
	must(t, err, "GetBucketTagging")
	found := false
	for _, x := range tg.TagSet {
		found = found || (aws.ToString(x.Key) == enforceaws.TagQuarantined && aws.ToString(x.Value) == fp)
	}
	if !found {
		t.Errorf("bucket tags %+v lack the quarantine tag", tg.TagSet)
	}
}

func setupUser(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	const name = "contractor"
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("ext")}}})
	must(t, err, "CreateUser")
	for i := 0; i < 2; i++ {
		k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		must(t, err, "CreateAccessKey")
		if i == 1 {
			_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(name), AccessKeyId: k.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive})
			must(t, err, "UpdateAccessKey")
		}
	}
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(name), Password: aws.String("Initial-Passw0rd!")})
	must(t, err, "CreateLoginProfile")
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`)})
	must(t, err, "PutUserPolicy")
	return name
}

func userSnapshot(t *testing.T, ctx context.Context, cfg aws.Config, name string) string {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	must(t, err, "ListAccessKeys")
	var ks []string
	for _, k := range keys.AccessKeyMetadata {
		ks = append(ks, aws.ToString(k.AccessKeyId)+"="+string(k.Status))
	}
	sort.Strings(ks)
	out := map[string]any{"keys": ks}
	// Whether a login profile exists; moto does not keep
	// PasswordResetRequired, so that part cannot be compared here.
	_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(name)})
	out["login_profile"] = err == nil
	pols, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(name)})
	must(t, err, "ListUserPolicies")
	out["policies"] = pols.PolicyNames
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(name)})
	must(t, err, "ListUserTags")
	out["tags"] = iamTagMap(tags.Tags)
	return mustJSON(t, out)
}

func userQuarantined(t *testing.T, ctx context.Context, cfg aws.Config, name, fp string) {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	must(t, err, "ListAccessKeys")
	for _, k := range keys.AccessKeyMetadata {
		if k.Status != iamtypes.StatusTypeInactive {
			t.Errorf("key %s is %s", aws.ToString(k.AccessKeyId), k.Status)
		}
	}
	if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(name)}); apiCode(err) != "NoSuchEntity" {
		t.Errorf("login profile still there: %v", err)
	}
	p, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(enforceaws.QuarantinePolicyName)})
	must(t, err, "GetUserPolicy")
	assertDenyAll(t, aws.ToString(p.PolicyDocument))
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(name)})
	must(t, err, "ListUserTags")
	if got := iamTag(tags.Tags, enforceaws.TagQuarantined); got != fp {
		t.Errorf("quarantine tag %q, want %q", got, fp)
	}
}

func setupRole(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	const name = "hand-made-role"
	c := iam.NewFromConfig(cfg)
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("ml")}},
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err, "CreateRole")
	return name
}

func roleSnapshot(t *testing.T, ctx context.Context, cfg aws.Config, name string) string {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	pols, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	must(t, err, "ListRolePolicies")
	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String(name)})
	must(t, err, "ListRoleTags")
	return mustJSON(t, map[string]any{"policies": pols.PolicyNames, "tags": iamTagMap(tags.Tags)})
}

func assertDenyAll(t *testing.T, doc string) {
	t.Helper()
	if d, err := url.QueryUnescape(doc); err == nil {
		doc = d
	}
	var p struct {
		Statement []struct{ Effect, Action, Resource string }
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) != 1 ||
		!reflect.DeepEqual(p.Statement[0], struct{ Effect, Action, Resource string }{"Deny", "*", "*"}) {
		t.Errorf("not a deny-all policy: %s (%v)", doc, err)
	}
}

func ec2Tag(ts []ec2types.Tag, k string) string { return ec2TagMap(ts)[k] }

func ec2TagMap(ts []ec2types.Tag) map[string]string {
	out := map[string]string{}
	for _, x := range ts {
		out[aws.ToString(x.Key)] = aws.ToString(x.Value)
	}
	return out
}

func iamTag(ts []iamtypes.Tag, k string) string { return iamTagMap(ts)[k] }

func iamTagMap(ts []iamtypes.Tag) map[string]string {
	out := map[string]string{}
	for _, x := range ts {
		out[aws.ToString(x.Key)] = aws.ToString(x.Value)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err, "marshal")
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
