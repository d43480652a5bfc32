package codify_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/codify"
	"plumb/internal/model"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

// estate is a Terraform root module applied against moto, plus resources
// created behind its back.
type estate struct {
	moto *testenv.Moto
	tf   *testenv.Terraform
	dir  string
	env  []string
}

// newEstate copies testdata/e2e into a temporary root module, points the
// AWS provider at moto, and applies it.
func newEstate(t *testing.T) *estate {
	t.Helper()
	m := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "e2e", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.tf"), src)
	write(t, filepath.Join(dir, "provider.tf"), []byte(testenv.MotoProvider(m.Endpoint)))
	ctx := context.Background()
	if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	return &estate{moto: m, tf: tf, dir: dir, env: []string{"TF_CLI_CONFIG_FILE=" + tf.CLIConfig}}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// scanEstate runs plumb's scan over the root module's state.
func (e *estate) scan(t *testing.T, types ...string) *scan.Outcome {
	t.Helper()
	out, err := scan.Run(context.Background(), scan.Options{
		Environment: "prod",
		States:      []string{filepath.Join(e.dir, "terraform.tfstate")},
		Regions:     []string{"us-east-1"},
		Types:       types,
		Concurrency: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Partial() {
		t.Fatalf("partial scan: %+v", out.Report.Errors)
	}
	return out
}

// outOfBand creates, with the AWS SDK, what an engineer made by hand:
// a bucket, a security group with rules in the managed VPC, two queues
// and an instance, and a tag on the managed bucket.
type outOfBand struct {
	sgID, instanceID string
}

func makeOutOfBand(t *testing.T, e *estate) outOfBand {
	t.Helper()
	ctx := context.Background()
	cfg := e.moto.Config(t, "us-east-1")
	ec2c := ec2.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	var o outOfBand

	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs-tmp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("logs-tmp"), Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{{Key: aws.String("Name"), Value: aws.String("incident logs")}},
	}}); err != nil {
		t.Fatal(err)
	}
	// A tag added by hand to the managed bucket.
	if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("codify-data"), Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{
			{Key: aws.String("Team"), Value: aws.String("storage")},
			{Key: aws.String("Tier"), Value: aws.String("gold")},
			{Key: aws.String("Owner"), Value: aws.String("alice")},
		},
	}}); err != nil {
		t.Fatal(err)
	}

	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"codify-main"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("find the managed VPC: %v", err)
	}
	vpcID := aws.ToString(vpcs.Vpcs[0].VpcId)
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
	if err != nil || len(subnets.Subnets) != 1 {
		t.Fatalf("find the managed subnet: %v", err)
	}
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("web"), Description: aws.String("web servers"), VpcId: aws.String(vpcID),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o.sgID = aws.ToString(sg.GroupId)
	if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: sg.GroupId,
		IpPermissions: []ec2types.IpPermission{
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	// A queue created with a message size the provider accepts, and one
	// with moto's defaults, which report a size the provider rejects.
	_, err = sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs"), Attributes: map[string]string{
		string(sqstypes.QueueAttributeNameMaximumMessageSize): "262144",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("legacy")}); err != nil {
		t.Fatal(err)
	}
	// A managed queue deleted by hand.
	old, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("codify-old")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqsc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: old.QueueUrl}); err != nil {
		t.Fatal(err)
	}

	images, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("moto has no AMI: %v", err)
	}
	inst, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: subnets.Subnets[0].SubnetId, SecurityGroupIds: []string{o.sgID},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("redis-hotfix")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o.instanceID = aws.ToString(inst.Instances[0].InstanceId)
	return o
}

var e2eTypes = []string{"aws_s3_bucket", "aws_security_group", "aws_sqs_queue", "aws_instance", "aws_vpc", "aws_subnet"}

// TestCodifyAgainstMoto is the whole story with real Terraform and the
// real AWS provider: resources made by hand are found unmanaged, codify
// adopts them (the queue whose generated code cannot converge is left out
// and named), accepts a tag added by hand into main.tf keeping its
// comments, and proves the result with terraform plan. Then terraform
// apply imports them, a scan finds none of them unmanaged any more, and
// terraform plan is clean.
func TestCodifyAgainstMoto(t *testing.T) {
	e := newEstate(t)
	ob := makeOutOfBand(t, e)
	ctx := context.Background()

	before := e.scan(t, e2eTypes...)
	chosen, err := codify.Select(before.Report.Findings, codify.Selection{AcceptMissing: true}, "the scan")
	if err != nil {
		t.Fatal(err)
	}
	var progress []codify.Progress
	res, err := codify.Run(ctx, chosen, codify.Options{
		Dir: e.dir, Bin: e.tf.Bin, Env: e.env, Environment: "prod",
		Now:      func() time.Time { return time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC) },
		Progress: func(p codify.Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("terraform %s in %d runs, total %s, plumb's own work %s", res.Terraform, res.TerraformRuns, res.Total, res.Total-res.Terraform)

	adopted := map[string]codify.Adopted{}
	for _, a := range res.Adopted {
		adopted[a.Finding.Resource.ID] = a
		adopted[a.Finding.Resource.Name] = a
	}
	for id, addr := range map[string]string{
		"logs-tmp":    "aws_s3_bucket.incident_logs",
		ob.sgID:       "aws_security_group.web",
		"jobs":        "aws_sqs_queue.jobs",
		ob.instanceID: "aws_instance.redis_hotfix",
	} {
		a, ok := adopted[id]
		if !ok {
			t.Errorf("%s (%s) not adopted; skipped: %+v", id, addr, res.Skipped)
			continue
		}
		if a.Address != addr {
			t.Errorf("%s adopted as %s, want %s", id, a.Address, addr)
		}
	}
	if len(res.Adopted) != 4 {
		t.Errorf("adopted %d resources, want 4: %+v", len(res.Adopted), res.Adopted)
	}
	// The queue with moto's default message size cannot converge: named,
	// with the argument and Terraform's reason.
	var legacy *codify.Skipped
	for i, s := range res.Skipped {
		if s.Finding.Resource.Name == "legacy" {
			legacy = &res.Skipped[i]
		}
	}
	if legacy == nil {
		t.Fatalf("the legacy queue is neither adopted nor skipped: %+v", res.Skipped)
	}
	if !strings.Contains(legacy.Reason, "does not converge") || !strings.Contains(legacy.Reason, "max_message_size") {
		t.Errorf("legacy queue reason = %q, want it to name max_message_size and non-convergence", legacy.Reason)
	}
	if len(res.Accepted) != 1 || res.Accepted[0].Address != "aws_s3_bucket.data" {
		t.Fatalf("accepted = %+v, want the tag on aws_s3_bucket.data", res.Accepted)
	}
	if len(res.Removed) != 1 || res.Removed[0].Address != "aws_sqs_queue.old" {
		t.Errorf("removed = %+v, want the deleted queue", res.Removed)
	}
	if len(progress) == 0 || !progress[len(progress)-1].Finished {
		t.Errorf("no progress reported for the Terraform runs: %+v", progress)
	}

	files := map[string]codify.FileChange{}
	for _, f := range res.Files {
		files[f.Path] = f
	}
	gen, ok := files["adopted_2026-05-14.tf"]
	if !ok {
		t.Fatalf("no adopted_2026-05-14.tf in %+v", res.Files)
	}
	text := string(gen.New)
	t.Logf("%s:\n%s", gen.Path, text)
	for _, want := range []string{
		`to = aws_security_group.web`,
		`vpc_id = aws_vpc.main.id`,
		`subnet_id = aws_subnet.a.id`,
		`vpc_security_group_ids = [aws_security_group.web.id]`,
		`from_port = 22`,
		`from_port = 443`,
		`removed { from = aws_sqs_queue.old lifecycle { destroy = false } }`,
	} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("adopted file lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"tags_all", "legacy", "ipv6_address_count"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("adopted file contains %q:\n%s", unwanted, text)
		}
	}
	// A null is written only where leaving it out changed the plan.
	restored := map[string]bool{}
	for _, a := range res.Adopted {
		for _, k := range a.Restored {
			restored[k] = true
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(v) == "null" && !restored[strings.TrimSpace(k)] {
			t.Errorf("null argument %s written though not needed", strings.TrimSpace(k))
		}
	}
	mainTF, ok := files["main.tf"]
	if !ok {
		t.Fatalf("main.tf not edited: %+v", res.Files)
	}
	golden(t, filepath.Join("testdata", "e2e", "main.tf.golden"), mainTF.New)

	if err := res.Write(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tf.Run(ctx, e.dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	out, err := e.tf.Run(ctx, e.dir, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("terraform plan after the apply is not clean: %v\n%s", err, out)
	}

	state, err := e.tf.Run(ctx, e.dir, "state", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(state), "aws_sqs_queue.old") {
		t.Errorf("the removed queue is still in the state:\n%s", state)
	}
	after := e.scan(t, e2eTypes...)
	for _, f := range after.Report.Findings {
		if f.Kind == model.KindUnmanaged && f.Resource.Name != "legacy" {
			t.Errorf("still unmanaged after the apply: %s %s", f.Resource.Type, f.Resource.ID)
		}
		if f.Kind == model.KindChanged || f.Kind == model.KindMissing {
			t.Errorf("still drifted after the apply: %s %+v", f.Message, f.Changes)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	// The -update flag is declared by the package's internal tests.
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		write(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
