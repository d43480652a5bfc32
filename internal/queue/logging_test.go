package queue

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRiverLogHandlerDemotesShutdownNoise(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(riverLogHandler{next: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})})
	log.Error("maintenance.PeriodicJobEnqueuer: Error starting transaction", "error", context.Canceled)
	log.Error("fetch failed", "error", errors.New("disk I/O error"))
	log.Warn("slow", "error", "context canceled while waiting")
	out := buf.String()
	if strings.Contains(out, "PeriodicJobEnqueuer") || strings.Contains(out, "slow") {
		t.Errorf("shutdown noise logged:\n%s", out)
	}
	if !strings.Contains(out, "disk I/O error") {
		t.Errorf("a real error was dropped:\n%s", out)
	}
}
