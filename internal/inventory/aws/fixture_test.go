package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// fixture creates one resource of a supported type in moto, the way
// Terraform would, and says what Terraform's state would hold for it. The
// end-to-end tests use fixtures to check every type three ways: in sync
// with a matching state, unmanaged without one, missing once deleted.
type fixture struct {
	// typ is the Terraform type (aws_sqs_queue).
	typ string
	// create makes the resource (and whatever it needs, e.g. a VPC for a
	// subnet) in region us-east-1 and returns the attributes the AWS
	// provider 5.x writes to state for it: at least id, arn where the type
	// has one, tags and tags_all, and every attribute the type compares.
	// Prerequisites it creates must be returned in extra so the tests can
	// declare them too (they would otherwise be reported unmanaged).
	create func(t *testing.T, ctx context.Context, cfg aws.Config) (attrs map[string]any, extra []extraResource)
	// remove deletes the resource out of band (prerequisites stay).
	remove func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any)
	// change alters the resource out of band so that drift.changed must
	// be reported; it returns the attribute path expected in the changes
	// (for example "tags.env"). nil when the type has nothing comparable.
	change func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) (path string)
}

// extraResource is a prerequisite a fixture created, with its state.
type extraResource struct {
	typ   string
	attrs map[string]any
}

// allFixtures gathers every service's fixtures.
func allFixtures() []fixture {
	var all []fixture
	for _, group := range [][]fixture{
		ec2Fixtures(),
		s3Fixtures(),
		iamFixtures(),
		dynamodbFixtures(),
		sqsFixtures(),
		snsFixtures(),
		rdsFixtures(),
		lambdaFixtures(),
		kmsFixtures(),
		ecrFixtures(),
		logsFixtures(),
		route53Fixtures(),
		cloudtrailFixtures(),
		flowLogFixtures(),
		iamPasswordPolicyFixtures(),
		s3AccountFixtures(),
	} {
		all = append(all, group...)
	}
	return all
}
