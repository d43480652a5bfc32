// Command storesize simulates a year of hourly scans of an estate on
// plumb serve's store and prints how large the store grows, with the
// retention job running every simulated hour and, for comparison,
// without it.
//
//	go run ./bench/storesize -resources 10000 -days 365
//
// Each hour one scan of the environment is reconciled into the findings
// store, as plumb serve's scheduled scan does: a steady set of drifted
// and unmanaged resources (3% of the estate) is seen again, some of them
// with new values (history entries), and short-lived unmanaged resources
// (instances of an auto scaling group, say) come and go, each a new
// finding that is opened and a few hours later resolved. A GitHub issue
// receiver remembers an issue per finding (two receiver-state rows); an
// operator adds a silence a day. Events are simulated by their own rate:
// a sample is committed to measure bytes per event, and the retention
// windows give how many are kept.
//
// The simulated clock drives the store and the pruner; the database is
// real SQLite (or PostgreSQL with -database).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/retention"
)

func main() {
	var (
		resources = flag.Int("resources", 10000, "resources in the estate")
		days      = flag.Int("days", 365, "simulated days of hourly scans")
		churn     = flag.Int("churn", 10, "short-lived unmanaged resources appearing per hour")
		lifetime  = flag.Int("lifetime", 6, "hours a short-lived resource lives before the scan stops seeing it")
		events    = flag.Int("events-per-hour", 3600, "events per hour, for the events estimate")
		noRet     = flag.Bool("no-retention", false, "do not prune (the store without retention)")
		database  = flag.String("database", "", "PostgreSQL URL; empty uses SQLite in a temp dir")
	)
	flag.Parse()
	if err := run(*resources, *days, *churn, *lifetime, *events, !*noRet, *database); err != nil {
		fmt.Fprintln(os.Stderr, "storesize:", err)
		os.Exit(1)
	}
}

func run(resources, days, churn, lifetime, eventsPerHour int, prune bool, database string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "plumb-storesize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	q, err := queue.Open(ctx, queue.Options{DataDir: dir, DatabaseURL: database, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return err
	}
	r := config.Retention{
		SucceededEvents: config.DefaultRetentionSucceededEvents, DeadEvents: config.DefaultRetentionDeadEvents,
		ResolvedFindings: config.DefaultRetentionResolvedFindings, FindingHistory: config.DefaultRetentionFindingHistory,
		ExpiredSilences: config.DefaultRetentionExpiredSilences, ReceiverState: config.DefaultRetentionReceiverState,
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The findings-side rules only: events are estimated apart (River
	// stamps real times, not the simulated clock).
	pruner := &retention.Pruner{Now: func() time.Time { return now }, Rules: []retention.Rule{
		{Name: "resolved_findings", Keep: r.ResolvedFindings, Prune: store.PruneResolved},
		{Name: "finding_history", Keep: r.FindingHistory, Prune: store.PruneHistory},
		{Name: "finding_occurrences", Keep: findings.OccurrenceRetention, Prune: store.PruneOccurrences},
		{Name: "expired_silences", Keep: r.ExpiredSilences, Prune: store.PruneSilences},
		{Name: "receiver_state", Keep: r.ReceiverState, Prune: store.PruneReceiverState},
	}}

	steady := resources * 3 / 100
	kinds := []model.Kind{model.KindUnmanaged, model.KindChanged}
	covered := func(model.Finding) bool { return true }
	rs := store.ReceiverState()
	type live struct {
		f    model.Finding
		dies int
	}
	var shortLived []live
	seq := 0
	hours := days * 24
	fmt.Printf("estate %d resources, %d steady findings, %d short-lived unmanaged resources an hour living %dh; retention %v\n",
		resources, steady, churn, lifetime, prune)
	fmt.Printf("%6s %10s %10s %10s %10s %12s %12s\n", "day", "findings", "history", "silences", "rcv-state", "file MB", "live MB")
	start := time.Now()
	for h := 0; h < hours; h++ {
		found := make([]model.Finding, 0, steady+len(shortLived)+churn)
		for i := 0; i < steady; i++ {
			f := mkFinding(i, "steady")
			if i%10 == 0 {
				// A tenth of the drifted resources change value now and
				// then: a new body, so a history entry.
				f.Message = fmt.Sprintf("Resource changed outside code (res-%d) v%d", i, h/(24*(1+i%7)))
			}
			found = append(found, f)
		}
		kept := shortLived[:0]
		for _, l := range shortLived {
			if l.dies > h {
				kept = append(kept, l)
				found = append(found, l.f)
			}
		}
		shortLived = kept
		for i := 0; i < churn; i++ {
			seq++
			f := mkFinding(seq, "short")
			shortLived = append(shortLived, live{f: f, dies: h + lifetime})
			found = append(found, f)
		}
		res, err := store.Reconcile(ctx, now, "prod", kinds, found, covered)
		if err != nil {
			return err
		}
		// The issue receiver remembers each newly opened finding.
		if res.Opened+res.Reopened > 0 {
			for _, f := range found[len(found)-churn:] {
				for _, key := range []string{f.Fingerprint, f.Fingerprint + "#hash"} {
					if err := rs.Put(ctx, "github", key, "1"); err != nil {
						return err
					}
				}
				if err := stampReceiverState(ctx, q, f.Fingerprint, now); err != nil {
					return err
				}
			}
		}
		if h%24 == 12 {
			if _, err := store.AddSilence(ctx, now, findings.Silence{Matchers: []string{`resource_id=~"res-short-.*"`},
				EndsAt: now.Add(2 * time.Hour), CreatedBy: "oncall", Comment: "deploy"}); err != nil {
				return err
			}
		}
		if prune {
			if _, err := pruner.Run(ctx); err != nil {
				return err
			}
		}
		if (h+1)%(24*30) == 0 || h == hours-1 {
			if err := report(ctx, q, dir, database, (h+1)/24); err != nil {
				return err
			}
		}
		now = now.Add(time.Hour)
	}
	fmt.Printf("simulated in %s\n", time.Since(start).Round(time.Second))
	return eventsEstimate(ctx, q, dir, database, eventsPerHour, r)
}

func mkFinding(i int, kind string) model.Finding {
	id := fmt.Sprintf("res-%s-%d", kind, i)
	k := model.KindUnmanaged
	msg := "Undefined resource exists (" + id + ")"
	if kind == "steady" && i%3 == 0 {
		k = model.KindChanged
		msg = "Resource changed outside code (" + id + ")"
	}
	return model.Finding{Kind: k, Severity: "medium", Environment: "prod",
		Fingerprint: model.Fingerprint(k, "prod", "aws", "aws_instance", "eu-west-1", id, ""),
		Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: id, Region: "eu-west-1", Account: "123456789012",
			Tags: map[string]string{"team": "platform", "env": "prod"}},
		Message: msg}
}

// stampReceiverState dates a finding's receiver state on the simulated
// clock (ReceiverState.Put stamps the real one).
func stampReceiverState(ctx context.Context, q *queue.Queue, fp string, at time.Time) error {
	query := `UPDATE plumb_receiver_state SET updated_at = ? WHERE state_key IN (?, ?)`
	if q.Dialect() == "postgres" {
		query = `UPDATE plumb_receiver_state SET updated_at = $1 WHERE state_key IN ($2, $3)`
	}
	_, err := q.DB().ExecContext(ctx, query, at.UnixNano(), fp, fp+"#hash")
	return err
}

func count(ctx context.Context, q *queue.Queue, table string) int64 {
	var n int64
	_ = q.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n
}

// sizes returns the database's size on disk and the bytes in use.
func sizes(ctx context.Context, q *queue.Queue, dir, database string) (file, live float64) {
	if database != "" {
		var n int64
		_ = q.DB().QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return float64(n), float64(n)
	}
	for _, f := range []string{"plumb.db", "plumb.db-wal"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			file += float64(st.Size())
		}
	}
	var pages, free, size int64
	_ = q.DB().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	_ = q.DB().QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
	_ = q.DB().QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size)
	return file, float64((pages - free) * size)
}

func report(ctx context.Context, q *queue.Queue, dir, database string, day int) error {
	file, live := sizes(ctx, q, dir, database)
	fmt.Printf("%6d %10d %10d %10d %10d %12.1f %12.1f\n", day, count(ctx, q, "plumb_finding"), count(ctx, q, "plumb_finding_history"),
		count(ctx, q, "plumb_silence"), count(ctx, q, "plumb_receiver_state"), file/1e6, live/1e6)
	return nil
}

// eventsEstimate commits a sample of realistic events with one delivery
// each and measures the bytes they take, then multiplies by what the
// retention windows keep at the given rate (all succeeded; a dead
// delivery is kept 30 days instead of one, so each percent of dead
// deliveries adds about a third of the succeeded figure).
func eventsEstimate(ctx context.Context, q *queue.Queue, dir, database string, perHour int, r config.Retention) error {
	const sample = 20000
	_, before := sizes(ctx, q, dir, database)
	raw := []byte(`{"id":"%d","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1/providers/Microsoft.Network/networkSecurityGroups/nsg","eventTime":"2026-01-01T00:00:00Z","data":{"operationName":"Microsoft.Network/networkSecurityGroups/write","status":"Succeeded","claims":{"appid":"22222222-2222-2222-2222-222222222222"},"authorization":{"action":"Microsoft.Network/networkSecurityGroups/write","scope":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1/providers/Microsoft.Network/networkSecurityGroups/nsg","evidence":{"role":"Contributor","principalId":"11111111111111111111111111111111","principalType":"ServicePrincipal"}},"httpRequest":{"clientIpAddress":"203.0.113.7","method":"PUT","url":"https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1/providers/Microsoft.Network/networkSecurityGroups/nsg?api-version=2023-09-01"}},"dataVersion":"2","metadataVersion":"1","topic":"/subscriptions/00000000-0000-0000-0000-000000000001"}`)
	for start := 0; start < sample; start += 500 {
		items := make([]queue.Item, 0, 500)
		for i := start; i < start+500; i++ {
			items = append(items, queue.Item{Event: model.Event{Source: model.SourceEventGrid, ID: fmt.Sprint("sample-", i),
				Type: "Microsoft.Resources.ResourceWriteSuccess", Time: time.Now(), Topic: "/subscriptions/00000000-0000-0000-0000-000000000001",
				Raw: []byte(fmt.Sprintf(string(raw), i))}, Subscriptions: []string{"audit-writes"}})
		}
		if _, err := q.Enqueue(ctx, items); err != nil {
			return err
		}
	}
	_, after := sizes(ctx, q, dir, database)
	per := (after - before) / sample
	kept := float64(perHour) * r.SucceededEvents.Hours()
	fmt.Printf("events: %.0f bytes per event with its delivery (%d-event sample); at %d events/h, %s succeeded retention keeps %.0f events = %.0f MB\n",
		per, sample, perHour, r.SucceededEvents, kept, kept*per/1e6)
	return nil
}
