package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/report"
	"plumb/internal/testenv"
)

// orgAccounts are the accounts of the multi-account test: three read
// through their roles, the fourth's role refused.
var orgAccounts = []string{"111111111111", "222222222222", "333333333333", "444444444444"}

// orgState declares, in each account through its own provider
// configuration, a queue and a table of one name and a bucket. The
// bucket's ARN names no account: its account comes from its provider
// configuration.
func orgState() string {
	var res []string
	for i, acct := range orgAccounts {
		alias := string(rune('a' + i))
		provider := fmt.Sprintf(`provider[\"registry.terraform.io/hashicorp/aws\"].%s`, alias)
		res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_sqs_queue", "name": "jobs_%[2]s", "provider": "%[3]s",
      "instances": [{"schema_version": 0, "attributes": {"id": "https://sqs.us-east-1.amazonaws.com/%[1]s/jobs", "name": "jobs",
        "arn": "arn:aws:sqs:us-east-1:%[1]s:jobs", "url": "https://sqs.us-east-1.amazonaws.com/%[1]s/jobs", "tags": {}, "tags_all": {}}}]}`, acct, alias, provider))
		if acct == orgAccounts[3] {
			continue
		}
		res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_dynamodb_table", "name": "orders_%[2]s", "provider": "%[3]s",
      "instances": [{"schema_version": 1, "attributes": {"id": "orders", "name": "orders",
        "arn": "arn:aws:dynamodb:us-east-1:%[1]s:table/orders", "tags": {}, "tags_all": {}}}]}`, acct, alias, provider))
		res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_s3_bucket", "name": "logs_%[1]s", "provider": "%[2]s",
      "instances": [{"schema_version": 0, "attributes": {"id": "logs-%[1]s", "bucket": "logs-%[1]s",
        "arn": "arn:aws:s3:::logs-%[1]s", "region": "us-east-1", "tags": {}, "tags_all": {}}}]}`, alias, provider))
	}
	return `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "0d0e0f00-0000-4000-8000-0000000000aa", "outputs": {},
  "resources": [` + strings.Join(res, ",\n") + `]}`
}

// TestScanAccountsCommand: plumb scan --config reads the accounts of the
// --env environment through AssumeRole from the security account (moto's
// default one). Drift in two accounts is reported with the right account;
// the account whose role is refused is a partial scan of that account
// only (its queue not evaluated, never missing); an ignore rule naming
// one account leaves another's resource reported.
//
// Without --state the environment's own states are scanned.
func TestScanAccountsCommand(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	denied := "arn:aws:iam::444444444444:role/plumb-read"
	proxy := testenv.RequestFaultProxy(t, m.Endpoint, func(service string, form url.Values) *testenv.Fault {
		if service == "sts" && form.Get("Action") == "AssumeRole" && form.Get("RoleArn") == denied {
			return testenv.AssumeRoleDenied(denied)
		}
		return nil
	})
	for i, acct := range orgAccounts[:3] {
		cfg := m.AccountConfig(t, "us-east-1", acct)
		q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs")})
		if err != nil {
			t.Fatal(err)
		}
		_, err = dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"),
			BillingMode:          ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}}})
		if err != nil {
			t.Fatal(err)
		}
		alias := string(rune('a' + i))
		for _, b := range []string{"logs-" + alias, "extra-" + alias} {
			if _, err := s3.NewFromConfig(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				t.Fatal(err)
			}
		}
		switch acct {
		case orgAccounts[0]: // changed in account a
			if _, err := sqs.NewFromConfig(cfg).TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: q.QueueUrl, Tags: map[string]string{"env": "prod"}}); err != nil {
				t.Fatal(err)
			}
		case orgAccounts[1]: // missing in account b
			if _, err := dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("orders")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The security account's own queue is not part of the environment.
	if _, err := sqs.NewFromConfig(m.Config(t, "us-east-1")).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("security-own")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", proxy)

	dir := t.TempDir()
	statePath := writeFile(t, dir, "org.tfstate", orgState())
	var accounts []string
	for _, a := range orgAccounts {
		accounts = append(accounts, fmt.Sprintf(`      - {id: "%s", role_arn: "arn:aws:iam::%s:role/plumb-read", external_id: plumb-ext}`, a, a))
	}
	cfgPath := writeFile(t, dir, "plumb.yaml", "environments:\n  - name: org\n    regions: [us-east-1]\n    states: [org.tfstate]\n    accounts:\n"+strings.Join(accounts, "\n")+"\n")
	// Unmanaged extra buckets are ignored in a and c only.
	ignorePath := writeFile(t, dir, "ignore", "111111111111:aws_s3_bucket.extra-*\n333333333333:aws_s3_bucket.extra-*\n")
	args := []string{"scan", "--config", cfgPath, "--env", "org", "--state", statePath, "--ignore", ignorePath,
		"--type", "aws_sqs_queue", "--type", "aws_dynamodb_table", "--type", "aws_s3_bucket", "-o", "json"}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"partial is an error", args, exitError},
		{"allow partial", append(slices.Clone(args), "--allow-partial"), exitFindings},
		// No --state: the environment's own states (org.tfstate, relative
		// to plumb.yaml), as plumb serve's scheduled scan reads them.
		{"the environment's states", append(slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--state" || a == statePath }), "--allow-partial"), exitFindings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			var rep report.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, stdout.String())
			}
			var got []string
			fps := map[string]bool{}
			for _, f := range rep.Findings {
				got = append(got, fmt.Sprintf("%s %s %s %s", f.Resource.Account, f.Kind, f.Resource.Type, f.Resource.Name))
				fps[f.Fingerprint] = true
			}
			slices.Sort(got)
			want := []string{
				"111111111111 drift.changed aws_sqs_queue jobs",
				"222222222222 drift.missing aws_dynamodb_table orders",
				"222222222222 drift.unmanaged aws_s3_bucket extra-b",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(fps) != len(rep.Findings) {
				t.Errorf("fingerprints not distinct: %v", fps)
			}
			if len(rep.Errors) != 1 || rep.Errors[0].Scope != "aws/444444444444" || !strings.Contains(rep.Errors[0].Message, "cannot assume role "+denied) {
				t.Errorf("errors = %+v", rep.Errors)
			}
			s := rep.Summary
			// 4 queues, 3 tables, 3 buckets declared; the refused
			// account's queue is not evaluated, never missing.
			if s.Managed != 10 || s.NotEvaluated != 1 || s.Missing != 1 || s.Changed != 1 || s.Unmanaged != 1 || s.Ignored != 2 {
				t.Errorf("summary = %+v", s)
			}
		})
	}
}

// TestScanUnknownEnvironment: with --config and no desired state on the
// command line, an --env the config does not have is a usage error naming
// the environments it has; nothing is scanned.
func TestScanUnknownEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "plumb.yaml", "environments:\n  - name: prod\n    states: [prod.tfstate]\n  - name: test\n    states: [test.tfstate]\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"scan", "--config", cfgPath, "--env", "staging"}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "--env staging: no such environment in "+cfgPath+" (it has prod, test)") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q", stdout.String())
	}
}
