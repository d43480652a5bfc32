package enforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// benchExecutor answers the executor's questions from memory, so the
// benchmark measures planning (candidates, guards, sorting), not a cloud.
type benchExecutor struct{ live map[string]model.Resource }

func (benchExecutor) Provider() string                       { return "aws" }
func (benchExecutor) Supports(Verb, string) bool             { return true }
func (benchExecutor) Rank(Verb, string) int                  { return 0 }
func (benchExecutor) Caller(context.Context) (string, error) { return "123456789012", nil }
func (b benchExecutor) Read(_ context.Context, rs []model.Resource) (map[string]model.Resource, map[string]error, error) {
	out := make(map[string]model.Resource, len(rs))
	for _, r := range rs {
		if l, ok := b.live[ResourceKey(r)]; ok {
			out[ResourceKey(r)] = l
		}
	}
	return out, nil, nil
}
func (benchExecutor) Check(context.Context, *Action, model.Resource, config.Enforcement, func(string, string) bool) (string, error) {
	return "", nil
}
func (benchExecutor) Execute(context.Context, *Action, config.Enforcement, Recorder) (string, error) {
	return "", nil
}

// BenchmarkPlan10k plans 10,000 candidate deletes through the whole guard
// chain: findings, scan coverage and notifications in a real SQLite
// store, 10,000 declared resources to look up, limits high enough that
// every candidate reaches the last guard. Goal: under a second.
func BenchmarkPlan10k(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	actions, store := openStores(b, "sqlite")
	cfg, err := config.Parse("plumb.yaml", []byte(`environments:
  - name: prod
    accounts: ["123456789012"]
    enforcement: {unmanaged: delete, max_actions: 100000, max_fraction: 1, dry_run: false, protect: ["aws_s3_bucket.keep-*"]}
`), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	fs := make([]model.Finding, n)
	live := map[string]model.Resource{}
	var desired []model.DesiredResource
	for i := range fs {
		r := model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: fmt.Sprintf("bucket-%05d", i), Region: "us-east-1",
			Account: "123456789012", Tags: map[string]string{"team": "x"}}
		fs[i] = model.Finding{Kind: model.KindUnmanaged, Severity: "medium", Environment: "prod", Resource: r, Message: r.ID,
			Fingerprint: model.Fingerprint(model.KindUnmanaged, "prod", "aws", r.Type, r.Region, r.ID, "")}
		live[ResourceKey(r)] = r
		desired = append(desired, model.DesiredResource{Resource: model.Resource{Type: "aws_s3_bucket"}, Address: fmt.Sprintf("aws_s3_bucket.d%d", i),
			Mode: "managed", Raw: map[string]any{"id": fmt.Sprintf("declared-%05d", i), "bucket": fmt.Sprintf("declared-%05d", i)}})
	}
	if _, err := store.Reconcile(ctx, t0, "prod", []model.Kind{model.KindUnmanaged}, fs, func(model.Finding) bool { return true }); err != nil {
		b.Fatal(err)
	}
	fps := make([]string, n)
	for i, f := range fs {
		fps[i] = f.Fingerprint
	}
	if err := store.MarkNotified(ctx, t0, "gh", fps); err != nil {
		b.Fatal(err)
	}
	recs, err := store.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Environment: "prod"})
	if err != nil || len(recs) != n {
		b.Fatalf("%d findings: %v", len(recs), err)
	}
	declared := &Declared{}
	declared.Add("prod", desired, inventory.MultiMapper{awsinv.NewMapper()})
	src := Sources{Evidence: store, InFlight: actions, Declared: declared,
		Size: func(context.Context, string) (int, error) { return 2 * n, nil }}
	p := &Planner{Executors: map[string]Executor{"aws": benchExecutor{live: live}}, Guards: DefaultGuards(src),
		Now: func() time.Time { return t0.Add(2 * time.Hour) }}
	env, _ := cfg.Environment("prod")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plan, err := p.Plan(ctx, Request{Environment: env, Apply: true, Actor: "bench"}, recs)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(plan.Runnable()); got != n {
			b.Fatalf("%d runnable, want %d: %v", got, n, plan.Errors)
		}
	}
}
