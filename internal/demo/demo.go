// Package demo sets up the small estate of plumb's demo and end-to-end
// tests: a Terraform configuration applied with the real AWS provider to
// moto, then three changes made behind Terraform's back. The demo command
// and the tests share it so what the README shows is what CI checks.
package demo

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/testenv"
)

//go:embed terraform/main.tf
var files embed.FS

// Names of what the out-of-band changes touch.
const (
	UnmanagedBucket = "plumb-demo-unmanaged"
	DeletedQueue    = "plumb-demo-jobs"
	ChangedVPCName  = "plumb-demo"
)

// Apply writes the demo configuration into dir and applies it against the
// moto endpoint. It returns the path of the state file Terraform wrote.
func Apply(ctx context.Context, tf *testenv.Terraform, dir, endpoint string) (string, error) {
	src, err := files.ReadFile("terraform/main.tf")
	if err != nil {
		return "", fmt.Errorf("read embedded demo configuration: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		return "", fmt.Errorf("write demo configuration: %w", err)
	}
	tf.Env["TF_VAR_endpoint"] = endpoint
	if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
		return "", err
	}
	if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return "", err
	}
	return filepath.Join(dir, "terraform.tfstate"), nil
}

// Drift makes the three out-of-band changes of the demo: a bucket created
// in the console, a queue deleted by hand, and a tag edited on the VPC.
func Drift(ctx context.Context, cfg aws.Config) error {
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(UnmanagedBucket)}); err != nil {
		return fmt.Errorf("create unmanaged bucket: %w", err)
	}
	sqsc := sqs.NewFromConfig(cfg)
	q, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(DeletedQueue)})
	if err != nil {
		return fmt.Errorf("find queue %s: %w", DeletedQueue, err)
	}
	if _, err := sqsc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}); err != nil {
		return fmt.Errorf("delete queue: %w", err)
	}
	ec2c := ec2.NewFromConfig(cfg)
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{ChangedVPCName}}}})
	if err != nil {
		return fmt.Errorf("find VPC %s: %w", ChangedVPCName, err)
	}
	if len(vpcs.Vpcs) != 1 {
		return fmt.Errorf("find VPC %s: found %d", ChangedVPCName, len(vpcs.Vpcs))
	}
	if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{aws.ToString(vpcs.Vpcs[0].VpcId)},
		Tags:      []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
	}); err != nil {
		return fmt.Errorf("retag VPC: %w", err)
	}
	return nil
}
