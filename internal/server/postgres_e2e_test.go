package server

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"plumb/internal/testenv"
)

const postgresConfig = `
server:
  api_token: {env: TOKEN}
  workers: 4
environments:
  - name: prod
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: KEY}}
subscriptions:
  - name: writes
    environment: prod
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers: [{type: audit}]
`

var succeededDeliveries = regexp.MustCompile(`(?m)^plumb_deliveries_total\{outcome="succeeded",subscription="writes"\} (\d+)$`)

// deliveriesDone reads how many deliveries this replica ran to success.
func (ts *testServer) deliveriesDone() int {
	ts.t.Helper()
	_, b := ts.do("GET", "/metrics", nil, nil)
	m := succeededDeliveries.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestE2EPostgresReplicas runs two plumb serve replicas on one PostgreSQL
// database. Events posted to either are processed exactly once between
// them: every event has one finding seen once, the replicas' success
// counters add up to the number of events, and both list every event as
// succeeded at its first attempt. Each run uses a fresh PostgreSQL, so
// -count=N repeats it independently.
func TestE2EPostgresReplicas(t *testing.T) {
	dsn := testenv.StartPostgres(t)
	onPostgres := func(o *Options) { o.DataDir, o.DatabaseURL = "", dsn }
	a := runE2E(t, postgresConfig, nil, onPostgres)
	// The second replica starts once the first has migrated the database.
	b := runE2E(t, postgresConfig, nil, onPostgres)

	// One replica alone: posted, processed, listed.
	resp, body := a.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{
		eventGridEvent("pg-solo", "Microsoft.Resources.ResourceWriteSuccess", "99999999-9999-9999-9999-999999999999"),
		eventGridEvent("pg-pipeline", "Microsoft.Resources.ResourceWriteSuccess", "11111111-1111-1111-1111-111111111111"),
	}))
	if resp.StatusCode != 200 {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	waitForDeadline(t, 30*time.Second, "the first events to succeed", func() bool { return len(a.eventIDsIn("succeeded")) == 2 })
	if fs := b.findings("kind=audit.unexpected_write"); len(fs) != 1 || fs[0].Finding.Resource.ID == "" || fs[0].Count != 1 {
		t.Fatalf("findings seen by the other replica = %+v, want the one non-pipeline write", fs)
	}

	// 200 events, half posted to each replica by concurrent senders.
	const total = 200
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 8)
	bodies := make([][]byte, total)
	for i := range bodies {
		bodies[i] = mustJSON(t, []any{eventGridEvent(fmt.Sprintf("pg-%03d", i), "Microsoft.Resources.ResourceWriteSuccess", "99999999-9999-9999-9999-999999999999")})
	}
	for i := 0; i < total; i++ {
		target := a
		if i%2 == 1 {
			target = b
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, target *testServer) {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := http.Post(target.url+keyed("/v1/events/eventgrid"), "application/json", bytes.NewReader(bodies[i]))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("event %d: status %d", i, resp.StatusCode)
			}
		}(i, target)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	want := total + 1
	var fs []findingView
	waitForDeadline(t, 120*time.Second, fmt.Sprintf("%d findings", want), func() bool {
		fs = a.findings("kind=audit.unexpected_write&limit=10000")
		return len(fs) >= want
	})
	waitForDeadline(t, 60*time.Second, "every delivery to be counted", func() bool {
		return a.deliveriesDone()+b.deliveriesDone() >= want+1
	})
	// A delivery is counted (and its finding stored) when its handlers
	// return, before River marks its job completed: the completer writes
	// completions in batches, every 250ms or so and later under load, and
	// until then the job is running and its event "pending" at attempt 1.
	// Reading the events right after the counters therefore races the
	// completer (it lost on fast machines). Wait, with a deadline, for
	// both replicas to see the completions; what they show is then
	// checked below as strictly as before.
	waitForDeadline(t, 60*time.Second, "both replicas to list every event as succeeded", func() bool {
		return len(a.eventIDsIn("succeeded")) == want+1 && len(b.eventIDsIn("succeeded")) == want+1
	})
	fs = b.findings("kind=audit.unexpected_write&limit=10000")
	if len(fs) != want {
		t.Errorf("%d findings, want %d", len(fs), want)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Count != 1 {
			t.Errorf("finding for %s counted %d times: an event was processed twice", f.Finding.Resource.ID, f.Count)
		}
		seen[f.Finding.Resource.ID] = true
	}
	if len(seen) != want {
		t.Errorf("%d distinct resources in findings, want %d", len(seen), want)
	}
	na, nb := a.deliveriesDone(), b.deliveriesDone()
	t.Logf("replica a ran %d deliveries, replica b %d", na, nb)
	if na+nb != want+1 {
		t.Errorf("replicas ran %d+%d deliveries, want %d in all (each delivery exactly once)", na, nb, want+1)
	}
	// Both replicas see the same 202 events, all succeeded with one
	// delivery each.
	for name, ts := range map[string]*testServer{"a": a, "b": b} {
		var evs eventsAnswer
		if code := ts.apiGet("/v1/events?limit=1000", &evs); code != 200 {
			t.Fatalf("replica %s events: %d", name, code)
		}
		if len(evs.Events) != want+1 {
			t.Errorf("replica %s lists %d events, want %d", name, len(evs.Events), want+1)
		}
		for _, e := range evs.Events {
			if e.State != "succeeded" || len(e.Deliveries) != 1 || e.Deliveries[0].Attempt != 1 {
				t.Errorf("replica %s: event %s is %s with deliveries %+v, want succeeded at the first attempt", name, e.Key, e.State, e.Deliveries)
			}
		}
	}
}
