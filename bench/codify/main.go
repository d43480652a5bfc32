// Command codify measures plumb codify on 50 unmanaged resources: it
// starts moto_server on 127.0.0.1, applies a small root module (one VPC)
// with the real AWS provider, creates buckets, security groups with rules
// in that VPC, and queues behind Terraform's back, scans them and
// codifies every unmanaged one. Printed: wall time, the time Terraform
// ran (generation, provider schemas, proof plans), the number of
// Terraform runs, and plumb's own share (wall time minus Terraform).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/codify"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

func main() {
	n := flag.Int("n", 50, "unmanaged resources to create and codify")
	keep := flag.Bool("keep", false, "keep the root module directory and print its path")
	flag.Parse()
	if err := run(context.Background(), *n, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "codify bench:", err)
		os.Exit(1)
	}
}

const rootModule = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "bench-main"
  }
}
`

func run(ctx context.Context, n int, keep bool) error {
	moto, stop, err := testenv.StartMotoProcess()
	if err != nil {
		return err
	}
	defer stop()
	for k, v := range moto.Env() {
		os.Setenv(k, v)
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		return err
	}
	mirror, err := testenv.FindProviderMirror()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "plumb-codify-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	tf, err := testenv.NewTerraformIn(dir, bin, mirror)
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(rootModule+testenv.MotoProvider(moto.Endpoint)), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"apply", "-auto-approve", "-input=false", "-no-color"}} {
		if _, err := tf.Run(ctx, root, args...); err != nil {
			return err
		}
	}

	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(moto.Endpoint))
	if err != nil {
		return err
	}
	if err := build(ctx, cfg, n); err != nil {
		return err
	}

	t0 := time.Now()
	out, err := scan.Run(ctx, scan.Options{
		Environment: "bench", States: []string{filepath.Join(root, "terraform.tfstate")},
		Regions: []string{"us-east-1"}, Types: []string{"aws_s3_bucket", "aws_security_group", "aws_sqs_queue", "aws_vpc"}, Concurrency: 8,
	})
	if err != nil {
		return err
	}
	chosen, err := codify.Select(out.Report.Findings, codify.Selection{}, "the scan")
	if err != nil {
		return err
	}
	fmt.Printf("scan: %d unmanaged findings in %.1f s\n", len(chosen), time.Since(t0).Seconds())

	res, err := codify.Run(ctx, chosen, codify.Options{
		Dir: root, Bin: bin, Env: []string{"TF_CLI_CONFIG_FILE=" + tf.CLIConfig}, Environment: "bench",
		Progress: codify.ProgressPrinter(os.Stderr, false, true, 15*time.Second),
	})
	if err != nil {
		return err
	}
	own := res.Total - res.Terraform
	fmt.Printf("codify: %d adopted, %d left out, in %.1f s: terraform %.1f s in %d runs, plumb's own work %.3f s\n",
		len(res.Adopted), len(res.Skipped), res.Total.Seconds(), res.Terraform.Seconds(), res.TerraformRuns, own.Seconds())
	for _, s := range res.Skipped {
		fmt.Printf("  left out: %s %s: %s\n", s.Finding.Resource.Type, s.Finding.Resource.ID, s.Reason)
	}
	if keep {
		fmt.Println("root module kept in", root)
	}
	return nil
}

// build creates n unmanaged resources: a third buckets, a third
// security groups with two rules in the managed VPC, a third queues.
func build(ctx context.Context, cfg aws.Config, n int) error {
	ec2c := ec2.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"bench-main"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		return fmt.Errorf("find the managed VPC: %v", err)
	}
	vpc := vpcs.Vpcs[0].VpcId
	for i := 0; i < n; i++ {
		name := "bench-" + strconv.Itoa(i)
		switch i % 3 {
		case 0:
			if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
				return err
			}
			if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{
				TagSet: []s3types.Tag{{Key: aws.String("Name"), Value: aws.String(name + " bucket")}},
			}}); err != nil {
				return err
			}
		case 1:
			sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("bench " + name), VpcId: vpc})
			if err != nil {
				return err
			}
			if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{
				{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
				{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}},
			}}); err != nil {
				return err
			}
		default:
			if _, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{"MaximumMessageSize": "262144"}}); err != nil {
				return err
			}
		}
	}
	return nil
}
