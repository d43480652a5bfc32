package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/testenv"
)

const operatorToken = "operator-secret-0123456789"

// isolateConfig: prod reports only, but names its account and lets
// quarantined instances be stopped; isolation findings go to the owning
// team's repository (by the team tag), everything else to another
// team's.
const isolateConfig = `
server:
  api_token: {env: TOKEN}
  operator_token: {env: OPERATOR}
  notify_interval: 200ms
  notify_retry: {max_attempts: 10, schedule: [200ms]}
environments:
  - name: prod
    states: [%s]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement: {unmanaged: report, stop_quarantined_instances: true}
route:
  receiver: gh-data
  group_wait: 0s
  group_interval: 0s
  routes:
    - matchers: ['kind="enforce.isolated"', 'tags.team="payments"']
      receiver: gh-payments
      group_by: ['...']
receivers:
  - name: gh-payments
    github_advisory:
      repository: acme/payments
      base_url: %s
      min_severity: high
      auth: {app_id: 31337, installation_id: 4242, private_key: {file: %s}}
  - name: gh-data
    github_advisory:
      repository: acme/data
      base_url: %s
      min_severity: low
      auth: {app_id: 31338, installation_id: 4243, private_key: {file: %s}}
`

// TestIsolateManagedInstanceThroughAPI: a security operator isolates a
// managed instance through POST /v1/isolate. The plain API token and no
// token are refused; with the operator's token the instance gets the
// isolation group and is stopped, a draft advisory with the reason, the
// CVE, the related finding and the release command opens in the owning
// team's repository (and nowhere else), and a release (again only with the
// operator's token) puts the instance back exactly as it was and resolves
// the finding.
func TestIsolateManagedInstanceThroughAPI(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	cfgAWS := moto.Config(t, "us-east-1")
	instance := runInstance(t, ctx, cfgAWS, map[string]string{"Name": "pay-api", "team": "payments"})
	before := instanceState(t, ctx, cfgAWS, instance)

	dir := t.TempDir()
	state := filepath.Join(dir, "prod.tfstate")
	writeFile(t, state, instanceState4(instance))
	payments, pem := githubtest.NewApp(t, "acme", "payments", 31337, 4242)
	data, dataPEM := githubtest.NewApp(t, "acme", "data", 31338, 4243)
	keyPath, dataKeyPath := filepath.Join(dir, "app.pem"), filepath.Join(dir, "data-app.pem")
	writeFile(t, keyPath, pem)
	writeFile(t, dataKeyPath, dataPEM)

	// A finding of the same instance is open before the request.
	dataDir := filepath.Join(dir, "data")
	related := model.Finding{Kind: model.KindPolicyViolation, Severity: model.SeverityHigh, Environment: "prod", Rule: "ec2-imdsv2",
		Fingerprint: model.Fingerprint(model.KindPolicyViolation, "prod", "aws", "aws_instance", "us-east-1", instance, "ec2-imdsv2"),
		Resource:    model.Resource{Provider: "aws", Type: "aws_instance", ID: instance, Region: "us-east-1", Tags: map[string]string{}},
		Changes:     []model.Change{}, Message: "Instance allows IMDSv1"}
	seedDataDir(t, dataDir, related)

	ts := runE2E(t, fmt.Sprintf(isolateConfig, state, payments.BaseURL(), keyPath, data.BaseURL(), dataKeyPath),
		map[string]string{"OPERATOR": operatorToken}, func(o *Options) { o.DataDir = dataDir })

	body := map[string]string{"environment": "prod", "resource": "aws_instance." + instance, "reason": "C2 beaconing seen by GuardDuty",
		"cve": "CVE-2026-12345", "actor": "soc-playbook"}
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {testToken, 403}} {
		resp, b := ts.do("POST", "/v1/isolate", bearer(c.token), mustJSON(t, body))
		if resp.StatusCode != c.want {
			t.Errorf("isolate with token %q: %d %s, want %d", c.token, resp.StatusCode, b, c.want)
		}
	}
	if got := instanceState(t, ctx, cfgAWS, instance); got != before {
		t.Fatalf("a refused request changed the instance: %s", got)
	}
	for _, c := range []struct {
		body map[string]string
		want int
		msg  string
	}{
		{map[string]string{"environment": "prod", "resource": "aws_instance." + instance, "actor": "x"}, 400, "reason is required"},
		{map[string]string{"environment": "prod", "resource": "i-123", "reason": "x"}, 400, "want TYPE.ID"},
		{map[string]string{"environment": "prod", "resource": "aws_instance." + instance, "reason": "x", "cve": "CVE-12"}, 400, "CVE-YYYY-NNNN"},
		{map[string]string{"environment": "nope", "resource": "aws_instance." + instance, "reason": "x"}, 404, "not in"},
		{map[string]string{"environment": "prod", "resource": "aws_instance.i-00000000000000000", "reason": "x"}, 409, "not declared"},
	} {
		resp, b := ts.do("POST", "/v1/isolate", bearer(operatorToken), mustJSON(t, c.body))
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.msg) {
			t.Errorf("isolate %v: %d %s, want %d %q", c.body, resp.StatusCode, b, c.want, c.msg)
		}
	}

	resp, b := ts.do("POST", "/v1/isolate", bearer(operatorToken), mustJSON(t, body))
	var ans struct {
		Finding string         `json:"finding"`
		Action  enforce.Action `json:"action"`
	}
	if resp.StatusCode != 202 || json.Unmarshal(b, &ans) != nil || ans.Finding == "" {
		t.Fatalf("isolate: %d %s", resp.StatusCode, b)
	}
	q := waitAction(t, ts, ans.Action.ID, enforce.StateSucceeded)
	if q.Actor != "soc-playbook" || q.Kind != model.KindIsolated || len(q.Before) == 0 {
		t.Errorf("isolation action %+v", q)
	}
	in := describeInstance(t, ctx, cfgAWS, instance)
	if len(in.SecurityGroups) != 1 || aws.ToString(in.SecurityGroups[0].GroupName) != "plumb-isolation" ||
		(in.State.Name != ec2types.InstanceStateNameStopped && in.State.Name != ec2types.InstanceStateNameStopping) {
		t.Errorf("isolated instance: groups %+v state %s", in.SecurityGroups, in.State.Name)
	}
	// A second request while it is isolated is refused by the guard.
	resp, b = ts.do("POST", "/v1/isolate", bearer(operatorToken), mustJSON(t, body))
	if resp.StatusCode != 409 || !strings.Contains(string(b), "already quarantined") {
		t.Errorf("second isolation: %d %s", resp.StatusCode, b)
	}

	waitForDeadline(t, 30*time.Second, "the advisory in acme/payments", func() bool {
		for _, a := range payments.Advisories() {
			if strings.Contains(a.Description, "quarantine: security groups") {
				return true
			}
		}
		return false
	})
	advs := payments.Advisories()
	if len(advs) != 1 {
		t.Fatalf("%d advisories in acme/payments", len(advs))
	}
	a := advs[0]
	for _, want := range []string{"C2 beaconing seen by GuardDuty", "CVE-2026-12345", "soc-playbook", "Instance allows IMDSv1",
		related.Fingerprint, "plumb enforce release " + ans.Finding, instance} {
		if !strings.Contains(a.Description, want) {
			t.Errorf("advisory lacks %q:\n%s", want, a.Description)
		}
	}
	if a.Severity != "critical" || a.CVE != "CVE-2026-12345" || !strings.HasPrefix(a.Summary, "[ISOLATED] pay-api") || a.State != "draft" {
		t.Errorf("advisory %q severity %s cve %q state %s", a.Summary, a.Severity, a.CVE, a.State)
	}
	for _, a := range data.Advisories() {
		if strings.Contains(a.Summary, "ISOLATED") {
			t.Errorf("the isolation reached another team's repository: %q", a.Summary)
		}
	}

	// Release: the API token may not end an isolation; the operator may.
	rel := map[string]string{"finding": ans.Finding, "reason": "patched and rotated", "actor": "soc-playbook"}
	if resp, b := ts.do("POST", "/v1/enforce/release", bearer(testToken), mustJSON(t, rel)); resp.StatusCode != 403 {
		t.Errorf("release with the API token: %d %s", resp.StatusCode, b)
	}
	resp, b = ts.do("POST", "/v1/enforce/release", bearer(operatorToken), mustJSON(t, rel))
	var rp enforce.Plan
	if resp.StatusCode != 202 || json.Unmarshal(b, &rp) != nil || len(rp.Actions) != 1 {
		t.Fatalf("release: %d %s", resp.StatusCode, b)
	}
	r := waitAction(t, ts, rp.Actions[0].ID, enforce.StateSucceeded)
	if r.Undoes != q.ID || r.Verb != enforce.VerbRelease {
		t.Errorf("release action %+v", r)
	}
	waitForDeadline(t, 30*time.Second, "the instance to run again", func() bool {
		return instanceState(t, ctx, cfgAWS, instance) == before
	})
	if got := waitAction(t, ts, q.ID, enforce.StateReleased); !strings.Contains(got.Reason, "soc-playbook") {
		t.Errorf("isolation after release: %s %q", got.State, got.Reason)
	}
	fs := ts.findings("kind=enforce.isolated&status=resolved")
	if len(fs) != 1 || fs[0].Finding.Enforcement == nil || fs[0].Finding.Enforcement.Verb != "release" {
		t.Fatalf("isolation finding after release: %+v", fs)
	}
	waitForDeadline(t, 30*time.Second, "the advisory to say resolved", func() bool {
		advs := payments.Advisories()
		return len(advs) == 1 && strings.Contains(advs[0].Description, "**Resolved**")
	})
	if resp, b := ts.do("POST", "/v1/enforce/release", bearer(operatorToken), mustJSON(t, rel)); resp.StatusCode != 404 {
		t.Errorf("second release: %d %s", resp.StatusCode, b)
	}
}

func bearer(token string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return h
}

// waitAction polls GET /v1/actions until the action reaches state.
func waitAction(t *testing.T, ts *testServer, id string, state enforce.State) enforce.Action {
	t.Helper()
	var found enforce.Action
	waitForDeadline(t, 60*time.Second, "action "+id+" to be "+string(state), func() bool {
		var page struct {
			Actions []enforce.Action `json:"actions"`
		}
		ts.apiGet("/v1/actions?limit=1000", &page)
		for _, a := range page.Actions {
			if a.ID == id {
				found = a
				if a.State == enforce.StateFailed {
					t.Fatalf("action %s failed: %s", id, a.Error)
				}
				return a.State == state
			}
		}
		return false
	})
	return found
}

// seedDataDir stores findings in a data dir before a server starts on it.
func seedDataDir(t *testing.T, dataDir string, fs ...model.Finding) {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Upsert(ctx, time.Now(), fs); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runInstance starts an instance with two security groups in the default
// VPC.
func runInstance(t testing.TB, ctx context.Context, cfg aws.Config, tags map[string]string) string {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	vpc := vpcs.Vpcs[0].VpcId
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpc)}}}})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, n := range []string{"web", "admin"} {
		g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("%s-%d", n, time.Now().UnixNano())),
			Description: aws.String(n), VpcId: vpc})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, aws.ToString(g.GroupId))
	}
	images, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("DescribeImages: %v", err)
	}
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	in := &ec2.RunInstancesInput{ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: subnets.Subnets[0].SubnetId, SecurityGroupIds: groups}
	if len(ts) > 0 { // EC2 refuses a tag specification without tags
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: ts}}
	}
	out, err := c.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

func describeInstance(t testing.TB, ctx context.Context, cfg aws.Config, id string) ec2types.Instance {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Reservations[0].Instances[0]
}

// instanceState is what isolation changes on an instance, read from moto.
func instanceState(t testing.TB, ctx context.Context, cfg aws.Config, id string) string {
	t.Helper()
	in := describeInstance(t, ctx, cfg, id)
	var groups []string
	for _, g := range in.SecurityGroups {
		groups = append(groups, aws.ToString(g.GroupId))
	}
	tags := map[string]string{}
	for _, x := range in.Tags {
		tags[aws.ToString(x.Key)] = aws.ToString(x.Value)
	}
	return string(mustJSON(t, map[string]any{"groups": groups, "state": in.State.Name, "tags": tags}))
}

// instanceState4 is a Terraform state declaring the instance.
func instanceState4(id string) string {
	return `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "5c1b7f7a-0000-4000-8000-00000000a11d", "outputs": {},
  "resources": [{"mode": "managed", "type": "aws_instance", "name": "pay_api", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
    "instances": [{"schema_version": 1, "attributes": {"id": "` + id + `", "arn": "arn:aws:ec2:us-east-1:123456789012:instance/` + id + `",
      "instance_type": "t3.micro", "tags": {"Name": "pay-api", "team": "payments"}, "tags_all": {"Name": "pay-api", "team": "payments"}}}]}]}`
}
