package aws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/testenv"
)

// putAccountPublicAccessBlock sets the account-level S3 public access
// block (all four settings on or off) and returns the account id, the
// block's id.
func putAccountPublicAccessBlock(t *testing.T, ctx context.Context, cfg aws.Config, on bool) string {
	t.Helper()
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	storageIAMErr(t, "get caller identity", err)
	account := aws.ToString(who.Account)
	_, err = s3controlClient(cfg).PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{
		AccountId: aws.String(account),
		PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(on), BlockPublicPolicy: aws.Bool(on), IgnorePublicAcls: aws.Bool(on), RestrictPublicBuckets: aws.Bool(on),
		},
	})
	storageIAMErr(t, "put account public access block", err)
	return account
}

// s3AccountFixtures: the account-level public access block, an account
// setting read only for policy scans, meets its state under the account id.
func s3AccountFixtures() []fixture {
	return []fixture{{
		typ: s3AccountPublicAccessType,
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			account := putAccountPublicAccessBlock(t, ctx, cfg, true)
			return map[string]any{
				"id": account, "account_id": account,
				"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true,
			}, nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := s3controlClient(cfg).DeletePublicAccessBlock(ctx, &s3control.DeletePublicAccessBlockInput{AccountId: aws.String(str(attrs, "id"))})
			storageIAMErr(t, "delete account public access block", err)
		},
	}}
}

func s3controlClient(cfg aws.Config) *s3control.Client {
	return s3control.NewFromConfig(cfg, func(o *s3control.Options) {
		if o.BaseEndpoint != nil {
			u, _ := url.Parse(*o.BaseEndpoint)
			o.EndpointResolverV2 = hostPinned{next: s3control.NewDefaultEndpointResolverV2(), host: u.Host}
		}
	})
}

// denyPublicAccessBlock fronts moto with a proxy that answers every
// bucket's GetPublicAccessBlock (GET /BUCKET?publicAccessBlock) with
// AccessDenied, and forwards everything else.
func denyPublicAccessBlock(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["publicAccessBlock"]; ok && !strings.HasPrefix(r.URL.Path, "/v20180820/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCompanionRulesLive runs the companion rules on a moto estate: a
// bucket with and without its own public access block, then with the
// account-level block as the alternative; a VPC with and without a flow
// log; and a scan that did not list flow logs, where the VPC rule must not
// be decided either way.
func TestCompanionRulesLive(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, "us-east-1")
	set, err := policy.Builtin("cis-aws-3.0")
	if err != nil {
		t.Fatal(err)
	}

	c := s3TestClient(cfg)
	for _, b := range []string{"companion-own", "companion-bare"} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		storageIAMErr(t, "create bucket", err)
	}
	_, err = c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: aws.String("companion-own"),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	})
	storageIAMErr(t, "put public access block", err)
	logged := str(ec2CreateVPC(t, ctx, cfg, "10.40.0.0/16", "companion-logged"), "id")
	unlogged := str(ec2CreateVPC(t, ctx, cfg, "10.41.0.0/16", "companion-unlogged"), "id")
	cloudtrailTestBucket(t, ctx, cfg, "companion-flow-logs")
	flowLogCreate(t, ctx, cfg, logged, types.TrafficTypeAll, "companion-flow-logs", nil)

	// evaluate scans and returns each (rule, id) verdict.
	evaluate := func(t *testing.T, typ ...string) map[[2]string]string {
		t.Helper()
		sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: typ, PolicyAttributes: true})
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
		out := map[[2]string]string{}
		for _, o := range res.Decided {
			v := "pass"
			if o.Violated {
				v = "violated"
			}
			out[[2]string{o.Rule.ID, o.Subject.ID}] = v
		}
		for _, o := range res.Skipped {
			out[[2]string{o.Rule.ID, o.Subject.ID}] = "not evaluated: " + o.Reason()
		}
		for _, o := range res.Errors {
			t.Errorf("%s on %s: %v", o.Rule.ID, o.Subject.ID, o.Err)
		}
		return out
	}
	const bucketRule, flowRule = "aws-s3-bucket-has-public-access-block", "aws-vpc-flow-logs-enabled"
	expect := func(t *testing.T, got map[[2]string]string, want map[[2]string]string) {
		t.Helper()
		for k, w := range want {
			if g := got[k]; g != w {
				t.Errorf("%s on %s: %q, want %q", k[0], k[1], g, w)
			}
		}
	}

	t.Run("present and absent", func(t *testing.T) {
		expect(t, evaluate(t), map[[2]string]string{
			{bucketRule, "companion-own"}:  "pass",
			{bucketRule, "companion-bare"}: "violated",
			{flowRule, logged}:             "pass",
			{flowRule, unlogged}:           "violated",
		})
	})
	t.Run("flow logs not listed", func(t *testing.T) {
		got := evaluate(t, "aws_vpc")
		for _, id := range []string{logged, unlogged} {
			if g := got[[2]string{flowRule, id}]; !strings.HasPrefix(g, "not evaluated: aws_flow_log") || !strings.Contains(g, "not listed in us-east-1") {
				t.Errorf("%s on %s without a flow log listing: %q, want not evaluated", flowRule, id, g)
			}
		}
	})
	t.Run("blocks that could not be read", func(t *testing.T) {
		// GetPublicAccessBlock is denied for every bucket (the two above
		// and the flow logs' bucket): whether the buckets have a block is
		// not known, so the rule decides nothing.
		t.Setenv("AWS_ENDPOINT_URL", denyPublicAccessBlock(t, m.Endpoint))
		got := evaluate(t)
		for _, b := range []string{"companion-own", "companion-bare"} {
			if g := got[[2]string{bucketRule, b}]; !strings.HasPrefix(g, "not evaluated: aws_s3_bucket_public_access_block") || !strings.Contains(g, "could not be read for 3 bucket(s) in us-east-1") {
				t.Errorf("%s on %s with the block unreadable: %q, want not evaluated", bucketRule, b, g)
			}
		}
	})
	t.Run("account-level alternative", func(t *testing.T) {
		account := putAccountPublicAccessBlock(t, ctx, cfg, true)
		expect(t, evaluate(t), map[[2]string]string{
			{bucketRule, "companion-own"}:                   "pass",
			{bucketRule, "companion-bare"}:                  "pass",
			{"aws-s3-account-public-access-block", account}: "pass",
		})
	})
}
