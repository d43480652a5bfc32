package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"plumb/internal/inventory"
	"plumb/internal/testenv"
)

// securityAccount is moto's default account: the one of plumb's own
// credentials, from which the others are reached.
const securityAccount = "123456789012"

// accountConfig is an SDK configuration in another moto account.
func accountConfig(t *testing.T, m *testenv.Moto, account string) aws.Config {
	t.Helper()
	return m.AccountConfig(t, "us-east-1", account)
}

func createQueues(t *testing.T, cfg aws.Config, names ...string) {
	t.Helper()
	c := sqs.NewFromConfig(cfg)
	for _, n := range names {
		if _, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(n)}); err != nil {
			t.Fatalf("create queue %s: %v", n, err)
		}
	}
}

// denyRole makes STS refuse AssumeRole of one role, as a trust policy that
// does not name plumb's principal does.
func denyRole(arn string) func(*config.LoadOptions) error {
	mw := middleware.InitializeMiddlewareFunc("plumbTestDenyRole", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*sts.AssumeRoleInput); ok && aws.ToString(p.RoleArn) == arn {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDenied",
				Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: " + arn}
		}
		return next.HandleInitialize(ctx, in)
	})
	return config.WithAPIOptions([]func(*middleware.Stack) error{
		func(st *middleware.Stack) error { return st.Initialize.Add(mw, middleware.Before) },
	})
}

// TestScanAccounts reads three accounts through assumed roles from the
// security account: each resource carries its account, the security
// account's own resources are not read, and an account whose role is
// refused, or whose role is another account's, is an error of that
// account only, with no complete scope.
func TestScanAccounts(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	for _, a := range accounts {
		createQueues(t, accountConfig(t, m, a), "shared", "only-"+a)
	}
	createQueues(t, m.Config(t, "us-east-1"), "security-own")
	denied := "arn:aws:iam::333333333333:role/plumb-read"

	sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_sqs_queue"}}, denyRole(denied))
	if err != nil {
		t.Fatal(err)
	}
	targets := []Target{
		{Account: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/plumb-read", ExternalID: "ext-1"},
		{Account: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/plumb-read"},
		{Account: "333333333333", RoleARN: denied},
		// A role of another account must never be taken for this one.
		{Account: "444444444444", RoleARN: "arn:aws:iam::111111111111:role/plumb-read"},
	}
	res, err := sc.ScanAccounts(ctx, targets, nil, Limits{Account: 2, Service: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res.Resources {
		got[r.Account+"/"+r.Name] = true
		if r.Region != "us-east-1" || !strings.Contains(r.ARN, ":"+r.Account+":") {
			t.Errorf("resource %+v: region or ARN disagrees with its account", r)
		}
	}
	want := map[string]bool{
		"111111111111/shared": true, "111111111111/only-111111111111": true,
		"222222222222/shared": true, "222222222222/only-222222222222": true,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	errs := map[string]string{}
	for _, e := range res.Errors {
		errs[e.Scope] = e.Message
	}
	if len(errs) != 2 ||
		!strings.Contains(errs["aws/333333333333"], "cannot assume role "+denied) ||
		!strings.Contains(errs["aws/444444444444"], "gives credentials of account 111111111111, not 444444444444") {
		t.Errorf("errors = %+v", res.Errors)
	}
	for _, tc := range []struct {
		account string
		want    bool
	}{{"111111111111", true}, {"222222222222", true}, {"333333333333", false}, {"444444444444", false}} {
		if c := res.CompleteIn(tc.account, "aws_sqs_queue", "us-east-1"); c != tc.want {
			t.Errorf("CompleteIn(%s) = %v, want %v", tc.account, c, tc.want)
		}
		if c := res.CompleteAnywhereIn(tc.account, "aws_sqs_queue"); c != tc.want {
			t.Errorf("CompleteAnywhereIn(%s) = %v, want %v", tc.account, c, tc.want)
		}
	}
	if res.Complete("aws_sqs_queue", "us-east-1") || res.CompleteAnywhere("aws_sqs_queue") {
		t.Error("complete in every account although two accounts were not read")
	}
	if fmt.Sprint(res.Accounts()) != "[111111111111 222222222222 333333333333 444444444444]" {
		t.Errorf("accounts = %v", res.Accounts())
	}
}

// unitWatch measures how many units of one account are in flight at once:
// a unit starts with its first request and ends when Finished.
type unitWatch struct {
	mu      sync.Mutex
	running map[string]map[string]bool
	peak    map[string]int
}

func (w *unitWatch) Planned([]string) {}
func (w *unitWatch) Attempt(unit, _ string, _ int, _ string) {
	acct, _, _ := strings.Cut(unit, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running[acct] == nil {
		w.running[acct] = map[string]bool{}
	}
	w.running[acct][unit] = true
	w.peak[acct] = max(w.peak[acct], len(w.running[acct]))
}
func (w *unitWatch) Finished(unit string) {
	acct, _, _ := strings.Cut(unit, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.running[acct], unit)
}

// TestScanAccountsLimits: the per-account limit holds within one scan
// however many units and however much global concurrency there is.
func TestScanAccountsLimits(t *testing.T) {
	testenv.StartMoto(t)
	ctx := context.Background()
	types := []string{"aws_sqs_queue", "aws_sns_topic", "aws_dynamodb_table", "aws_kms_key", "aws_cloudwatch_log_group", "aws_ecr_repository"}
	for _, tc := range []struct {
		name  string
		limit Limits
		want  int
	}{{"one at a time", Limits{Account: 1, Service: 1}, 1}, {"two at a time", Limits{Account: 2, Service: 1}, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			w := &unitWatch{running: map[string]map[string]bool{}, peak: map[string]int{}}
			sc, err := New(ctx, Options{Regions: []string{"us-east-1", "eu-west-1"}, Types: types, Concurrency: 16, Observer: w})
			if err != nil {
				t.Fatal(err)
			}
			targets := []Target{
				{Account: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/plumb-read"},
				{Account: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/plumb-read"},
			}
			res, err := sc.ScanAccounts(ctx, targets, nil, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %+v", res.Errors)
			}
			for _, a := range []string{"111111111111", "222222222222"} {
				if p := w.peak[a]; p < 1 || p > tc.want {
					t.Errorf("account %s: %d units at once, limit %d", a, p, tc.want)
				}
			}
		})
	}
}

// TestLimiter checks both bounds with many waiters.
func TestLimiter(t *testing.T) {
	l := newLimiter(Limits{Account: 3, Service: 2})
	var mu sync.Mutex
	inAcct, inSvc := map[string]int{}, map[string]int{}
	peakAcct, peakSvc := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for i := range 60 {
		acct := []string{"a", "b"}[i%2]
		svc := []string{"ec2", "s3", "iam"}[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.acquire(context.Background(), acct, svc)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inAcct[acct]++
			inSvc[acct+svc]++
			peakAcct[acct] = max(peakAcct[acct], inAcct[acct])
			peakSvc[acct+svc] = max(peakSvc[acct+svc], inSvc[acct+svc])
			mu.Unlock()
			for range 1000 {
				_ = fmt.Sprint(i)
			}
			mu.Lock()
			inAcct[acct]--
			inSvc[acct+svc]--
			mu.Unlock()
			release()
		}()
	}
	wg.Wait()
	for k, p := range peakAcct {
		if p > 3 {
			t.Errorf("account %s: %d at once, limit 3", k, p)
		}
	}
	for k, p := range peakSvc {
		if p > 2 {
			t.Errorf("service %s: %d at once, limit 2", k, p)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	held := newLimiter(Limits{Account: 1})
	release, _ := held.acquire(ctx, "a", "ec2")
	defer release()
	cancel()
	if _, err := held.acquire(ctx, "a", "s3"); err == nil {
		t.Error("acquire on a full account with a cancelled context did not fail")
	}
}

// TestOrganizationDiscovery lists the accounts of a moto organization:
// all active ones less exclusions, or those under an OU (nested units
// included); each is read through the discovered role.
func TestOrganizationDiscovery(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	org := organizations.NewFromConfig(m.Config(t, "us-east-1"))
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: "ALL"}); err != nil {
		t.Fatal(err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	root := aws.ToString(roots.Roots[0].Id)
	ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(root), Name: aws.String("workloads")})
	if err != nil {
		t.Fatal(err)
	}
	nested, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: ou.OrganizationalUnit.Id, Name: aws.String("prod")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, name := range []string{"team-a", "team-b", "sandbox"} {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		ids = append(ids, id)
		createQueues(t, accountConfig(t, m, id), "q-"+name)
		dest := []*string{ou.OrganizationalUnit.Id, nested.OrganizationalUnit.Id, nil}[i]
		if dest != nil {
			if _, err := org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(id), SourceParentId: aws.String(root), DestinationParentId: dest}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		disc Discovery
		want []string // queue names listed
	}{
		{"whole organization less the sandbox and the management account", Discovery{RoleName: "plumb-read", Exclude: []string{ids[2], securityAccount}}, []string{"q-team-a", "q-team-b"}},
		{"under one OU, nested units included", Discovery{RoleName: "plumb-read", OUs: []string{aws.ToString(ou.OrganizationalUnit.Id)}}, []string{"q-team-a", "q-team-b"}},
		{"only the nested OU", Discovery{RoleName: "audit/plumb-read", OUs: []string{aws.ToString(nested.OrganizationalUnit.Id)}}, []string{"q-team-b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_sqs_queue"}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := sc.ScanAccounts(ctx, nil, &tc.disc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %+v", res.Errors)
			}
			var names []string
			for _, r := range res.Resources {
				names = append(names, r.Name)
			}
			slices.Sort(names)
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("listed %v, want %v", names, tc.want)
			}
			if len(res.Accounts()) != len(tc.want) {
				t.Errorf("accounts %v, want %d", res.Accounts(), len(tc.want))
			}
		})
	}
	// Without Organizations access only the listed accounts are read,
	// and the report says why.
	sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_sqs_queue"}}, storageIAMDenyService("Organizations"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sc.ScanAccounts(ctx, []Target{{Account: ids[0], RoleARN: "arn:aws:iam::" + ids[0] + ":role/plumb-read"}}, &Discovery{RoleName: "plumb-read"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Scope != "aws/organizations" || !strings.Contains(res.Errors[0].Message, "only the accounts listed by id were scanned") {
		t.Errorf("errors = %+v", res.Errors)
	}
	if len(res.Resources) != 1 || res.Resources[0].Name != "q-team-a" {
		t.Errorf("resources = %+v", res.Resources)
	}
	var _ inventory.Observer = (*unitWatch)(nil)
}
