// Command replicas measures a scheduled scan of an organisation shared by
// plumb serve replicas: moto behind testenv.LatencyProxy (30-80 ms per
// call, as AWS answers), N accounts reached through AssumeRole, each read
// in three regions. For 1, 2 and 3 replicas on a fresh PostgreSQL it
// prints the wall time of the first scheduled scan (the scan run's start
// by the planner to the end of its join, as stored), then the wall time
// of a one-shot plumb scan of the same organisation, and the ratios.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/jackc/pgx/v5/stdlib"

	"plumb/internal/testenv"
)

var regions = []string{"us-east-1", "us-west-2", "eu-west-1"}

func main() {
	plumb := flag.String("plumb", "bench/out/plumb", "plumb binary")
	accounts := flag.Int("accounts", 20, "accounts in the organisation")
	maxReplicas := flag.Int("replicas", 3, "measure 1 to this many replicas")
	workers := flag.Int("workers", 10, "server.workers of each replica")
	flag.Parse()
	if err := run(context.Background(), *plumb, *accounts, *maxReplicas, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

func accountID(i int) string { return fmt.Sprintf("%012d", 100000000000+i) }

func run(ctx context.Context, plumb string, nAccounts, maxReplicas, workers int) error {
	m, stopMoto, err := testenv.StartMotoProcess()
	if err != nil {
		return err
	}
	defer stopMoto()
	for k, v := range m.Env() {
		os.Setenv(k, v)
	}
	proxy, err := testenv.StartLatencyProxy(m.Endpoint, 30*time.Millisecond, 80*time.Millisecond)
	if err != nil {
		return err
	}
	defer proxy.Close()

	dir, err := os.MkdirTemp("", "plumb-replicas-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	statePath, err := estate(ctx, dir, nAccounts)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "plumb.yaml")
	var accts []string
	for i := range nAccounts {
		a := accountID(i)
		accts = append(accts, fmt.Sprintf("      - {id: \"%s\", role_arn: \"arn:aws:iam::%s:role/plumb-read\"}", a, a))
	}
	cfg := fmt.Sprintf(`server:
  api_token: {env: BENCH_TOKEN}
  workers: %d
environments:
  - name: org
    regions: [%s]
    states: [%s]
    schedule: "@every 5s"
    accounts:
%s
`, workers, strings.Join(regions, ", "), statePath, strings.Join(accts, "\n"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "AWS_ENDPOINT_URL="+proxy.URL, "BENCH_TOKEN=bench-token-0123456789")

	fmt.Printf("organisation: %d accounts x %d regions, moto behind a 30-80 ms latency proxy, server.workers %d per replica\n",
		nAccounts, len(regions), workers)
	oneShot := func() time.Duration {
		start := time.Now()
		cmd := exec.Command(plumb, "scan", "--config", cfgPath, "--env", "org", "--state", statePath, "-o", "json")
		cmd.Env = env
		_ = cmd.Run() // exit 1: findings
		return time.Since(start)
	}
	// moto starts each service of each account and region lazily (about
	// a second each), which AWS does not: one scan first warms it.
	fmt.Printf("  warm-up plumb scan:     %6.1f s\n", oneShot().Seconds())
	walls := map[int]time.Duration{}
	for n := 1; n <= maxReplicas; n++ {
		wall, parts, err := scheduled(ctx, plumb, cfgPath, env, n)
		if err != nil {
			return fmt.Errorf("%d replicas: %w", n, err)
		}
		walls[n] = wall
		fmt.Printf("  %d replica(s): scheduled scan %6.1f s (%d parts)\n", n, wall.Seconds(), parts)
	}
	one := oneShot()
	fmt.Printf("  one-shot plumb scan:    %6.1f s\n", one.Seconds())
	for n := 2; n <= maxReplicas; n++ {
		fmt.Printf("  1 -> %d replicas: %.2fx\n", n, walls[1].Seconds()/walls[n].Seconds())
	}
	fmt.Printf("  one-shot / 1 replica: %.2fx\n", one.Seconds()/walls[1].Seconds())
	return nil
}

// estate creates one queue per account and region, declared by the
// state, and one undeclared queue in every account's first region.
func estate(ctx context.Context, dir string, n int) (string, error) {
	var res []string
	for i := range n {
		acct := accountID(i)
		for _, region := range regions {
			base, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
			if err != nil {
				return "", err
			}
			cfg := base.Copy()
			cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), "arn:aws:iam::"+acct+":role/fixtures"))
			client := sqs.NewFromConfig(cfg)
			if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs")}); err != nil {
				return "", fmt.Errorf("create queue in %s/%s: %w", acct, region, err)
			}
			if region == regions[0] {
				if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("stray")}); err != nil {
					return "", err
				}
			}
			url := fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/jobs", region, acct)
			res = append(res, fmt.Sprintf(`{"mode": "managed", "type": "aws_sqs_queue", "name": "jobs_%s_%s", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
  "instances": [{"schema_version": 0, "attributes": {"id": "%s", "name": "jobs", "arn": "arn:aws:sqs:%s:%s:jobs", "url": "%s", "tags": {}, "tags_all": {}}}]}`,
				acct, strings.ReplaceAll(region, "-", "_"), url, region, acct, url))
		}
	}
	path := filepath.Join(dir, "org.tfstate")
	doc := `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "0d0e0f00-0000-4000-8000-0000000000cc", "outputs": {}, "resources": [` +
		strings.Join(res, ",\n") + `]}`
	return path, os.WriteFile(path, []byte(doc), 0o600)
}

// scheduled starts n replicas on a fresh PostgreSQL, waits for the first
// scheduled scan to be joined, and returns its stored wall time.
func scheduled(ctx context.Context, plumb, cfgPath string, env []string, n int) (time.Duration, int, error) {
	dsn, stopPG, err := testenv.StartPostgresProcess()
	if err != nil {
		return 0, 0, err
	}
	defer stopPG()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}()
	for range n {
		cmd := exec.Command(plumb, "serve", "--config", cfgPath, "--database", dsn, "--listen", "127.0.0.1:0")
		cmd.Env = env
		out, err := cmd.StderrPipe()
		if err != nil {
			return 0, 0, err
		}
		var logTail []string
		if err := cmd.Start(); err != nil {
			return 0, 0, err
		}
		procs = append(procs, cmd)
		started := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			sent := false
			for sc.Scan() {
				if !sent {
					logTail = append(logTail, sc.Text())
				}
				if !sent && strings.Contains(sc.Text(), "plumb serve started") {
					started <- true
					sent = true
				}
			}
			if !sent {
				started <- false
			}
		}()
		select {
		case ok := <-started:
			if !ok {
				return 0, 0, fmt.Errorf("plumb serve exited before starting:\n%s", strings.Join(logTail, "\n"))
			}
		case <-time.After(2 * time.Minute):
			return 0, 0, fmt.Errorf("plumb serve did not start")
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		var started, finished int64
		var parts int
		err := db.QueryRowContext(ctx, `SELECT started_at, finished_at, parts_total FROM plumb_scan_run
			WHERE environment = 'org' AND state = 'joined' ORDER BY started_at LIMIT 1`).Scan(&started, &finished, &parts)
		if err == nil {
			return time.Duration(finished - started), parts, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return 0, 0, fmt.Errorf("no scheduled scan was joined within 30 minutes")
}
