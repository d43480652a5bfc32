// Command motoscan measures a live scan: it starts moto_server on
// 127.0.0.1, creates an estate of about 2,000 tagged resources across the
// supported services, scans it once with plumb's AWS inventory and prints
// the wall time and the AWS API calls per resource (every HTTP attempt is
// counted by SDK middleware).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/testenv"
)

// mix is the estate: resources per kind, about 2,000 in all, weighted
// the way real accounts are (network and IAM heavy).
type mix struct {
	vpcs, subnetsPerVPC, groups, queues, buckets, roles, users, policies, logGroups, tables, topics, keys, repos int
}

func main() {
	scale := flag.Float64("scale", 1, "multiply the estate size")
	flag.Parse()
	m := mix{vpcs: 20, subnetsPerVPC: 10, groups: 400, queues: 300, buckets: 150, roles: 300, users: 100, policies: 100, logGroups: 250, tables: 60, topics: 30, keys: 20, repos: 20}
	if *scale != 1 {
		f := func(n int) int { return int(float64(n) * *scale) }
		m = mix{f(m.vpcs), m.subnetsPerVPC, f(m.groups), f(m.queues), f(m.buckets), f(m.roles), f(m.users), f(m.policies), f(m.logGroups), f(m.tables), f(m.topics), f(m.keys), f(m.repos)}
	}
	if err := run(context.Background(), m); err != nil {
		fmt.Fprintln(os.Stderr, "motoscan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, m mix) error {
	moto, stop, err := testenv.StartMotoProcess()
	if err != nil {
		return err
	}
	defer stop()
	for k, v := range moto.Env() {
		os.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(moto.Endpoint))
	if err != nil {
		return err
	}
	t0 := time.Now()
	created, err := build(ctx, cfg, m)
	if err != nil {
		return err
	}
	fmt.Printf("estate: %d resources created in moto in %.1f s\n", created, time.Since(t0).Seconds())

	// Two scenarios bound a real scan: nothing declared (every resource
	// unmanaged: no per-resource detail calls) and everything declared
	// (tags read for every resource whose type needs a call for them).
	for _, sc := range []struct {
		name     string
		declared func(typ, id string) bool
	}{
		{"nothing declared", func(string, string) bool { return false }},
		{"everything declared", func(string, string) bool { return true }},
	} {
		if err := scanOnce(ctx, sc.name, sc.declared); err != nil {
			return err
		}
	}
	return nil
}

func scanOnce(ctx context.Context, name string, declared func(typ, id string) bool) error {
	s, err := awsinv.New(ctx, awsinv.Options{Regions: []string{"us-east-1"}, Declared: declared})
	if err != nil {
		return err
	}
	t1 := time.Now()
	inv, err := s.Scan(ctx)
	if err != nil {
		return err
	}
	wall := time.Since(t1)
	if len(inv.Errors) > 0 {
		return fmt.Errorf("scan errors: %+v", inv.Errors)
	}
	fmt.Printf("\n-- scan, %s\n", name)
	byType := map[string]int{}
	for _, r := range inv.Resources {
		byType[r.Type]++
	}
	var types []string
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	var parts []string
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(t, "aws_"), byType[t]))
	}
	n := len(inv.Resources)
	fmt.Printf("listed: %d resources (%s)\n", n, strings.Join(parts, " "))
	fmt.Printf("scan wall time: %.2f s   API calls: %d (HTTP attempts %d)   calls per resource: %.3f   (goal <= 0.05)\n",
		wall.Seconds(), inv.APICalls, inv.APIAttempts, float64(inv.APICalls)/float64(n))
	var svc []string
	for k, v := range s.APICallsByService() {
		svc = append(svc, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(svc)
	fmt.Printf("calls by service: %s\n", strings.Join(svc, " "))
	return nil
}

// build creates the estate with bounded parallelism.
func build(ctx context.Context, cfg aws.Config, m mix) (int, error) {
	tags := func(i int) []ec2types.Tag {
		return []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(fmt.Sprintf("bench-%d", i))}, {Key: aws.String("team"), Value: aws.String("bench")}}
	}
	ec2c := ec2.NewFromConfig(cfg)
	var jobs []func() error
	count := 0
	for v := 0; v < m.vpcs; v++ {
		vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(fmt.Sprintf("10.%d.0.0/16", v)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc, Tags: tags(v)}}})
		if err != nil {
			return 0, fmt.Errorf("create vpc: %w", err)
		}
		count++
		vpcID := aws.ToString(vpc.Vpc.VpcId)
		for s := 0; s < m.subnetsPerVPC; s++ {
			cidr := fmt.Sprintf("10.%d.%d.0/24", v, s)
			jobs = append(jobs, func() error {
				_, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr),
					TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet, Tags: tags(s)}}})
				return err
			})
		}
		for g := 0; g < m.groups/max(m.vpcs, 1); g++ {
			name := fmt.Sprintf("bench-sg-%d-%d", v, g)
			jobs = append(jobs, func() error {
				_, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("bench"), VpcId: aws.String(vpcID),
					TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: tags(g)}}})
				return err
			})
		}
	}
	sqsc := sqs.NewFromConfig(cfg)
	for i := 0; i < m.queues; i++ {
		jobs = append(jobs, func() error {
			_, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("bench-q-%d", i)), Tags: map[string]string{"team": "bench"}})
			return err
		})
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for i := 0; i < m.buckets; i++ {
		jobs = append(jobs, func() error {
			b := aws.String(fmt.Sprintf("bench-bucket-%d", i))
			if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
				return err
			}
			_, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}}})
			return err
		})
	}
	iamc := iam.NewFromConfig(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	itags := []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}
	for i := 0; i < m.roles; i++ {
		jobs = append(jobs, func() error {
			_, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(fmt.Sprintf("bench-role-%d", i)), AssumeRolePolicyDocument: aws.String(trust), Tags: itags})
			return err
		})
	}
	for i := 0; i < m.users; i++ {
		jobs = append(jobs, func() error {
			_, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("bench-user-%d", i)), Tags: itags})
			return err
		})
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	for i := 0; i < m.policies; i++ {
		jobs = append(jobs, func() error {
			_, err := iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("bench-policy-%d", i)), PolicyDocument: aws.String(pol), Tags: itags})
			return err
		})
	}
	logc := cloudwatchlogs.NewFromConfig(cfg)
	for i := 0; i < m.logGroups; i++ {
		jobs = append(jobs, func() error {
			_, err := logc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(fmt.Sprintf("/bench/%d", i)), Tags: map[string]string{"team": "bench"}})
			return err
		})
	}
	ddb := dynamodb.NewFromConfig(cfg)
	for i := 0; i < m.tables; i++ {
		jobs = append(jobs, func() error {
			_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(fmt.Sprintf("bench-table-%d", i)), BillingMode: ddbtypes.BillingModePayPerRequest,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
				KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
				Tags:                 []ddbtypes.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}})
			return err
		})
	}
	snsc := sns.NewFromConfig(cfg)
	for i := 0; i < m.topics; i++ {
		jobs = append(jobs, func() error {
			_, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("bench-topic-%d", i)), Tags: []snstypes.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}})
			return err
		})
	}
	kmsc := kms.NewFromConfig(cfg)
	for i := 0; i < m.keys; i++ {
		jobs = append(jobs, func() error {
			_, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("bench"), Tags: []kmstypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("bench")}}})
			return err
		})
	}
	ecrc := ecr.NewFromConfig(cfg)
	for i := 0; i < m.repos; i++ {
		jobs = append(jobs, func() error {
			_, err := ecrc.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("bench-repo-%d", i)), Tags: []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}})
			return err
		})
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 16)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(j func() error) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := j(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(j)
	}
	wg.Wait()
	return count + len(jobs), first
}
