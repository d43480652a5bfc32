package server

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	_ "github.com/jackc/pgx/v5/stdlib"

	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/report"
	"plumb/internal/testenv"
)

// The tests of this file run plumb serve replicas as separate processes
// of the real binary on one PostgreSQL, against moto reached through
// AssumeRole in three accounts, behind a proxy adding cloud latency.

// splitAccounts are the accounts of the split-scan tests.
var splitAccounts = []string{"111111111111", "222222222222", "333333333333"}

var (
	plumbBinOnce sync.Once
	plumbBin     string
	plumbBinErr  error
)

// buildPlumb builds cmd/plumb once for the tests of the package.
func buildPlumb(t *testing.T) string {
	t.Helper()
	plumbBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "plumb-bin-")
		if err != nil {
			plumbBinErr = err
			return
		}
		plumbBin = filepath.Join(dir, "plumb")
		out, err := exec.Command("go", "build", "-o", plumbBin, "plumb/cmd/plumb").CombinedOutput()
		if err != nil {
			plumbBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plumbBinErr != nil {
		t.Fatal(plumbBinErr)
	}
	return plumbBin
}

// splitEstate creates, in each account, a queue and a table declared by
// the state, then drift in two accounts: a tag added to a's queue, b's
// table deleted, and an undeclared bucket in b.
func splitEstate(t *testing.T, m *testenv.Moto) string {
	t.Helper()
	ctx := context.Background()
	var res []string
	for i, acct := range splitAccounts {
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
		switch i {
		case 0:
			if _, err := sqs.NewFromConfig(cfg).TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: q.QueueUrl, Tags: map[string]string{"env": "prod"}}); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("orders")}); err != nil {
				t.Fatal(err)
			}
			if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx,
				&s3.CreateBucketInput{Bucket: aws.String("extra-b")}); err != nil {
				t.Fatal(err)
			}
		}
		alias := string(rune('a' + i))
		provider := fmt.Sprintf(`provider[\"registry.terraform.io/hashicorp/aws\"].%s`, alias)
		res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_sqs_queue", "name": "jobs_%[2]s", "provider": "%[3]s",
      "instances": [{"schema_version": 0, "attributes": {"id": "https://sqs.us-east-1.amazonaws.com/%[1]s/jobs", "name": "jobs",
        "arn": "arn:aws:sqs:us-east-1:%[1]s:jobs", "url": "https://sqs.us-east-1.amazonaws.com/%[1]s/jobs", "tags": {}, "tags_all": {}}}]}`, acct, alias, provider))
		res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_dynamodb_table", "name": "orders_%[2]s", "provider": "%[3]s",
      "instances": [{"schema_version": 1, "attributes": {"id": "orders", "name": "orders",
        "arn": "arn:aws:dynamodb:us-east-1:%[1]s:table/orders", "tags": {}, "tags_all": {}}}]}`, acct, alias, provider))
	}
	path := filepath.Join(t.TempDir(), "org.tfstate")
	doc := `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "0d0e0f00-0000-4000-8000-0000000000bb", "outputs": {},
  "resources": [` + strings.Join(res, ",\n") + `]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// splitConfig is the replicas' configuration: the org environment
// scanned every 15 s (the first scan starts 15 s after the start), its
// findings routed to GitHub issues, one per finding.
func splitConfig(t *testing.T, statePath, githubURL, rescueAfter string, accountLimit, serviceLimit int) string {
	t.Helper()
	var accounts []string
	for _, a := range splitAccounts {
		accounts = append(accounts, fmt.Sprintf(`      - {id: "%s", role_arn: "arn:aws:iam::%s:role/plumb-read", external_id: plumb-ext}`, a, a))
	}
	cfg := fmt.Sprintf(`server:
  api_token: {env: TOKEN}
  workers: 4
  rescue_after: %s
  notify_interval: 1s
environments:
  - name: org
    regions: [us-east-1]
    states: [%s]
    schedule: "@every 15s"
    scan_limits: {account: %d, service: %d}
    accounts:
%s
route:
  receiver: gh
  group_by: ['...']
  group_wait: 0s
  group_interval: 0s
receivers:
  - name: gh
    github_issue:
      repository: acme/infra
      base_url: %s
      auth:
        token: {env: GH_TOKEN}
`, rescueAfter, statePath, accountLimit, serviceLimit, strings.Join(accounts, "\n"), githubURL)
	path := filepath.Join(t.TempDir(), "plumb.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replica is one plumb serve process.
type replica struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
}

func startReplica(t *testing.T, bin, cfgPath, dsn, endpoint string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--database", dsn, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TOKEN="+testToken, "GH_TOKEN=gh-test-token", "AWS_ENDPOINT_URL="+endpoint)
	r := &replica{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(r.stderr, sc.Text())
			if strings.Contains(sc.Text(), "plumb serve started") {
				once.Do(func() { close(started) })
			}
		}
	}()
	go func() { r.done <- cmd.Wait() }()
	select {
	case <-started:
	case err := <-r.done:
		t.Fatalf("replica exited before starting: %v\n%s", err, r.stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("replica did not start within 90s\n%s", r.stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("replica %d log:\n%s", cmd.Process.Pid, tail(r.stderr.String(), 4000))
		}
	})
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// oneShotFingerprints runs plumb scan of the environment in one process.
func oneShotFingerprints(t *testing.T, bin, cfgPath, statePath, endpoint string) []string {
	t.Helper()
	cmd := exec.Command(bin, "scan", "--config", cfgPath, "--env", "org", "--state", statePath, "-o", "json")
	cmd.Env = append(os.Environ(), "TOKEN="+testToken, "GH_TOKEN=gh-test-token", "AWS_ENDPOINT_URL="+endpoint)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // exit 1: findings
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("plumb scan: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("plumb scan errors: %+v", rep.Errors)
	}
	var fps []string
	var drift []string
	for _, f := range rep.Findings {
		fps = append(fps, f.Fingerprint)
		drift = append(drift, fmt.Sprintf("%s %s %s %s", f.Resource.Account, f.Kind, f.Resource.Type, f.Resource.ID))
	}
	// The estate's drift is among them (a sanity check of the fixture).
	for _, want := range []string{
		"111111111111 drift.changed aws_sqs_queue https://sqs.us-east-1.amazonaws.com/111111111111/jobs",
		"222222222222 drift.missing aws_dynamodb_table orders",
		"222222222222 drift.unmanaged aws_s3_bucket extra-b",
	} {
		if !slices.Contains(drift, want) {
			t.Errorf("plumb scan did not report %q; it reported:\n%s", want, strings.Join(drift, "\n"))
		}
	}
	sort.Strings(fps)
	return fps
}

type runRow struct {
	id, state  string
	started    int64
	finished   int64
	partsTotal int
}

func joinedRuns(t *testing.T, db *sql.DB) []runRow {
	t.Helper()
	rows, err := db.Query(`SELECT id, state, started_at, finished_at, parts_total FROM plumb_scan_run WHERE environment = 'org' ORDER BY started_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []runRow
	for rows.Next() {
		var r runRow
		if err := rows.Scan(&r.id, &r.state, &r.started, &r.finished, &r.partsTotal); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func firstJoined(t *testing.T, db *sql.DB, within time.Duration) runRow {
	t.Helper()
	var run runRow
	waitForDeadline(t, within, "the first scheduled scan to be joined", func() bool {
		for _, r := range joinedRuns(t, db) {
			if r.state == "joined" {
				run = r
				return true
			}
		}
		return false
	})
	return run
}

type partRow struct {
	account, service, region, state, replica string
	started, finished                        int64
}

func partsOf(t *testing.T, db *sql.DB, run string) []partRow {
	t.Helper()
	rows, err := db.Query(`SELECT account, service, region, state, replica, started_at, finished_at FROM plumb_scan_part WHERE run_id = $1`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []partRow
	for rows.Next() {
		var p partRow
		if err := rows.Scan(&p.account, &p.service, &p.region, &p.state, &p.replica, &p.started, &p.finished); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// storedFingerprints are the open findings of the environment.
func storedFingerprints(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT fingerprint, seen_count FROM plumb_finding WHERE environment = 'org' AND status = 'open'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var fp string
		var n int64
		if err := rows.Scan(&fp, &n); err != nil {
			t.Fatal(err)
		}
		out[fp] = n
	}
	return out
}

func keysOf(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type splitCluster struct {
	db       *sql.DB
	gh       *githubtest.Fake
	bin      string
	cfgPath  string
	dsn      string
	endpoint string
	proxy    *testenv.LatencyProxy
}

func newSplitCluster(t *testing.T, m *testenv.Moto, statePath string, latency time.Duration, rescueAfter string, accountLimit, serviceLimit int) *splitCluster {
	t.Helper()
	proxy, err := testenv.StartLatencyProxy(m.Endpoint, latency, latency*2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	gh := githubtest.New(t, "acme", "infra")
	gh.SetToken("gh-test-token")
	dsn := testenv.StartPostgres(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &splitCluster{db: db, gh: gh, bin: buildPlumb(t), dsn: dsn, endpoint: proxy.URL, proxy: proxy,
		cfgPath: splitConfig(t, statePath, gh.BaseURL(), rescueAfter, accountLimit, serviceLimit)}
}

// TestE2EScanSharedByReplicas: with two and three replicas, the first
// scheduled scan is split into parts that several replicas read, it is
// joined once, and its findings equal a one-process plumb scan of the
// same environment, fingerprint for fingerprint; the lifecycle ran once
// (each finding seen once, one GitHub issue per finding).
func TestE2EScanSharedByReplicas(t *testing.T) {
	m := testenv.StartMoto(t)
	statePath := splitEstate(t, m)
	for _, tc := range []struct {
		name     string
		replicas int
	}{
		{"two replicas", 2},
		{"three replicas", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSplitCluster(t, m, statePath, 30*time.Millisecond, "30s", 8, 3)
			want := oneShotFingerprints(t, c.bin, c.cfgPath, statePath, c.endpoint)
			var reps []*replica
			for range tc.replicas {
				reps = append(reps, startReplica(t, c.bin, c.cfgPath, c.dsn, c.endpoint))
			}
			run := firstJoined(t, c.db, 120*time.Second)
			// Stop every replica before the next tick (15 s after the
			// first), so what is stored is the first scan's doing.
			for _, r := range reps {
				_ = r.cmd.Process.Signal(syscall.SIGKILL)
			}
			parts := partsOf(t, c.db, run.id)
			if len(parts) != run.partsTotal || len(parts) < 3*5 {
				t.Fatalf("%d parts (run says %d), want one per service of each of 3 accounts", len(parts), run.partsTotal)
			}
			replicas := map[string]int{}
			for _, p := range parts {
				if p.state != "done" {
					t.Errorf("part %s/%s/%s is %s", p.account, p.region, p.service, p.state)
				}
				replicas[p.replica]++
			}
			if len(replicas) < 2 {
				t.Errorf("parts ran on %d replica(s) %v, want the scan shared by at least 2", len(replicas), replicas)
			}
			t.Logf("%d parts over replicas %v", len(parts), replicas)
			runs := joinedRuns(t, c.db)
			if len(runs) != 1 {
				t.Fatalf("%d scan runs, want the first only: %+v", len(runs), runs)
			}
			got := storedFingerprints(t, c.db)
			if g := keysOf(got); !slices.Equal(g, want) {
				t.Errorf("stored findings differ from plumb scan:\n got %v\nwant %v", g, want)
			}
			for fp, n := range got {
				if n != 1 {
					t.Errorf("finding %s seen %d times by one scan: the lifecycle ran more than once", fp, n)
				}
			}
			var history int
			if err := c.db.QueryRow(`SELECT count(*) FROM plumb_scan_history WHERE environment = 'org'`).Scan(&history); err != nil {
				t.Fatal(err)
			}
			if history != 1 {
				t.Errorf("%d scans in the history, want 1", history)
			}
		})
	}
}

// overlaps reports, per account, whether two of its parts ran at once.
func overlaps(parts []partRow) map[string]bool {
	by := map[string][]partRow{}
	for _, p := range parts {
		by[p.account] = append(by[p.account], p)
	}
	out := map[string]bool{}
	for acct, ps := range by {
		sort.Slice(ps, func(i, j int) bool { return ps[i].started < ps[j].started })
		for i := 1; i < len(ps); i++ {
			if ps[i].started < ps[i-1].finished {
				out[acct] = true
			}
		}
	}
	return out
}

// TestE2EScanLimitsAcrossReplicas: with scan_limits.account 1, two
// replicas never read two parts of one account at once (the part rows'
// start and end times, taken while the lease is held); with 8, they do,
// which shows the check sees overlaps when there are some.
func TestE2EScanLimitsAcrossReplicas(t *testing.T) {
	m := testenv.StartMoto(t)
	statePath := splitEstate(t, m)
	for _, tc := range []struct {
		name        string
		limit       int
		wantOverlap bool
	}{
		{"one part of an account at a time", 1, false},
		{"eight parts of an account at a time", 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSplitCluster(t, m, statePath, 30*time.Millisecond, "30s", tc.limit, 1)
			var reps []*replica
			for range 2 {
				reps = append(reps, startReplica(t, c.bin, c.cfgPath, c.dsn, c.endpoint))
			}
			run := firstJoined(t, c.db, 150*time.Second)
			for _, r := range reps {
				_ = r.cmd.Process.Signal(syscall.SIGKILL)
			}
			parts := partsOf(t, c.db, run.id)
			replicas := map[string]bool{}
			for _, p := range parts {
				if p.state != "done" || p.started == 0 || p.finished < p.started {
					t.Errorf("part %s/%s/%s: state %s, ran %d..%d", p.account, p.region, p.service, p.state, p.started, p.finished)
				}
				replicas[p.replica] = true
			}
			if len(replicas) < 2 {
				t.Errorf("parts ran on %d replica(s), want both", len(replicas))
			}
			got := overlaps(parts)
			for _, acct := range splitAccounts {
				if !tc.wantOverlap && got[acct] {
					t.Errorf("two parts of account %s ran at once with scan_limits.account 1", acct)
				}
			}
			if tc.wantOverlap && len(got) == 0 {
				t.Errorf("no account had parts running at once with scan_limits.account 8")
			}
		})
	}
}

// TestE2EScanReplicaKilled: a replica is killed (SIGKILL) while it reads
// parts of a slow scan (every cloud call takes 300-600 ms). Its parts are
// rescued by the other replica after rescue_after (5 s here) and one
// rescuer pass (30 s), the scan is joined once with the findings of a
// one-process scan, and routing opens one GitHub issue per finding.
func TestE2EScanReplicaKilled(t *testing.T) {
	m := testenv.StartMoto(t)
	statePath := splitEstate(t, m)
	c := newSplitCluster(t, m, statePath, 300*time.Millisecond, "5s", 8, 3)
	want := oneShotFingerprints(t, c.bin, c.cfgPath, statePath, c.endpoint)
	victim := startReplica(t, c.bin, c.cfgPath, c.dsn, c.endpoint)
	startReplica(t, c.bin, c.cfgPath, c.dsn, c.endpoint)

	// Kill the victim while it runs parts.
	pid := victim.cmd.Process.Pid
	waitForDeadline(t, 120*time.Second, "the victim to run scan parts", func() bool {
		var n int
		err := c.db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'plumb_task' AND state = 'running'
			AND array_to_string(attempted_by, ',') LIKE $1`, fmt.Sprintf("%%\\_%d\\_%%", pid)).Scan(&n)
		return err == nil && n > 0
	})
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	run := firstJoined(t, c.db, 120*time.Second)
	took := time.Since(killed)
	if took > 5*time.Second+30*time.Second+25*time.Second {
		t.Errorf("scan joined %s after the kill, want within rescue_after (5s), a rescuer pass (30s) and the rest of the scan", took)
	}
	got := storedFingerprints(t, c.db)
	if g := keysOf(got); !slices.Equal(g, want) {
		t.Errorf("stored findings differ from plumb scan:\n got %v\nwant %v", g, want)
	}
	for fp, n := range got {
		if n != 1 {
			t.Errorf("finding %s seen %d times by one scan: the lifecycle ran more than once", fp, n)
		}
	}
	for _, p := range partsOf(t, c.db, run.id) {
		if p.state != "done" {
			t.Errorf("part %s/%s/%s is %s, want read by the survivor", p.account, p.region, p.service, p.state)
		}
	}
	var rescued int
	if err := c.db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'plumb_task' AND attempt >= 2
		AND errors::text LIKE '%Stuck job rescued%'`).Scan(&rescued); err != nil {
		t.Fatal(err)
	}
	if rescued == 0 {
		t.Errorf("no task was rescued: the kill did not interrupt a part")
	}
	t.Logf("joined %s after the kill; %d task(s) rescued", took.Round(time.Second), rescued)

	// One issue per finding, and no more while the survivor keeps
	// routing and scanning.
	waitForDeadline(t, 60*time.Second, "one GitHub issue per finding", func() bool {
		_, issues := c.gh.Counts()
		return issues >= len(want)
	})
	time.Sleep(5 * time.Second)
	titles := map[string]int{}
	for _, is := range c.gh.Issues() {
		titles[is.Body]++
	}
	if n := len(c.gh.Issues()); n != len(want) {
		t.Errorf("%d GitHub issues for %d findings", n, len(want))
	}
	for title, n := range titles {
		if n > 1 {
			t.Errorf("issue with body %q opened %d times", title, n)
		}
	}
}
