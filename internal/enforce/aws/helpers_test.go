package aws_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

const region = "us-east-1"

// memRecorder is an enforce.Recorder keeping what an execution reports
// in memory, with the store's first-save-wins rule.
type memRecorder struct {
	mu     sync.Mutex
	before json.RawMessage
	calls  []enforce.Call
}

func (r *memRecorder) SaveBefore(_ context.Context, v any) (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.before != nil {
		return r.before, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	r.before = b
	return b, nil
}

func (r *memRecorder) Call(c enforce.Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// ops lists the operations recorded, writes only when writes is set.
func (r *memRecorder) ops(writes bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if !writes || c.Write {
			out = append(out, c.Operation)
		}
	}
	return out
}

// newExecutor builds the executor the way plumb does, pointed at moto by
// the environment testenv.StartMoto set.
func newExecutor(t *testing.T, loadOpts ...func(*awsconfig.LoadOptions) error) *enforceaws.Executor {
	t.Helper()
	ex, err := enforceaws.New(context.Background(), loadOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// listed returns the resource of a type as plumb's inventory lists it
// (its import id, region, account and tags), found by a predicate.
func listed(t *testing.T, typ string, match func(model.Resource) bool) model.Resource {
	t.Helper()
	sc, err := awsinv.New(context.Background(), awsinv.Options{Types: []string{typ}, Regions: []string{region}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sc.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("inventory of %s: %+v", typ, res.Errors)
	}
	for _, r := range res.Resources {
		if r.Type == typ && match(r) {
			return r
		}
	}
	t.Fatalf("inventory lists no matching %s among %d resources", typ, len(res.Resources))
	return model.Resource{}
}

func byName(name string) func(model.Resource) bool {
	return func(r model.Resource) bool { return r.Name == name || r.ID == name }
}

func byID(id string) func(model.Resource) bool {
	return func(r model.Resource) bool { return r.ID == id }
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func amiID(t *testing.T, ctx context.Context, c *ec2.Client) string {
	t.Helper()
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	must(t, err, "DescribeImages")
	if len(out.Images) == 0 {
		t.Fatal("moto offers no AMI")
	}
	return aws.ToString(out.Images[0].ImageId)
}

func lambdaRole(t *testing.T, ctx context.Context, cfg aws.Config, name string) string {
	t.Helper()
	out, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err, "CreateRole")
	return aws.ToString(out.Role.Arn)
}

func createFunction(t *testing.T, ctx context.Context, cfg aws.Config, name, role string) {
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
	must(t, err, "zip")
	_, err = lambda.NewFromConfig(cfg).CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(role), Runtime: lambdatypes.RuntimePython312,
		Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
	})
	must(t, err, "CreateFunction")
}

// startMoto starts moto for the test and returns fixture configuration.
func startMoto(t *testing.T) (*testenv.Moto, aws.Config) {
	t.Helper()
	m := testenv.StartMoto(t)
	return m, m.Config(t, region)
}
