package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/server"
)

// seedStore stores n unmanaged-bucket findings in dataDir's store,
// alternately in prod and dev, as plumb scan --notify would leave them.
func seedStore(t *testing.T, dataDir string, n int) {
	t.Helper()
	ctx := context.Background()
	store, closeStore, err := server.OpenLocalStore(ctx, dataDir, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	var fs []model.Finding
	for i := 0; i < n; i++ {
		env := []string{"prod", "dev"}[i%2]
		id := fmt.Sprintf("bucket-%05d", i)
		fs = append(fs, model.Finding{
			Kind: model.KindUnmanaged, Severity: "medium", Environment: env,
			Fingerprint: model.Fingerprint(model.KindUnmanaged, env, "aws", "aws_s3_bucket", "us-east-1", id, ""),
			Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"},
			Message:     "Undefined resource exists (" + id + ")",
		})
	}
	// In a few sightings, so pages end inside and between runs of
	// findings first seen together.
	start := time.Now().Add(-time.Hour)
	for i := 0; i < n; i += 700 {
		if err := store.Upsert(ctx, start.Add(time.Duration(i)*time.Millisecond), fs[i:min(n, i+700)]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCLIListsEverything: plumb findings list prints all 2,002 findings
// of a server, following the API's pages (the CLI reads 1,000 at a time:
// three pages), as a table and as JSON, with and without a filter; with
// --limit it prints that many and says on stderr how many it did not
// show.
func TestCLIListsEverything(t *testing.T) {
	const n = 2002
	dataDir := t.TempDir()
	seedStore(t, dataDir, n)
	cfg, err := config.Load("testdata/serve/plumb.yaml", serveEnv)
	if err != nil {
		t.Fatal(err)
	}
	base := runServerOn(t, cfg, dataDir)
	api := []string{"--server", base, "--token", serveToken}

	tests := []struct {
		name       string
		args       []string
		wantRows   int
		wantStderr string
	}{
		{"table, all", []string{"findings", "list"}, n, ""},
		{"json, all", []string{"findings", "list", "--json"}, n, ""},
		{"one environment", []string{"findings", "list", "--environment", "prod"}, n / 2, ""},
		{"limit", []string{"findings", "list", "--limit", "10"}, 10, "showing 10 of 2002 findings: 1992 not shown (--limit 10; --limit 0 shows all)\n"},
		{"limit over several pages, filtered", []string{"findings", "list", "--status", "open", "--environment", "dev", "--limit", "1001", "--json"}, 1001, ""},
		{"limit above the total", []string{"findings", "list", "--limit", "5000"}, n, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(append(tc.args, api...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if errOut != tc.wantStderr {
				t.Errorf("stderr %q, want %q", errOut, tc.wantStderr)
			}
			seen := map[string]bool{}
			if strings.Contains(strings.Join(tc.args, " "), "--json") {
				var list []cliFinding
				if err := json.Unmarshal([]byte(out), &list); err != nil {
					t.Fatalf("--json printed no array: %v", err)
				}
				for _, f := range list {
					seen[f.Finding.Fingerprint] = true
				}
				if len(list) != tc.wantRows {
					t.Errorf("%d findings, want %d", len(list), tc.wantRows)
				}
			} else {
				_, rows := tableRows(t, out)
				for _, r := range rows {
					seen[r["MESSAGE"]] = true
				}
				if len(rows) != tc.wantRows {
					t.Errorf("%d rows, want %d", len(rows), tc.wantRows)
				}
			}
			if len(seen) != tc.wantRows {
				t.Errorf("%d distinct findings printed, want %d (one line each)", len(seen), tc.wantRows)
			}
		})
	}
	if code, _, errOut := cli(append([]string{"findings", "list", "--limit", "-1"}, api...)...); code != exitError || !strings.Contains(errOut, "--limit -1: want 0 (all) or more") {
		t.Errorf("--limit -1: exit %d, stderr %q", code, errOut)
	}
}

// TestCLIEventsListLimit: plumb events list prints every event by
// default; with --limit it stops and says how many it left out.
func TestCLIEventsListLimit(t *testing.T) {
	base := startServe(t, t.TempDir())
	api := []string{"--server", base, "--token", serveToken}
	var evs []any
	for i := 0; i < 3; i++ {
		evs = append(evs, eventGridWrite(fmt.Sprintf("lim-%d", i), "Other.Event", intruder))
	}
	body, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/events/eventgrid?key="+serveKey, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post events: %d", resp.StatusCode)
	}
	code, out, errOut := cli(append([]string{"events", "list"}, api...)...)
	if _, rows := tableRows(t, out); code != 0 || len(rows) != 3 || errOut != "" {
		t.Fatalf("events list: exit %d, %d rows, stderr %q", code, len(rows), errOut)
	}
	code, out, errOut = cli(append([]string{"events", "list", "--limit", "2"}, api...)...)
	if _, rows := tableRows(t, out); code != 0 || len(rows) != 2 || errOut != "showing 2 of 3 events: 1 not shown (--limit 2; --limit 0 shows all)\n" {
		t.Errorf("events list --limit 2: exit %d, %d rows, stderr %q", code, len(rows), errOut)
	}
}

// TestCLIFindingsShowCountsHistory: findings show prints the latest 200
// transitions and says on stderr how many earlier ones it left out.
func TestCLIFindingsShowCountsHistory(t *testing.T) {
	dataDir := t.TempDir()
	seedStore(t, dataDir, 1)
	ctx := context.Background()
	store, closeStore, err := server.OpenLocalStore(ctx, dataDir, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	page, err := store.List(ctx, findings.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("seeded store: %v, %+v", err, page)
	}
	f := page.Records[0].Finding
	at := time.Now().Add(-30 * time.Minute)
	for i := 0; i < 110; i++ { // opened + 220 transitions
		at = at.Add(time.Second)
		if err := store.Resolve(ctx, at, []string{f.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
		if err := store.Upsert(ctx, at, []model.Finding{f}); err != nil {
			t.Fatal(err)
		}
	}
	if err := closeStore(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("testdata/serve/plumb.yaml", serveEnv)
	if err != nil {
		t.Fatal(err)
	}
	base := runServerOn(t, cfg, dataDir)
	code, out, errOut := cli("findings", "show", f.Fingerprint, "--server", base, "--token", serveToken)
	var v struct {
		History      []any `json:"history"`
		HistoryTotal int   `json:"history_total"`
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
		t.Fatalf("findings show: exit %d, %v, stderr %q", code, err, errOut)
	}
	if len(v.History) != 200 || v.HistoryTotal != 221 ||
		errOut != "showing the latest 200 of 221 history entries: 21 earlier ones not shown\n" {
		t.Errorf("history %d of %d, stderr %q", len(v.History), v.HistoryTotal, errOut)
	}
}
