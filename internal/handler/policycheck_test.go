package handler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/eventformat"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

// fakeReader serves resources by import id and counts reads.
type fakeReader struct {
	byID  map[string]model.Resource
	err   error
	reads int
}

func (f *fakeReader) Read(_ context.Context, r model.Resource) (model.Resource, bool, error) {
	f.reads++
	if f.err != nil {
		return model.Resource{}, false, f.err
	}
	x, ok := f.byID[r.ID]
	return x, ok, nil
}

func sgResource(id string, ingress []string, def string) model.Resource {
	return model.Resource{
		Provider: "aws", Type: "aws_security_group", ID: id, Region: "us-east-1", Account: "123456789012",
		Name: id, Tags: map[string]string{}, Default: def,
		Attributes: map[string]any{"ingress": ingress, "egress": []string{}},
	}
}

func TestPolicyCheck(t *testing.T) {
	pack, err := policy.Builtin("cis-aws-3.0")
	if err != nil {
		t.Fatal(err)
	}
	broken, err := policy.Compile([]*policy.Rule{{
		ID: "bad-json", Resources: []string{"aws_security_group"}, Severity: model.SeverityLow,
		Deny: `has(resource.name) && json(resource.name).x == 1`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	const ssh = "tcp 22:22 0.0.0.0/0"
	reader := func() *fakeReader {
		return &fakeReader{byID: map[string]model.Resource{
			"sg-open":     sgResource("sg-open", []string{ssh}, ""),
			"sg-internal": sgResource("sg-internal", []string{"tcp 22:22 10.0.0.0/8"}, ""),
			"sg-default":  sgResource("sg-default", []string{ssh}, "default security group of vpc-1"),
			"sg-named": func() model.Resource {
				r := sgResource("sg-named", nil, "")
				r.Attributes["name"] = "not json"
				return r
			}(),
		}}
	}
	sg := func(id string) model.Resource {
		return model.Resource{Provider: "aws", Type: "aws_security_group", ID: id, Region: "us-east-1"}
	}
	tests := []struct {
		name      string
		set       *policy.Set
		target    model.Resource
		readErr   error
		wantRules []string
		wantReads int
		wantErr   string
		permanent bool
	}{
		{name: "open ssh", set: pack, target: sg("sg-open"), wantRules: []string{"aws-sg-ssh-open-ipv4"}, wantReads: 1},
		{name: "compliant", set: pack, target: sg("sg-internal"), wantReads: 1},
		{name: "deleted since the event", set: pack, target: sg("sg-gone"), wantReads: 1},
		{name: "aws default group", set: pack, target: sg("sg-default"), wantReads: 1},
		{name: "known only by arn", set: pack, wantRules: []string{"aws-sg-ssh-open-ipv4"}, wantReads: 1,
			target: model.Resource{Provider: "aws", ID: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-open", ARN: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-open"}},
		{name: "type no rule covers costs no read", set: pack, target: model.Resource{Provider: "aws", Type: "aws_route53_zone", ID: "Z1"}},
		{name: "unresolvable arn", set: pack, target: model.Resource{Provider: "aws", ID: "arn:aws:ec2:us-east-1:1:network-interface/eni-1"}},
		{name: "azure is not read", set: pack, target: model.Resource{Provider: "azure", Type: "azurerm_network_security_group", ID: "/subscriptions/x"}},
		{name: "read error retries", set: pack, target: sg("sg-open"), readErr: errors.New("throttled"), wantReads: 1, wantErr: "throttled"},
		{name: "rule error dead-letters", set: broken, target: sg("sg-named"), wantReads: 1, wantErr: "bad-json", permanent: true},
		{name: "no rule set", target: sg("sg-open"), wantErr: "no rule set", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := reader()
			rd.err = tt.readErr
			c := PolicyCheck{Set: tt.set, Reader: rd}
			d := Delivery{Event: model.Event{Source: model.SourceEventBridge, ID: "ev-1"}, Environment: "prod"}
			fs, err := c.Check(context.Background(), d, tt.target)
			if rd.reads != tt.wantReads {
				t.Errorf("reads = %d, want %d", rd.reads, tt.wantReads)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if IsPermanent(err) != tt.permanent {
					t.Errorf("permanent = %v, want %v", IsPermanent(err), tt.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, f := range fs {
				rules = append(rules, f.Rule)
				if f.Kind != model.KindPolicyViolation || f.Environment != "prod" || f.Source != "eventbridge/ev-1" || f.Resource.ID != "sg-open" {
					t.Errorf("finding = %+v", f)
				}
			}
			if !reflect.DeepEqual(rules, tt.wantRules) {
				t.Errorf("rules = %v, want %v", rules, tt.wantRules)
			}
		})
	}
}

// TestValidateRequestTarget: a modification call names its resource only
// in requestParameters; EventBridge leaves resources empty.
func TestValidateRequestTarget(t *testing.T) {
	tests := []struct {
		name, detail string
		want         model.Resource
	}{
		{"authorize ingress", `{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"eu-west-1","recipientAccountId":"123456789012","requestParameters":{"groupId":"sg-1"}}`,
			model.Resource{Provider: "aws", Type: "aws_security_group", ID: "sg-1", Name: "sg-1", Region: "eu-west-1", Account: "123456789012"}},
		{"metadata options", `{"eventSource":"ec2.amazonaws.com","eventName":"ModifyInstanceMetadataOptions","awsRegion":"eu-west-1","requestParameters":{"instanceId":"i-1"}}`,
			model.Resource{Provider: "aws", Type: "aws_instance", ID: "i-1", Name: "i-1", Region: "eu-west-1", Account: "123456789012"}},
		{"group by name is not guessed", `{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"groupName":"web"}}`, model.Resource{}},
		{"other service", `{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","requestParameters":{"bucketName":"b"}}`, model.Resource{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestTarget(awsEvent(userBob, tt.detail)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("requestTarget = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// loadEvent parses a real-format EventBridge CloudTrail event from
// testdata/policy, filling in the ids moto chose, exactly as the SQS
// poller hands it to the pipeline.
func loadEvent(t *testing.T, name string, vars map[string]string) model.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "policy", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	ev, err := eventformat.ParseEventBridge([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestValidatePolicyAgainstMoto runs the validate handler with a built-in
// pack on CloudTrail events for security groups moto holds, read back
// through the AWS inventory, and checks that the event-time finding is the
// nightly scan's finding: same fingerprint, rule, controls and message.
func TestValidatePolicyAgainstMoto(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	client := ec2.NewFromConfig(cfg)
	vpcs, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("default vpc: %v", err)
	}
	vpc := aws.ToString(vpcs.Vpcs[0].VpcId)
	group := func(name, cidr string) string {
		out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(name), Description: aws.String(name), VpcId: aws.String(vpc),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags: []ec2types.Tag{{Key: aws.String("owner"), Value: aws.String("payments")}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: out.GroupId,
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr)}}}},
		}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	open := group("ssh-open", "0.0.0.0/0")
	internal := group("ssh-internal", "10.0.0.0/8")
	deleted := group("ssh-deleted", "0.0.0.0/0")
	if _, err := client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(deleted)}); err != nil {
		t.Fatal(err)
	}

	set, err := policy.LoadPacks([]string{"cis-aws-3.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := Validate{Checks: []Check{PolicyCheck{Set: set, Reader: NewAWSReader(cfg)}}}
	vars := func(id, name string) map[string]string {
		return map[string]string{"GROUP_ID": id, "GROUP_NAME": name, "VPC_ID": vpc}
	}
	tests := []struct {
		name      string
		file      string
		group     string
		wantRules []string
	}{
		{"ssh opened to the world", "eb_authorize_sg_ingress.json", open, []string{"aws-sg-ssh-open-ipv4"}},
		{"group created open", "eb_create_sg.json", open, []string{"aws-sg-ssh-open-ipv4"}},
		{"ssh opened to an internal range", "eb_authorize_sg_ingress.json", internal, nil},
		{"group deleted since", "eb_authorize_sg_ingress.json", deleted, nil},
	}
	var eventFinding model.Finding
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := loadEvent(t, tt.file, vars(tt.group, tt.name))
			fs, err := v.Handle(ctx, Delivery{Event: ev, Environment: "prod", Subscription: "ec2-writes", Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, f := range fs {
				rules = append(rules, f.Rule)
				if f.Resource.ID != tt.group {
					t.Errorf("finding on %s, want %s", f.Resource.ID, tt.group)
				}
				eventFinding = f
			}
			if !reflect.DeepEqual(rules, tt.wantRules) {
				t.Fatalf("rules = %v, want %v (%+v)", rules, tt.wantRules, fs)
			}
			if len(fs) == 1 {
				c := fs[0].Controls
				if !reflect.DeepEqual(c["cis-aws-3.0"], []string{"5.2"}) || !reflect.DeepEqual(c["pci-dss-4.0"], []string{"1.3.1", "1.3.2"}) {
					t.Errorf("controls = %v", c)
				}
			}
		})
	}
	if eventFinding.Fingerprint == "" {
		t.Fatal("no event-time finding to compare with the scan")
	}

	// The nightly scan of the same estate reports the same finding.
	empty := filepath.Join(t.TempDir(), "empty.tfstate")
	if err := os.WriteFile(empty, []byte(`{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := scan.Run(ctx, scan.Options{
		Environment: "prod", States: []string{empty}, AllowEmptyState: true,
		Regions: []string{"us-east-1"}, Types: []string{"aws_security_group"}, Policy: set,
	})
	if err != nil {
		t.Fatal(err)
	}
	var scanned []model.Finding
	for _, f := range out.Report.Findings {
		if f.Kind == model.KindPolicyViolation {
			scanned = append(scanned, f)
		}
	}
	if len(scanned) != 1 {
		t.Fatalf("scan policy findings = %+v, want the one on %s", scanned, open)
	}
	s := scanned[0]
	if s.Fingerprint != eventFinding.Fingerprint {
		t.Errorf("fingerprint: scan %s, event %s: the same violation would be two findings", s.Fingerprint, eventFinding.Fingerprint)
	}
	if s.Rule != eventFinding.Rule || s.Message != eventFinding.Message || s.Severity != eventFinding.Severity ||
		!reflect.DeepEqual(s.Controls, eventFinding.Controls) || !reflect.DeepEqual(s.Resource, eventFinding.Resource) {
		t.Errorf("scan finding\n%+v\nevent finding\n%+v", s, eventFinding)
	}
}
