package aws_test

import (
	"context"

	"encoding/json"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scan"
)

// harness wires enforcement as plumb does (config, findings store, action
// store, the AWS executor, the service and the runner) over a real SQLite
// store and moto. Queued runs are captured and dispatched by dispatch, as
// the queue would.
type harness struct {
	t        *testing.T
	dir      string
	cfg      *config.Config
	findings *findings.Store
	actions  *enforce.Store
	ex       *enforceaws.Executor
	svc      *enforce.Service
	runner   *enforce.Runner
	queued   []queue.Item
	now      time.Time
	// loadOpts are passed to the executor's AWS configuration.
	loadOpts []func(*awsconfig.LoadOptions) error
}

// newHarness loads yaml (relative state paths resolve in the harness's
// directory, where states are written).
func newHarness(t *testing.T, yaml string, states map[string]string, loadOpts ...func(*awsconfig.LoadOptions) error) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), now: time.Now().UTC(), loadOpts: loadOpts}
	for name, body := range states {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(h.dir, "plumb.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: h.dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	if h.findings, err = findings.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		t.Fatal(err)
	}
	if h.actions, err = enforce.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		t.Fatal(err)
	}
	h.ex = newExecutor(t, h.loadOpts...)
	h.ex.SetAccountRoles(enforceaws.RolesOf(cfg))
	execs := map[string]enforce.Executor{"aws": h.ex}
	clock := func() time.Time { return h.now }
	h.runner = &enforce.Runner{Actions: h.actions, Findings: h.findings, Executors: execs, Now: clock,
		Environment: cfg.Environment,
		Enqueue: func(_ context.Context, items []queue.Item) (queue.EnqueueResult, error) {
			h.queued = append(h.queued, items...)
			return queue.EnqueueResult{Accepted: len(items)}, nil
		}}
	h.svc = &enforce.Service{Config: cfg, Findings: h.findings, Actions: h.actions, Executors: execs, Runner: h.runner, Now: clock}
	return h
}

// scan runs a real scan of an environment and stores its findings at
// `at`, like `plumb scan --notify`; notified marks them delivered at
// notifiedAt (zero: not notified).
func (h *harness) scan(env string, types []string, at, notifiedAt time.Time) []model.Finding {
	h.t.Helper()
	e, ok := h.cfg.Environment(env)
	if !ok {
		h.t.Fatalf("no environment %s", env)
	}
	out, err := scan.Run(context.Background(), scan.Options{Environment: env, States: e.States, Regions: e.Regions,
		Types: types, AllowEmptyState: true, Clouds: []string{scan.CloudAWS}, Accounts: scan.AccountsOf(e)})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(out.Report.Errors) > 0 {
		h.t.Fatalf("scan errors: %+v", out.Report.Errors)
	}
	h.record(env, out.Report.Findings, out.Covered, at, notifiedAt)
	return out.Report.Findings
}

// record stores findings as one scan at `at`.
func (h *harness) record(env string, fs []model.Finding, covered func(model.Finding) bool, at, notifiedAt time.Time) {
	h.t.Helper()
	ctx := context.Background()
	kinds := []model.Kind{model.KindUnmanaged, model.KindMissing, model.KindChanged}
	if _, err := h.findings.Reconcile(ctx, at, env, kinds, fs, covered); err != nil {
		h.t.Fatal(err)
	}
	if notifiedAt.IsZero() {
		return
	}
	fps := make([]string, len(fs))
	for i, f := range fs {
		fps[i] = f.Fingerprint
	}
	if err := h.findings.MarkNotified(ctx, notifiedAt, "team-hook", fps); err != nil {
		h.t.Fatal(err)
	}
}

// plan plans (and applies) in env and dispatches what was queued.
func (h *harness) plan(env string, apply bool) *enforce.Plan {
	h.t.Helper()
	ctx := context.Background()
	p, err := h.svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: env}, Apply: apply, Actor: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// dispatch runs the queued runs as the queue would, first attempt of 8.
func (h *harness) dispatch() {
	h.t.Helper()
	items := h.queued
	h.queued = nil
	for i, it := range items {
		err := h.runner.Dispatch(context.Background(), queue.Delivery{ID: int64(i + 1), Event: it.Event,
			Subscription: it.Subscriptions[0], Attempt: 1, MaxAttempts: 8})
		if err != nil {
			h.t.Fatalf("dispatch run %s: %v", it.Event.ID, err)
		}
	}
}

// action returns the stored action of a fingerprint in a plan's run (or
// its blocked record).
func (h *harness) action(p *enforce.Plan, fp string) *enforce.Action {
	h.t.Helper()
	for _, a := range p.Actions {
		if a.Fingerprint != fp {
			continue
		}
		stored, err := h.actions.Get(context.Background(), a.ID)
		if err != nil {
			return a // blocked actions are stored under their blocked record id
		}
		return stored
	}
	h.t.Fatalf("plan has no action for %s: %s", fp, describePlan(p))
	return nil
}

func describePlan(p *enforce.Plan) string {
	b, _ := json.MarshalIndent(p, "", "  ")
	return string(b)
}

// findingOf picks the finding of a resource id.
func findingOf(t *testing.T, fs []model.Finding, id string) model.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Resource.ID == id || strings.HasSuffix(f.Resource.ID, "/"+id) {
			return f
		}
	}
	t.Fatalf("no finding for %s among %d", id, len(fs))
	return model.Finding{}
}

// emptyState is a Terraform state without resources.
const emptyState = `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "e0c7a1d2-0000-4000-8000-000000000001", "outputs": {}, "resources": []}`

// bucketState declares one bucket.
func bucketState(bucket string) string {
	return `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "e0c7a1d2-0000-4000-8000-000000000002", "outputs": {},
  "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "b", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
    "instances": [{"schema_version": 0, "attributes": {"arn": "arn:aws:s3:::` + bucket + `", "bucket": "` + bucket + `", "id": "` + bucket + `", "region": "us-east-1", "tags": null, "tags_all": {}}}]}]}`
}
