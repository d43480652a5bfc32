package gate_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/gate"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChangeSet(t *testing.T) {
	staging, err := gate.ReadChangeSet(read(t, "plan_sg.json"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := gate.ReadChangeSet(read(t, "plan_sg_prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	ssh, err := gate.ReadChangeSet(read(t, "plan_ssh_prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	if staging.Hash != prod.Hash {
		t.Error("the same change in staging and prod hashed differently")
	}
	if ssh.Hash == prod.Hash {
		t.Error("a different change hashed the same")
	}
	if len(staging.Changes) != 1 || staging.Changes[0].Address != "aws_security_group.web" || strings.Join(staging.Changes[0].Attributes, ",") != "tags" {
		t.Errorf("change set %+v (the no-op VPC must not count)", staging.Changes)
	}
	for _, bad := range []string{`{}`, `[1]`, `not json`} {
		if _, err := gate.ReadChangeSet([]byte(bad)); err == nil {
			t.Errorf("%s accepted as a plan", bad)
		}
	}
}

// FuzzReadChangeSet: any input is read or refused without panicking, and
// what is read hashes the same twice.
func FuzzReadChangeSet(f *testing.F) {
	for _, n := range []string{"plan_sg.json", "plan_ssh_prod.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := gate.ReadChangeSet(data)
		if err != nil {
			return
		}
		b, err := gate.ReadChangeSet(data)
		if err != nil || a.Hash != b.Hash {
			t.Fatalf("unstable: %v %s %s", err, a.Hash, b.Hash)
		}
	})
}

const gateConfig = `environments:
  - name: staging
    approval: peer
    approvers: [dev1, dev2]
  - name: prod
    promotes_from: staging
    approval: management
    approvers: [boss]
    policies: [testdata/rules.yaml]
`

// TestEvaluate: staging applied and clean lets prod pass; staging
// drifted, never applied there, a different plan, a policy violation or
// a missing approval fail with the reason.
func TestEvaluate(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
			if backend == "postgres" {
				o.DatabaseURL = testenv.StartPostgres(t)
			} else {
				o.DataDir = t.TempDir()
			}
			q, err := queue.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			fs, err := findings.NewStore(ctx, q.DB(), q.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			actions, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			applied, err := gate.NewApplied(ctx, q.DB(), q.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse("plumb.yaml", []byte(gateConfig), os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			prod, _ := cfg.Environment("prod")
			t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
			eval := func(plan string, at time.Time) *gate.Verdict {
				t.Helper()
				v, err := gate.Evaluate(ctx, gate.Inputs{Config: cfg, Environment: prod, PlanPath: filepath.Join("testdata", plan), Plan: read(t, plan),
					Requester: "ci", Findings: fs, Applied: applied, Decisions: actions, Now: at})
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			expect := func(v *gate.Verdict, passed bool, checks map[string]string) {
				t.Helper()
				if v.Passed != passed {
					t.Errorf("passed = %v, want %v: %+v", v.Passed, passed, v.Checks)
				}
				for _, c := range v.Checks {
					want, ok := checks[c.Name]
					if !ok {
						continue
					}
					if strings.HasPrefix(want, "!") != !c.Passed || !strings.Contains(c.Detail, strings.TrimPrefix(want, "!")) {
						t.Errorf("%s: passed=%v %q, want %q", c.Name, c.Passed, c.Detail, want)
					}
				}
			}
			cs, _ := gate.ReadChangeSet(read(t, "plan_sg.json"))

			// Nothing yet: never applied to staging, not approved.
			expect(eval("plan_sg_prod.json", t0), false, map[string]string{
				"policy":    "2 planned resource(s) pass 2 rule(s)",
				"promotion": "!was never applied to staging",
				"approval":  "!no valid management approval of change set",
			})

			// Applied to staging at 10:00, scanned at 09:30 only: not known drift-free.
			scan := func(at time.Time, drift []model.Finding) {
				t.Helper()
				if _, err := fs.Reconcile(ctx, at, "staging", []model.Kind{model.KindChanged}, drift, func(model.Finding) bool { return true }); err != nil {
					t.Fatal(err)
				}
			}
			scan(t0.Add(30*time.Minute), nil)
			if err := applied.Record(ctx, "staging", cs.Hash, "ci", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			expect(eval("plan_sg_prod.json", t0.Add(2*time.Hour)), false, map[string]string{"promotion": "!staging has not been scanned since"})

			// Scanned at 11:00 with drift.
			r := model.Resource{Provider: "aws", Type: "aws_security_group", ID: "sg-1", Region: "us-east-1", Name: "web"}
			drifted := model.Finding{Kind: model.KindChanged, Severity: model.SeverityMedium, Environment: "staging", Resource: r,
				Fingerprint: model.Fingerprint(model.KindChanged, "staging", "aws", r.Type, r.Region, r.ID, ""), Message: "changed"}
			scan(t0.Add(2*time.Hour), []model.Finding{drifted})
			expect(eval("plan_sg_prod.json", t0.Add(3*time.Hour)), false, map[string]string{"promotion": "!staging has open drift: drift.changed"})

			// Scanned clean at 12:00; approved by the management approver;
			// the runner's own approval and a non-approver's do not count.
			scan(t0.Add(3*time.Hour), nil)
			if err := gate.Approve(ctx, actions, prod, cs, "dev1", enforce.DecisionApprove, "", t0.Add(3*time.Hour)); err == nil || !strings.Contains(err.Error(), "dev1 is not an approver of environment prod") {
				t.Fatalf("a staging approver approved prod: %v", err)
			}
			expect(eval("plan_sg_prod.json", t0.Add(4*time.Hour)), false, map[string]string{"promotion": "staging scanned drift-free", "approval": "!no valid management approval"})
			if err := gate.Approve(ctx, actions, prod, cs, "boss", enforce.DecisionApprove, "release 42", t0.Add(4*time.Hour)); err != nil {
				t.Fatal(err)
			}
			expect(eval("plan_sg_prod.json", t0.Add(5*time.Hour)), true, map[string]string{"approval": "management approval present: approve by boss"})

			// The approval expires after 24h.
			expect(eval("plan_sg_prod.json", t0.Add(29*time.Hour)), false, map[string]string{"approval": "!the approval by boss at 2026-06-01T13:00:00Z expired"})

			// A different plan: another change set, never in staging, and it
			// opens SSH to the world.
			expect(eval("plan_ssh_prod.json", t0.Add(5*time.Hour)), false, map[string]string{
				"policy":    "!1 violation(s): test-sg-no-public-ssh at aws_security_group.web",
				"promotion": "!was never applied to staging",
				"approval":  "!no valid management approval",
			})
		})
	}
}
