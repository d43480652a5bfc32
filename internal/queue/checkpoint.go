package queue

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite in WAL mode copies the log back into the database file
// (a checkpoint) when the log passes 1,000 pages, by default inside the
// commit that crossed the line: intake's single writer then stopped for
// the copy and the database file's fsync while every sender waited, about
// an eighth of the committer's time and its worst latencies. This
// goroutine checkpoints from a connection of its own, which SQLite lets
// run beside the writer (PASSIVE: it never blocks or waits for it), so
// the copying happens off the writer's path.
//
// The writer keeps an automatic checkpoint, at 4,000 pages instead of
// 1,000: the log can only start over from its beginning once every frame
// in it is copied, and under continuous writes a checkpoint running beside
// the writer rarely ends with nothing new behind it. The writer's own
// checkpoint then finds most frames copied already, copies the rest, and
// the log restarts, so it stays bounded as before.

// checkpointEvery is how often the checkpointer runs. At 10,000 events a
// second the log grows by roughly that many pages a second, so the log
// stays within a few thousand pages.
const checkpointEvery = 200 * time.Millisecond

type checkpointer struct {
	db       *sql.DB
	stop     chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once
}

// startCheckpointer opens its own connection to the database at dsn and
// checkpoints until close is called.
func startCheckpointer(dsn string, log *slog.Logger) (*checkpointer, error) {
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpoint connection: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
			switch {
			case err != nil && !failing:
				log.Warn("queue: WAL checkpoint failed; the log grows until one succeeds", "error", err)
				failing = true
			case err == nil && failing:
				log.Info("queue: WAL checkpoints succeed again")
				failing = false
			}
		}
	}()
	return c, nil
}

// close stops the checkpointer and closes its connection. A last
// checkpoint is left to the writer's connection, which SQLite runs when
// the last connection to the database closes. Closing twice is harmless,
// as for the database.
func (c *checkpointer) close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.done.Wait()
	return c.db.Close()
}
