package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/testenv"
)

// servedCLI is a `plumb serve` run through run(), as the binary runs it.
type servedCLI struct {
	addr           string
	stdout, stderr *syncBuffer
	done           chan int
	stopFn         func() int
}

// startServeCLI runs `plumb serve args...` in-process and waits for its
// address; args must include --log-format json. It is stopped with SIGTERM (stop), or at the end of the test.
func startServeCLI(t *testing.T, args ...string) *servedCLI {
	t.Helper()
	s := &servedCLI{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	go func() { s.done <- run(append([]string{"serve"}, args...), s.stdout, s.stderr) }()
	deadline := time.Now().Add(90 * time.Second)
	for s.addr == "" {
		// The address is in the one start-up log line (callers pass
		// --log-format json).
		sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "plumb serve started" {
				s.addr = line.Addr
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("plumb serve exited %d before listening:\n%s", code, s.stderr.String())
		default:
		}
		if s.addr == "" && time.Now().After(deadline) {
			t.Fatalf("plumb serve did not print its address within 90s:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-s.done
		}
	})
	s.stopFn = func() int {
		stopped = true
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-s.done:
			return code
		case <-time.After(60 * time.Second):
			t.Fatal("plumb serve did not stop within 60s of SIGTERM")
		}
		return -1
	}
	return s
}

func (s *servedCLI) stop() int { return s.stopFn() }

// TestServeExampleConfigAgainstMoto starts plumb serve with
// examples/plumb.yaml exactly as shipped; the only outside input is the
// AWS endpoint (AWS_ENDPOINT_URL and dummy credentials, set by
// testenv.StartMoto), as the example's header documents. An EventBridge
// rule delivers a CloudTrail record of a bucket created by someone who is
// not the pipeline to the example's queue; plumb reports the write, and
// the CLI reads it with the example's API token.
func TestServeExampleConfigAgainstMoto(t *testing.T) {
	moto := testenv.StartMoto(t)
	cfg := moto.Config(t, "us-east-1")
	ctx := context.Background()

	// What the example's header tells the reader to create: the queue.
	// The EventBridge rule stands in for the one an operator wires up.
	sq := sqs.NewFromConfig(cfg)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("plumb-demo-events")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("plumb"),
		EventPattern: aws.String(`{"detail-type":["AWS API Call via CloudTrail"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("plumb"), Targets: []ebtypes.Target{
		{Id: aws.String("plumb"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}

	example := filepath.Join(repoRoot, "examples", "plumb.yaml")
	token, err := os.ReadFile(filepath.Join(repoRoot, "examples", "demo-api-token"))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServeCLI(t, "--config", example, "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen", "127.0.0.1:0", "--log-format", "json")
	base := "http://" + srv.addr

	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	if strings.Contains(srv.stderr.String(), "matches no file") {
		t.Errorf("the example's state pattern matches nothing:\n%s", srv.stderr.String())
	}

	intruder := "arn:aws:iam::123456789012:user/mallory"
	detail, _ := json.Marshal(map[string]any{
		"eventVersion": "1.09", "eventTime": "2026-11-22T10:00:00Z",
		"userIdentity": map[string]any{"type": "IAMUser", "arn": intruder, "accountId": "123456789012", "userName": "mallory"},
		"eventSource":  "s3.amazonaws.com", "eventName": "CreateBucket", "awsRegion": "us-east-1",
		"requestParameters": map[string]any{"bucketName": "mallory-bucket"},
		"eventID":           "5b0d1e52-1f1c-4b9e-9d8e-000000000001", "readOnly": false, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": "123456789012",
	})
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.s3"), DetailType: aws.String("AWS API Call via CloudTrail"), Detail: aws.String(string(detail)),
	}}}); err != nil {
		t.Fatal(err)
	}

	tok := strings.TrimSpace(string(token))
	var findings string
	pollUntil(t, 60*time.Second, "the intruder's write as a finding", func() bool {
		code, out, _ := cli("findings", "list", "--server", base, "--token", tok, "--kind", "audit.unexpected_write")
		findings = out
		return code == 0 && strings.Contains(out, "audit.unexpected_write")
	})
	if !strings.Contains(findings, "open") {
		t.Errorf("findings list:\n%s", findings)
	}
	code, events, errOut := cli("events", "list", "--server", base, "--token", tok)
	if code != 0 || !strings.Contains(events, "AWS API Call via CloudTrail") {
		t.Errorf("events list: exit %d\n%s%s", code, events, errOut)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("plumb serve exited %d after SIGTERM:\n%s", code, srv.stderr.String())
	}
}

// TestServeWarnsAboutUnmatchedStates: plumb serve starts with a state
// pattern that matches nothing, and says so at start with the line.
func TestServeWarnsAboutUnmatchedStates(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "plumb.yaml", "environments:\n  - name: prod\n    states: [\"states/prod/**.tfstate\"]\n")
	srv := startServeCLI(t, "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--log-format", "json")
	if code := srv.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	var warned bool
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "state source matches no file" {
			continue
		}
		warned = true
		want := map[string]any{"level": "WARN", "config": cfg + ":3", "field": "environments[0].states[0]",
			"problem": filepath.Join(dir, "states/prod/**.tfstate") + ": no files match: directory " + filepath.Join(dir, "states/prod") + ` does not exist; scans of environment "prod" fail until a state file exists there`}
		for k, v := range want {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				t.Errorf("warning %s = %v, want %v", k, l[k], v)
			}
		}
	}
	if !warned {
		t.Errorf("no warning about the state pattern:\n%s", srv.stderr.String())
	}
}
