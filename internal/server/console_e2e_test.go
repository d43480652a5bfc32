package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// TestFindingsAPIFilters: the console's filters are the API's too.
func TestFindingsAPIFilters(t *testing.T) {
	ts := startServer(t, "server: {api_token: {env: TOKEN}}\n", nil)
	ts.store.SetOwnership(func(f model.Finding) string { return f.Resource.Tags["team"] })
	ctx := context.Background()
	for i := range 9 {
		f := model.Finding{Kind: model.KindUnmanaged, Severity: []model.Severity{"low", "high", "critical"}[i%3], Environment: "prod",
			Resource: model.Resource{Provider: "aws", Type: []string{"aws_s3_bucket", "aws_vpc", "aws_sqs_queue"}[i/3], ID: fmt.Sprintf("res-%d", i),
				Tags: map[string]string{"team": []string{"team-a", "team-b", ""}[i%3]}}, Message: fmt.Sprintf("Undefined resource exists (res-%d)", i)}
		f.Fingerprint = model.Fingerprint(f.Kind, "prod", "aws", f.Resource.Type, "", f.Resource.ID, "")
		if err := ts.store.Upsert(ctx, time.Now(), []model.Finding{f}); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]int{
		"owner=team-a": 3, "owner=-": 3, "severity=high": 3, "type=aws_vpc": 3, "q=RES-4": 1, "owner=team-b&type=aws_sqs_queue": 1,
	} {
		var p struct {
			Findings []findingView `json:"findings"`
			Total    int           `json:"total"`
		}
		if code := ts.apiGet("/v1/findings?"+q, &p); code != 200 || p.Total != want || len(p.Findings) != want {
			t.Errorf("%s: %d, total %d, %d findings, want %d", q, code, p.Total, len(p.Findings), want)
		}
		for _, f := range p.Findings {
			if strings.HasPrefix(q, "owner=team") && f.Finding.Owner != strings.TrimPrefix(strings.Split(q, "&")[0], "owner=") {
				t.Errorf("%s: finding of owner %q", q, f.Finding.Owner)
			}
		}
	}
	// A cursor made with one owner does not continue a listing of another.
	var p struct {
		NextCursor string `json:"next_cursor"`
	}
	ts.apiGet("/v1/findings?owner=team-a&limit=1", &p)
	resp, body := ts.do("GET", "/v1/findings?owner=team-b&limit=1&cursor="+p.NextCursor, map[string]string{"Authorization": "Bearer " + testToken}, nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "other filters") {
		t.Errorf("cursor with other owner: %d %s", resp.StatusCode, body)
	}
}

// TestServeMountsConsole runs plumb serve: the console answers at / (a
// login first), the API and health endpoints keep their paths, findings
// stored before ownership was configured get their owners from it, and
// the finding's owner is a routing label.
func TestServeMountsConsole(t *testing.T) {
	dir := t.TempDir()
	// A data directory from before: findings without owners.
	q, err := queue.Open(context.Background(), queue.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	store, err := findings.NewStore(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	f := model.Finding{Kind: model.KindUnmanaged, Severity: "high", Environment: "prod",
		Resource: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "billing-exports", Tags: map[string]string{}}, Message: "Undefined resource exists (billing-exports)"}
	f.Fingerprint = model.Fingerprint(f.Kind, "prod", "aws", f.Resource.Type, "", f.Resource.ID, "")
	if err := store.Upsert(context.Background(), time.Now(), []model.Finding{f}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	ts := runE2E(t, `
server:
  api_token: {env: TOKEN}
environments: [{name: prod}]
ownership:
  rules:
    - {type: aws_s3_bucket, name: "billing-*", owner: billing}
`, nil, func(o *Options) { o.DataDir = dir })
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{"/": 303, "/findings": 303, "/login": 200, "/healthz": 200, "/static/console.css": 200} {
		res, err := noRedirect.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
		if path != "/healthz" && res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", path)
		}
	}
	waitForDeadline(t, 30*time.Second, "the stored finding to get its owner", func() bool {
		req, _ := http.NewRequest("GET", ts.url+"/v1/findings?owner=billing", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(b), `"total":1`) && strings.Contains(string(b), `"owner":"billing"`)
	})
}
