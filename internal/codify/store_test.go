package codify

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
)

// TestReadStore reads the open findings of one environment from a real
// SQLite findings store: resolved findings and other environments are
// left out.
func TestReadStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q, err := queue.Open(ctx, queue.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	open := finding(model.KindUnmanaged, "aws_s3_bucket", "logs")
	open.Environment = "prod"
	gone := finding(model.KindUnmanaged, "aws_s3_bucket", "gone")
	gone.Environment = "prod"
	other := finding(model.KindUnmanaged, "aws_s3_bucket", "stage-logs")
	other.Environment = "staging"
	other.Fingerprint = model.Fingerprint(model.KindUnmanaged, "staging", "aws", "aws_s3_bucket", "us-east-1", "stage-logs", "")
	now := time.Now()
	if err := store.Upsert(ctx, now, []model.Finding{open, gone, other}); err != nil {
		t.Fatal(err)
	}
	if err := store.Resolve(ctx, now, []string{gone.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	in, err := ReadStore(ctx, dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Findings) != 1 || in.Findings[0].Fingerprint != open.Fingerprint || in.Environment != "prod" {
		t.Fatalf("read %+v, want only the open prod finding", in.Findings)
	}
	if !strings.Contains(in.Source, "environment prod") {
		t.Errorf("source = %q", in.Source)
	}
	if _, err := ReadStore(ctx, t.TempDir(), "prod"); err == nil || !strings.Contains(err.Error(), "no findings store") {
		t.Errorf("empty data dir: %v", err)
	}
}
