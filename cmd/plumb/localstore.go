package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/queue"
)

// withLocalActions opens the action store of an existing --data-dir (the
// findings store first, whose tables it refers to), runs fn and closes
// it. first says what creates the directory, for the error when it is
// missing.
func withLocalActions(ctx context.Context, dataDir, first string, fn func(*enforce.Store) error) error {
	if _, err := os.Stat(dataDir); err != nil {
		return fmt.Errorf("--data-dir %s: %w (run %s there first, or pass --server)", dataDir, err, first)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	defer q.Close()
	if _, err := findings.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		return err
	}
	s, err := enforce.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return err
	}
	return fn(s)
}
