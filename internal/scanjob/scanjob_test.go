package scanjob

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/queue"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

type nopDispatch struct{}

func (nopDispatch) Dispatch(context.Context, queue.Delivery) error { return nil }

// stores opens a queue on each database plumb supports.
func stores(t *testing.T) map[string]func(t *testing.T) *queue.Queue {
	return map[string]func(t *testing.T) *queue.Queue{
		"sqlite": func(t *testing.T) *queue.Queue {
			return openQueue(t, queue.Options{DataDir: t.TempDir(), Dispatch: nopDispatch{}})
		},
		"postgres": func(t *testing.T) *queue.Queue {
			return openQueue(t, queue.Options{DatabaseURL: testenv.StartPostgres(t), Dispatch: nopDispatch{}})
		},
	}
}

func openQueue(t *testing.T, o queue.Options) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func newRunner(t *testing.T, q *queue.Queue, finished *atomic.Int32) *Runner {
	t.Helper()
	cfg := &config.Config{Environments: []config.Environment{{Name: "prod", Regions: []string{"us-east-1"}}}}
	r, err := New(context.Background(), Options{Queue: q, Config: cfg, PartTimeout: 10 * time.Second, JobName: func(e string) string { return "scan-" + e },
		ScanOptions: func(env config.Environment) scan.Options {
			return scan.Options{Environment: env.Name, Regions: env.Regions, States: []string{"x"}}
		},
		Finish: func(context.Context, config.Environment, time.Time, *scan.Outcome, error) error {
			finished.Add(1)
			return nil
		},
		InProcess: func(context.Context, config.Environment) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestJoinOnce: the join runs the lifecycle once per run: a second join
// task of the run does nothing, a rescued attempt of the task that
// claimed it takes over only while the run is not joined yet.
func TestJoinOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := open(t)
			var finished atomic.Int32
			r := newRunner(t, q, &finished)
			desired := `{"resources":[],"clouds":["aws"]}`
			insert := func(id, state string, joinJob int64, attempt int) {
				t.Helper()
				err := q.InTx(ctx, func(tx queue.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO plumb_scan_run (id, environment, state, started_at, parts_total, parts_left, multi,
						account, regions, accounts, errors, declared, desired, join_job, join_attempt)
						VALUES (?, 'prod', ?, ?, 0, 0, 0, '111111111111', '["us-east-1"]', '{}', '[]', '[]', ?, ?, ?)`,
						id, state, time.Now().UnixNano(), desired, joinJob, attempt)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			join := func(run string, job int64, attempt int) {
				t.Helper()
				args, _ := json.Marshal(joinArgs{Run: run})
				if err := r.join(ctx, queue.Task{ID: job, Attempt: attempt, MaxAttempts: 3, Args: args}); err != nil {
					t.Fatal(err)
				}
			}
			state := func(run string) string {
				var s string
				if err := r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT state FROM plumb_scan_run WHERE id = ?`), run).Scan(&s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			steps := []struct {
				name      string
				run       string
				job       int64
				attempt   int
				wantCalls int32
			}{
				{"first join", "a", 7, 1, 1},
				{"a second join task", "a", 8, 1, 1},
				{"the first task rescued after it joined", "a", 7, 2, 1},
				{"another task while a join runs", "b", 9, 1, 1},
				{"the claiming task rescued mid-join", "b", 7, 2, 2},
			}
			insert("a", RunOpen, 0, 0)
			insert("b", RunJoining, 7, 1)
			for _, st := range steps {
				join(st.run, st.job, st.attempt)
				if got := finished.Load(); got != st.wantCalls {
					t.Fatalf("%s: lifecycle ran %d times in all, want %d", st.name, got, st.wantCalls)
				}
			}
			for _, run := range []string{"a", "b"} {
				if s := state(run); s != RunJoined {
					t.Errorf("run %s is %s, want joined", run, s)
				}
			}
			// Joined runs are kept RunRetention, then pruned.
			if _, err := r.db.ExecContext(ctx, bind(r.dialect, `UPDATE plumb_scan_run SET finished_at = ? WHERE id = 'a'`),
				time.Now().Add(-RunRetention-time.Hour).UnixNano()); err != nil {
				t.Fatal(err)
			}
			if err := r.prune(ctx, "prod"); err != nil {
				t.Fatal(err)
			}
			var left []string
			rows, err := r.db.QueryContext(ctx, `SELECT id FROM plumb_scan_run ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				_ = rows.Scan(&id)
				left = append(left, id)
			}
			_ = rows.Close()
			if len(left) != 1 || left[0] != "b" {
				t.Errorf("runs after pruning: %v, want [b]", left)
			}
		})
	}
}

// TestLeases: a part takes a slot of its service and of its account; a
// full limit refuses, a released or expired slot is free again.
func TestLeases(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := open(t)
			var finished atomic.Int32
			r := newRunner(t, q, &finished)
			lim := config.ScanLimits{Account: 2, Service: 1}
			steps := []struct {
				holder, account, service string
				want                     bool
			}{
				{"h1", "A", "ec2", true},
				{"h2", "A", "ec2", false}, // the service's one slot is taken
				{"h3", "A", "sqs", true},
				{"h4", "A", "s3", false}, // the account's two slots are taken
				{"h5", "B", "ec2", true}, // another account
			}
			for _, st := range steps {
				got, err := r.acquire(ctx, st.holder, st.account, st.service, lim)
				if err != nil {
					t.Fatal(err)
				}
				if got != st.want {
					t.Fatalf("%s takes %s/%s: %v, want %v", st.holder, st.account, st.service, got, st.want)
				}
			}
			r.release("h1")
			if got, _ := r.acquire(ctx, "h4", "A", "s3", lim); !got {
				t.Fatal("a released slot was not free")
			}
			// h3 and h4 hold A; h3's replica died: its lease expires.
			if _, err := r.db.ExecContext(ctx, bind(r.dialect, `UPDATE plumb_scan_lease SET expires_at = 0 WHERE holder = ?`), "h3"); err != nil {
				t.Fatal(err)
			}
			if got, _ := r.acquire(ctx, "h6", "A", "ec2", lim); !got {
				t.Fatal("an expired slot was not taken over")
			}
			var held int
			if err := r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT count(*) FROM plumb_scan_lease WHERE key = ? AND holder <> ?`), "acct|A", "h3").Scan(&held); err != nil {
				t.Fatal(err)
			}
			if held != 2 {
				t.Errorf("account A has %d live slots, want 2 (h4, h6)", held)
			}
		})
	}
}

// TestDesiredRoundTrip: a stored desired side compares like the one read.
func TestDesiredRoundTrip(t *testing.T) {
	var d scan.Desired
	in := `{"resources":[{"provider":"aws","type":"aws_sqs_queue","id":"q","tags":{},"address":"aws_sqs_queue.q","source":"s",
		"raw":{"name":"q","n":3},"provider_config":"p"}],"clouds":["aws"]}`
	if err := json.Unmarshal([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	var back scan.Desired
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != string(out) {
		t.Errorf("round trip changed the desired side:\n%s\n%s", out, again)
	}
	if !back.AWSOnly() || back.Len() != 1 {
		t.Errorf("AWSOnly %v, Len %d", back.AWSOnly(), back.Len())
	}
}
