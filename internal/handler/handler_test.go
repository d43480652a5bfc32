package handler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"plumb/internal/audit"
	"plumb/internal/model"
)

func TestPermanent(t *testing.T) {
	base := errors.New("bad config")
	p := Permanent(base)
	wrapped := fmt.Errorf("handler x: %w", p)
	if !IsPermanent(p) || !IsPermanent(wrapped) || !errors.Is(wrapped, base) {
		t.Error("Permanent not recognised through wrapping")
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Error("plain or nil errors reported as permanent")
	}
}

func TestAudit(t *testing.T) {
	checker, err := audit.NewChecker([]string{"arn:aws:iam::123456789012:role/github-actions-*", "11111111-2222-3333-4444-555555555555"})
	if err != nil {
		t.Fatal(err)
	}
	describe := awsEvent(userBob, `{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","readOnly":true,"userIdentity":{"arn":"`+userBob+`"}}`)
	tests := []struct {
		name string
		ev   model.Event
		want int
	}{
		{"aws write by a person", runInstances(userBob, "i-1"), 1},
		{"aws write by the pipeline", runInstances(ciSession, "i-1"), 0},
		{"aws read", describe, 0},
		{"azure write by a person", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write", storageID+"st1", "99999999-2222-3333-4444-555555555555"), 1},
		{"azure write by the pipeline", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write", storageID+"st1", "11111111-2222-3333-4444-555555555555"), 0},
		{"azure failed write by a person", azureEvent("Microsoft.Resources.ResourceWriteFailure", "Microsoft.Storage/storageAccounts/write", storageID+"st1", "99999999-2222-3333-4444-555555555555"), 1},
		{"write without principal", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Storage/storageAccounts/write", ResourceID: storageID + "st1"}, 0},
	}
	h := Audit{Checker: checker}
	if h.Name() != "audit" {
		t.Errorf("Name = %q", h.Name())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := h.Handle(context.Background(), Delivery{Event: tc.ev, Environment: "prod", Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != tc.want {
				t.Fatalf("got %d findings (%+v), want %d", len(fs), fs, tc.want)
			}
			if tc.want == 1 && (fs[0].Kind != model.KindUnexpectedWrite || fs[0].Environment != "prod") {
				t.Errorf("finding = %+v", fs[0])
			}
		})
	}
	if _, err := (Audit{}).Handle(context.Background(), Delivery{Event: runInstances(userBob, "i-1")}); !IsPermanent(err) {
		t.Errorf("nil checker: err = %v, want permanent", err)
	}
}

func stateDesired(t *testing.T) *StateDesired {
	t.Helper()
	path := filepath.Join("testdata", "env.tfstate")
	return &StateDesired{Load: LoadStates(func(env string) []string {
		if env == "prod" {
			return []string{path}
		}
		return nil
	}, stateOptions())}
}

func TestDriftCheck(t *testing.T) {
	slr := awsEvent(userBob, `{"eventSource":"iam.amazonaws.com","eventName":"CreateRole","userIdentity":{"type":"IAMUser","arn":"`+userBob+`"},
	"requestParameters":{"roleName":"AWSServiceRoleForX","path":"/aws-service-role/x.amazonaws.com/"},
	"responseElements":{"role":{"path":"/aws-service-role/x.amazonaws.com/","roleName":"AWSServiceRoleForX","arn":"arn:aws:iam::123456789012:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"}}}`)
	slrCreate := awsEvent(userBob, `{"eventSource":"iam.amazonaws.com","eventName":"CreateServiceLinkedRole","userIdentity":{"type":"IAMUser","arn":"`+userBob+`"},
	"responseElements":{"role":{"path":"/aws-service-role/autoscaling.amazonaws.com/","roleName":"AWSServiceRoleForAutoScaling","arn":"arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}}`)
	tests := []struct {
		name     string
		ev       model.Event
		wantType string
		wantID   string
	}{
		{"declared instance", runInstances(userBob, "i-0declared0000001"), "", ""},
		{"undeclared instance", runInstances(userBob, "i-0rogue00000000001"), "aws_instance", "i-0rogue00000000001"},
		{"declared bucket", createBucket(userBob, "plumb-assets-prod"), "", ""},
		{"undeclared bucket", createBucket(userBob, "bobs-scratch"), "aws_s3_bucket", "bobs-scratch"},
		{"declared azure account, other case", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write",
			strings.ToUpper(storageID)+"STLOGS01", "u"), "", ""},
		{"undeclared azure account", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write", storageID+"stmanual01", "u"),
			"azurerm_storage_account", storageID + "stmanual01"},
		{"failed azure write", azureEvent("Microsoft.Resources.ResourceWriteFailure", "Microsoft.Storage/storageAccounts/write", storageID+"stmanual01", "u"), "", ""},
		{"unmappable azure type", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Cdn/profiles/write",
			"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/p", "u"), "", ""},
		{"unmappable aws call", awsEvent(userBob, `{"eventSource":"glue.amazonaws.com","eventName":"CreateDatabase","requestParameters":{"databaseInput":{"name":"x"}}}`), "", ""},
		{"failed aws creation", awsEvent(userBob, `{"eventSource":"s3.amazonaws.com","eventName":"CreateBucket","errorCode":"AccessDenied","requestParameters":{"bucketName":"nope"}}`), "", ""},
		{"service-linked role path", slr, "", ""},
		{"service-linked role creation", slrCreate, "", ""},
	}
	c := DriftCheck{Desired: stateDesired(t)}
	if c.Name() != "drift-check" {
		t.Errorf("Name = %q", c.Name())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := c.Handle(context.Background(), Delivery{Event: tc.ev, Environment: "prod", Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantType == "" {
				if len(fs) != 0 {
					t.Fatalf("got %+v, want no finding", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("got %d findings, want 1: %+v", len(fs), fs)
			}
			f := fs[0]
			if f.Kind != model.KindUnmanaged || f.Resource.Type != tc.wantType || f.Resource.ID != tc.wantID {
				t.Errorf("finding = %s %s %s", f.Kind, f.Resource.Type, f.Resource.ID)
			}
			want := model.Fingerprint(model.KindUnmanaged, "prod", f.Resource.Provider, tc.wantType, f.Resource.Region, tc.wantID, "")
			if f.Fingerprint != want {
				t.Errorf("fingerprint %s, want %s", f.Fingerprint, want)
			}
		})
	}

	// An environment whose state cannot be loaded is retried, not
	// reported.
	_, err := c.Handle(context.Background(), Delivery{Event: runInstances(userBob, "i-x"), Environment: "staging"})
	if err == nil || IsPermanent(err) {
		t.Errorf("missing state: err = %v, want retryable error", err)
	}
}

func TestDriftCheckRefreshAndGrace(t *testing.T) {
	var loads atomic.Int32
	now := time.Date(2026, 3, 2, 10, 15, 40, 0, time.UTC)
	sd := &StateDesired{
		Load: func(ctx context.Context, env string) ([]model.DesiredResource, error) {
			n := loads.Add(1)
			if n == 1 {
				return nil, nil
			}
			// The pipeline wrote the state after the first read.
			return []model.DesiredResource{{Resource: model.Resource{Provider: "aws", Type: "aws_instance"}, Raw: map[string]any{"id": "i-new"}}}, nil
		},
		MinRefresh: time.Second,
		Now:        func() time.Time { return now },
	}
	c := DriftCheck{Desired: sd}
	ctx := context.Background()
	if _, err := sd.Declared(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	// Cached set is fresh: no reload within MinRefresh, so a miss is
	// reported from the cached set.
	fs, err := c.Handle(ctx, Delivery{Event: runInstances(userBob, "i-new"), Environment: "prod"})
	if err != nil || len(fs) != 1 || loads.Load() != 1 {
		t.Fatalf("fresh cache: findings %d err %v loads %d", len(fs), err, loads.Load())
	}
	// Later the miss triggers a reload, which finds the resource.
	now = now.Add(2 * time.Second)
	fs, err = c.Handle(ctx, Delivery{Event: runInstances(userBob, "i-new"), Environment: "prod"})
	if err != nil || len(fs) != 0 || loads.Load() != 2 {
		t.Fatalf("after refresh: findings %d err %v loads %d", len(fs), err, loads.Load())
	}
	// Grace defers a verdict on a young event with a retryable error.
	g := DriftCheck{Desired: sd, Grace: time.Minute, Now: func() time.Time { return now }}
	_, err = g.Handle(ctx, Delivery{Event: runInstances(userBob, "i-other"), Environment: "prod"})
	if !errors.Is(err, errTooEarly) || IsPermanent(err) {
		t.Errorf("grace: err = %v", err)
	}
}

func TestRequiredTags(t *testing.T) {
	ctx := context.Background()
	bucket := createBucket(userBob, "b1")
	withTags := func(ev model.Event, tags string) model.Event {
		ev.Raw = []byte(strings.Replace(string(ev.Raw), `"detail":{`, `"detail":{"tags":`+tags+`,`, 1))
		return ev
	}
	lookupErr := errors.New("throttled")
	tests := []struct {
		name    string
		ev      model.Event
		lookup  func(ctx context.Context, id string) (map[string]string, bool, error)
		want    int
		wantErr bool
	}{
		{"payload tags missing a key", withTags(bucket, `{"owner":"x"}`), nil, 1, false},
		{"payload tags complete", withTags(bucket, `{"owner":"x","cost-center":"42"}`), nil, 0, false},
		{"no tag info and no lookup", bucket, nil, 0, false},
		{"lookup missing a key", bucket, func(context.Context, string) (map[string]string, bool, error) {
			return map[string]string{"owner": "x"}, true, nil
		}, 1, false},
		{"lookup complete", bucket, func(_ context.Context, id string) (map[string]string, bool, error) {
			if id != "arn:aws:s3:::b1" {
				return nil, false, fmt.Errorf("unexpected id %s", id)
			}
			return map[string]string{"owner": "x", "cost-center": "1"}, true, nil
		}, 0, false},
		{"lookup not found", bucket, func(context.Context, string) (map[string]string, bool, error) { return nil, false, nil }, 0, false},
		{"lookup error retries", bucket, func(context.Context, string) (map[string]string, bool, error) { return nil, false, lookupErr }, 0, true},
		{"azure tag names ignore case", azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write", storageID+"st9", "u"),
			func(context.Context, string) (map[string]string, bool, error) {
				return map[string]string{"Owner": "x", "Cost-Center": "1"}, true, nil
			}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Validate{Checks: []Check{RequiredTags{Keys: []string{"owner", "cost-center"}, Lookup: tc.lookup}}}
			fs, err := v.Handle(ctx, Delivery{Event: tc.ev, Environment: "prod"})
			if tc.wantErr {
				if !errors.Is(err, lookupErr) || IsPermanent(err) {
					t.Fatalf("err = %v, want retryable lookup error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != tc.want {
				t.Fatalf("got %d findings (%+v), want %d", len(fs), fs, tc.want)
			}
			if tc.want == 1 {
				f := fs[0]
				if f.Kind != model.KindPolicyViolation || f.Rule != "required-tags" || !strings.Contains(f.Message, "cost-center") || f.Resource.Type != "aws_s3_bucket" {
					t.Errorf("finding = %+v", f)
				}
			}
		})
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runbook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDeliveryID: one delivery has one id whatever the attempt; another
// subscription or another event (or the same id from another topic) has
// another.
func TestDeliveryID(t *testing.T) {
	ev := runInstances(userBob, "i-1")
	base := Delivery{Event: ev, Environment: "prod", Subscription: "ec2-writes", Attempt: 1}
	retry := base
	retry.Attempt = 5
	otherSub := base
	otherSub.Subscription = "ec2-all"
	otherTopic := base
	otherTopic.Event.Topic = "another-topic"
	otherEvent := Delivery{Event: runInstances(userBob, "i-2"), Subscription: "ec2-writes", Attempt: 1}
	otherEvent.Event.ID = "ev-2"
	if base.ID() != retry.ID() {
		t.Errorf("attempt 1 id %s, attempt 5 id %s: want the same", base.ID(), retry.ID())
	}
	for name, d := range map[string]Delivery{"subscription": otherSub, "topic": otherTopic, "event": otherEvent} {
		if d.ID() == base.ID() {
			t.Errorf("another %s has the same delivery id %s", name, d.ID())
		}
	}
}

func TestRunbook(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh is needed for runbook tests")
	}
	ctx := context.Background()
	ev := runInstances(userBob, "i-1")
	d := Delivery{Event: ev, Environment: "prod", Subscription: "ec2-writes", Attempt: 3}

	t.Run("stdin and env", func(t *testing.T) {
		dir := t.TempDir()
		script := writeScript(t, `cat > "$OUT/event.json"
printf '%s|%s|%s|%s|%s|%s' "$PLUMB_EVENT_ID" "$PLUMB_EVENT_TYPE" "$PLUMB_SUBSCRIPTION" "$PLUMB_ATTEMPT" "$EXTRA" "$PLUMB_DELIVERY_ID" > "$OUT/env.txt"
echo done`)
		var got RunbookResult
		r := Runbook{Command: []string{script}, Timeout: 10 * time.Second, Env: []string{"OUT=" + dir, "EXTRA=yes"},
			OnResult: func(_ Delivery, res RunbookResult) { got = res }}
		if r.Name() != "runbook" {
			t.Errorf("Name = %q", r.Name())
		}
		fs, err := r.Handle(ctx, d)
		if err != nil || fs != nil {
			t.Fatalf("Handle = %v, %v", fs, err)
		}
		if got.ExitCode != 0 || strings.TrimSpace(got.Output) != "done" {
			t.Errorf("result = %+v", got)
		}
		data, err := os.ReadFile(filepath.Join(dir, "event.json"))
		if err != nil {
			t.Fatal(err)
		}
		var back model.Event
		if err := jsonUnmarshal(data, &back); err != nil {
			t.Fatalf("stdin is not a model.Event: %v\n%s", err, data)
		}
		if back.ID != ev.ID || back.Operation != ev.Operation || back.Principal != ev.Principal || string(back.Raw) != compactJSON(t, ev.Raw) {
			t.Errorf("stdin event = %+v", back)
		}
		var withID struct {
			DeliveryID string `json:"delivery_id"`
		}
		if err := jsonUnmarshal(data, &withID); err != nil || len(withID.DeliveryID) != 32 || withID.DeliveryID != d.ID() {
			t.Errorf("stdin delivery_id = %q (%v), want %q", withID.DeliveryID, err, d.ID())
		}
		env, _ := os.ReadFile(filepath.Join(dir, "env.txt"))
		if want := "ev-1|AWS API Call via CloudTrail|ec2-writes|3|yes|" + d.ID(); string(env) != want {
			t.Errorf("env = %q, want %q", env, want)
		}
	})

	t.Run("exit 3 is an error with output", func(t *testing.T) {
		script := writeScript(t, "echo 'quota exceeded' >&2\nexit 3\n")
		res, err := Runbook{Command: []string{script}, Timeout: 10 * time.Second}.Run(ctx, d)
		var re *RunbookError
		if !errors.As(err, &re) || IsPermanent(err) {
			t.Fatalf("err = %v, want retryable *RunbookError", err)
		}
		if res.ExitCode != 3 || re.Result.ExitCode != 3 || !strings.Contains(err.Error(), "quota exceeded") {
			t.Errorf("res = %+v, err = %v", res, err)
		}
	})

	t.Run("timeout kills the process group", func(t *testing.T) {
		dir := t.TempDir()
		// The child sleep keeps stdout open; only a group kill ends it.
		script := writeScript(t, "sleep 30 &\necho $! > \""+dir+"/child\"\nsleep 30\n")
		start := time.Now()
		_, err := Runbook{Command: []string{script}, Timeout: 200 * time.Millisecond}.Run(ctx, d)
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Fatalf("took %s", elapsed)
		}
		if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		pid, _ := os.ReadFile(filepath.Join(dir, "child"))
		if p := strings.TrimSpace(string(pid)); p != "" {
			deadline := time.Now().Add(3 * time.Second)
			for processAlive(p) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if processAlive(p) {
				t.Errorf("child %s survived the timeout", p)
			}
		}
	})

	t.Run("output bounded", func(t *testing.T) {
		script := writeScript(t, "head -c 200000 /dev/zero | tr '\\0' 'x'\n")
		res, err := Runbook{Command: []string{script}, Timeout: 10 * time.Second}.Run(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Truncated || strings.Count(res.Output, "x") != MaxRunbookOutput {
			t.Errorf("truncated=%v, %d x's, want %d", res.Truncated, strings.Count(res.Output, "x"), MaxRunbookOutput)
		}
	})

	t.Run("missing command is permanent", func(t *testing.T) {
		if _, err := (Runbook{}).Run(ctx, d); !IsPermanent(err) {
			t.Errorf("err = %v", err)
		}
		if _, err := (Runbook{Command: []string{"/nonexistent/runbook"}}).Run(ctx, d); err == nil {
			t.Error("nonexistent command succeeded")
		}
	})
}

// processAlive reports whether a pid still runs (and is not a zombie).
func processAlive(pid string) bool {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return len(f) > 2 && f[2] != "Z"
}
