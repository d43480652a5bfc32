package scanhistory

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/queue"
	"plumb/internal/report"
	"plumb/internal/testenv"
)

func open(t *testing.T, backend string) *Store {
	t.Helper()
	o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o.DatabaseURL = testenv.StartPostgres(t)
	} else {
		o.DataDir = t.TempDir()
	}
	q, err := queue.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	for range 2 { // opening twice is harmless (restarts, replicas)
		if _, err := Open(context.Background(), q.DB(), q.Dialect()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanAt(env string, at time.Time, changed int) Scan {
	sum := model.Summary{Managed: 10, InSync: 10 - changed, Changed: changed, Unmanaged: 1}
	sum.SetCoverage()
	return Scan{Environment: env, StartedAt: at, Duration: 3 * time.Second, Source: SourceSchedule, Summary: sum, Complete: true,
		Packs: []PackSummary{{Pack: "cis-aws-3.0", Pass: 3, Fail: 1, NotEvaluated: 2}}}
}

func TestStore(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, backend)
			day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			pack := Pack{PackSummary: PackSummary{Pack: "cis-aws-3.0", Pass: 3, Fail: 1, NotEvaluated: 2},
				Controls: []Control{{Control: "2.1.1", Status: "fail", Rules: []string{"r"}, Failing: []Resource{{Rule: "r", Type: "aws_s3_bucket", Label: "b"}}}}}
			for d := range 5 {
				for _, env := range []string{"prod", "dev"} {
					// Two scans a day: the later one stands for the day.
					if _, err := s.Record(ctx, scanAt(env, day.AddDate(0, 0, d).Add(2*time.Hour), 0), nil); err != nil {
						t.Fatal(err)
					}
					if _, err := s.Record(ctx, scanAt(env, day.AddDate(0, 0, d).Add(20*time.Hour), d), []Pack{pack}); err != nil {
						t.Fatal(err)
					}
				}
			}
			failed := Scan{Environment: "prod", StartedAt: day.AddDate(0, 0, 4).Add(23 * time.Hour), Source: SourceSchedule, Error: "cannot reach AWS"}
			if _, err := s.Record(ctx, failed, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Record(ctx, Scan{}, nil); err == nil {
				t.Error("a scan without environment was recorded")
			}
			latest, err := s.Latest(ctx)
			if err != nil || len(latest) != 2 || latest[0].Environment != "dev" || latest[1].Error != "cannot reach AWS" {
				t.Fatalf("latest = %+v (%v)", latest, err)
			}
			if latest[0].Summary.Changed != 4 || latest[0].Duration != 3*time.Second || !latest[0].StartedAt.Equal(day.AddDate(0, 0, 4).Add(20*time.Hour)) {
				t.Errorf("latest dev scan = %+v", latest[0])
			}
			scans, err := s.Since(ctx, "prod", day.AddDate(0, 0, 2))
			if err != nil || len(scans) != 7 {
				t.Fatalf("since = %d scans (%v), want 7", len(scans), err)
			}
			days := Trend(scans)
			if len(days) != 3 || days[0].Drift != 2+1 || days[2].Drift != 4+1 {
				t.Errorf("trend = %+v", days)
			}
			if pct := days[0].Compliance["cis-aws-3.0"]; pct != 75 {
				t.Errorf("compliance = %v, want 75 (3 of 4 evaluated controls)", pct)
			}
			daily, err := s.DailyLatest(ctx, day.AddDate(0, 0, 2))
			if err != nil {
				t.Fatal(err)
			}
			perEnv := map[string][]Scan{}
			for _, sc := range daily {
				perEnv[sc.Environment] = append(perEnv[sc.Environment], sc)
			}
			if len(perEnv["prod"]) != 3 || len(perEnv["dev"]) != 3 || perEnv["dev"][2].Summary.Changed != 4 {
				t.Errorf("daily latest: prod %d, dev %d scans", len(perEnv["prod"]), len(perEnv["dev"]))
			}
			if got := Trend(perEnv["dev"]); len(got) != 3 || got[2].Drift != 5 {
				t.Errorf("trend from daily latest = %+v", got)
			}
			p, sc, ok, err := s.Compliance(ctx, "prod", "cis-aws-3.0")
			if err != nil || !ok || len(p.Controls) != 1 || p.Controls[0].Failing[0].Label != "b" || !sc.StartedAt.Equal(day.AddDate(0, 0, 4).Add(20*time.Hour)) {
				t.Errorf("compliance = %+v %+v %v %v", p, sc, ok, err)
			}
			if _, _, ok, _ := s.Compliance(ctx, "prod", "pci-dss-4.0"); ok {
				t.Error("compliance of a pack never evaluated")
			}
			// Pruning everything older than far in the future keeps the
			// latest scan of each environment.
			n, err := s.Prune(ctx, day.AddDate(1, 0, 0))
			if err != nil || n != 19 {
				t.Errorf("pruned %d (%v), want 19 of 21", n, err)
			}
			if l, _ := s.Latest(ctx); len(l) != 2 {
				t.Errorf("after pruning, %d environments have a latest scan", len(l))
			}
			if _, _, ok, _ := s.Compliance(ctx, "dev", "cis-aws-3.0"); !ok {
				t.Error("the latest scan's compliance was pruned")
			}
			var orphans int
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+ComplianceTable+` WHERE scan_id NOT IN (SELECT id FROM `+Table+`)`).Scan(&orphans); err != nil || orphans != 0 {
				t.Errorf("%d compliance rows left without their scan (%v)", orphans, err)
			}
		})
	}
}

func TestFromReport(t *testing.T) {
	rep := &report.Report{Environment: "prod", StartedAt: time.Unix(100, 0), DurationMS: 1500,
		Summary:  model.Summary{Managed: 5, InSync: 4, Changed: 1, NotEvaluated: 0},
		Findings: []model.Finding{{Kind: model.KindChanged}, {Kind: model.KindChanged}, {Kind: model.KindPolicyViolation}},
		Errors:   []inventory.ScopeError{{Scope: "aws/eu-west-1/rds", Message: "AccessDenied"}}}
	passing := make([]policy.ResourceResult, ListLimit+5)
	comp := &policy.Compliance{Pack: "cis-aws-3.0", Controls: []policy.ControlResult{
		{Control: "1", Status: policy.StatusPass, Passing: passing},
		{Control: "2", Status: policy.StatusFail, Failing: []policy.ResourceResult{{Label: "x"}}},
		{Control: "3", Status: policy.StatusNotEvaluated, NotEvaluated: []policy.ResourceResult{{Label: "z"}}},
		{Control: "4", Status: policy.StatusError, Errored: []policy.ResourceResult{{Label: "y", Message: "unknown"}}},
	}}
	sc, packs := FromReport(SourceCLI, rep, []*policy.Compliance{comp, nil})
	if sc.Complete || len(sc.Unread) != 1 || sc.Duration != 1500*time.Millisecond || sc.Findings["drift.changed"] != 2 {
		t.Errorf("scan = %+v", sc)
	}
	if len(packs) != 1 || packs[0].Pass != 1 || packs[0].Fail != 1 || packs[0].Error != 1 || packs[0].NotEvaluated != 1 {
		t.Fatalf("packs = %+v", packs)
	}
	if c := packs[0].Controls[0]; len(c.Passing) != ListLimit || c.PassingTotal != ListLimit+5 {
		t.Errorf("passing kept %d of %d, want %d of %d", len(c.Passing), c.PassingTotal, ListLimit, ListLimit+5)
	}
	if c := packs[0].Controls[2]; c.NotEvaluatedTotal != 1 || c.NotEvaluated[0].Label != "z" {
		t.Errorf("not evaluated = %+v", c)
	}
	if pct, ok := packs[0].Percent(); !ok || pct < 33.3 || pct > 33.4 {
		t.Errorf("percent = %v %v, want 1 of 3 evaluated", pct, ok)
	}
	if _, ok := (PackSummary{NotEvaluated: 4}).Percent(); ok {
		t.Error("a pack with nothing evaluated has a percentage")
	}
}
