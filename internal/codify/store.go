package codify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"plumb/internal/findings"
	"plumb/internal/queue"
)

// ReadStore reads the open findings of an environment from the
// findings store in dataDir (the SQLite file plumb serve and
// plumb scan --notify keep). Suppressed and resolved findings are left
// out: someone decided to live with them, or they are gone.
func ReadStore(ctx context.Context, dataDir, environment string) (*Input, error) {
	db := filepath.Join(dataDir, "plumb.db")
	if _, err := os.Stat(db); err != nil {
		return nil, fmt.Errorf("--env %s: no findings store in %s (%v): run plumb serve or plumb scan --notify with --data-dir %s first, or pass --from report.json", environment, dataDir, err, dataDir)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, fmt.Errorf("open the findings store in %s: %w", dataDir, err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		return nil, err
	}
	recs, err := store.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Environment: environment})
	if err != nil {
		return nil, fmt.Errorf("read the open findings of %s: %w", environment, err)
	}
	in := &Input{Source: fmt.Sprintf("the open findings of environment %s in %s", environment, dataDir), Environment: environment}
	for _, r := range recs {
		in.Findings = append(in.Findings, r.Finding)
	}
	return in, nil
}
