package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"plumb/internal/config"
	"plumb/internal/testenv"
)

// The TestE2E* tests run the whole of plumb serve (Run: queue, findings
// store, HTTP, pollers, scheduled scans, queue alerts) against real peers
// (moto, azurite, PostgreSQL) and look only at what an operator sees: the
// HTTP API and the cloud queues.

// lockedBuffer collects a server's log so a failing test can show it
// without logging from goroutines that outlive the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runE2E writes yaml to a plumb.yaml, loads it as plumb serve does
// (secrets from env, then TOKEN, KEY and HOOK_SECRET), and runs Run on a free port
// until the test ends. tweak adjusts the options (database, alert
// interval) before the start.
func runE2E(t *testing.T, yaml string, env map[string]string, tweak func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return map[string]string{"TOKEN": testToken, "KEY": testKey, "HOOK_SECRET": notifyHookSecret}[k]
	})
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	logs := &lockedBuffer{}
	addr := make(chan string, 1)
	o := Options{
		Config: cfg, DataDir: dir, Listen: "127.0.0.1:0",
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		ShutdownTimeout: 10 * time.Second,
		OnListen:        func(a string) { addr <- a },
	}
	if tweak != nil {
		tweak(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before listening: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("Run did not listen within 60s\n%s", logs.String())
	}
	t.Cleanup(func() {
		cancel()
		// Run returns within its shutdown timeout (a scheduled scan may be
		// finishing); a poller in a 20s long poll must not hold it longer.
		limit := o.ShutdownTimeout + 5*time.Second
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after a graceful stop", err)
			}
		case <-time.After(limit):
			t.Errorf("Run did not return within %s of cancel", limit)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
			}
		}
		if t.Failed() {
			l := logs.String()
			if len(l) > 8000 {
				l = l[len(l)-8000:]
			}
			t.Logf("server log (tail):\n%s", l)
		}
	})
	return &testServer{t: t, url: "http://" + a, logs: logs}
}

type findingsAnswer struct {
	Findings []findingView `json:"findings"`
}

// waitForDeadline polls cond every 100ms until it holds or limit passes.
func waitForDeadline(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventIDsIn lists the ids of the events in a state.
func (ts *testServer) eventIDsIn(state string) []string {
	ts.t.Helper()
	var evs eventsAnswer
	if code := ts.apiGet("/v1/events?limit=1000&state="+state, &evs); code != 200 {
		ts.t.Fatalf("list %s events: status %d", state, code)
	}
	ids := make([]string, 0, len(evs.Events))
	for _, e := range evs.Events {
		ids = append(ids, e.Event.ID)
	}
	sort.Strings(ids)
	return ids
}

// apiServer addresses the API of a server a test started by URL.
func apiServer(t *testing.T, base string) *testServer { return &testServer{t: t, url: base} }

func (ts *testServer) findings(query string) []findingView {
	ts.t.Helper()
	var fs findingsAnswer
	if code := ts.apiGet("/v1/findings?"+query, &fs); code != 200 {
		ts.t.Fatalf("findings?%s: status %d", query, code)
	}
	return fs.Findings
}

const (
	awsAccount    = "123456789012"
	deployRoleARN = "arn:aws:iam::123456789012:role/deploy"
	aliceARN      = "arn:aws:iam::123456789012:user/alice"
)

// Identities as CloudTrail records them: the pipeline's assumed-role
// session (with the role in the session issuer) and an IAM user.
var (
	pipelineIdentity = map[string]any{
		"type": "AssumedRole", "principalId": "AROAPIPELINEROLE0001:terraform-run-42",
		"arn": "arn:aws:sts::123456789012:assumed-role/deploy/terraform-run-42", "accountId": awsAccount,
		"accessKeyId": "ASIAPIPELINEKEY00001",
		"sessionContext": map[string]any{
			"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROAPIPELINEROLE0001", "arn": deployRoleARN, "accountId": awsAccount, "userName": "deploy"},
			"attributes":    map[string]any{"creationDate": "2026-11-22T09:58:00Z", "mfaAuthenticated": "false"},
		},
	}
	aliceIdentity = map[string]any{
		"type": "IAMUser", "principalId": "AIDAALICEEXAMPLE0001", "arn": aliceARN, "accountId": awsAccount,
		"accessKeyId": "AKIAALICEEXAMPLE0001", "userName": "alice",
	}
)

// cloudTrailDetail is the detail of an "AWS API Call via CloudTrail"
// EventBridge event: one CloudTrail management event record.
func cloudTrailDetail(t *testing.T, identity map[string]any, eventSource, eventName string, req, resp map[string]any) string {
	t.Helper()
	return string(mustJSON(t, map[string]any{
		"eventVersion": "1.09", "userIdentity": identity,
		"eventTime": "2026-11-22T10:00:00Z", "eventSource": eventSource, "eventName": eventName,
		"awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.23", "userAgent": "aws-cli/2.15.0",
		"requestParameters": req, "responseElements": resp,
		"requestID": "0f1e2d3c-4b5a-6978-8796-" + strings.Repeat("a", 12), "eventID": "9e8d7c6b-5a49-4837-2615-" + strings.Repeat("b", 12),
		"readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": awsAccount, "eventCategory": "Management",
	}))
}

func runInstancesDetail(t *testing.T, identity map[string]any, instanceID string) string {
	return cloudTrailDetail(t, identity, "ec2.amazonaws.com", "RunInstances",
		map[string]any{"instanceType": "t3.micro", "minCount": 1, "maxCount": 1, "imageId": "ami-0abcdef1234567890"},
		map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": instanceID}}}})
}

func createBucketDetail(t *testing.T, identity map[string]any, bucket string) string {
	return cloudTrailDetail(t, identity, "s3.amazonaws.com", "CreateBucket",
		map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com"}, nil)
}

// eventBridgeToSQS creates an SQS queue and an EventBridge rule on the
// default bus that sends every event of source to it, as an operator
// wires plumb to EventBridge.
func eventBridgeToSQS(t *testing.T, cfg aws.Config, queueName, source string) string {
	t.Helper()
	ctx := context.Background()
	sq := sqs.NewFromConfig(cfg)
	out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName)})
	if err != nil {
		t.Fatalf("create queue %s: %v", queueName, err)
	}
	url := aws.ToString(out.QueueUrl)
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	rule := queueName + "-rule"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(rule), EventPattern: aws.String(fmt.Sprintf(`{"source":[%q]}`, source)),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:    aws.String(rule),
		Targets: []ebtypes.Target{{Id: aws.String("plumb"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}},
	}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	return url
}

type ebEntry struct {
	source, detailType, detail string
}

// putEvents sends entries to the default bus and returns their event ids.
func putEvents(t *testing.T, cfg aws.Config, entries ...ebEntry) []string {
	t.Helper()
	in := &eventbridge.PutEventsInput{}
	for _, e := range entries {
		in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{
			Source: aws.String(e.source), DetailType: aws.String(e.detailType), Detail: aws.String(e.detail),
			Time: aws.Time(time.Date(2026, 11, 22, 10, 0, 1, 0, time.UTC)),
		})
	}
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(context.Background(), in)
	if err != nil || out.FailedEntryCount != 0 || len(out.Entries) != len(entries) {
		t.Fatalf("put events: err=%v out=%+v", err, out)
	}
	ids := make([]string, 0, len(out.Entries))
	for _, e := range out.Entries {
		ids = append(ids, aws.ToString(e.EventId))
	}
	return ids
}

// sqsMessages counts the messages left in a queue, visible or in flight.
func sqsMessages(t *testing.T, cfg aws.Config, url string) int {
	t.Helper()
	out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("queue attribute %q: %v", v, err)
		}
		n += k
	}
	return n
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func sameStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// TestE2EEventBridgeThroughSQS sends real-format CloudTrail events through
// EventBridge (a rule with an SQS target, in moto) to plumb serve's SQS
// poller: the audit and drift-check handlers judge them, and the cloud
// queue is emptied only of what plumb committed.
func TestE2EEventBridgeThroughSQS(t *testing.T) {
	moto := testenv.StartMoto(t)
	awsCfg := moto.Config(t, "us-east-1")

	t.Run("audit", func(t *testing.T) {
		url := eventBridgeToSQS(t, awsCfg, "plumb-ec2", "aws.ec2")
		ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    pipeline_identities: [%s]
sources:
  sqs:
    - name: eventbridge
      queue_url: %s
      region: us-east-1
      wait_time: 1s
subscriptions:
  - name: ec2-writes
    environment: prod
    sources: [eventbridge]
    event_pattern:
      source: [aws.ec2]
      detail-type: [AWS API Call via CloudTrail]
    handlers: [{type: audit}]
`, deployRoleARN, url), nil, nil)

		ids := putEvents(t, awsCfg,
			ebEntry{"aws.ec2", "AWS API Call via CloudTrail", runInstancesDetail(t, pipelineIdentity, "i-0pipeline000000001")},
			ebEntry{"aws.ec2", "AWS API Call via CloudTrail", runInstancesDetail(t, aliceIdentity, "i-0alice00000000001")},
			// Routed by the EventBridge rule but wanted by no subscription.
			ebEntry{"aws.ec2", "EC2 Instance State-change Notification", `{"instance-id":"i-0alice00000000001","state":"running"}`},
		)
		matched, unmatched := sorted(ids[0], ids[1]), sorted(ids[2])

		waitForDeadline(t, 30*time.Second, "two succeeded and one filtered event", func() bool {
			return sameStrings(ts.eventIDsIn("succeeded"), matched) && sameStrings(ts.eventIDsIn("filtered"), unmatched)
		})
		if all := ts.eventIDsIn(""); len(all) != 3 {
			t.Errorf("stored events = %v, want the 3 PutEvents ids once each", all)
		}
		waitForDeadline(t, 30*time.Second, "the SQS queue to be empty", func() bool { return sqsMessages(t, awsCfg, url) == 0 })

		fs := ts.findings("")
		if len(fs) != 1 {
			t.Fatalf("findings = %+v, want exactly one (alice's RunInstances)", fs)
		}
		f := fs[0]
		if f.Finding.Kind != "audit.unexpected_write" || f.Finding.Environment != "prod" || f.Status != "open" || f.Count != 1 {
			t.Errorf("finding = %+v, want an open audit.unexpected_write in prod seen once", f)
		}
		if !strings.Contains(f.Finding.Message, aliceARN) || !strings.Contains(f.Finding.Message, "RunInstances") {
			t.Errorf("message %q does not name alice and RunInstances", f.Finding.Message)
		}
		if !strings.Contains(f.Finding.Resource.ID+f.Finding.Resource.ARN, "i-0alice00000000001") {
			t.Errorf("finding resource = %+v, want alice's instance", f.Finding.Resource)
		}
		if strings.Contains(f.Finding.Message, "deploy") {
			t.Errorf("the pipeline's write produced a finding: %q", f.Finding.Message)
		}
		_, metrics := ts.do("GET", "/metrics", nil, nil)
		for _, want := range []string{
			`plumb_poller_messages_total{outcome="accepted",source="eventbridge"} 3`,
			`plumb_poller_messages_total{outcome="deleted",source="eventbridge"} 3`,
			`plumb_events_received_total{source="eventbridge"} 3`,
		} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("drift-check", func(t *testing.T) {
		state, err := filepath.Abs("testdata/e2e/declared-bucket.tfstate")
		if err != nil {
			t.Fatal(err)
		}
		url := eventBridgeToSQS(t, awsCfg, "plumb-s3", "aws.s3")
		ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    states: [%s]
    pipeline_identities: [%s]
sources:
  sqs:
    - name: eventbridge
      queue_url: %s
subscriptions:
  - name: s3-creations
    environment: prod
    event_pattern:
      source: [aws.s3]
      detail-type: [AWS API Call via CloudTrail]
      detail:
        eventName: [CreateBucket]
    handlers: [{type: drift-check}]
`, state, deployRoleARN, url), nil, nil)

		ids := putEvents(t, awsCfg,
			ebEntry{"aws.s3", "AWS API Call via CloudTrail", createBucketDetail(t, aliceIdentity, "plumb-declared")},
			ebEntry{"aws.s3", "AWS API Call via CloudTrail", createBucketDetail(t, aliceIdentity, "plumb-rogue")},
		)
		waitForDeadline(t, 30*time.Second, "both creations to be processed", func() bool {
			return sameStrings(ts.eventIDsIn("succeeded"), sorted(ids...))
		})
		waitForDeadline(t, 30*time.Second, "the SQS queue to be empty", func() bool { return sqsMessages(t, awsCfg, url) == 0 })
		fs := ts.findings("")
		if len(fs) != 1 {
			t.Fatalf("findings = %+v, want exactly one (the bucket the state does not declare)", fs)
		}
		f := fs[0].Finding
		if f.Kind != "drift.unmanaged" || f.Resource.Type != "aws_s3_bucket" || f.Resource.ID != "plumb-rogue" || f.Environment != "prod" {
			t.Errorf("finding = %+v, want drift.unmanaged aws_s3_bucket plumb-rogue in prod", f)
		}
		if !strings.Contains(f.Message, "Undefined resource exists (plumb-rogue)") || !strings.Contains(f.Message, aliceARN) {
			t.Errorf("message %q, want the operators' title and who created it", f.Message)
		}
	})
}

// TestE2EStorageQueue has Event Grid events arrive the way an Event Grid
// subscription with a Storage Queue destination writes them: one event
// object per message, base64-encoded. A message that is not an event goes
// to <queue>-poison untouched.
func TestE2EStorageQueue(t *testing.T) {
	conn := testenv.StartAzuriteQueue(t)
	const queueName = "plumb-events"
	const pipeline = "11111111-1111-1111-1111-111111111111"
	const intruder = "99999999-9999-9999-9999-999999999999"
	ctx := context.Background()
	q, err := azqueue.NewQueueClientFromConnectionString(conn, queueName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Create(ctx, nil); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	malformed := base64.StdEncoding.EncodeToString([]byte(`{"id": "broken", "eventType": `))
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(mustJSON(t, eventGridEvent("sq-intruder", "Microsoft.Resources.ResourceWriteSuccess", intruder))),
		base64.StdEncoding.EncodeToString(mustJSON(t, eventGridEvent("sq-pipeline", "Microsoft.Resources.ResourceWriteSuccess", pipeline))),
		malformed,
		base64.StdEncoding.EncodeToString(mustJSON(t, eventGridEvent("sq-action", "Microsoft.Resources.ResourceActionSuccess", intruder))),
	} {
		if _, err := q.EnqueueMessage(ctx, text, nil); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}

	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: azure-prod
    pipeline_identities: [%s]
sources:
  storage_queues:
    - name: eventgrid-queue
      connection_string: {env: PLUMB_TEST_QUEUE_CONNECTION}
      queue: %s
      max_polling_interval: 500ms
    # A second queue (another region's Event Grid subscription): every
    # poller counts under its own source in /metrics.
    - name: eventgrid-queue-2
      connection_string: {env: PLUMB_TEST_QUEUE_CONNECTION}
      queue: %s-2
      max_polling_interval: 500ms
subscriptions:
  - name: azure-writes
    environment: azure-prod
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers: [{type: audit}]
`, pipeline, queueName, queueName), map[string]string{"PLUMB_TEST_QUEUE_CONNECTION": conn}, nil)

	waitForDeadline(t, 30*time.Second, "two succeeded and one filtered event", func() bool {
		return sameStrings(ts.eventIDsIn("succeeded"), []string{"sq-intruder", "sq-pipeline"}) &&
			sameStrings(ts.eventIDsIn("filtered"), []string{"sq-action"})
	})
	var fs []findingView
	waitForDeadline(t, 10*time.Second, "the audit finding", func() bool {
		fs = ts.findings("kind=audit.unexpected_write")
		return len(fs) > 0
	})
	if len(fs) != 1 || !strings.Contains(fs[0].Finding.Message, intruder) || fs[0].Finding.Environment != "azure-prod" {
		t.Errorf("findings = %+v, want one for the intruder's write in azure-prod", fs)
	}
	if all := ts.findings(""); len(all) != 1 {
		t.Errorf("all findings = %+v, want only the intruder's write", all)
	}

	poison, err := azqueue.NewQueueClientFromConnectionString(conn, queueName+"-poison", nil)
	if err != nil {
		t.Fatal(err)
	}
	var poisoned []string
	waitForDeadline(t, 30*time.Second, "the malformed message in the poison queue", func() bool {
		out, err := poison.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: aws.Int32(32)})
		if err != nil {
			return false // created on first use
		}
		poisoned = poisoned[:0]
		for _, m := range out.Messages {
			poisoned = append(poisoned, *m.MessageText)
		}
		return len(poisoned) > 0
	})
	if len(poisoned) != 1 || poisoned[0] != malformed {
		t.Errorf("poison queue = %q, want exactly the malformed message, unchanged", poisoned)
	}
	waitForDeadline(t, 30*time.Second, "the main queue to be empty", func() bool {
		props, err := q.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return props.ApproximateMessagesCount != nil && *props.ApproximateMessagesCount == 0
	})
	_, metrics := ts.do("GET", "/metrics", nil, nil)
	for _, want := range []string{
		`plumb_poller_messages_total{outcome="received",source="eventgrid-queue"} 4`,
		`plumb_poller_messages_total{outcome="accepted",source="eventgrid-queue"} 3`,
		`plumb_poller_messages_total{outcome="deleted",source="eventgrid-queue"} 3`,
		`plumb_poller_messages_total{outcome="poisoned",source="eventgrid-queue"} 1`,
		`plumb_poller_messages_total{outcome="decode_error",source="eventgrid-queue"} 1`,
		`plumb_poller_messages_total{outcome="received",source="eventgrid-queue-2"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestE2EBadSourceFailsStart: a queue source that cannot be set up stops
// plumb serve at start with an error naming the source, and nothing keeps
// running.
func TestE2EBadSourceFailsStart(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "plumb.yaml"), []byte(`
environments:
  - name: prod
sources:
  storage_queues:
    - name: good-queue
      connection_string: {env: GOOD}
      queue: events
    - name: broken-queue
      connection_string: {env: BROKEN}
      queue: events
`), func(k string) string {
		return map[string]string{
			"GOOD":   testenv.AzuriteConnectionString(testenv.FreePort(t)),
			"BROKEN": "AccountName=devstoreaccount1;this is not a connection string",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{Config: cfg, DataDir: dir, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.DiscardHandler)})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "broken-queue") {
			t.Errorf("Run = %v, want an error naming broken-queue", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not fail within 30s")
	}
}
