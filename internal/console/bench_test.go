package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scanhistory"
	"plumb/internal/testenv"
)

// Sizes of the benchmark's store; PLUMB_BENCH_FINDINGS and
// PLUMB_BENCH_EVENTS change them.
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkConsolePages renders the overview, a filtered findings page
// and the events page over a store of 100,000 findings and 1,000,000
// events, on SQLite and on PostgreSQL, through HTTP as a browser would
// ask, and reports the p50 and p95 of each page. Building the store takes
// minutes; run it alone:
//
//	go test -run '^$' -bench ConsolePages -benchtime 200x -timeout 60m ./internal/console/
func BenchmarkConsolePages(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			base, hc := benchConsole(b, backend, benchSize("PLUMB_BENCH_FINDINGS", 100_000), benchSize("PLUMB_BENCH_EVENTS", 1_000_000))
			for _, page := range []struct{ name, path string }{
				{"overview", "/"},
				{"findings-filtered", "/findings?environment=prod&owner=team-07&severity=high"},
				{"findings-text", "/findings?status=any&q=web-4242"},
				{"findings-sorted", "/findings?sort=severity&dir=desc&page=20"},
				{"team", "/teams/team-03"},
				{"events", "/events"},
			} {
				b.Run(page.name, func(b *testing.B) {
					get := func() time.Duration {
						t0 := time.Now()
						res, err := hc.Get(base + page.path)
						if err != nil {
							b.Fatal(err)
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Fatalf("%s: %d", page.path, res.StatusCode)
						}
						return time.Since(t0)
					}
					get() // warm the caches as a page in use would be
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						lat = append(lat, get())
					}
					b.StopTimer()
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[(len(lat)*95)/100].Microseconds())/1000, "p95-ms")
				})
			}
		})
	}
}

// benchConsole builds the store and serves a console over it, returning
// its address and a client logged in as an operator.
func benchConsole(b *testing.B, backend string, nFindings, nEvents int) (string, *http.Client) {
	return benchConsoleT(b, backend, nFindings, nEvents)
}

func benchConsoleT(b testing.TB, backend string, nFindings, nEvents int) (string, *http.Client) {
	b.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	o := queue.Options{Logger: logger, MaxPending: 1 << 30}
	if backend == "postgres" {
		dsn, stop, err := testenv.StartPostgresProcess()
		if err != nil {
			if os.Getenv("CI") == "true" {
				b.Fatal(err)
			}
			b.Skip(err)
		}
		b.Cleanup(stop)
		o.DatabaseURL = dsn
	} else {
		o.DataDir = b.TempDir()
	}
	q, err := queue.Open(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	cfg, err := config.Parse("plumb.yaml", []byte(`
server: {api_token: {env: T}}
environments: [{name: prod}, {name: staging}, {name: dev}]
queue_alerts: [{name: dead, state: dead, threshold: 100, for: 5m}]
`), func(string) string { return testToken })
	if err != nil {
		b.Fatal(err)
	}
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		b.Fatal(err)
	}
	store.SetOwnership(cfg.Resolver().Owner)
	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	envs := []string{"prod", "staging", "dev"}
	sevs := []model.Severity{"critical", "high", "medium", "low"}
	kinds := []model.Kind{model.KindChanged, model.KindUnmanaged, model.KindMissing, model.KindPolicyViolation}
	types := []string{"aws_instance", "aws_s3_bucket", "aws_security_group", "aws_iam_role", "aws_sqs_queue", "aws_lambda_function",
		"aws_db_instance", "aws_kms_key", "azurerm_virtual_machine", "azurerm_storage_account"}
	now := time.Now().UTC()
	var resolve, suppress []string
	for lo := 0; lo < nFindings; lo += 2000 {
		var batch []model.Finding
		for i := lo; i < min(lo+2000, nFindings); i++ {
			f := model.Finding{Kind: kinds[i%4], Severity: sevs[(i/4)%4], Environment: envs[i%3],
				Resource: model.Resource{Provider: "aws", Type: types[(i/16)%10], ID: fmt.Sprintf("web-%d", i), Region: "eu-west-1",
					Tags: map[string]string{"Name": fmt.Sprintf("web-%d", i)}}, Changes: []model.Change{}}
			if i%21 != 0 {
				f.Resource.Tags["owner"] = fmt.Sprintf("team-%02d", i%20)
			}
			f.Message = "Resource changed outside code (" + f.Resource.ID + ")"
			if f.Kind == model.KindChanged {
				f.Changes = []model.Change{{Path: "tags.env", Before: "prod", After: "dev"}}
			}
			f.Fingerprint = model.Fingerprint(f.Kind, f.Environment, "aws", f.Resource.Type, "eu-west-1", f.Resource.ID, "")
			batch = append(batch, f)
			switch {
			case i%5 == 0:
				resolve = append(resolve, f.Fingerprint)
			case i%20 == 1:
				suppress = append(suppress, f.Fingerprint)
			}
		}
		if err := store.Upsert(ctx, now.Add(-time.Duration(nFindings-lo)*time.Second), batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Resolve(ctx, now, resolve); err != nil {
		b.Fatal(err)
	}
	for _, fp := range suppress {
		if err := store.Suppress(ctx, now, fp, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: %d findings stored in %s", backend, nFindings, time.Since(start).Round(time.Second))

	// Hourly scans of three environments over 30 days.
	start = time.Now()
	for _, env := range envs {
		for h := 30 * 24; h > 0; h-- {
			sum := model.Summary{Managed: 5000, InSync: 4900 - h%50, Changed: 60 + h%50, Missing: 10, Unmanaged: 300}
			sum.SetCoverage()
			sc := scanhistory.Scan{Environment: env, StartedAt: now.Add(-time.Duration(h) * time.Hour), Duration: time.Minute,
				Source: scanhistory.SourceSchedule, Summary: sum, Complete: true,
				Packs: []scanhistory.PackSummary{{Pack: "cis-aws-3.0", Pass: 40 + h%5, Fail: 8 - h%5, NotEvaluated: 6}}}
			if _, err := hist.Record(ctx, sc, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("%s: %d scans recorded in %s", backend, 3*30*24, time.Since(start).Round(time.Second))

	start = time.Now()
	for lo := 0; lo < nEvents; lo += 1000 {
		items := make([]queue.Item, 0, 1000)
		for i := lo; i < min(lo+1000, nEvents); i++ {
			ev := model.Event{Source: "eventbridge", ID: fmt.Sprintf("evt-%d", i), Type: "AWS API Call via CloudTrail", Time: now,
				Raw: []byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"RunInstances"}}`)}
			items = append(items, queue.Item{Event: ev, Subscriptions: []string{fmt.Sprintf("sub-%d", i%4)}})
		}
		if _, err := q.Enqueue(ctx, items); err != nil {
			b.Fatal(err)
		}
	}
	// As a server that has run for a while: nearly all deliveries
	// succeeded, some died, a few wait.
	for _, stmt := range []string{
		`UPDATE river_job SET state = 'completed', attempt = 1, finalized_at = created_at WHERE id % 100 > 1`,
		`UPDATE river_job SET state = 'discarded', attempt = 8, finalized_at = created_at WHERE id % 100 = 1`,
	} {
		if _, err := q.DB().ExecContext(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	// Both databases keep statistics for their planner; a server that
	// has run for a while has them, so the benchmark makes them too.
	if _, err := q.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d events queued in %s", backend, nEvents, time.Since(start).Round(time.Second))

	con, err := New(ctx, Options{Config: cfg, Findings: store, Queue: q, History: hist, DB: q.DB(), Dialect: q.Dialect(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	b.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	res, err := hc.Get(srv.URL + "/login")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		b.Fatal("no login form")
	}
	res, err = hc.PostForm(srv.URL+"/login", url.Values{"token": {testToken}, csrfField: {string(m[1])}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if !strings.Contains(res.Request.URL.Path, "/") || res.StatusCode != http.StatusOK {
		b.Fatalf("login: %d", res.StatusCode)
	}
	return srv.URL, hc
}
