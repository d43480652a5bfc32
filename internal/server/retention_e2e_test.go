package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scanhistory"
)

// TestE2ERetention: plumb serve runs the pruner on server.retention's
// schedule with the default ages: a finding resolved 100 days ago and a
// silence that ended 10 days ago go, an open finding, a finding resolved
// yesterday and an active silence stay; of the scan history, prod's scan
// of 100 days ago goes, its scan of yesterday and staging's only scan (of
// 100 days ago, the latest of its environment) stay. The store is seeded from outside
// the server, the way `plumb silence --data-dir` writes to it.
func TestE2ERetention(t *testing.T) {
	var dataDir string
	runE2E(t, `
server:
  api_token: {env: TOKEN}
  retention:
    schedule: "@every 1s"
`, nil, func(o *Options) { dataDir = o.DataDir })

	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mk := func(id string) model.Finding {
		return model.Finding{Kind: model.KindUnmanaged, Severity: "medium", Environment: "prod",
			Fingerprint: model.Fingerprint(model.KindUnmanaged, "prod", "aws", "aws_s3_bucket", "us-east-1", id, ""),
			Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"}}
	}
	old, lately, open := mk("old"), mk("lately"), mk("open")
	if err := store.Upsert(ctx, now.AddDate(0, 0, -200), []model.Finding{old, lately, open}); err != nil {
		t.Fatal(err)
	}
	if err := store.Resolve(ctx, now.AddDate(0, 0, -100), []string{old.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if err := store.Resolve(ctx, now.AddDate(0, 0, -1), []string{lately.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	ended, err := store.AddSilence(ctx, now.AddDate(0, 0, -11), findings.Silence{Matchers: []string{`kind="drift.unmanaged"`}, EndsAt: now.AddDate(0, 0, -10)})
	if err != nil {
		t.Fatal(err)
	}
	active, err := store.AddSilence(ctx, now, findings.Silence{Matchers: []string{`kind="drift.unmanaged"`}, EndsAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []scanhistory.Scan{
		{Environment: "prod", StartedAt: now.AddDate(0, 0, -100)},
		{Environment: "staging", StartedAt: now.AddDate(0, 0, -100)},
		{Environment: "prod", StartedAt: now.AddDate(0, 0, -1)},
	} {
		if _, err := hist.Record(ctx, sc, nil); err != nil {
			t.Fatal(err)
		}
	}

	waitForDeadline(t, 60*time.Second, "the pruner to delete the old finding, the ended silence and prod's old scan", func() bool {
		scans, errH := hist.Since(ctx, "", now.AddDate(0, 0, -200))
		if errH != nil {
			t.Fatal(errH)
		}
		if len(scans) != 2 {
			return false
		}
		_, errF := store.Get(ctx, old.Fingerprint)
		sils, errS := store.ListSilences(ctx, time.Now(), false)
		if errS != nil {
			t.Fatal(errS)
		}
		endedLeft := false
		for _, s := range sils {
			endedLeft = endedLeft || s.ID == ended.ID
		}
		return errors.Is(errF, findings.ErrNotFound) && !endedLeft
	})
	for _, f := range []model.Finding{lately, open} {
		if _, err := store.Get(ctx, f.Fingerprint); err != nil {
			t.Errorf("finding %s should stay: %v", f.Resource.ID, err)
		}
	}
	scans, err := hist.Since(ctx, "", now.AddDate(0, 0, -200))
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, sc := range scans {
		left[sc.Environment+fmt.Sprint(sc.StartedAt.Before(now.AddDate(0, 0, -50)))] = true
	}
	if len(scans) != 2 || !left["prodfalse"] || !left["stagingtrue"] {
		t.Errorf("scans after prune: %+v; want prod's of yesterday and staging's only one", scans)
	}
	sils, err := store.ListSilences(ctx, time.Now(), true)
	if err != nil || len(sils) != 1 || sils[0].ID != active.ID {
		t.Errorf("active silences after prune: %+v, %v; want %s", sils, err, active.ID)
	}
}
