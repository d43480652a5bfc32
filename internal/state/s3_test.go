package state

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/testenv"
)

func TestLoadS3(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	client := s3.NewFromConfig(m.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	const bucket = "plumb-states"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"env/prod.tfstate":              readFixture(t, "prod.tfstate"),
		"env/staging/terraform.tfstate": stateWith("vpc-staging"),
		"env:/blue/app.tfstate":         stateWith("vpc-blue"),
		"env/prod.tfstate.backup":       stateWith("vpc-backup"),
		"notes/readme.txt":              []byte("hello"),
		"broken/x.tfstate":              []byte(`{"version": 4, "resources": [`),
		"copies/prod.tfstate":           readFixture(t, "prod.tfstate"),
		"copies/app.tfstate":            versioned("app-lineage", 9, "vpc-app-new"),
	}
	for key, body := range objects {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}

	sources := func(t *testing.T, srcs []string, opts Options) []string {
		t.Helper()
		rs, err := Load(ctx, srcs, opts)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		var out []string
		for _, r := range rs {
			if seen[r.Source] == 0 {
				out = append(out, r.Source)
			}
			seen[r.Source]++
		}
		return out
	}

	t.Run("single object through the default config chain", func(t *testing.T) {
		// StartMoto set AWS_ENDPOINT_URL, so Options{} reaches moto exactly
		// as production code reaches S3.
		rs, err := Load(ctx, []string{"s3://plumb-states/env/prod.tfstate"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 13 || rs[0].Source != "s3://plumb-states/env/prod.tfstate" || rs[0].Address != "aws_iam_role.ci" {
			t.Errorf("got %d resources, first %s from %s", len(rs), rs[0].Address, rs[0].Source)
		}
	})

	t.Run("double star over the bucket", func(t *testing.T) {
		got := sources(t, []string{"s3://plumb-states/env**.tfstate"}, Options{})
		want := []string{"s3://plumb-states/env/prod.tfstate", "s3://plumb-states/env/staging/terraform.tfstate", "s3://plumb-states/env:/blue/app.tfstate"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("star stays within one level; duplicates read once", func(t *testing.T) {
		var built atomic.Int32
		opts := Options{S3: func(context.Context) (S3API, error) { built.Add(1); return client, nil }}
		got := sources(t, []string{"s3://plumb-states/env/*.tfstate", "s3://plumb-states/env/prod.tfstate", "s3://plumb-states/env/*/terraform.tfstate"}, opts)
		want := []string{"s3://plumb-states/env/prod.tfstate", "s3://plumb-states/env/staging/terraform.tfstate"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
		if built.Load() != 1 {
			t.Errorf("S3 client built %d times, want once per Load", built.Load())
		}
	})

	t.Run("local and s3 sources together", func(t *testing.T) {
		got := sources(t, []string{"testdata/legacy_flat.tfstate", "s3://plumb-states/env/staging/terraform.tfstate"}, Options{})
		want := []string{"testdata/legacy_flat.tfstate", "s3://plumb-states/env/staging/terraform.tfstate"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("a local file and its S3 copy are one state", func(t *testing.T) {
		rs, err := Load(ctx, []string{"testdata/prod.tfstate", "s3://plumb-states/copies/prod.tfstate"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 13 || rs[0].Source != "testdata/prod.tfstate" || rs[12].Source != "testdata/prod.tfstate" {
			t.Errorf("got %d resources from %s..%s, want the 13 of the local file once", len(rs), rs[0].Source, rs[len(rs)-1].Source)
		}
		// A newer serial in S3 wins over an older local copy.
		dir := tree(t, map[string][]byte{"app.tfstate": versioned("app-lineage", 8, "vpc-app-old")})
		rs, err = Load(ctx, []string{dir + "/app.tfstate", "s3://plumb-states/copies/app.tfstate"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].ID != "vpc-app-new" || rs[0].Source != "s3://plumb-states/copies/app.tfstate" {
			t.Errorf("got %v, want vpc-app-new from S3", addresses(rs))
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			src  string
			want string
		}{
			{"s3://plumb-states/env/nope.tfstate", "read state s3://plumb-states/env/nope.tfstate: no such object"},
			{"s3://no-such-bucket/prod.tfstate", "read state s3://no-such-bucket/prod.tfstate: bucket no-such-bucket does not exist"},
			{"s3://no-such-bucket/**.tfstate", "read state s3://no-such-bucket/**.tfstate: list s3://no-such-bucket/: bucket no-such-bucket does not exist"},
			{"s3://plumb-states/nothing/**.tfstate", "read state s3://plumb-states/nothing/**.tfstate: no objects match the pattern"},
			{"s3://plumb-states", "read state s3://plumb-states: no object key"},
			{"s3://plumb-states/", "read state s3://plumb-states/: no object key"},
			{"s3:///key", "read state s3:///key: no bucket name"},
			{"s3://plumb-states/broken/*.tfstate", "read state s3://plumb-states/broken/x.tfstate: invalid JSON at line 1, column 30"},
			{"s3://plumb-states/[.tfstate", "read state s3://plumb-states/[.tfstate: bad character class"},
		}
		for _, tt := range tests {
			rs, err := Load(ctx, []string{tt.src}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %d resources, error %v\nwant %q", tt.src, len(rs), err, tt.want)
			}
		}
	})

	t.Run("client construction failure", func(t *testing.T) {
		boom := errors.New("no credentials")
		_, err := Load(ctx, []string{"s3://plumb-states/env/prod.tfstate"}, Options{S3: func(context.Context) (S3API, error) { return nil, boom }})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read state s3://plumb-states/env/prod.tfstate: S3 client: no credentials") {
			t.Errorf("got %v", err)
		}
	})
}
