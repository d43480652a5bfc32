package queue

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/riverqueue/river"
)

// TestSQLiteDeliveryJobsMatchRiver: the rows intake writes into River's
// job table on SQLite equal, column by column, the rows River's own
// InsertManyTx writes for the same deliveries (only id and the insert
// times differ), so River works them exactly as its own. Upgrading River
// with a changed job table fails this test rather than production.
func TestSQLiteDeliveryJobsMatchRiver(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cases := []struct {
		name string
		args deliveryArgs
		max  int
	}{
		{"default policy", deliveryArgs{EventID: 7, Subscription: "audit-writes"}, DefaultMaxAttempts},
		{"own schedule", deliveryArgs{EventID: 8, Subscription: "runbook", RetryMS: []int64{50, 100}}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := []river.InsertManyParams{{Args: tc.args, InsertOpts: &river.InsertOpts{Queue: riverQueueDelivery, MaxAttempts: tc.max}}}
			var viaRiver, viaIntake []int64
			err := q.be.inTx(ctx, func(tx txOps, ins jobInserter) error {
				var err error
				if viaRiver, err = ins(ctx, params); err != nil {
					return fmt.Errorf("river insert: %w", err)
				}
				if viaIntake, err = insertDeliveryJobsSQLite(ctx, tx, params); err != nil {
					return fmt.Errorf("intake insert: %w", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			a, b := jobRow(t, q.DB(), viaRiver[0]), jobRow(t, q.DB(), viaIntake[0])
			if !reflect.DeepEqual(a, b) {
				t.Errorf("job rows differ:\nriver:  %v\nintake: %v", a, b)
			}
			// And River reads the row back as the delivery it is.
			jobs, err := q.be.jobList(ctx, viaIntake)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("JobList: %v %v", jobs, err)
			}
			j := jobs[0]
			if j.Kind != kindDelivery || j.Queue != riverQueueDelivery || j.MaxAttempts != tc.max || j.State != "available" || j.Priority != 1 {
				t.Errorf("River reads %+v", j)
			}
		})
	}
}

// jobRow reads every column of a river_job row but its id, with the
// timestamps reduced to their type and shape, and without the random
// nonce River's SQLite driver adds to metadata on every insert (it tells
// an inserted unique job from a skipped one; deliveries are not unique).
func jobRow(t *testing.T, db *sql.DB, id int64) map[string]any {
	t.Helper()
	rows, err := db.Query(`SELECT json(args) AS args, attempt, attempted_at, attempted_by, errors, finalized_at, kind, max_attempts,
		json_remove(metadata, '$."river:unique_nonce"') AS metadata, priority, queue, state, json(tags) AS tags, unique_key, unique_states,
		typeof(created_at) || ':' || length(created_at) AS created_shape,
		typeof(scheduled_at) || ':' || length(scheduled_at) AS scheduled_shape,
		typeof(args) AS args_type, typeof(metadata) AS metadata_type, typeof(tags) AS tags_type
		FROM river_job WHERE id = ?`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("job %d not found", id)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for i, c := range cols {
		if b, ok := vals[i].([]byte); ok {
			vals[i] = string(b)
		}
		out[c] = vals[i]
	}
	return out
}
