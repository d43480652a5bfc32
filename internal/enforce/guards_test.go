package enforce

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// The guards that need the cloud (account, supported, live, aws-default,
// precondition) are tested against moto with the AWS executor in
// internal/enforce/aws; these are the ones that judge from the config and
// the stores.

// env parses an environment from YAML so its settings carry the loader's
// defaults, as in production.
func env(t *testing.T, enforcement string) config.Environment {
	t.Helper()
	cfg, err := config.Parse("plumb.yaml", []byte("environments:\n  - name: prod\n    accounts: [\"123456789012\"]\n    enforcement: "+enforcement+"\n"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Environments[0]
}

func cand(typ, id string, tags map[string]string) *Candidate {
	r := model.Resource{Provider: "aws", Type: typ, ID: id, Region: "us-east-1", Account: "123456789012", Tags: tags}
	fp := model.Fingerprint(model.KindUnmanaged, "prod", "aws", typ, "us-east-1", id, "")
	return &Candidate{Action: &Action{ID: "a-" + id, Fingerprint: fp, Environment: "prod", Verb: VerbDelete, Resource: r, State: StatePlanned}}
}

// check runs one guard over candidates and returns guard/reason per id
// ("" when it passed).
func check(t *testing.T, g Guard, run *Run, cs ...*Candidate) map[string]string {
	t.Helper()
	RunGuards(context.Background(), run, []Guard{g}, cs)
	out := map[string]string{}
	for _, c := range cs {
		if c.Blocked() {
			out[c.Action.Resource.ID] = c.Action.Guard + ": " + c.Action.Reason
		} else {
			out[c.Action.Resource.ID] = ""
		}
	}
	return out
}

func TestProtectGuards(t *testing.T) {
	e := env(t, `{unmanaged: delete, protect_tags: [keep], protect: ["aws_s3_bucket.audit-*", "!aws_s3_bucket.audit-tmp"]}`)
	run := &Run{Environment: e}
	tests := []struct {
		name  string
		guard Guard
		c     *Candidate
		live  *model.Resource
		want  string // substring of guard: reason, "" to pass
	}{
		{"pattern matches", ProtectPattern{}, cand("aws_s3_bucket", "audit-logs", nil), nil, "protect-pattern: aws_s3_bucket.audit-logs matches"},
		{"pattern negated", ProtectPattern{}, cand("aws_s3_bucket", "audit-tmp", nil), nil, ""},
		{"pattern other type", ProtectPattern{}, cand("aws_sqs_queue", "audit-logs", nil), nil, ""},
		{"default tag", ProtectTag{}, cand("aws_s3_bucket", "a", map[string]string{"plumb:protect": ""}), nil, "protect-tag: tagged plumb:protect"},
		{"configured tag", ProtectTag{}, cand("aws_s3_bucket", "a", map[string]string{"keep": "yes"}), nil, "protect-tag: tagged keep"},
		{"no tag", ProtectTag{}, cand("aws_s3_bucket", "a", map[string]string{"Name": "x"}), nil, ""},
		{"static: unknown tags pass to the live check", ProtectTag{}, cand("aws_s3_bucket", "a", nil), nil, ""},
		{"live tag", ProtectTag{Live: true}, cand("aws_s3_bucket", "a", nil), &model.Resource{Tags: map[string]string{"keep": ""}}, "protect-tag: tagged keep"},
		{"live tags unknown", ProtectTag{Live: true}, cand("aws_s3_bucket", "a", map[string]string{}), &model.Resource{}, "could not be read"},
		{"live not read", ProtectTag{Live: true}, cand("aws_s3_bucket", "a", map[string]string{}), nil, "not read back"},
		{"live clean", ProtectTag{Live: true}, cand("aws_s3_bucket", "a", nil), &model.Resource{Tags: map[string]string{}}, ""},
		{"default resource", AWSDefault{}, cand("aws_vpc", "vpc-1", nil), &model.Resource{Default: "default VPC"}, "aws-default: created by the cloud itself: default VPC"},
		{"not a default", AWSDefault{}, cand("aws_vpc", "vpc-1", nil), &model.Resource{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Live = tc.live
			got := check(t, tc.guard, run, tc.c)[tc.c.Action.Resource.ID]
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDryRunGuard(t *testing.T) {
	tests := []struct {
		name        string
		enforcement string
		apply       bool
		want        string
	}{
		{"armed and applied", "{unmanaged: delete, dry_run: false}", true, ""},
		{"armed, not applied", "{unmanaged: delete, dry_run: false}", false, "pass --apply"},
		{"default dry run, applied", "{unmanaged: delete}", true, "dry_run: true"},
		{"default dry run, not applied", "{unmanaged: delete}", false, "dry_run: true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, DryRun{}, &Run{Environment: env(t, tc.enforcement), Apply: tc.apply}, cand("aws_s3_bucket", "b", nil))["b"]
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCircuitBreaker(t *testing.T) {
	tests := []struct {
		name        string
		enforcement string
		n, size     int
		want        string
	}{
		{"within both limits", "{unmanaged: delete, max_actions: 3, max_fraction: 0.5}", 3, 6, ""},
		{"one more than max_actions", "{unmanaged: delete, max_actions: 3, max_fraction: 1}", 4, 100, "4 actions would run, more than max_actions 3"},
		{"over the fraction", "{unmanaged: delete, max_actions: 10, max_fraction: 0.1}", 2, 10, "20.0% of the environment's 10 resources"},
		{"exactly the fraction", "{unmanaged: delete, max_actions: 10, max_fraction: 0.2}", 2, 10, ""},
		{"size smaller than the run (a state lost)", "{unmanaged: delete, max_actions: 10, max_fraction: 0.5}", 3, 0, "100.0% of the environment's 3 resources"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := &Run{Environment: env(t, tc.enforcement)}
			var cs []*Candidate
			for i := 0; i < tc.n; i++ {
				cs = append(cs, cand("aws_s3_bucket", string(rune('a'+i)), nil))
			}
			g := CircuitBreaker{Size: func(context.Context, string) (int, error) { return tc.size, nil }}
			got := check(t, g, run, cs...)
			for id, reason := range got {
				if (tc.want == "") != (reason == "") || !strings.Contains(reason, tc.want) {
					t.Errorf("%s: got %q, want %q", id, reason, tc.want)
				}
			}
			if (tc.want != "") != (run.Trip != nil) {
				t.Errorf("trip = %+v", run.Trip)
			}
		})
	}
}

func TestEvidenceGuards(t *testing.T) {
	_, store := openStores(t, "sqlite")
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	e := env(t, "{unmanaged: delete, grace: 1h}")
	mk := func(id string) (model.Finding, *Candidate) {
		c := cand("aws_s3_bucket", id, map[string]string{})
		return model.Finding{Kind: model.KindUnmanaged, Severity: "medium", Fingerprint: c.Action.Fingerprint, Environment: "prod",
			Resource: c.Action.Resource, Message: id}, c
	}
	kinds := []model.Kind{model.KindUnmanaged}
	fOld, cOld := mk("notified-2h")
	fNew, cNew := mk("notified-10m")
	fNone, cNone := mk("never-notified")
	fPart, cPart := mk("partial-scope")
	fStale, cStale := mk("stale")
	_, cUnknown := mk("not-stored")
	everything := func(model.Finding) bool { return true }
	// An earlier scan saw "stale" completely; the latest did not see it.
	if _, err := store.Reconcile(ctx, now.Add(-4*time.Hour), "prod", kinds, []model.Finding{fStale}, everything); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reconcile(ctx, now.Add(-3*time.Hour), "prod", kinds, []model.Finding{fOld, fNew, fNone, fPart},
		func(f model.Finding) bool { return f.Fingerprint != fPart.Fingerprint }); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkNotified(ctx, now.Add(-2*time.Hour), "gh", []string{fOld.Fingerprint, fPart.Fingerprint, fStale.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkNotified(ctx, now.Add(-10*time.Minute), "gh", []string{fNew.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	run := &Run{Environment: e, Now: now}
	all := []*Candidate{cOld, cNew, cNone, cPart, cStale, cUnknown}
	scope := check(t, CompleteScope{Evidence: store}, run, all...)
	wantScope := map[string]string{
		"notified-2h": "", "notified-10m": "", "never-notified": "",
		"partial-scope": "no scan that saw this finding read its type and region completely",
		"stale":         "the latest scan", "not-stored": "not in the store",
	}
	for id, want := range wantScope {
		if got := scope[id]; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("scope %s: got %q, want %q", id, got, want)
		}
	}
	fresh := func() []*Candidate {
		var out []*Candidate
		for _, id := range []string{"notified-2h", "notified-10m", "never-notified", "not-stored"} {
			_, c := mk(id)
			out = append(out, c)
		}
		return out
	}
	grace := check(t, Grace{Evidence: store}, run, fresh()...)
	wantGrace := map[string]string{
		"notified-2h": "", "notified-10m": "grace 1h0m0s: 50m0s left",
		"never-notified": "no notification", "not-stored": "not in the store",
	}
	for id, want := range wantGrace {
		if got := grace[id]; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("grace %s: got %q, want %q", id, got, want)
		}
	}
	// Grace 0 (quarantine) waits for nothing.
	zero := &Run{Environment: env(t, "{unmanaged: quarantine, grace: 0s}"), Now: now}
	for id, got := range check(t, Grace{Evidence: store}, zero, fresh()...) {
		if got != "" {
			t.Errorf("grace 0: %s blocked: %s", id, got)
		}
	}
}

func TestDeclaredAnywhere(t *testing.T) {
	d := &Declared{}
	mapper := inventory.MultiMapper{awsinv.NewMapper()}
	d.Add("staging", []model.DesiredResource{
		{Resource: model.Resource{Type: "aws_s3_bucket"}, Address: "aws_s3_bucket.logs", Mode: "managed",
			Raw: map[string]any{"id": "Shared-Logs", "bucket": "Shared-Logs", "arn": "arn:aws:s3:::Shared-Logs"}},
		{Resource: model.Resource{Type: "aws_security_group_rule"}, Address: "aws_security_group_rule.ssh", Mode: "managed",
			Raw: map[string]any{"security_group_id": "sg-123", "type": "ingress", "protocol": "tcp", "from_port": 22.0, "to_port": 22.0, "cidr_blocks": []any{"10.0.0.0/8"}}},
		{Resource: model.Resource{Type: "aws_s3_bucket"}, Address: "data.aws_s3_bucket.x", Mode: "data", Raw: map[string]any{"id": "only-read"}},
	}, mapper)
	tests := []struct {
		c    *Candidate
		want string
	}{
		{cand("aws_s3_bucket", "shared-logs", nil), "declared: declared in staging: aws_s3_bucket.logs"},
		{cand("aws_security_group", "sg-123", nil), "declared in staging: aws_security_group_rule.ssh"},
		{cand("aws_s3_bucket", "only-read", nil), ""},
		{cand("aws_s3_bucket", "other", nil), ""},
	}
	for _, tc := range tests {
		got := check(t, DeclaredAnywhere{Set: d}, &Run{}, tc.c)[tc.c.Action.Resource.ID]
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.c.Action.Resource.ID, got, tc.want)
		}
	}
	if n := d.Count("staging"); n != 1 {
		t.Errorf("staging declares %d resources, want 1 (the rule folds into its group, data sources do not count)", n)
	}
	// Without the states, nothing passes.
	if got := check(t, DeclaredAnywhere{}, &Run{}, cand("aws_s3_bucket", "x", nil))["x"]; !strings.Contains(got, "could not check") {
		t.Errorf("no declared set: %q", got)
	}
}

func TestInFlightGuard(t *testing.T) {
	s, _ := openStores(t, "sqlite")
	ctx := context.Background()
	busy := cand("aws_s3_bucket", "busy", nil)
	free := cand("aws_s3_bucket", "free", nil)
	done := cand("aws_s3_bucket", "done", nil)
	now := time.Now()
	running := testAction("earlier", busy.Action.Fingerprint, now, StateRunning)
	finished := testAction("finished", done.Action.Fingerprint, now, StateSucceeded)
	if err := s.Insert(ctx, []*Action{running, finished}); err != nil {
		t.Fatal(err)
	}
	got := check(t, InFlight{Store: s}, &Run{}, busy, free, done)
	if !strings.Contains(got["busy"], "action earlier (run run-earlier) on this finding is still running") || got["free"] != "" || got["done"] != "" {
		t.Errorf("in flight: %v", got)
	}
}
