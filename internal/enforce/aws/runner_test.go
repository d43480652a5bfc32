package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/enforce"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// opFaultProxy puts a proxy in front of moto that answers the first
// `times` calls of an EC2 operation with an AWS error, and forwards
// everything else: a transient AWS failure, reproducibly.
func opFaultProxy(t *testing.T, target, operation string, times int, code string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == operation {
			mu.Lock()
			n++
			fail := n <= times
			mu.Unlock()
			if fail {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>` + code +
					`</Code><Message>injected by the test</Message></Error></Errors><RequestID>1</RequestID></Response>`))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRunnerRetriesThenSucceeds: a transient failure leaves the action
// running with its error and the delivery failing (so the queue retries);
// the action ranked after it waits; the next attempt finishes both.
func TestRunnerRetriesThenSucceeds(t *testing.T) {
	m, cfg := startMoto(t)
	ctx := context.Background()
	sg, err := ec2.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("flaky"), Description: aws.String("x")})
	must(t, err, "CreateSecurityGroup")
	createBucket(t, ctx, cfg, "after-the-group")
	t.Setenv("AWS_ENDPOINT_URL", opFaultProxy(t, m.Endpoint, "DeleteSecurityGroup", 2, "DependencyViolation"))

	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_security_group", "aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	p := h.plan("prod", true)
	if len(p.Runnable()) != 2 || len(h.queued) != 1 {
		t.Fatalf("plan: %s", describePlan(p))
	}
	item := h.queued[0]
	deliver := func(attempt, max int) error {
		return h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: attempt, MaxAttempts: max})
	}
	sgFP := findingOf(t, fs, aws.ToString(sg.GroupId)).Fingerprint
	bucketFP := findingOf(t, fs, "after-the-group").Fingerprint

	for attempt := 1; attempt <= 2; attempt++ {
		err := deliver(attempt, 8)
		if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "DependencyViolation") {
			t.Fatalf("attempt %d: %v, want a retryable DependencyViolation", attempt, err)
		}
		a := h.action(p, sgFP)
		if a.State != enforce.StateRunning || !strings.Contains(a.Error, "DependencyViolation") || a.Attempts != attempt {
			t.Errorf("attempt %d: group action %s, %d attempts, error %q", attempt, a.State, a.Attempts, a.Error)
		}
		if b := h.action(p, bucketFP); b.State != enforce.StatePlanned || !bucketExists(ctx, cfg, "after-the-group") {
			t.Errorf("attempt %d: the bucket did not wait: %s", attempt, b.State)
		}
	}
	if err := deliver(3, 8); err != nil {
		t.Fatalf("attempt 3: %v", err)
	}
	for _, fp := range []string{sgFP, bucketFP} {
		if a := h.action(p, fp); a.State != enforce.StateSucceeded || a.Error != "" {
			t.Errorf("%s: %s %q", a.Resource.ID, a.State, a.Error)
		}
	}
	if bucketExists(ctx, cfg, "after-the-group") {
		t.Error("bucket still there")
	}
	// A fourth delivery (a duplicate) acts on nothing.
	_, w0 := h.ex.Calls()
	if err := deliver(4, 8); err != nil {
		t.Fatal(err)
	}
	if _, w1 := h.ex.Calls(); w1 != w0 {
		t.Errorf("a finished run delivered again made %d writes", w1-w0)
	}
}

// TestRunnerEndsDead: on the last attempt a failing action is failed
// with its error, the action waiting for it is failed too, and the
// delivery's error dead-letters it; re-running the dead delivery tries
// the failed actions again.
func TestRunnerEndsDead(t *testing.T) {
	m, cfg := startMoto(t)
	ctx := context.Background()
	sg, err := ec2.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("stuck"), Description: aws.String("x")})
	must(t, err, "CreateSecurityGroup")
	createBucket(t, ctx, cfg, "waits-for-stuck")
	t.Setenv("AWS_ENDPOINT_URL", opFaultProxy(t, m.Endpoint, "DeleteSecurityGroup", 2, "DependencyViolation"))
	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_security_group", "aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	p := h.plan("prod", true)
	item := h.queued[0]
	for attempt := 1; attempt <= 2; attempt++ {
		err := h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: attempt, MaxAttempts: 2})
		if err == nil {
			t.Fatalf("attempt %d succeeded", attempt)
		}
	}
	a := h.action(p, findingOf(t, fs, aws.ToString(sg.GroupId)).Fingerprint)
	if a.State != enforce.StateFailed || !strings.Contains(a.Error, "DependencyViolation") || a.Attempts != 2 {
		t.Errorf("group action: %s %q after %d attempts", a.State, a.Error, a.Attempts)
	}
	b := h.action(p, findingOf(t, fs, "waits-for-stuck").Fingerprint)
	if b.State != enforce.StateFailed || !strings.Contains(b.Error, "depends on failed") || !bucketExists(ctx, cfg, "waits-for-stuck") {
		t.Errorf("bucket action: %s %q", b.State, b.Error)
	}
	rec, err := h.findings.Get(ctx, a.Fingerprint)
	must(t, err, "get finding")
	if rec.Status != "open" || rec.Finding.Enforcement != nil {
		t.Errorf("a failed delete changed the finding: %s %+v", rec.Status, rec.Finding.Enforcement)
	}
	// An operator re-runs the dead delivery (plumb events retry; the queue
	// allows one more attempt): the failed actions are tried again.
	if err := h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: 3, MaxAttempts: 3}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	for _, fp := range []string{a.Fingerprint, b.Fingerprint} {
		if got := h.action(p, fp); got.State != enforce.StateSucceeded || got.Error != "" {
			t.Errorf("after the re-run %s: %s %q", got.Resource.ID, got.State, got.Error)
		}
	}
	if bucketExists(ctx, cfg, "waits-for-stuck") {
		t.Error("bucket still there after the re-run")
	}
}

// TestRunnerPermanentFailure: an action no retry can fix fails at once
// and the delivery is marked permanent (dead without retries).
func TestRunnerPermanentFailure(t *testing.T) {
	_, _ = startMoto(t)
	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	a := &enforce.Action{ID: "perm", RunID: "r1", Fingerprint: "fp", Environment: "prod", Verb: enforce.VerbDelete,
		Resource: model.Resource{Provider: "gcp", Type: "google_storage_bucket", ID: "x"}, State: enforce.StatePlanned, CreatedAt: h.now, UpdatedAt: h.now}
	raw, _ := json.Marshal(map[string]any{"run_id": "r1", "environment": "prod", "actions": []*enforce.Action{a}})
	err := h.runner.Dispatch(context.Background(), queue.Delivery{ID: 1, Subscription: "enforce:prod", Attempt: 1, MaxAttempts: 8,
		Event: model.Event{Source: enforce.EventSource, ID: "r1", Raw: raw}})
	if !queue.IsPermanent(err) {
		t.Fatalf("error %v, want permanent", err)
	}
	got, gerr := h.actions.Get(context.Background(), "perm")
	if gerr != nil || got.State != enforce.StateFailed || !strings.Contains(got.Error, "no executor for gcp") {
		t.Errorf("action %+v %v", got, gerr)
	}
}

// TestRunnerResumesWithoutActingTwice: a run that crashed after its
// write (the before-state saved, the record still running) is resumed:
// the runner finds the resource gone and records the action done, with
// no second write.
func TestRunnerResumesWithoutActingTwice(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	createBucket(t, ctx, cfg, "crashed-run")
	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	p := h.plan("prod", true)
	item := h.queued[0]
	fp := findingOf(t, fs, "crashed-run").Fingerprint
	// What a crash right after DeleteBucket leaves: the record running,
	// the before-state saved, the bucket gone.
	a := h.action(p, fp)
	a.State, a.Attempts = enforce.StateRunning, 1
	must(t, h.actions.Put(ctx, a), "put")
	_, err := h.actions.SaveBefore(ctx, a.ID, json.RawMessage(`{"bucket":"crashed-run"}`))
	must(t, err, "save before")
	_, err = s3c(cfg).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("crashed-run")})
	must(t, err, "DeleteBucket")

	_, w0 := h.ex.Calls()
	if err := h.runner.Dispatch(ctx, queue.Delivery{ID: 1, Event: item.Event, Subscription: item.Subscriptions[0], Attempt: 2, MaxAttempts: 8}); err != nil {
		t.Fatal(err)
	}
	if _, w1 := h.ex.Calls(); w1 != w0 {
		t.Errorf("resume made %d writes", w1-w0)
	}
	got := h.action(p, fp)
	if got.State != enforce.StateSucceeded || !strings.Contains(got.Result, "earlier attempt") || string(got.Before) != `{"bucket":"crashed-run"}` {
		t.Errorf("resumed action: %s %q before %s", got.State, got.Result, got.Before)
	}
	rec, err := h.findings.Get(ctx, fp)
	must(t, err, "get finding")
	if rec.Status != "resolved" || rec.Finding.Enforcement == nil {
		t.Errorf("finding: %s %+v", rec.Status, rec.Finding.Enforcement)
	}
}
