package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/model"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

const enforceConfig = `
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    states: [STATE]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement: {unmanaged: delete, grace: 1h, dry_run: false, max_fraction: 1}
  - name: test
    enforcement: report
`

// TestEnforceAPI plans and applies through the API against moto: the
// plan changes nothing, apply deletes through the queue, the actions list
// pages, and every endpoint wants the token.
func TestEnforceAPI(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"api-victim-1", "api-victim-2", "api-victim-3"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "prod.tfstate")
	if err := os.WriteFile(state, []byte(`{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := enforceaws.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, strings.Replace(enforceConfig, "STATE", state, 1), nil)
	// Before enforcement is wired, the endpoints say so.
	if code := ts.apiGet("/v1/actions", nil); code != http.StatusServiceUnavailable {
		t.Errorf("actions without enforcement: %d", code)
	}
	enf, err := newEnforcement(ctx, ts.srv.cfg, ts.queue, ts.store, map[string]enforce.Executor{"aws": ex}, time.Now, ts.srv.logger, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.enforcement = enf
	ts.srv.pipeline.SetEnforcer(enf.runner)

	// A real scan, stored and notified two hours ago.
	out, err := scan.Run(ctx, scan.Options{Environment: "prod", States: []string{state}, Regions: []string{"us-east-1"},
		Types: []string{"aws_s3_bucket"}, AllowEmptyState: true})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	if _, err := ts.store.Reconcile(ctx, past, "prod", []model.Kind{model.KindUnmanaged}, out.Report.Findings, out.Covered); err != nil {
		t.Fatal(err)
	}
	var fps []string
	for _, f := range out.Report.Findings {
		fps = append(fps, f.Fingerprint)
	}
	if len(fps) != 3 {
		t.Fatalf("scan found %d unmanaged buckets, want 3", len(fps))
	}
	if err := ts.store.MarkNotified(ctx, past, "team", fps); err != nil {
		t.Fatal(err)
	}

	post := func(path, token string, body any) (int, []byte) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/json"}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		resp, b := ts.do("POST", path, h, mustJSON(t, body))
		return resp.StatusCode, b
	}
	for _, c := range []struct {
		path, token string
		body        any
		want        int
		msg         string
	}{
		{"/v1/enforce/plan", "", map[string]string{"environment": "prod"}, 401, "bearer token"},
		{"/v1/enforce/apply", "wrong", map[string]string{"environment": "prod"}, 401, "bearer token"},
		{"/v1/enforce/plan", testToken, map[string]string{}, 400, "environment is required"},
		{"/v1/enforce/plan", testToken, map[string]string{"environment": "nope"}, 404, "is not configured"},
		{"/v1/enforce/plan", testToken, map[string]string{"environment": "prod", "kind": "unmanaged"}, 400, "want a finding kind"},
		{"/v1/enforce/plan", testToken, map[string]string{"environment": "prod", "color": "red"}, 400, "unknown field"},
	} {
		code, b := post(c.path, c.token, c.body)
		if code != c.want || !strings.Contains(string(b), c.msg) {
			t.Errorf("POST %s %v: %d %s, want %d %q", c.path, c.body, code, b, c.want, c.msg)
		}
	}
	if resp, _ := ts.do("GET", "/v1/actions", nil, nil); resp.StatusCode != 401 {
		t.Errorf("GET /v1/actions without a token: %d", resp.StatusCode)
	}

	// The plan: three candidates that pass every guard, nothing changed.
	_, w0 := ex.Calls()
	code, b := post("/v1/enforce/plan", testToken, map[string]string{"environment": "prod", "actor": "alice"})
	var plan enforce.Plan
	if code != 200 || json.Unmarshal(b, &plan) != nil {
		t.Fatalf("plan: %d %s", code, b)
	}
	if plan.Apply || len(plan.Actions) != 3 {
		t.Fatalf("plan: %s", b)
	}
	for _, a := range plan.Actions {
		if a.Guard != enforce.GuardDryRun || a.Actor != "alice" || a.Why == "" {
			t.Errorf("planned action %+v", a)
		}
	}
	if _, w1 := ex.Calls(); w1 != w0 {
		t.Errorf("plan made %d writes", w1-w0)
	}

	// Apply one finding: the queue deletes it.
	code, b = post("/v1/enforce/apply", testToken, map[string]string{"environment": "prod", "finding": fps[0]})
	if code != 200 || json.Unmarshal(b, &plan) != nil || len(plan.Runnable()) != 1 {
		t.Fatalf("apply: %d %s", code, b)
	}
	var page struct {
		Actions    []enforce.Action `json:"actions"`
		Total      int              `json:"total"`
		NextCursor string           `json:"next_cursor"`
	}
	waitFor(t, "the applied action", func() bool {
		ts.apiGet("/v1/actions?run="+plan.RunID, &page)
		return len(page.Actions) == 1 && page.Actions[0].State == enforce.StateSucceeded
	})
	if a := page.Actions[0]; a.Actor != "api" || a.Fingerprint != fps[0] || len(a.Calls) == 0 {
		t.Errorf("action %+v", a)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(page.Actions[0].Resource.ID)}); err == nil {
		t.Error("bucket still there after apply")
	}

	// Apply the rest, then page through the log one record at a time.
	if code, b = post("/v1/enforce/apply", testToken, map[string]string{"environment": "prod"}); code != 200 {
		t.Fatalf("apply all: %d %s", code, b)
	}
	waitFor(t, "three deletes", func() bool {
		ts.apiGet("/v1/actions?environment=prod&state=succeeded", &page)
		return page.Total == 3
	})
	seen := map[string]bool{}
	cursor := ""
	for i := 0; i < 5; i++ {
		path := "/v1/actions?environment=prod&state=succeeded&limit=1"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := ts.apiGet(path, &page); code != 200 {
			t.Fatalf("page %d: %d", i, code)
		}
		for _, a := range page.Actions {
			seen[a.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 3 {
		t.Errorf("paging saw %d actions, want 3", len(seen))
	}
	for path, want := range map[string]int{
		"/v1/actions?state=exploded":                  400,
		"/v1/actions?limit=5000":                      400,
		"/v1/actions?cursor=not-a-cursor":             400,
		fmt.Sprintf("/v1/actions?finding=%s", fps[1]): 200,
	} {
		if code := ts.apiGet(path, nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}
