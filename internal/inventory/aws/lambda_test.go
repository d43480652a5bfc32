package aws

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"plumb/internal/testenv"
)

func lambdaFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_lambda_function",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				role := lambdaCreateRole(t, ctx, cfg, "plumb-fn-role")
				fn := lambdaCreateFunction(t, ctx, cfg, "plumb-fn", aws.ToString(role.Arn), map[string]string{"env": "dev"})
				tags := map[string]any{"env": "dev"}
				arn := aws.ToString(fn.FunctionArn)
				attrs := map[string]any{
					"id":                             aws.ToString(fn.FunctionName),
					"function_name":                  aws.ToString(fn.FunctionName),
					"arn":                            arn,
					"qualified_arn":                  arn + ":$LATEST",
					"invoke_arn":                     "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + arn + "/invocations",
					"role":                           aws.ToString(fn.Role),
					"handler":                        aws.ToString(fn.Handler),
					"runtime":                        string(fn.Runtime),
					"memory_size":                    float64(aws.ToInt32(fn.MemorySize)),
					"timeout":                        float64(aws.ToInt32(fn.Timeout)),
					"package_type":                   "Zip",
					"architectures":                  []any{"x86_64"},
					"filename":                       "fn.zip",
					"publish":                        false,
					"version":                        "$LATEST",
					"source_code_size":               float64(fn.CodeSize),
					"code_sha256":                    aws.ToString(fn.CodeSha256),
					"description":                    "",
					"layers":                         []any{},
					"reserved_concurrent_executions": float64(-1),
					"tags":                           tags,
					"tags_all":                       tags,
				}
				roleAttrs := map[string]any{
					"id":                    aws.ToString(role.RoleName),
					"name":                  aws.ToString(role.RoleName),
					"arn":                   aws.ToString(role.Arn),
					"unique_id":             aws.ToString(role.RoleId),
					"path":                  "/",
					"assume_role_policy":    lambdaAssumeRolePolicy,
					"description":           "",
					"max_session_duration":  float64(3600),
					"force_detach_policies": false,
					"tags":                  map[string]any{},
					"tags_all":              map[string]any{},
				}
				return attrs, []extraResource{{typ: "aws_iam_role", attrs: roleAttrs}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				if _, err := lambda.NewFromConfig(cfg).DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(str(attrs, "function_name"))}); err != nil {
					t.Fatalf("delete function: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := lambda.NewFromConfig(cfg).UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
					FunctionName: aws.String(str(attrs, "function_name")),
					MemorySize:   aws.Int32(256),
				})
				if err != nil {
					t.Fatalf("update function memory: %v", err)
				}
				return "memory_size"
			},
		},
	}
}

const lambdaAssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func lambdaCreateRole(t *testing.T, ctx context.Context, cfg aws.Config, name string) *iamtypes.Role {
	t.Helper()
	out, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(lambdaAssumeRolePolicy),
	})
	if err != nil {
		t.Fatalf("create role %s: %v", name, err)
	}
	return out.Role
}

func lambdaCreateFunction(t *testing.T, ctx context.Context, cfg aws.Config, name, role string, tags map[string]string) *lambda.CreateFunctionOutput {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("index.py")
	if err == nil {
		_, err = w.Write([]byte("def handler(event, context):\n    return 1\n"))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatalf("build zip: %v", err)
	}
	out, err := lambda.NewFromConfig(cfg).CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(role),
		Runtime:      lambdatypes.RuntimePython312,
		Handler:      aws.String("index.handler"),
		Code:         &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
		Tags:         tags,
	})
	if err != nil {
		t.Fatalf("create function %s: %v", name, err)
	}
	return out
}

// appFailedTagSession returns a session whose tag indexes for region have
// already failed to load, as they do when tag:GetResources is denied.
func appFailedTagSession(cfg aws.Config, region string) *session {
	s := newSession(cfg, 4)
	for _, svc := range []string{tagsSQS, tagsLambda, tagsDynamoDB, tagsKMS, tagsLogs, tagsS3} {
		ti := &tagIndex{region: region, err: errors.New("AccessDeniedException: not authorized to perform tag:GetResources")}
		ti.once.Do(func() {})
		s.tags[region+"|"+svc] = ti
	}
	return s
}

func TestLambdaFixtures(t *testing.T) { appCheckFixtures(t, lambdaFixtures()) }

func TestLambdaListers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	regions := []string{"us-east-1", "eu-west-1"}

	t.Run("fresh account lists nothing", func(t *testing.T) {
		if got := appNonDefault(appScan(t, ctx, regions, "aws_lambda_function")); len(got) != 0 {
			t.Fatalf("want no functions, got %v", appIDs(got))
		}
	})

	east, west := m.Config(t, "us-east-1"), m.Config(t, "eu-west-1")
	role := aws.ToString(lambdaCreateRole(t, ctx, east, "fn-role").Arn)
	// moto ignores MaxItems and returns every function in one page, so
	// paging is not exercised here; the count stays within one page of 50
	// to keep the call count below exact on AWS too.
	for i := range 5 {
		var tags map[string]string
		if i%2 == 0 {
			tags = map[string]string{"n": fmt.Sprint(i)}
		}
		lambdaCreateFunction(t, ctx, east, fmt.Sprintf("fn-%02d", i), role, tags)
	}
	lambdaCreateFunction(t, ctx, west, "fn-west", role, map[string]string{"env": "prod", "aws:cloudformation:stack-id": "x"})

	s, err := New(ctx, Options{Regions: regions, Types: []string{"aws_lambda_function"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(ctx)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, res.Errors)
	}
	if n := len(res.Resources); n != 6 {
		t.Fatalf("want 6 functions, got %d", n)
	}
	tests := []struct {
		region, id string
		tags       map[string]string
	}{
		{"us-east-1", "fn-00", map[string]string{"n": "0"}},
		{"us-east-1", "fn-01", map[string]string{}},
		{"us-east-1", "fn-04", map[string]string{"n": "4"}},
		{"eu-west-1", "fn-west", map[string]string{"env": "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.id, func(t *testing.T) {
			r, ok := appFind(res, "aws_lambda_function", tt.region, tt.id)
			if !ok {
				t.Fatalf("%s not listed", tt.id)
			}
			appCheckResource(t, r, tt.tags, map[string]any{
				"runtime": "python3.12", "memory_size": float64(128), "timeout": float64(3), "handler": "index.handler",
			})
			if want := fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", tt.region, tt.id); r.ARN != want {
				t.Errorf("ARN = %q, want %q", r.ARN, want)
			}
		})
	}
	// STS, then per region one ListFunctions page and one tagging page.
	if want := int64(1 + 2 + 2); res.APICalls != want {
		t.Errorf("API calls = %d, want %d", res.APICalls, want)
	}

	t.Run("tag index unavailable", func(t *testing.T) {
		out, err := listLambdaFunctions(ctx, appFailedTagSession(west, "eu-west-1"), "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].ID != "fn-west" || out[0].Tags != nil {
			t.Fatalf("want fn-west with unknown (nil) tags, got %+v", out)
		}
	})
}

func TestLambdaFromState(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		name   string
		attrs  map[string]any
		wantOK bool
		wantID string
		want   map[string]any
	}{
		{
			name: "zip function",
			attrs: map[string]any{
				"id": "api", "function_name": "api", "arn": "arn:aws:lambda:eu-west-1:123456789012:function:api",
				"runtime": "nodejs20.x", "memory_size": float64(512), "timeout": float64(30), "handler": "index.handler",
				"tags": nil, "tags_all": map[string]any{"owner": "ops"},
			},
			wantOK: true, wantID: "api",
			want: map[string]any{"runtime": "nodejs20.x", "memory_size": float64(512), "timeout": float64(30), "handler": "index.handler"},
		},
		{
			name: "image function has no runtime or handler",
			attrs: map[string]any{
				"id": "img", "function_name": "img", "package_type": "Image", "runtime": "", "handler": "",
				"memory_size": float64(1024), "timeout": float64(3),
			},
			wantOK: true, wantID: "img",
			want: map[string]any{"runtime": "", "memory_size": float64(1024), "timeout": float64(3), "handler": ""},
		},
		{
			name:   "attributes missing from state are not invented",
			attrs:  map[string]any{"id": "bare"},
			wantOK: true, wantID: "bare",
			want: map[string]any{},
		},
		{name: "no name", attrs: map[string]any{"runtime": "go1.x"}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState("aws_lambda_function", tt.attrs)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if r.ID != tt.wantID || r.Type != "aws_lambda_function" {
				t.Errorf("got %s %q, want aws_lambda_function %q", r.Type, r.ID, tt.wantID)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) {
				t.Errorf("Attributes = %#v, want %#v", r.Attributes, tt.want)
			}
		})
	}
	r, _ := m.FromState("aws_lambda_function", tests[0].attrs)
	if r.Region != "eu-west-1" || !reflect.DeepEqual(r.Tags, map[string]string{"owner": "ops"}) {
		t.Errorf("region %q tags %v", r.Region, r.Tags)
	}
}
