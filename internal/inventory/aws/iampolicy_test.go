package aws

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/testenv"
)

// iamPrefix is the IAM service prefix of an SDK service package.
var iamPrefix = map[string]string{
	"cloudtrail": "cloudtrail", "cloudwatchlogs": "logs", "dynamodb": "dynamodb", "ec2": "ec2", "ecr": "ecr",
	"iam": "iam", "kms": "kms", "lambda": "lambda", "organizations": "organizations", "rds": "rds",
	"resourcegroupstaggingapi": "tag", "route53": "route53", "s3": "s3", "s3control": "s3", "sns": "sns",
	"sqs": "sqs", "sts": "sts",
}

// iamRenamed are the operations whose IAM action is not named after them
// ("" needs no permission).
var iamRenamed = map[string]string{
	"s3.ListBuckets":                 "s3:ListAllMyBuckets",
	"s3.GetBucketEncryption":         "s3:GetEncryptionConfiguration",
	"s3.GetPublicAccessBlock":        "s3:GetBucketPublicAccessBlock",
	"s3control.GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
	"sts.GetCallerIdentity":          "",
	"s3.HeadBucket":                  "s3:ListBucket",
}

// sdkServiceIDs maps the SDK's service ids, as middleware sees them, to
// service packages.
var sdkServiceIDs = map[string]string{
	"CloudTrail": "cloudtrail", "CloudWatch Logs": "cloudwatchlogs", "DynamoDB": "dynamodb", "EC2": "ec2",
	"ECR": "ecr", "IAM": "iam", "KMS": "kms", "Lambda": "lambda", "Organizations": "organizations", "RDS": "rds",
	"Resource Groups Tagging API": "resourcegroupstaggingapi", "Route 53": "route53", "S3": "s3",
	"S3 Control": "s3control", "SNS": "sns", "SQS": "sqs", "STS": "sts",
}

// sourceOperations lists the AWS operations the inventory's code can call,
// as "package.Operation": every SDK input type it builds.
func sourceOperations(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		services := map[string]string{} // local name -> package
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			pkg, ok := strings.CutPrefix(path, "github.com/aws/aws-sdk-go-v2/service/")
			if !ok || strings.Contains(pkg, "/") {
				continue
			}
			local := pkg
			if imp.Name != nil {
				local = imp.Name.Name
			}
			services[local] = pkg
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if pkg, ok := services[x.Name]; ok {
				if op, ok := strings.CutSuffix(sel.Sel.Name, "Input"); ok && op != "" {
					set[pkg+"."+op] = true
				}
			}
			return true
		})
	}
	// stscreds builds AssumeRole's input itself.
	set["sts.AssumeRole"] = true
	out := make([]string, 0, len(set))
	for op := range set {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// iamAction is the IAM action an operation needs ("" for none).
func iamAction(t *testing.T, op string) string {
	t.Helper()
	if a, ok := iamRenamed[op]; ok {
		return a
	}
	pkg, name, _ := strings.Cut(op, ".")
	prefix, ok := iamPrefix[pkg]
	if !ok {
		t.Fatalf("operation %s: service package %s has no IAM prefix here; add it and the action to docs/accounts.md", op, pkg)
	}
	return prefix + ":" + name
}

// securityOperations are made with plumb's own credentials, not the scan
// role's.
func securityOperation(op string) bool {
	return op == "sts.AssumeRole" || strings.HasPrefix(op, "organizations.")
}

var policyBlock = regexp.MustCompile("(?s)<!-- policy:([a-z-]+) -->\\s*```json\\n(.*?)```")

// docPolicies reads the policy documents of docs/accounts.md.
func docPolicies(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "accounts.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range policyBlock.FindAllStringSubmatch(string(data), -1) {
		var doc struct {
			Statement []struct {
				Effect string
				Action []string
			}
		}
		if err := json.Unmarshal([]byte(m[2]), &doc); err != nil {
			t.Fatalf("docs/accounts.md policy %s: %v", m[1], err)
		}
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				t.Errorf("policy %s: statement with effect %q", m[1], st.Effect)
			}
			out[m[1]] = append(out[m[1]], st.Action...)
		}
		slices.Sort(out[m[1]])
	}
	return out
}

// TestScanRolePolicy: the policies of docs/accounts.md list exactly the
// actions of the operations the code can call, the scan role's are all
// read-only, and every operation a scan of every supported type (with
// policy attributes, two accounts and organization discovery) makes
// against moto is among them.
func TestScanRolePolicy(t *testing.T) {
	ops := sourceOperations(t)
	want := map[string][]string{}
	for _, op := range ops {
		a := iamAction(t, op)
		if a == "" {
			continue
		}
		role := "scan-role"
		switch {
		case securityOperation(op):
			role = "security-account"
		case slices.Contains(readBackOperations, op):
			role = "read-back"
		}
		if !slices.Contains(want[role], a) {
			want[role] = append(want[role], a)
		}
	}
	got := docPolicies(t)
	for _, role := range []string{"scan-role", "security-account", "read-back"} {
		slices.Sort(want[role])
		if strings.Join(got[role], "\n") != strings.Join(want[role], "\n") {
			t.Errorf("docs/accounts.md policy %s:\n%s\nthe code calls:\n%s", role, strings.Join(got[role], "\n"), strings.Join(want[role], "\n"))
		}
	}
	readOnly := regexp.MustCompile(`^[a-z0-9-]+:(Describe|Get|List)[A-Za-z0-9]+$`)
	for _, a := range got["scan-role"] {
		if !readOnly.MatchString(a) {
			t.Errorf("scan role action %s is not read-only", a)
		}
	}

	// What a scan makes.
	m := testenv.StartMoto(t)
	ctx := context.Background()
	const member = "555555555555"
	cfg := m.AccountConfig(t, "us-east-1", member)
	for _, f := range allFixtures() {
		f.create(t, ctx, cfg)
	}
	if _, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt}); err != nil {
		t.Fatal(err)
	}
	org := organizations.NewFromConfig(m.Config(t, "us-east-1"))
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: "ALL"}); err != nil {
		t.Fatal(err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	record := middleware.InitializeMiddlewareFunc("plumbTestRecord", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		mu.Lock()
		seen[awsmw.GetServiceID(ctx)+"\x00"+awsmw.GetOperationName(ctx)] = true
		mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, PolicyAttributes: true, Declared: func(string, string) bool { return true }},
		config.WithAPIOptions([]func(*middleware.Stack) error{func(st *middleware.Stack) error { return st.Initialize.Add(record, middleware.After) }}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sc.ScanAccounts(ctx, []Target{{Account: member, RoleARN: "arn:aws:iam::" + member + ":role/plumb-read"}},
		&Discovery{RoleName: "plumb-read", Exclude: []string{securityAccount}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resources) == 0 {
		t.Fatal("the scan listed nothing")
	}

	// Discovery under a unit, and SNS tags read per topic when the tagging
	// API is refused.
	if _, err := sc.Resolve(ctx, nil, &Discovery{RoleName: "plumb-read", OUs: []string{aws.ToString(roots.Roots[0].Id)}}); err != nil {
		t.Fatal(err)
	}
	deny := storageIAMDenyService("Resource Groups Tagging API")
	sc2, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_sns_topic"}, Declared: func(string, string) bool { return true }},
		deny, config.WithAPIOptions([]func(*middleware.Stack) error{func(st *middleware.Stack) error { return st.Initialize.Add(record, middleware.After) }}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc2.ScanAccounts(ctx, []Target{{Account: member, RoleARN: "arn:aws:iam::" + member + ":role/plumb-read"}}, nil, Limits{}); err != nil {
		t.Fatal(err)
	}
	var observed []string
	for k := range seen {
		svc, op, _ := strings.Cut(k, "\x00")
		pkg, ok := sdkServiceIDs[svc]
		if !ok {
			t.Errorf("observed a call to service %q (%s), which this test does not know", svc, op)
			continue
		}
		observed = append(observed, pkg+"."+op)
		if !slices.Contains(ops, pkg+"."+op) {
			t.Errorf("observed %s.%s, which the code's operations do not include", pkg, op)
		}
	}
	var unobserved []string
	for _, op := range ops {
		if !slices.Contains(observed, op) {
			unobserved = append(unobserved, op)
		}
	}
	if strings.Join(unobserved, " ") != strings.Join(readBackOperations, " ") {
		t.Errorf("operations the scan did not make: %v, want %v (only the read-back ones)", unobserved, readBackOperations)
	}
	t.Logf("observed %d of %d operations; errors %d", len(observed), len(ops), len(res.Errors))
}

// readBackOperations are the operations the inventory makes only when
// enforcement reads resources back by id (Scanner.Get), never in a scan:
// a bucket is read by name (HeadBucket, then its tags). They are not in
// the scan role's policy but in the read-back one docs/accounts.md gives
// for the roles enforcement acts through. Sorted.
var readBackOperations = []string{"s3.GetBucketTagging", "s3.HeadBucket"}
