package findings

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
)

// queryFindings stores a small estate: two environments, three owners by
// tag, two types, four severities.
func queryFindings(t *testing.T, s *Store, t0 time.Time) []model.Finding {
	t.Helper()
	var fs []model.Finding
	sevs := []model.Severity{"low", "medium", "high", "critical"}
	for i := range 24 {
		f := finding("drift.unmanaged", []string{"prod", "dev"}[i%2], fmt.Sprintf("bucket-%02d", i), fmt.Sprintf("Undefined resource exists (bucket-%02d)", i))
		f.Severity = sevs[i%4]
		f.Resource.Tags = map[string]string{}
		if o := []string{"team-a", "team-b", ""}[i%3]; o != "" {
			f.Resource.Tags["owner"] = o
		}
		if i%5 == 0 {
			f.Resource.Type = "aws_sqs_queue"
			f.Fingerprint = model.Fingerprint(f.Kind, f.Environment, "aws", "aws_sqs_queue", "us-east-1", f.Resource.ID, "")
		}
		if err := s.Upsert(context.Background(), t0.Add(time.Duration(i)*time.Second), []model.Finding{f}); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

func TestQueryFiltersSortsAndCounts(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			s.SetOwnership(func(f model.Finding) string { return f.Resource.Tags["owner"] })
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			fs := queryFindings(t, s, t0)
			count := func(pred func(i int, f model.Finding) bool) int {
				n := 0
				for i, f := range fs {
					if pred(i, f) {
						n++
					}
				}
				return n
			}
			for _, tc := range []struct {
				name string
				q    Query
				want int
			}{
				{"owner", Query{Owner: "team-a"}, count(func(i int, _ model.Finding) bool { return i%3 == 0 })},
				{"unowned", Query{Owner: Unowned}, count(func(i int, _ model.Finding) bool { return i%3 == 2 })},
				{"severity", Query{Severity: "critical"}, count(func(i int, _ model.Finding) bool { return i%4 == 3 })},
				{"type", Query{Type: "aws_sqs_queue"}, count(func(i int, _ model.Finding) bool { return i%5 == 0 })},
				{"text, any case", Query{Text: "BUCKET-1"}, count(func(i int, _ model.Finding) bool { return strings.HasPrefix(fmt.Sprintf("%02d", i), "1") })},
				{"text is literal", Query{Text: "bucket_1"}, 0},
				{"text percent", Query{Text: "%"}, 0},
				{"combined", Query{Environment: "prod", Owner: "team-b", Severity: "medium"}, count(func(i int, f model.Finding) bool {
					return f.Environment == "prod" && i%3 == 1 && i%4 == 1
				})},
			} {
				p, err := s.List(ctx, Query{Status: tc.q.Status, Kind: tc.q.Kind, Environment: tc.q.Environment, Severity: tc.q.Severity,
					Type: tc.q.Type, Owner: tc.q.Owner, Text: tc.q.Text, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != tc.want || len(p.Records) != tc.want {
					t.Errorf("%s: total %d, %d records, want %d", tc.name, p.Total, len(p.Records), tc.want)
				}
			}
			// Sorting by severity, most urgent first, then newest.
			p, err := s.List(ctx, Query{Sort: "severity", Desc: true, Limit: 6})
			if err != nil {
				t.Fatal(err)
			}
			if p.Records[0].Finding.Severity != "critical" || p.Records[5].Finding.Severity != "critical" || p.Records[0].Finding.Resource.ID != "bucket-23" {
				t.Errorf("severity order: %s %s ... %s", p.Records[0].Finding.Severity, p.Records[0].Finding.Resource.ID, p.Records[5].Finding.Severity)
			}
			// Offsets walk the whole sorted list once.
			seen := map[string]bool{}
			for off := 0; off < 24; off += 7 {
				p, err := s.List(ctx, Query{Sort: "type", Limit: 7, Offset: off})
				if err != nil {
					t.Fatal(err)
				}
				if p.Next != nil {
					t.Error("a sorted page has a cursor")
				}
				for _, r := range p.Records {
					if seen[r.Finding.Fingerprint] {
						t.Errorf("%s twice", r.Finding.Resource.ID)
					}
					seen[r.Finding.Fingerprint] = true
				}
			}
			if len(seen) != 24 {
				t.Errorf("offsets listed %d, want 24", len(seen))
			}
			for _, bad := range []Query{{Sort: "body"}, {Offset: -1}, {Offset: 3, After: &Position{}}, {Sort: "kind", After: &Position{}}} {
				if _, err := s.List(ctx, bad); err == nil {
					t.Errorf("List(%+v) accepted", bad)
				}
			}
			gs, err := s.Count(ctx, Query{Environment: "prod"}, "owner", "severity")
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, g := range gs {
				total += g.N
				want := count(func(i int, f model.Finding) bool {
					return f.Environment == "prod" && f.Resource.Tags["owner"] == g.Values[0] && string(f.Severity) == g.Values[1]
				})
				if g.N != want {
					t.Errorf("count %v = %d, want %d", g.Values, g.N, want)
				}
			}
			if total != 12 {
				t.Errorf("counts add up to %d, want 12", total)
			}
			if _, err := s.Count(ctx, Query{}, "body"); err == nil {
				t.Error("Count by body accepted")
			}
			// The owner is a column: a record read back carries it, and a
			// changed mapping is applied by Reassign without history.
			r, err := s.Get(ctx, fs[0].Fingerprint)
			if err != nil || r.Finding.Owner != "team-a" {
				t.Fatalf("owner of %s = %q (%v)", fs[0].Resource.ID, r.Finding.Owner, err)
			}
			before, _ := s.HistoryLen(ctx, fs[0].Fingerprint)
			s.SetOwnership(func(f model.Finding) string {
				if f.Resource.Tags["owner"] == "team-a" {
					return "team-alpha"
				}
				return f.Resource.Tags["owner"]
			})
			n, err := s.Reassign(ctx)
			if err != nil || n != 8 {
				t.Errorf("Reassign changed %d (%v), want the 8 of team-a", n, err)
			}
			r, _ = s.Get(ctx, fs[0].Fingerprint)
			after, _ := s.HistoryLen(ctx, fs[0].Fingerprint)
			if r.Finding.Owner != "team-alpha" || after != before {
				t.Errorf("after Reassign: owner %q, history %d -> %d", r.Finding.Owner, before, after)
			}
			// Seeing a finding again with the same body is not a change,
			// whatever its owner.
			if err := s.Upsert(ctx, t0.Add(time.Hour), []model.Finding{fs[0]}); err != nil {
				t.Fatal(err)
			}
			if h, _ := s.HistoryLen(ctx, fs[0].Fingerprint); h != before {
				t.Errorf("a sighting with another owner wrote history: %d -> %d", before, h)
			}
			// Without ownership settings a finding keeps its stored owner.
			s.SetOwnership(nil)
			if err := s.Upsert(ctx, t0.Add(2*time.Hour), []model.Finding{fs[0]}); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Get(ctx, fs[0].Fingerprint); r.Finding.Owner != "team-alpha" {
				t.Errorf("without a resolver the owner became %q", r.Finding.Owner)
			}
		})
	}
}

// TestMigrateDerivedColumns opens a store over a findings table made before
// the derived columns existed: they are added and filled in, and opening
// again changes nothing.
func TestMigrateDerivedColumns(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			// Back to the old shape: drop the table and make it as the
			// previous release did, with one row.
			for _, stmt := range []string{`DROP TABLE plumb_finding`, `CREATE TABLE plumb_finding (
				fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, environment TEXT NOT NULL, status TEXT NOT NULL,
				first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, seen_count BIGINT NOT NULL, resolved_at BIGINT, body TEXT NOT NULL)`,
				`INSERT INTO plumb_finding VALUES ('fp1', 'drift.changed', 'prod', 'open', 1, 1, 1, NULL,
				'{"kind":"drift.changed","severity":"high","resource":{"provider":"aws","type":"aws_vpc","id":"vpc-OLD","tags":{}},"address":null,"changes":[],"message":"Resource changed outside code (vpc-OLD)"}')`} {
				if _, err := s.db.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				s2, err := NewStore(ctx, s.db, s.dialect)
				if err != nil {
					t.Fatalf("migrate: %v", err)
				}
				p, err := s2.List(ctx, Query{Severity: "high", Type: "aws_vpc", Text: "vpc-old"})
				if err != nil || p.Total != 1 {
					t.Fatalf("after migration: %d found (%v)", p.Total, err)
				}
			}
		})
	}
}
