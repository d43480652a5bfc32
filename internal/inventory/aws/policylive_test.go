package aws

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/testenv"
)

// liveRuleCase gives a built-in rule one resource it must pass and one it
// must flag, both created in moto and read back by a PolicyAttributes
// scan. Each maker returns the id the live inventory reports for what it
// created (the policy subject's id).
type liveRuleCase struct {
	rule       string
	pass, fail func(t *testing.T, ctx context.Context, cfg aws.Config) string
	// singleton resources (the account password policy) exist once per
	// account: pass and fail are then checked in scans of their own.
	singleton bool
}

// liveRulesNotCovered are the built-in rules without a live example, and
// why. None is a moto gap (moto 5.2 implements every API involved); they
// are resource types the live inventory does not list (yet), or types
// that exist only in Terraform. Live, such rules never run, so they can
// only be enforced with `plumb check` on the plan. docs/policies.md lists
// the same rules.
var liveRulesNotCovered = map[string]string{
	"aws-iam-no-user-inline-policy":            "aws_iam_user_policy (inline user policies) is not listed live",
	"aws-iam-no-admin-attachment":              "aws_iam_user_policy_attachment / aws_iam_group_policy_attachment are not listed live",
	"aws-ebs-encryption-by-default":            "aws_ebs_encryption_by_default is a per-region setting, not a resource: listed, it would be unmanaged in every region",
	"aws-config-recorder-all-resources":        "aws_config_configuration_recorder (AWS Config) is not listed live",
	"aws-efs-encrypted":                        "aws_efs_file_system (EFS) is not listed live",
	"aws-sg-rule-admin-ports-open":             "aws_security_group_rule exists only in Terraform: live, its permissions are part of the group, which the aws-sg-* rules check",
	"aws-vpc-sg-ingress-rule-admin-ports-open": "aws_vpc_security_group_ingress_rule is folded into its group live, which the aws-sg-* rules check",
	"aws-default-sg-restricts-all":             "default security groups are created by AWS, listed as aws_security_group with a default reason, and left out of live evaluation",
}

// liveRulePartial are rules covered live on some of their types only.
var liveRulePartial = map[string]string{
	"aws-rds-storage-encrypted":   "aws_rds_cluster is not listed live; aws_db_instance is",
	"aws-iam-no-star-star-policy": "inline policies (aws_iam_role_policy, aws_iam_user_policy, aws_iam_group_policy) are not listed live; aws_iam_policy is",
}

func liveRuleCases() []liveRuleCase {
	var cases []liveRuleCase
	add := func(rule string, pass, fail func(*testing.T, context.Context, aws.Config) string) {
		cases = append(cases, liveRuleCase{rule: rule, pass: pass, fail: fail})
	}

	// Storage and queues.
	queue := func(name string, attrs map[string]string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
			storageIAMErr(t, "create queue", err)
			a, n, _ := sqsSplitURL(aws.ToString(o.QueueUrl))
			return sqsCanonicalURL(cfg.Region, a, n)
		}
	}
	add("aws-sqs-encrypted", queue("live-enc", map[string]string{"SqsManagedSseEnabled": "true"}), queue("live-plain", map[string]string{"SqsManagedSseEnabled": "false"}))

	topic := func(name string, attrs map[string]string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
			storageIAMErr(t, "create topic", err)
			return aws.ToString(o.TopicArn)
		}
	}
	add("aws-sns-encrypted", topic("live-enc", map[string]string{"KmsMasterKeyId": "alias/aws/sns"}), topic("live-plain", nil))

	key := func(rotate bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			c := kms.NewFromConfig(cfg)
			o, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
			storageIAMErr(t, "create key", err)
			if rotate {
				_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: o.KeyMetadata.KeyId})
				storageIAMErr(t, "enable key rotation", err)
			}
			return aws.ToString(o.KeyMetadata.KeyId)
		}
	}
	add("aws-kms-key-rotation", key(true), key(false))

	table := func(name string, sse *ddbtypes.SSESpecification) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
				TableName:            aws.String(name),
				AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
				KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
				BillingMode:          ddbtypes.BillingModePayPerRequest,
				SSESpecification:     sse,
			})
			storageIAMErr(t, "create table", err)
			return name
		}
	}
	add("aws-dynamodb-kms-encryption", table("live-enc", &ddbtypes.SSESpecification{Enabled: aws.Bool(true), SSEType: ddbtypes.SSETypeKms}), table("live-plain", nil))

	volume := func(encrypted bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := ec2.NewFromConfig(cfg).CreateVolume(ctx, &ec2.CreateVolumeInput{
				AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(8), Encrypted: aws.Bool(encrypted),
			})
			ec2Must(t, err, "CreateVolume")
			return aws.ToString(o.VolumeId)
		}
	}
	add("aws-ebs-volume-encrypted", volume(true), volume(false))

	// S3 buckets and their sub-resources.
	bucket := func(name string, setup func(t *testing.T, ctx context.Context, c *s3.Client, name string)) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			c := s3TestClient(cfg)
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
			storageIAMErr(t, "create bucket", err)
			if setup != nil {
				setup(t, ctx, c, name)
			}
			return name
		}
	}
	encrypt := func(alg s3types.ServerSideEncryption) func(*testing.T, context.Context, *s3.Client, string) {
		return func(t *testing.T, ctx context.Context, c *s3.Client, name string) {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket: aws.String(name),
				ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: alg},
				}}},
			})
			storageIAMErr(t, "put bucket encryption", err)
		}
	}
	// moto, unlike AWS since 2023, gives a new bucket no default
	// encryption: that is the failing case.
	add("aws-s3-bucket-default-encryption", bucket("live-enc-default", encrypt(s3types.ServerSideEncryptionAes256)), bucket("live-enc-none", nil))
	add("aws-s3-encryption-uses-kms", bucket("live-enc-kms", encrypt(s3types.ServerSideEncryptionAwsKms)), bucket("live-enc-aes", encrypt(s3types.ServerSideEncryptionAes256)))
	bucketPolicy := func(doc string) func(*testing.T, context.Context, *s3.Client, string) {
		return func(t *testing.T, ctx context.Context, c *s3.Client, name string) {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(strings.ReplaceAll(doc, "BUCKET", name))})
			storageIAMErr(t, "put bucket policy", err)
		}
	}
	add("aws-s3-bucket-deny-http",
		bucket("live-tls-only", bucketPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::BUCKET","arn:aws:s3:::BUCKET/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)),
		bucket("live-http-ok", bucketPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}]}`)))
	blockPublic := func(policy bool) func(*testing.T, context.Context, *s3.Client, string) {
		return func(t *testing.T, ctx context.Context, c *s3.Client, name string) {
			_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: aws.String(name),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(policy), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
				},
			})
			storageIAMErr(t, "put public access block", err)
		}
	}
	add("aws-s3-public-access-block", bucket("live-pab-all", blockPublic(true)), bucket("live-pab-partial", blockPublic(false)))
	// A companion: the block is a sub-resource; no account-level block
	// exists in the shared account, so a bucket without one fails.
	add("aws-s3-bucket-has-public-access-block", bucket("live-has-pab", blockPublic(true)), bucket("live-no-pab", nil))
	accountBlock := func(on bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			return putAccountPublicAccessBlock(t, ctx, cfg, on)
		}
	}
	cases = append(cases, liveRuleCase{rule: "aws-s3-account-public-access-block", pass: accountBlock(true), fail: accountBlock(false), singleton: true})

	// Databases.
	db := func(id string, public, minorUpgrade, encrypted bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			_, err := rds.NewFromConfig(cfg).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
				DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("postgres"),
				AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("plumb"), MasterUserPassword: aws.String("not-a-secret-1"),
				PubliclyAccessible: aws.Bool(public), AutoMinorVersionUpgrade: aws.Bool(minorUpgrade), StorageEncrypted: aws.Bool(encrypted),
			})
			storageIAMErr(t, "create DB instance", err)
			return id
		}
	}
	add("aws-rds-not-public", db("live-private", false, true, true), db("live-public", true, true, true))
	add("aws-rds-auto-minor-upgrade", db("live-upgrading", false, true, true), db("live-pinned", false, false, true))
	add("aws-rds-storage-encrypted", db("live-encrypted", false, true, true), db("live-unencrypted", false, true, false))

	// Logging.
	logGroup := func(name string, retention int32, tags map[string]string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			logsCreateGroup(t, ctx, cfg, name, retention, tags)
			return name
		}
	}
	add("aws-cloudwatch-log-retention", logGroup("/live/year", 365, nil), logGroup("/live/month", 30, nil))
	add("aws-required-tags",
		logGroup("/live/tagged", 0, map[string]string{"owner": "payments", "environment": "prod", "data-classification": "internal"}),
		logGroup("/live/untagged", 0, map[string]string{"owner": "payments"}))

	trail := func(name string, good bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			cloudtrailTestBucket(t, ctx, cfg, name+"-logs")
			in := &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String(name + "-logs")}
			if good {
				in.IsMultiRegionTrail = aws.Bool(true)
				in.EnableLogFileValidation = aws.Bool(true)
				in.KmsKeyId = aws.String("arn:aws:kms:" + cfg.Region + ":123456789012:key/11111111-2222-3333-4444-555555555555")
			}
			arn := cloudtrailCreate(t, ctx, cfg, in)
			if good {
				_, err := cloudtrail.NewFromConfig(cfg).StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)})
				storageIAMErr(t, "start logging", err)
			}
			return arn
		}
	}
	for _, rule := range []string{"aws-cloudtrail-multi-region", "aws-cloudtrail-log-file-validation", "aws-cloudtrail-kms", "aws-cloudtrail-logging-enabled"} {
		short := strings.TrimPrefix(rule, "aws-cloudtrail-")
		add(rule, trail("good-"+short, true), trail("bad-"+short, false))
	}

	flowLog := func(cidr string, traffic types.TrafficType) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			vpc := ec2CreateVPC(t, ctx, cfg, cidr, "live-flow")
			b := "live-flow-" + strings.ToLower(string(traffic))
			cloudtrailTestBucket(t, ctx, cfg, b)
			return flowLogCreate(t, ctx, cfg, str(vpc, "id"), traffic, b, nil)
		}
	}
	add("aws-flow-log-all-traffic", flowLog("10.30.0.0/16", types.TrafficTypeReject), flowLog("10.31.0.0/16", types.TrafficTypeAccept))
	vpcFlow := func(cidr string, logged bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			vpc := str(ec2CreateVPC(t, ctx, cfg, cidr, "live-vpc-flow"), "id")
			if logged {
				cloudtrailTestBucket(t, ctx, cfg, "live-vpc-flow-logs")
				flowLogCreate(t, ctx, cfg, vpc, types.TrafficTypeAll, "live-vpc-flow-logs", nil)
			}
			return vpc
		}
	}
	add("aws-vpc-flow-logs-enabled", vpcFlow("10.32.0.0/16", true), vpcFlow("10.33.0.0/16", false))

	// Identity.
	managedPolicy := func(name, doc string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			o, err := iam.NewFromConfig(cfg).CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
			storageIAMErr(t, "create policy", err)
			return aws.ToString(o.Policy.Arn)
		}
	}
	add("aws-iam-no-star-star-policy",
		managedPolicy("live-read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}`),
		managedPolicy("live-admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))

	passwordPolicy := func(in iam.UpdateAccountPasswordPolicyInput) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			iamSetPasswordPolicy(t, ctx, cfg, &in)
			return iamPasswordPolicyID
		}
	}
	strong := passwordPolicy(iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24), MaxPasswordAge: aws.Int32(90),
		RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true,
	})
	// Reuse and expiry are left unset: AWS then allows reuse and never
	// expires passwords, which the rules must flag.
	weak := passwordPolicy(iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(8), RequireNumbers: true})
	for _, rule := range []string{"aws-iam-password-min-length", "aws-iam-password-reuse", "aws-iam-password-complexity", "aws-iam-password-max-age"} {
		cases = append(cases, liveRuleCase{rule: rule, pass: strong, fail: weak, singleton: true})
	}

	// Networking.
	sg := func(name, proto string, port int32, cidr string) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			perm := types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
			if proto == "-1" {
				perm.FromPort, perm.ToPort = nil, nil
			}
			if strings.Contains(cidr, ":") {
				perm.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(cidr)}}
			} else {
				perm.IpRanges = []types.IpRange{{CidrIp: aws.String(cidr)}}
			}
			return ec2CreateTerraformSG(t, ctx, cfg, liveDefaultVPC(t, ctx, cfg), name, nil, []types.IpPermission{perm}, nil)
		}
	}
	add("aws-sg-ssh-open-ipv4", sg("live-ssh-private", "tcp", 22, "10.0.0.0/8"), sg("live-ssh-open", "tcp", 22, "0.0.0.0/0"))
	add("aws-sg-rdp-open-ipv4", sg("live-rdp-private", "tcp", 3389, "192.168.0.0/16"), sg("live-rdp-open", "tcp", 3389, "0.0.0.0/0"))
	add("aws-sg-admin-ports-open-ipv6", sg("live-https-v6", "tcp", 443, "::/0"), sg("live-ssh-v6", "tcp", 22, "::/0"))
	add("aws-sg-all-traffic-open", sg("live-https-v4", "tcp", 443, "0.0.0.0/0"), sg("live-all-open", "-1", 0, "0.0.0.0/0"))

	instance := func(tokens types.HttpTokensState, public bool) func(*testing.T, context.Context, aws.Config) string {
		return func(t *testing.T, ctx context.Context, cfg aws.Config) string {
			c := ec2.NewFromConfig(cfg)
			in := &ec2.RunInstancesInput{
				ImageId: aws.String(ec2TestImage(t, ctx, c)), InstanceType: types.InstanceTypeT3Micro,
				MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
				MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: tokens, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled},
				NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{
					DeviceIndex: aws.Int32(0), SubnetId: aws.String(liveDefaultSubnet(t, ctx, cfg)), AssociatePublicIpAddress: aws.Bool(public),
				}},
			}
			o, err := c.RunInstances(ctx, in)
			ec2Must(t, err, "RunInstances")
			return aws.ToString(o.Instances[0].InstanceId)
		}
	}
	add("aws-ec2-imdsv2", instance(types.HttpTokensStateRequired, false), instance(types.HttpTokensStateOptional, false))
	add("aws-ec2-no-public-ip", instance(types.HttpTokensStateRequired, false), instance(types.HttpTokensStateRequired, true))
	return cases
}

// liveDefaultVPC returns the id of the region's default VPC.
func liveDefaultVPC(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	o, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	ec2Must(t, err, "DescribeVpcs")
	if len(o.Vpcs) == 0 {
		t.Fatal("no default VPC")
	}
	return aws.ToString(o.Vpcs[0].VpcId)
}

// liveDefaultSubnet returns a subnet of the default VPC.
func liveDefaultSubnet(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	o, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	ec2Must(t, err, "DescribeSubnets")
	if len(o.Subnets) == 0 {
		t.Fatal("no default subnet")
	}
	return aws.ToString(o.Subnets[0].SubnetId)
}

// TestEveryBuiltinRuleLive runs every rule of the built-in packs on live
// moto resources read by a PolicyAttributes scan, the way `plumb scan
// --pack` does: each rule must pass its compliant resource and flag its
// non-compliant one, decided (not skipped) on both. A rule without a
// live example must be listed, with its reason, in liveRulesNotCovered.
func TestEveryBuiltinRuleLive(t *testing.T) {
	set, err := policy.LoadPacks(policy.Packs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := liveRuleCases()
	covered := map[string]bool{}
	for _, c := range cases {
		if set.Rule(c.rule) == nil {
			t.Errorf("live case for unknown rule %s", c.rule)
		}
		if _, ok := liveRulesNotCovered[c.rule]; ok {
			t.Errorf("rule %s has a live case but is listed as not covered", c.rule)
		}
		covered[c.rule] = true
	}
	for _, r := range set.Rules {
		if _, ok := liveRulesNotCovered[r.ID]; !covered[r.ID] && !ok {
			t.Errorf("rule %s (%v) has no live example and no reason in liveRulesNotCovered", r.ID, r.Resources)
		}
	}
	for id, why := range liveRulesNotCovered {
		t.Logf("no live example for %s: %s", id, why)
	}
	for id, why := range liveRulePartial {
		t.Logf("live example for %s on some types only: %s", id, why)
	}

	m := testenv.StartMoto(t)
	ctx := context.Background()

	// decide scans the account and returns the decided outcomes by rule
	// and subject id; it fails the test on evaluation errors.
	decide := func(t *testing.T) map[[2]string]policy.Outcome {
		t.Helper()
		sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, PolicyAttributes: true})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := sc.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Errors) > 0 {
			t.Fatalf("scan errors: %+v", inv.Errors)
		}
		var own []model.Resource
		for _, r := range inv.Resources {
			if r.Default == "" {
				own = append(own, r)
			}
		}
		res, err := set.EvaluateLive(ctx, PolicySubjects(own), PolicyCoverage(inv))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Errors {
			t.Errorf("rule %s on %s: %v", o.Rule.ID, o.Subject.ID, o.Err)
		}
		out := map[[2]string]policy.Outcome{}
		for _, o := range res.Decided {
			out[[2]string{o.Rule.ID, o.Subject.ID}] = o
		}
		return out
	}
	check := func(t *testing.T, got map[[2]string]policy.Outcome, rule, id string, violated bool) {
		t.Helper()
		o, ok := got[[2]string{rule, id}]
		switch {
		case !ok:
			t.Errorf("%s not decided on %s: no such subject, or skipped for lack of an attribute it names (%v)", rule, id, policy.RuleAttributes(set.Rule(rule).Deny))
		case o.Violated != violated:
			t.Errorf("%s on %s: violated = %v, want %v", rule, id, o.Violated, violated)
		}
	}

	t.Run("shared account", func(t *testing.T) {
		type made struct{ pass, fail string }
		ids := map[string]made{}
		cfg := m.Config(t, "us-east-1")
		for _, c := range cases {
			if !c.singleton {
				ids[c.rule] = made{c.pass(t, ctx, cfg), c.fail(t, ctx, cfg)}
			}
		}
		got := decide(t)
		rules := make([]string, 0, len(ids))
		for r := range ids {
			rules = append(rules, r)
		}
		sort.Strings(rules)
		for _, r := range rules {
			check(t, got, r, ids[r].pass, false)
			check(t, got, r, ids[r].fail, true)
		}
	})
	for _, phase := range []string{"pass", "fail"} {
		t.Run("singletons "+phase, func(t *testing.T) {
			m.Reset(t)
			cfg := m.Config(t, "us-east-1")
			made := map[string]string{}
			for _, c := range cases {
				if !c.singleton {
					continue
				}
				mk := c.pass
				if phase == "fail" {
					mk = c.fail
				}
				made[c.rule] = mk(t, ctx, cfg)
			}
			got := decide(t)
			for rule, id := range made {
				check(t, got, rule, id, phase == "fail")
			}
		})
	}
}

// TestLiveRulesNotCoveredAreDocumented keeps docs/policies.md's list of
// rules without live evaluation in step with the test's.
func TestLiveRulesNotCoveredAreDocumented(t *testing.T) {
	doc, err := readRepoFile("docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for id := range liveRulesNotCovered {
		if !strings.Contains(doc, "`"+id+"`") {
			t.Errorf("docs/policies.md does not list %s among the rules without live evaluation", id)
		}
	}
	for id := range liveRulePartial {
		if !strings.Contains(doc, "`"+id+"`") {
			t.Errorf("docs/policies.md does not mention %s, covered live on some types only", id)
		}
	}
}

// readRepoFile reads a file relative to the module root.
func readRepoFile(rel string) (string, error) {
	b, err := os.ReadFile("../../../" + rel)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", rel, err)
	}
	return string(b), nil
}
