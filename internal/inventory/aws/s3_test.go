package aws

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// s3Fixtures creates one tagged bucket the way aws_s3_bucket does.
func s3Fixtures() []fixture {
	const name = "plumb-fixture-bucket"
	return []fixture{{
		typ: "aws_s3_bucket",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			c := s3TestClient(cfg)
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
				t.Fatalf("create bucket: %v", err)
			}
			s3TestTag(t, ctx, c, name, map[string]string{"env": "test", "team": "storage"})
			return s3BucketState(name, cfg.Region, map[string]string{"env": "test", "team": "storage"}), nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			if _, err := s3TestClient(cfg).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(str(attrs, "bucket"))}); err != nil {
				t.Fatalf("delete bucket: %v", err)
			}
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			s3TestTag(t, ctx, s3TestClient(cfg), str(attrs, "bucket"), map[string]string{"env": "prod", "team": "storage"})
			return "tags.env"
		},
	}}
}

// s3BucketState is what AWS provider 5.100 writes for a plain bucket.
func s3BucketState(name, region string, tags map[string]string) map[string]any {
	return map[string]any{
		"id":                          name,
		"bucket":                      name,
		"bucket_prefix":               "",
		"arn":                         "arn:aws:s3:::" + name,
		"region":                      region,
		"bucket_domain_name":          name + ".s3.amazonaws.com",
		"bucket_regional_domain_name": name + ".s3." + region + ".amazonaws.com",
		"hosted_zone_id":              "Z3AQBSTGFYJSTF",
		"acceleration_status":         "",
		"force_destroy":               false,
		"object_lock_enabled":         false,
		"request_payer":               "BucketOwner",
		"policy":                      "",
		"tags":                        storageIAMAnyMap(tags),
		"tags_all":                    storageIAMAnyMap(tags),
		"versioning":                  []any{map[string]any{"enabled": false, "mfa_delete": false}},
	}
}

func s3TestClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func s3TestTag(t *testing.T, ctx context.Context, c *s3.Client, bucket string, tags map[string]string) {
	t.Helper()
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
		t.Fatalf("tag bucket %s: %v", bucket, err)
	}
}

func TestS3Fixtures(t *testing.T) {
	storageIAMFixtureRoundTrip(t, s3Fixtures())
}

func TestS3ListBuckets(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	east := s3TestClient(m.Config(t, "us-east-1"))
	west := s3TestClient(m.Config(t, "eu-west-1"))
	for _, b := range []string{"plumb-east-a", "plumb-east-b"} {
		if _, err := east.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	s3TestTag(t, ctx, east, "plumb-east-a", map[string]string{"env": "dev"})
	if _, err := west.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("plumb-west"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
	}); err != nil {
		t.Fatal(err)
	}
	s3TestTag(t, ctx, west, "plumb-west", map[string]string{"env": "eu"})

	type want struct {
		region string
		tags   map[string]string
	}
	for _, tc := range []struct {
		name    string
		regions []string
		want    map[string]want
	}{
		{"one region sees only its buckets", []string{"us-east-1"}, map[string]want{
			"plumb-east-a": {"us-east-1", map[string]string{"env": "dev"}},
			"plumb-east-b": {"us-east-1", map[string]string{}},
		}},
		{"each bucket in its own region", []string{"us-east-1", "eu-west-1"}, map[string]want{
			"plumb-east-a": {"us-east-1", map[string]string{"env": "dev"}},
			"plumb-east-b": {"us-east-1", map[string]string{}},
			"plumb-west":   {"eu-west-1", map[string]string{"env": "eu"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, calls := storageIAMScan(t, ctx, tc.regions, []string{"aws_s3_bucket"})
			got := map[string]want{}
			for _, r := range res.Resources {
				got[r.ID] = want{r.Region, r.Tags}
				if r.ARN != "arn:aws:s3:::"+r.ID || r.Account != "123456789012" {
					t.Errorf("%s: arn %q account %q", r.ID, r.ARN, r.Account)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("buckets = %v, want %v", got, tc.want)
			}
			for _, region := range tc.regions {
				if !res.Complete("aws_s3_bucket", region) {
					t.Errorf("aws_s3_bucket not complete in %s", region)
				}
			}
			// STS, then ListBuckets and one tagging page per region.
			if max := int64(1 + 2*len(tc.regions)); calls > max {
				t.Errorf("%d API calls, want at most %d", calls, max)
			}
		})
	}

	t.Run("tag index failure leaves tags unknown", func(t *testing.T) {
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_s3_bucket"}, storageIAMDenyService("Resource Groups Tagging API"))
		if len(res.Resources) != 2 {
			t.Fatalf("got %d buckets, want 2", len(res.Resources))
		}
		for _, r := range res.Resources {
			if r.Tags != nil {
				t.Errorf("%s: tags %v, want nil (unknown)", r.ID, r.Tags)
			}
		}
	})
}

func TestS3BucketFromState(t *testing.T) {
	mapper := NewMapper()
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  model.Resource
		ok    bool
	}{
		{
			name:  "provider 5.x state",
			attrs: s3BucketState("logs", "eu-west-1", map[string]string{"env": "prod"}),
			want: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "logs", Region: "eu-west-1", Name: "logs",
				ARN: "arn:aws:s3:::logs", Tags: map[string]string{"env": "prod"}},
			ok: true,
		},
		{
			name: "tags_all wins over tags (default_tags)",
			attrs: map[string]any{"id": "b", "bucket": "b", "arn": "arn:aws:s3:::b", "region": "us-east-1",
				"tags": nil, "tags_all": map[string]any{"owner": "platform"}},
			want: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "b", Region: "us-east-1", Name: "b",
				ARN: "arn:aws:s3:::b", Tags: map[string]string{"owner": "platform"}},
			ok: true,
		},
		{
			name:  "only id",
			attrs: map[string]any{"id": "b"},
			want:  model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "b", Name: "b", ARN: "arn:aws:s3:::b"},
			ok:    true,
		},
		{name: "no name", attrs: map[string]any{"arn": ""}, ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapper.FromState("aws_s3_bucket", tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// The helpers below are shared by the S3, IAM, DynamoDB, SQS and SNS tests.

// storageIAMScan runs a real scan of some types against the test's moto
// and fails the test on any scope error. It returns the result and the
// number of API calls the scan sent.
func storageIAMScan(t *testing.T, ctx context.Context, regions, types []string, loadOpts ...func(*config.LoadOptions) error) (*inventory.Result, int64) {
	t.Helper()
	sc, err := New(ctx, Options{Regions: regions, Types: types}, loadOpts...)
	if err != nil {
		t.Fatalf("new scanner: %v", err)
	}
	res, err := sc.Scan(ctx)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("scan errors: %+v", res.Errors)
	}
	return res, sc.APICalls()
}

// storageIAMDenyService makes every call to one AWS service fail with
// AccessDenied, as a missing IAM permission would.
func storageIAMDenyService(serviceID string) func(*config.LoadOptions) error {
	return storageIAMDenyWhen(func(ctx context.Context) bool { return awsmw.GetServiceID(ctx) == serviceID })
}

// storageIAMDenyWhen makes the calls deny selects fail with AccessDenied
// before they are sent.
func storageIAMDenyWhen(deny func(ctx context.Context) bool) func(*config.LoadOptions) error {
	mw := middleware.InitializeMiddlewareFunc("plumbTestDeny", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if deny(ctx) {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied by test"}
		}
		return next.HandleInitialize(ctx, in)
	})
	return config.WithAPIOptions([]func(*middleware.Stack) error{
		func(st *middleware.Stack) error { return st.Initialize.Add(mw, middleware.Before) },
	})
}

// storageIAMFind returns the listed resource of a type and id.
func storageIAMFind(res *inventory.Result, typ, id string) (model.Resource, bool) {
	for _, r := range res.Resources {
		if r.Type == typ && r.ID == id {
			return r, true
		}
	}
	return model.Resource{}, false
}

// storageIAMDiff lists the paths where a desired and a live resource
// differ, the way the drift engine compares them: tags when both sides know
// them, and the type's compared attributes both sides fill in.
func storageIAMDiff(typ string, desired, live model.Resource) []string {
	var paths []string
	if desired.Tags != nil && live.Tags != nil {
		keys := map[string]bool{}
		for k := range desired.Tags {
			keys[k] = true
		}
		for k := range live.Tags {
			keys[k] = true
		}
		for k := range keys {
			dv, dok := desired.Tags[k]
			lv, lok := live.Tags[k]
			if dok != lok || dv != lv {
				paths = append(paths, "tags."+k)
			}
		}
	}
	for _, l := range allListers() {
		if l.Name != typ {
			continue
		}
		for _, key := range l.Compared {
			dv, dok := desired.Attributes[key]
			lv, lok := live.Attributes[key]
			if dok && lok && !reflect.DeepEqual(dv, lv) {
				paths = append(paths, key)
			}
		}
	}
	sort.Strings(paths)
	return paths
}

// storageIAMFixtureRoundTrip checks each fixture the three ways the
// end-to-end tests do: in sync with its state (and nothing else of the
// scanned types left unmanaged), changed after the out-of-band change, and
// gone after removal.
func storageIAMFixtureRoundTrip(t *testing.T, fixtures []fixture) {
	t.Helper()
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, "us-east-1")
	mapper := NewMapper()
	regions := []string{"us-east-1"}
	for _, fx := range fixtures {
		t.Run(fx.typ, func(t *testing.T) {
			m.Reset(t)
			attrs, extra := fx.create(t, ctx, cfg)
			desired := map[string]model.Resource{}
			typeSet := map[string]bool{fx.typ: true}
			want, ok := mapper.FromState(fx.typ, attrs)
			if !ok {
				t.Fatalf("FromState(%s) not ok for %v", fx.typ, attrs)
			}
			desired[fx.typ+"|"+want.ID] = want
			for _, e := range extra {
				r, ok := mapper.FromState(e.typ, e.attrs)
				if !ok {
					t.Fatalf("FromState(%s) not ok for extra %v", e.typ, e.attrs)
				}
				desired[r.Type+"|"+r.ID] = r
				typeSet[e.typ] = true
			}
			var types []string
			for typ := range typeSet {
				types = append(types, typ)
			}
			res, _ := storageIAMScan(t, ctx, regions, types)
			for _, live := range res.Resources {
				d, managed := desired[live.Type+"|"+live.ID]
				if !managed {
					if live.Default == "" {
						t.Errorf("unmanaged %s %s", live.Type, live.ID)
					}
					continue
				}
				if live.Region != d.Region {
					t.Errorf("%s %s: live region %q, state region %q", live.Type, live.ID, live.Region, d.Region)
				}
				if diff := storageIAMDiff(live.Type, d, live); len(diff) > 0 {
					t.Errorf("%s %s in sync but differs at %v\nstate %+v\nlive  %+v", live.Type, live.ID, diff, d, live)
				}
				if d.Tags == nil || live.Tags == nil {
					t.Errorf("%s %s: tags not known on both sides (state %v, live %v)", live.Type, live.ID, d.Tags, live.Tags)
				}
				delete(desired, live.Type+"|"+live.ID)
			}
			for k := range desired {
				t.Errorf("declared but not listed: %s", k)
			}

			if fx.change != nil {
				path := fx.change(t, ctx, cfg, attrs)
				res, _ := storageIAMScan(t, ctx, regions, []string{fx.typ})
				live, ok := storageIAMFind(res, fx.typ, want.ID)
				if !ok {
					t.Fatalf("%s %s not listed after change", fx.typ, want.ID)
				}
				diff := storageIAMDiff(fx.typ, want, live)
				if !storageIAMContains(diff, path) {
					t.Errorf("after change, differences %v do not include %q", diff, path)
				}
			}

			fx.remove(t, ctx, cfg, attrs)
			res, _ = storageIAMScan(t, ctx, regions, []string{fx.typ})
			if _, ok := storageIAMFind(res, fx.typ, want.ID); ok {
				t.Errorf("%s %s still listed after removal", fx.typ, want.ID)
			}
			if !res.Complete(fx.typ, storageIAMScope(fx.typ, "us-east-1")) {
				t.Errorf("%s not complete", fx.typ)
			}
		})
	}
}

// storageIAMScope is the region a type is completed under: "" for global
// types.
func storageIAMScope(typ, region string) string {
	for _, l := range allListers() {
		if l.Name == typ && l.Global {
			return ""
		}
	}
	return region
}

func storageIAMContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// storageIAMAnyMap turns tags into the shape Terraform state decodes to.
func storageIAMAnyMap(tags map[string]string) map[string]any {
	out := make(map[string]any, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// storageIAMNames makes n distinct names with a prefix.
func storageIAMNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// storageIAMErr is a helper for table tests that expect no error.
func storageIAMErr(t *testing.T, what string, err error) {
	t.Helper()
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		t.Fatalf("%s: %s: %s", what, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
