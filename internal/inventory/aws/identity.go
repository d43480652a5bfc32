package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"plumb/internal/inventory"
)

// refusedCodes are the STS answers that mean "these credentials are not
// valid here": wrong, expired, or for another partition.
var refusedCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"UnrecognizedClientException": true,
	"InvalidAccessKeyId":          true,
	"AccessDenied":                true,
	"AuthFailure":                 true,
	"IncompleteSignature":         true,
	"RequestExpired":              true,
	"InvalidToken":                true,
}

// CheckIdentity asks STS who the credentials belong to and returns the
// account id. It is the gate of a scan: before anything is listed it
// finds out, within Options.IdentityTimeout, whether AWS can be reached
// and accepts the credentials, and says what is wrong in one
// *inventory.AccessError instead of one SDK error per service and
// region.
func (s *Scanner) CheckIdentity(ctx context.Context) (string, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opts.IdentityTimeout)
	defer cancel()
	cfg := s.cfg.Copy()
	if cfg.Region == "" {
		cfg.Region = s.opts.Regions[0]
	}
	if cfg.Credentials == nil {
		return "", noCredentials(errors.New("no credential provider is configured"))
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", s.identityErr(ctx, cfg, err, true, "", time.Since(start))
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", s.identityErr(ctx, cfg, err, false, credentialSource(creds), time.Since(start))
	}
	if out.Account == nil || *out.Account == "" {
		return "", &inventory.AccessError{Provider: "aws", Reason: inventory.AccessFailed,
			Message: "AWS STS GetCallerIdentity answered without an account id"}
	}
	return *out.Account, nil
}

// identityErr turns a failed identity check into the one sentence a
// person acts on.
func (s *Scanner) identityErr(ctx context.Context, cfg aws.Config, err error, retrieving bool, source string, took time.Duration) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("AWS identity check: %w", ctx.Err())
	}
	endpoint, from := stsEndpoint(cfg)
	where := endpoint
	if from != "" {
		where += " (" + from + ")"
	}
	if isTransport(err) || errors.Is(err, context.DeadlineExceeded) {
		cause := shortCause(err)
		if errors.Is(err, context.DeadlineExceeded) || cause == "no answer in time" {
			cause = fmt.Sprintf("no answer within %s", took.Round(time.Second))
		}
		return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessUnreachable, Err: err,
			Message: fmt.Sprintf("cannot reach AWS at %s: %s", where, cause)}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if refusedCodes[apiErr.ErrorCode()] {
			msg := "AWS refused the credentials"
			if source != "" {
				msg += " " + source
			}
			return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessRefused, Err: err,
				Message: msg + ": " + shortCause(err)}
		}
		return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessFailed, Err: err,
			Message: fmt.Sprintf("AWS identity check (STS GetCallerIdentity at %s) failed: %s", where, shortCause(err))}
	}
	if retrieving {
		if strings.Contains(err.Error(), "EC2 IMDS") || strings.Contains(err.Error(), "no credential") {
			return noCredentials(err)
		}
		return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessNoCredentials, Err: err,
			Message: "cannot get AWS credentials: " + credentialCause(err)}
	}
	return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessFailed, Err: err,
		Message: fmt.Sprintf("AWS identity check (STS GetCallerIdentity at %s) failed: %s", where, shortCause(err))}
}

// noCredentials is the message for an empty credential chain.
func noCredentials(err error) error {
	return &inventory.AccessError{Provider: "aws", Reason: inventory.AccessNoCredentials, Err: err,
		Message: "no AWS credentials found: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
			"or sign in with `aws sso login`, or run where an instance or task role is available"}
}

// credentialCause drops the SDK's "failed to refresh cached credentials"
// wrapping of a credential provider's error.
func credentialCause(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"failed to refresh cached credentials, ", "get credentials: "} {
		if i := strings.LastIndex(msg, prefix); i >= 0 {
			msg = msg[i+len(prefix):]
		}
	}
	return msg
}

// credentialSource says where the credentials came from, in the names a
// person set them with.
func credentialSource(c aws.Credentials) string {
	switch {
	case c.Source == "":
		return ""
	case strings.HasPrefix(c.Source, "EnvConfigCredentials"):
		return "from AWS_ACCESS_KEY_ID"
	case strings.HasPrefix(c.Source, "SharedConfigCredentials"):
		return "from the shared credentials file"
	case strings.HasPrefix(c.Source, "StaticCredentials"):
		return "given to plumb"
	}
	return "from " + c.Source
}

// stsEndpoint is where the identity check goes, and the setting that chose
// it (empty for AWS's own regional endpoint).
func stsEndpoint(cfg aws.Config) (string, string) {
	if v := os.Getenv("AWS_ENDPOINT_URL_STS"); v != "" && !ignoreConfiguredEndpoints() {
		return v, "AWS_ENDPOINT_URL_STS"
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		if os.Getenv("AWS_ENDPOINT_URL") == *cfg.BaseEndpoint {
			return *cfg.BaseEndpoint, "AWS_ENDPOINT_URL"
		}
		return *cfg.BaseEndpoint, "endpoint_url of the AWS configuration"
	}
	return "https://sts." + cfg.Region + ".amazonaws.com", ""
}

func ignoreConfiguredEndpoints() bool {
	return strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
}
