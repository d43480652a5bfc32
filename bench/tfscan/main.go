// Command tfscan compares a plumb scan with `terraform plan -refresh-only`
// on the same estate: it starts moto_server, applies a Terraform
// configuration of N cheap, tagged resources (SQS queues, security groups,
// CloudWatch log groups, IAM policies and roles, S3 buckets) with the real
// AWS provider, then times both tools warm, one after the other in one
// run, first straight against moto and then behind a proxy that delays
// every API call (50 ms by default: what a real AWS API answers in).
//
//	go run ./bench/tfscan -plumb bench/out/plumb -resources 350
//	go run ./bench/tfscan -plumb bench/out/plumb -resources 10000 -runs 1
//
// Printed per setting and tool: wall time, CPU (user+system of the whole
// process tree: terraform includes its provider plugin), peak RSS of the
// process tree, and API calls (counted by the proxy); then the ratios.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"plumb/internal/testenv"
)

func main() {
	var (
		plumbBin  = flag.String("plumb", "", "plumb binary to time (build it with go build -o ... ./cmd/plumb)")
		n         = flag.Int("resources", 350, "resources in the estate")
		runs      = flag.Int("runs", 3, "timed runs per tool and setting (the median is printed)")
		latencies = flag.String("latency", "0,50ms,30ms-80ms", "settings to time: 0 is straight to moto; D or MIN-MAX puts the latency proxy in front (0ms: the proxy without delay, to count calls)")
		par       = flag.Int("apply-parallelism", 20, "terraform apply -parallelism for building the estate")
		workdir   = flag.String("workdir", "", "keep the Terraform directory here (default: a temp dir, removed)")
		conc      = flag.Int("concurrency", 0, "plumb scan --concurrency (0: plumb's default)")
		hold      = flag.Bool("hold", false, "after the apply, print the moto endpoint and wait (until killed) so other runs can reuse the estate with -moto and -workdir")
		motoURL   = flag.String("moto", "", "reuse a held estate: its moto endpoint (with -workdir; nothing is applied)")
		trace     = flag.Bool("trace", false, "print the API calls of plumb's last run behind each proxy as a timeline")
		plumbOnly = flag.Bool("plumb-only", false, "time plumb alone (to compare plumb builds against one estate)")
	)
	flag.Parse()
	if *plumbBin == "" {
		fmt.Fprintln(os.Stderr, "tfscan: -plumb is required")
		os.Exit(2)
	}
	if err := run(*plumbBin, *n, *runs, *latencies, *par, *workdir, *conc, *hold, *motoURL, *trace, *plumbOnly); err != nil {
		fmt.Fprintln(os.Stderr, "tfscan:", err)
		os.Exit(1)
	}
}

// estate splits n resources over the types, weighted toward the types
// whose listing is cheap for plumb and whose refresh is typical for
// Terraform (several reads per resource).
type estate struct{ queues, groups, logs, policies, roles, buckets int }

func split(n int) estate {
	e := estate{policies: n * 5 / 100, roles: n * 3 / 100, buckets: n * 2 / 100}
	rest := n - e.policies - e.roles - e.buckets
	e.queues, e.groups = rest/3, rest/3
	e.logs = rest - e.queues - e.groups
	return e
}

func (e estate) total() int { return e.queues + e.groups + e.logs + e.policies + e.roles + e.buckets }

const mainTF = `
variable "endpoint" { type = string }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
    ec2                      = var.endpoint
    s3                       = var.endpoint
    iam                      = var.endpoint
    sts                      = var.endpoint
    sqs                      = var.endpoint
    cloudwatchlogs           = var.endpoint
    resourcegroupstaggingapi = var.endpoint
  }
}

locals {
  tags = { env = "bench", owner = "platform", cost_center = "1234" }
}

resource "aws_sqs_queue" "q" {
  count = %d
  name  = "bench-q-${count.index}"
  tags  = local.tags
}

resource "aws_security_group" "sg" {
  count       = %d
  name        = "bench-sg-${count.index}"
  description = "bench"
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.${count.index %% 250}.0.0/16"]
  }
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "lg" {
  count             = %d
  name              = "bench-lg-${count.index}"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_iam_policy" "p" {
  count  = %d
  name   = "bench-policy-${count.index}"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::bench-${count.index}/*" }] })
  tags   = local.tags
}

resource "aws_iam_role" "r" {
  count              = %d
  name               = "bench-role-${count.index}"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
  tags               = local.tags
}

resource "aws_s3_bucket" "b" {
  count = %d
  bucket = "bench-bucket-${count.index}"
  tags   = local.tags
}
`

type measure struct {
	wall, cpu time.Duration
	rssKiB    int64
	calls     int64
}

func run(plumbBin string, n, runs int, latencies string, par int, workdir string, conc int, hold bool, motoURL string, trace, plumbOnly bool) error {
	ctx := context.Background()
	plumbBin, err := filepath.Abs(plumbBin)
	if err != nil {
		return err
	}
	settings, err := parseLatencies(latencies)
	if err != nil {
		return err
	}
	mirror, err := testenv.FindProviderMirror()
	if err != nil {
		return err
	}
	tfBin, err := exec.LookPath("terraform")
	if err != nil {
		return err
	}
	var moto *testenv.Moto
	dir := workdir
	var tf *testenv.Terraform
	if motoURL != "" {
		if dir == "" {
			return errors.New("-moto needs the -workdir of the held estate")
		}
		moto = &testenv.Moto{Endpoint: motoURL}
		tf = &testenv.Terraform{Bin: tfBin, CLIConfig: filepath.Join(dir, "terraform.rc")}
		fmt.Printf("estate: reused from %s (moto %s)\n\n", dir, motoURL)
	} else {
		m, stop, err := testenv.StartMotoProcess()
		if err != nil {
			return err
		}
		defer stop()
		moto = m
		if dir == "" {
			if dir, err = os.MkdirTemp("", "plumb-tfscan-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if tf, err = testenv.NewTerraformIn(dir, tfBin, mirror); err != nil {
			return err
		}
		e := split(n)
		cfg := fmt.Sprintf(mainTF, e.queues, e.groups, e.logs, e.policies, e.roles, e.buckets)
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o644); err != nil {
			return err
		}
		fmt.Printf("estate: %d resources (%d SQS queues, %d security groups, %d log groups, %d IAM policies, %d IAM roles, %d S3 buckets)\n",
			e.total(), e.queues, e.groups, e.logs, e.policies, e.roles, e.buckets)
		if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color",
			"-parallelism="+strconv.Itoa(par), "-var", "endpoint="+moto.Endpoint); err != nil {
			return err
		}
		fmt.Printf("terraform apply: %s (parallelism %d)\n\n", time.Since(t0).Round(time.Second), par)
		if hold {
			fmt.Printf("holding: reuse with -moto %s -workdir %s\n", moto.Endpoint, dir)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			<-sig
			return nil
		}
	}
	total := countResources(filepath.Join(dir, "terraform.tfstate"))
	state := filepath.Join(dir, "terraform.tfstate")

	type row struct{ plumb, tfm measure }
	var lastPlumbCalls []testenv.Call
	for _, s := range settings {
		endpoint := moto.Endpoint
		var proxy *testenv.LatencyProxy
		if s.proxied {
			if proxy, err = testenv.StartLatencyProxy(moto.Endpoint, s.min, s.max); err != nil {
				return err
			}
			endpoint = proxy.URL
		}
		plumbRun := func() (measure, int, error) {
			args := []string{"scan", "--state", state, "--region", "us-east-1", "--env", "bench", "-o", "json"}
			if conc > 0 {
				args = append(args, "--concurrency", strconv.Itoa(conc))
			}
			env := append(os.Environ(), envList(moto.Env())...)
			env = append(env, "AWS_ENDPOINT_URL="+endpoint)
			before := calls(proxy)
			if proxy != nil {
				proxy.Calls()
			}
			m, out, err := timed(ctx, dir, plumbBin, args, env, 0, 2)
			m.calls = calls(proxy) - before
			if proxy != nil {
				lastPlumbCalls = proxy.Calls()
			}
			if err != nil {
				return m, 0, err
			}
			var rep struct {
				Summary struct {
					InSync int `json:"in_sync"`
				} `json:"summary"`
				Errors []any `json:"errors"`
			}
			if err := json.Unmarshal(out, &rep); err != nil {
				return m, 0, fmt.Errorf("plumb report: %w", err)
			}
			if len(rep.Errors) > 0 {
				return m, 0, fmt.Errorf("plumb scan could not read part of the estate: %v", rep.Errors)
			}
			return m, rep.Summary.InSync, nil
		}
		tfRun := func() (measure, error) {
			if plumbOnly {
				return measure{wall: 1, cpu: 1, rssKiB: 1}, nil
			}
			env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+tf.CLIConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
			before := calls(proxy)
			m, _, err := timed(ctx, dir, tfBin, []string{"plan", "-refresh-only", "-input=false", "-lock=false", "-no-color",
				"-var", "endpoint=" + endpoint}, env, 0)
			m.calls = calls(proxy) - before
			return m, err
		}
		// Warm both once (moto's services loaded, binaries and provider
		// in the page cache), then time them in turns.
		if _, _, err := plumbRun(); err != nil {
			return fmt.Errorf("%s: plumb warm-up: %w", s.name, err)
		}
		if _, err := tfRun(); err != nil {
			return fmt.Errorf("%s: terraform warm-up: %w", s.name, err)
		}
		var ps, ts []measure
		inSync := 0
		for i := 0; i < runs; i++ {
			m, in, err := plumbRun()
			if err != nil {
				return fmt.Errorf("%s: plumb: %w", s.name, err)
			}
			ps, inSync = append(ps, m), in
			tm, err := tfRun()
			if err != nil {
				return fmt.Errorf("%s: terraform: %w", s.name, err)
			}
			ts = append(ts, tm)
		}
		if proxy != nil {
			_ = proxy.Close()
			if trace {
				printTimeline(lastPlumbCalls)
			}
		}
		r := row{plumb: median(ps), tfm: median(ts)}
		fmt.Printf("%-22s plumb scan: %8.2fs wall %8.2fs CPU %6.0f MiB %6s calls (%d of %d in sync)\n", s.name,
			r.plumb.wall.Seconds(), r.plumb.cpu.Seconds(), float64(r.plumb.rssKiB)/1024, callStr(r.plumb.calls, proxy), inSync, total)
		if inSync != total {
			fmt.Printf("%-22s warning: plumb found %d of the %d declared resources in sync; the tools did not see the same estate\n", "", inSync, total)
		}
		if plumbOnly {
			fmt.Println()
			continue
		}
		fmt.Printf("%-22s terraform:  %8.2fs wall %8.2fs CPU %6.0f MiB %6s calls\n", "",
			r.tfm.wall.Seconds(), r.tfm.cpu.Seconds(), float64(r.tfm.rssKiB)/1024, callStr(r.tfm.calls, proxy))
		fmt.Printf("%-22s ratio:      %8.1fx wall %7.1fx CPU %6.1fx RSS\n\n", "",
			r.tfm.wall.Seconds()/r.plumb.wall.Seconds(), r.tfm.cpu.Seconds()/r.plumb.cpu.Seconds(), float64(r.tfm.rssKiB)/float64(r.plumb.rssKiB))
	}
	return nil
}

type setting struct {
	name     string
	min, max time.Duration
	// proxied is false for straight to moto; "0ms" is the proxy without
	// delay (to count and trace calls).
	proxied bool
}

func parseLatencies(s string) ([]setting, error) {
	var out []setting
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "0" || part == "" {
			out = append(out, setting{name: "straight to moto"})
			continue
		}
		lo, hi, ranged := strings.Cut(part, "-")
		min, err := time.ParseDuration(lo)
		if err != nil {
			return nil, fmt.Errorf("-latency %q: %w", part, err)
		}
		max := min
		if ranged {
			if max, err = time.ParseDuration(hi); err != nil {
				return nil, fmt.Errorf("-latency %q: %w", part, err)
			}
		}
		if max < min {
			return nil, fmt.Errorf("-latency %q: want D or MIN-MAX with MIN <= MAX", part)
		}
		name := "proxy " + min.String()
		if ranged {
			name = "proxy " + min.String() + "-" + max.String()
		}
		out = append(out, setting{name: name + "/call", min: min, max: max, proxied: true})
	}
	return out, nil
}

func calls(p *testenv.LatencyProxy) int64 {
	if p == nil {
		return 0
	}
	return p.Requests.Load()
}

func callStr(n int64, p *testenv.LatencyProxy) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// timed runs a command and measures its wall time, the CPU of it and the
// children it waited for, and the peak RSS of its process tree (sampled).
// Exit codes in okCodes besides 0 are not errors (plumb exits 2 on
// findings).
func timed(ctx context.Context, dir, bin string, args, env []string, okCodes ...int) (measure, []byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measure{}, nil, err
	}
	peak := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		var max int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := treeRSS(cmd.Process.Pid); rss > max {
				max = rss
			}
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	m := measure{wall: wall, rssKiB: <-peak}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		// A process that ended between two samples: its own peak.
		if ru.Maxrss > m.rssKiB {
			m.rssKiB = ru.Maxrss
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		for _, c := range okCodes {
			if ee.ExitCode() == c {
				return m, out.Bytes(), nil
			}
		}
	}
	if err != nil {
		tail := errb.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return m, out.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args[:1], " "), err, tail)
	}
	return m, out.Bytes(), nil
}

// treeRSS sums VmRSS (KiB) of pid and its descendants.
func treeRSS(pid int) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += rssOf(p)
		queue = append(queue, children[p]...)
	}
	return total
}

func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func median(ms []measure) measure {
	pick := func(get func(measure) int64) int64 {
		v := make([]int64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	return measure{
		wall:   time.Duration(pick(func(m measure) int64 { return int64(m.wall) })),
		cpu:    time.Duration(pick(func(m measure) int64 { return int64(m.cpu) })),
		rssKiB: pick(func(m measure) int64 { return m.rssKiB }),
		calls:  pick(func(m measure) int64 { return m.calls }),
	}
}

// countResources counts the managed resource instances of a state.
func countResources(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st struct {
		Resources []struct {
			Mode      string            `json:"mode"`
			Instances []json.RawMessage `json:"instances"`
		} `json:"resources"`
	}
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	n := 0
	for _, r := range st.Resources {
		if r.Mode == "managed" {
			n += len(r.Instances)
		}
	}
	return n
}

// printTimeline prints plumb's calls in arrival order, with the time from
// the first call: where a run waits on a chain of calls shows as a
// staircase.
func printTimeline(calls []testenv.Call) {
	if len(calls) == 0 {
		return
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].Start < calls[j].Start })
	t0 := calls[0].Start
	fmt.Println("  plumb's calls (start, duration, service, operation):")
	for _, c := range calls {
		fmt.Printf("  %8.3fs %6.3fs %-10s %s\n", (c.Start - t0).Seconds(), c.Took.Seconds(), c.Service, c.Operation)
	}
	fmt.Println()
}
