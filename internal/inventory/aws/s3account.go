package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// s3AccountPublicAccessType is the account-level S3 public access block:
// one per account, read through S3 Control. It is what a bucket without a
// block of its own falls back on, so the companion rule
// aws-s3-bucket-has-public-access-block needs it live.
const s3AccountPublicAccessType = "aws_s3_account_public_access_block"

// s3AccountListers reads the account's public access block. It is a
// setting rather than a resource a team creates, and reading it costs a
// call that a drift scan does not need, so it is listed only for policy
// evaluation (policyOnly); its import id is the account id.
func s3AccountListers() []lister {
	return []lister{{
		Type:       inventory.Type{Name: s3AccountPublicAccessType, Service: "s3control", Global: true},
		list:       listS3AccountPublicAccessBlock,
		fromState:  s3AccountPublicAccessFromState,
		policyOnly: true,
	}}
}

func listS3AccountPublicAccessBlock(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	if s.account == "" {
		return nil, errors.New("the account id is unknown (sts:GetCallerIdentity failed), so the account's public access block cannot be read")
	}
	cfg := s.config("")
	client := s3control.NewFromConfig(cfg, func(o *s3control.Options) {
		if o.BaseEndpoint != nil {
			if u, err := url.Parse(*o.BaseEndpoint); err == nil && u.Host != "" {
				o.EndpointResolverV2 = hostPinned{next: s3control.NewDefaultEndpointResolverV2(), host: u.Host}
			}
		}
	})
	out, err := client.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(s.account)})
	switch {
	case err != nil && apiErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get the account's S3 public access block: %w", err)
	case out.PublicAccessBlockConfiguration == nil:
		return nil, nil
	}
	c := out.PublicAccessBlockConfiguration
	// An omitted setting is off, as AWS applies it and as the provider
	// records it.
	return []model.Resource{{
		ID:      s.account,
		Account: s.account,
		Name:    s.account,
		Attributes: map[string]any{
			"account_id":              s.account,
			"block_public_acls":       aws.ToBool(c.BlockPublicAcls),
			"block_public_policy":     aws.ToBool(c.BlockPublicPolicy),
			"ignore_public_acls":      aws.ToBool(c.IgnorePublicAcls),
			"restrict_public_buckets": aws.ToBool(c.RestrictPublicBuckets),
		},
	}}, nil
}

// s3AccountPublicAccessFromState maps the state instance: its id is the
// account id.
func s3AccountPublicAccessFromState(attrs map[string]any) (model.Resource, bool) {
	id := str(attrs, "account_id")
	if id == "" {
		id = str(attrs, "id")
	}
	if id == "" {
		return model.Resource{}, false
	}
	return model.Resource{ID: id, Account: id, Name: id}, true
}

// hostPinned keeps S3 Control requests on a custom endpoint's host. The
// service puts the account id in front of the host name
// (123456789012.s3-control.us-east-1.amazonaws.com), which an endpoint such
// as moto or LocalStack on an IP address cannot serve; the account id also
// travels in the x-amz-account-id header, which is what they read.
type hostPinned struct {
	next s3control.EndpointResolverV2
	host string
}

func (h hostPinned) ResolveEndpoint(ctx context.Context, p s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	ep, err := h.next.ResolveEndpoint(ctx, p)
	if err != nil {
		return ep, err
	}
	ep.URI.Host = h.host
	return ep, nil
}
