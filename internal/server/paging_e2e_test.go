package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

// The list answers as docs/serve.md documents them, decoded with types of
// the test's own so a wrong JSON name in the server cannot hide.
type pagedFindings struct {
	Findings []struct {
		Status   string    `json:"status"`
		LastSeen time.Time `json:"last_seen"`
		Finding  struct {
			Fingerprint string `json:"fingerprint"`
			Environment string `json:"environment"`
		} `json:"finding"`
	} `json:"findings"`
	Total      *int   `json:"total"`
	Limit      int    `json:"limit"`
	NextCursor string `json:"next_cursor"`
}

type pagedEvents struct {
	Events []struct {
		ID    int64 `json:"id"`
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	} `json:"events"`
	Total      *int   `json:"total"`
	Limit      int    `json:"limit"`
	NextCursor string `json:"next_cursor"`
	NextAfter  int64  `json:"next_after"`
}

type pagedSilences struct {
	Silences []struct {
		ID        string    `json:"id"`
		Active    bool      `json:"active"`
		CreatedAt time.Time `json:"created_at"`
	} `json:"silences"`
	Total      *int   `json:"total"`
	Limit      int    `json:"limit"`
	NextCursor string `json:"next_cursor"`
}

const pagingConfig = `
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
  - name: dev
sources:
  eventgrid: {key: {env: KEY}}
`

// pagingBackend runs plumb serve on SQLite or PostgreSQL and opens a second
// connection to its store, as another process (plumb scan --notify, a
// second replica) would, to write findings while the API is being paged.
func pagingBackend(t *testing.T, backend string) (*testServer, *findings.Store) {
	t.Helper()
	o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o.DatabaseURL = testenv.StartPostgres(t)
	} else {
		o.DataDir = t.TempDir()
	}
	ts := runE2E(t, pagingConfig, nil, func(so *Options) { so.DataDir, so.DatabaseURL = o.DataDir, o.DatabaseURL })
	q, err := queue.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open a second connection to the store: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	store, err := findings.NewStore(context.Background(), q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return ts, store
}

func pagingFinding(env string, i int) model.Finding {
	id := fmt.Sprintf("bucket-%05d", i)
	return model.Finding{
		Kind: model.KindUnmanaged, Severity: "medium", Environment: env,
		Fingerprint: model.Fingerprint(model.KindUnmanaged, env, "aws", "aws_s3_bucket", "us-east-1", id, ""),
		Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"},
		Message:     "Undefined resource exists (" + id + ")",
	}
}

// seedFindings stores n findings, alternately in prod and dev, first seen
// in batches of 97 at successive seconds (so pages end inside runs of
// equal first sightings as well as between them). It returns the
// fingerprints by environment.
func seedFindings(t *testing.T, store *findings.Store, start time.Time, n int) map[string][]string {
	t.Helper()
	byEnv := map[string][]string{}
	for batch := 0; batch*97 < n; batch++ {
		var fs []model.Finding
		for i := batch * 97; i < min(n, (batch+1)*97); i++ {
			env := []string{"prod", "dev"}[i%2]
			f := pagingFinding(env, i)
			fs = append(fs, f)
			byEnv[env] = append(byEnv[env], f.Fingerprint)
		}
		if err := store.Upsert(context.Background(), start.Add(time.Duration(batch)*time.Second), fs); err != nil {
			t.Fatalf("seed findings: %v", err)
		}
	}
	return byEnv
}

// walkFindings pages through /v1/findings?query with limit, calling
// between(page) after every page but the last, and returns how often each
// fingerprint was listed and the totals of every page.
func walkFindings(t *testing.T, ts *testServer, query string, limit int, between func(page int)) (map[string]int, []int) {
	t.Helper()
	seen := map[string]int{}
	var totals []int
	cursor := ""
	for page := 1; ; page++ {
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		v.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var p pagedFindings
		if code := ts.apiGet("/v1/findings?"+v.Encode(), &p); code != 200 {
			t.Fatalf("page %d of findings?%s: status %d", page, v.Encode(), code)
		}
		if p.Total == nil {
			t.Fatalf("page %d has no total", page)
		}
		if p.Limit != limit {
			t.Errorf("page %d: limit %d, want %d", page, p.Limit, limit)
		}
		totals = append(totals, *p.Total)
		for _, f := range p.Findings {
			seen[f.Finding.Fingerprint]++
		}
		if p.NextCursor == "" {
			return seen, totals
		}
		if len(p.Findings) != limit {
			t.Fatalf("page %d holds %d findings but has a next cursor; want full pages before the last", page, len(p.Findings))
		}
		if page > 100 {
			t.Fatal("more than 100 pages: the cursor does not advance")
		}
		if between != nil {
			between(page)
		}
		cursor = p.NextCursor
	}
}

// TestFindingsPaging: 2,002 findings on SQLite and PostgreSQL are listed
// page by page, each exactly once, with the right total, with and without
// a filter; findings stored between two pages (new ones, and known ones
// seen again, resolved or reopened) neither repeat nor push others out.
func TestFindingsPaging(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ts, store := pagingBackend(t, backend)
			ctx := context.Background()
			start := time.Now().Add(-time.Hour).Truncate(time.Second)
			const n = 2002
			byEnv := seedFindings(t, store, start, n)
			all := append(append([]string(nil), byEnv["prod"]...), byEnv["dev"]...)

			tests := []struct {
				name, query string
				limit       int
				want        []string
			}{
				{"all, default order", "", 300, all},
				{"one environment", "environment=prod", 250, byEnv["prod"]},
				{"environment and status", "environment=dev&status=open", 1000, byEnv["dev"]},
				{"one page holds all", "", 10000, all},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					seen, totals := walkFindings(t, ts, tc.query, tc.limit, nil)
					for _, total := range totals {
						if total != len(tc.want) {
							t.Fatalf("totals %v, want %d on every page", totals, len(tc.want))
						}
					}
					if wantPages := (len(tc.want) + tc.limit - 1) / tc.limit; len(totals) != wantPages {
						t.Errorf("%d pages, want %d", len(totals), wantPages)
					}
					exactlyOnce(t, seen, tc.want)
				})
			}

			t.Run("stores between pages", func(t *testing.T) {
				added := 0
				var newer []string
				seen, totals := walkFindings(t, ts, "", 250, func(page int) {
					// New findings, first seen now (they sort before the
					// cursor) and one first seen in the past (after it).
					var fs []model.Finding
					for i := 0; i < 10; i++ {
						f := pagingFinding("prod", 100000+page*100+i)
						fs = append(fs, f)
						newer = append(newer, f.Fingerprint)
					}
					if err := store.Upsert(ctx, time.Now(), fs); err != nil {
						t.Fatal(err)
					}
					past := pagingFinding("dev", 200000+page)
					if err := store.Upsert(ctx, start.Add(-time.Minute), []model.Finding{past}); err != nil {
						t.Fatal(err)
					}
					added += len(fs) + 1
					// Known findings seen again, on pages already read and
					// not yet read; one resolved, one reopened.
					again := []model.Finding{pagingFinding("prod", page*200), pagingFinding("dev", n-1-page*200)}
					if err := store.Upsert(ctx, time.Now(), again); err != nil {
						t.Fatal(err)
					}
					if err := store.Resolve(ctx, time.Now(), []string{pagingFinding("dev", page*150+1).Fingerprint}); err != nil {
						t.Fatal(err)
					}
				})
				exactlyOnceAmong(t, seen, all)
				for fp, k := range seen {
					if k > 1 {
						t.Errorf("%s listed %d times", fp, k)
					}
				}
				for _, fp := range newer {
					if seen[fp] != 0 {
						t.Errorf("new finding %s, first seen after the walk started, was listed after the cursor", fp)
					}
				}
				if last := totals[len(totals)-1]; last != n+added {
					t.Errorf("last page total %d, want %d (the seeded %d plus %d stored during the walk)", last, n+added, n, added)
				}
			})
		})
	}
}

// exactlyOnce checks that seen holds want, each once, and nothing else.
func exactlyOnce(t *testing.T, seen map[string]int, want []string) {
	t.Helper()
	exactlyOnceAmong(t, seen, want)
	if len(seen) != len(want) {
		t.Errorf("%d distinct findings listed, want %d", len(seen), len(want))
	}
}

// exactlyOnceAmong checks that each of want was listed once.
func exactlyOnceAmong(t *testing.T, seen map[string]int, want []string) {
	t.Helper()
	bad := 0
	for _, fp := range want {
		if seen[fp] != 1 {
			bad++
			if bad <= 5 {
				t.Errorf("finding %s listed %d times, want once", fp, seen[fp])
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d findings in all not listed exactly once", bad)
	}
}

// TestListLimitsAndCursors: the documented limits of every list endpoint,
// with a limit above the maximum a 400 that names the maximum, and cursors
// bound to their endpoint and filters.
func TestListLimitsAndCursors(t *testing.T) {
	ts := runE2E(t, pagingConfig, nil, nil)
	for i := 0; i < 3; i++ {
		postGrid(t, ts.url, eventGridEvent(fmt.Sprintf("lim-%d", i), "Other", "p"))
	}
	var first pagedEvents
	if code := ts.apiGet("/v1/events?limit=1", &first); code != 200 || first.NextCursor == "" {
		t.Fatalf("events?limit=1: status %d, next_cursor %q", code, first.NextCursor)
	}
	var fpage pagedFindings
	if code := ts.apiGet("/v1/findings", &fpage); code != 200 {
		t.Fatalf("findings: %d", code)
	}
	tests := []struct {
		name, path string
		wantCode   int
		wantError  string
		wantLimit  int
	}{
		{"events default", "/v1/events", 200, "", 100},
		{"events at the maximum", "/v1/events?limit=1000", 200, "", 1000},
		{"events above the maximum", "/v1/events?limit=1001", 400, "limit 1001 is above the maximum of 1000 (default 100)", 0},
		{"events zero", "/v1/events?limit=0", 400, "want a whole number from 1 to 1000", 0},
		{"events not a number", "/v1/events?limit=many", 400, `limit "many"`, 0},
		{"findings default", "/v1/findings", 200, "", 500},
		{"findings at the maximum", "/v1/findings?limit=10000", 200, "", 10000},
		{"findings above the maximum", "/v1/findings?limit=10001", 400, "limit 10001 is above the maximum of 10000 (default 500)", 0},
		{"silences default", "/v1/silences", 200, "", 100},
		{"silences above the maximum", "/v1/silences?limit=1001", 400, "limit 1001 is above the maximum of 1000 (default 100)", 0},
		{"garbage cursor", "/v1/events?cursor=not-a-cursor", 400, "cursor: not a cursor plumb made", 0},
		{"cursor with other filters", "/v1/events?state=dead&cursor=" + first.NextCursor, 400, "cursor: it was made with other filters", 0},
		{"cursor of another list", "/v1/findings?cursor=" + first.NextCursor, 400, "cursor: it continues a list of events, not of findings", 0},
		{"cursor and after", "/v1/events?after=1&cursor=" + first.NextCursor, 400, "give cursor or after, not both", 0},
		{"silences all=maybe", "/v1/silences?all=maybe", 400, `all "maybe"`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ts.do("GET", tc.path, map[string]string{"Authorization": "Bearer " + testToken}, nil)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantCode, b)
			}
			if tc.wantError != "" {
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Error, tc.wantError) {
					t.Errorf("answer %s: error lacks %q", b, tc.wantError)
				}
			}
			if tc.wantLimit != 0 {
				var m struct {
					Limit int  `json:"limit"`
					Total *int `json:"total"`
				}
				if err := json.Unmarshal(b, &m); err != nil || m.Limit != tc.wantLimit || m.Total == nil {
					t.Errorf("answer %s: want limit %d and a total (%v)", b, tc.wantLimit, err)
				}
			}
		})
	}
}

// TestEventsPaging walks events a few at a time: every event once, the
// total of the state asked for, next_after kept beside next_cursor for
// older clients, and events received between pages listed after the
// others.
func TestEventsPaging(t *testing.T) {
	ts := runE2E(t, pagingConfig, nil, nil)
	var want []string
	for i := 0; i < 23; i++ {
		id := fmt.Sprintf("page-%02d", i)
		postGrid(t, ts.url, eventGridEvent(id, "Other", "p"))
		want = append(want, id)
	}
	seen := map[string]int{}
	var order []int64
	cursor, pages := "", 0
	for {
		path := "/v1/events?state=filtered&limit=5"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var p pagedEvents
		if code := ts.apiGet(path, &p); code != 200 {
			t.Fatalf("%s: status %d", path, code)
		}
		pages++
		wantTotal := 23
		if pages > 1 {
			wantTotal = 24 // one more arrived after the first page
		}
		if p.Total == nil || *p.Total != wantTotal {
			t.Errorf("page %d: total %v, want %d", pages, p.Total, wantTotal)
		}
		for _, e := range p.Events {
			seen[e.Event.ID]++
			order = append(order, e.ID)
		}
		if (p.NextCursor == "") != (p.NextAfter == 0) {
			t.Errorf("page %d: next_cursor %q but next_after %d: want both or neither", pages, p.NextCursor, p.NextAfter)
		}
		if p.NextCursor == "" {
			break
		}
		if last := p.Events[len(p.Events)-1].ID; p.NextAfter != last {
			t.Errorf("page %d: next_after %d, want the last id %d", pages, p.NextAfter, last)
		}
		if pages == 1 {
			postGrid(t, ts.url, eventGridEvent("page-late", "Other", "p"))
			want = append(want, "page-late")
		}
		cursor = p.NextCursor
	}
	if pages != 5 {
		t.Errorf("%d pages of 5 for 24 events, want 5", pages)
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d distinct events, want %d: %v", len(seen), len(want), seen)
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("event %s listed %d times, want once", id, seen[id])
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("events not in id order: %v", order)
		}
	}
	// The older way to page still works.
	var p pagedEvents
	if code := ts.apiGet(fmt.Sprintf("/v1/events?limit=5&after=%d", order[19]), &p); code != 200 || len(p.Events) != 4 || p.NextCursor != "" {
		t.Errorf("after=%d: status %d, %d events, next_cursor %q; want the last 4 and no cursor", order[19], code, len(p.Events), p.NextCursor)
	}
}

// TestSilencesPaging lists silences a page at a time, active ones and,
// with all=true, expired ones too.
func TestSilencesPaging(t *testing.T) {
	ts := runE2E(t, pagingConfig, nil, nil)
	var ids []string
	for i := 0; i < 5; i++ {
		var out struct {
			ID string `json:"id"`
		}
		if code := notifyAPI(t, ts.url, "POST", "/v1/silences", map[string]any{
			"matchers": []string{fmt.Sprintf(`id="bucket-%d"`, i)}, "duration": "1h", "comment": "paging"}, &out); code != 201 {
			t.Fatalf("add silence: %d", code)
		}
		ids = append(ids, out.ID)
	}
	if code := notifyAPI(t, ts.url, "POST", "/v1/silences/"+ids[1]+"/expire", nil, nil); code != 200 {
		t.Fatalf("expire: %d", code)
	}
	walk := func(query string) ([]string, []int) {
		var got []string
		var totals []int
		cursor := ""
		for i := 0; i < 10; i++ {
			path := "/v1/silences?limit=2" + query
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			var p pagedSilences
			if code := ts.apiGet(path, &p); code != 200 || p.Total == nil {
				t.Fatalf("%s: status %d, total %v", path, code, p.Total)
			}
			totals = append(totals, *p.Total)
			for _, s := range p.Silences {
				got = append(got, s.ID)
				if s.CreatedAt.IsZero() {
					t.Errorf("silence %s has no created_at", s.ID)
				}
			}
			if p.NextCursor == "" {
				return got, totals
			}
			cursor = p.NextCursor
		}
		t.Fatal("the silence cursor does not advance")
		return nil, nil
	}
	active, totals := walk("")
	wantActive := []string{ids[0], ids[2], ids[3], ids[4]}
	if fmt.Sprint(active) != fmt.Sprint(wantActive) || fmt.Sprint(totals) != "[4 4]" {
		t.Errorf("active silences %v (totals %v), want %v in creation order, totals [4 4]", active, totals, wantActive)
	}
	all, totals := walk("&all=true")
	if fmt.Sprint(all) != fmt.Sprint(ids) || fmt.Sprint(totals) != "[5 5 5]" {
		t.Errorf("all silences %v (totals %v), want %v, totals [5 5 5]", all, totals, ids)
	}
}

// TestFindingHistoryTotal: a finding with more transitions than the 200
// GET /v1/findings/{fingerprint} shows says how many it has in all.
func TestFindingHistoryTotal(t *testing.T) {
	ts, store := pagingBackend(t, "sqlite")
	ctx := context.Background()
	f := pagingFinding("prod", 1)
	at := time.Now().Add(-time.Hour)
	// Opened, then 102 times resolved and reopened: 205 transitions.
	if err := store.Upsert(ctx, at, []model.Finding{f}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 102; i++ {
		at = at.Add(time.Second)
		if err := store.Resolve(ctx, at, []string{f.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
		if err := store.Upsert(ctx, at, []model.Finding{f}); err != nil {
			t.Fatal(err)
		}
	}
	var show struct {
		History []struct {
			Action string `json:"action"`
		} `json:"history"`
		HistoryTotal int `json:"history_total"`
	}
	if code := ts.apiGet("/v1/findings/"+f.Fingerprint, &show); code != 200 {
		t.Fatalf("show: %d", code)
	}
	if len(show.History) != 200 || show.HistoryTotal != 205 {
		t.Errorf("history: %d entries, history_total %d; want the latest 200 of 205", len(show.History), show.HistoryTotal)
	}
	if last := show.History[len(show.History)-1].Action; last != "reopened" {
		t.Errorf("last entry %s, want the latest (reopened)", last)
	}
}
