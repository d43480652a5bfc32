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

// River's informational lines are library detail: an operator running
// plumb serve at INFO sees none of them, and at DEBUG sees all of them
// with their attributes.
func TestRiverLogHandlerDemotesInfo(t *testing.T) {
	tests := []struct {
		name    string
		level   slog.Level
		log     func(*slog.Logger)
		want    []string
		notWant []string
	}{
		{"producer counts hidden at info", slog.LevelInfo,
			func(l *slog.Logger) { l.Info("producer: Producer job counts", "num_completed_jobs", 4) },
			nil, []string{"Producer job counts"}},
		{"client started hidden at info", slog.LevelInfo,
			func(l *slog.Logger) { l.Info("River client started", "client_id", "x") },
			nil, []string{"River client started"}},
		{"warnings kept at info", slog.LevelInfo,
			func(l *slog.Logger) { l.Warn("jobexecutor: Job appears to be stuck", "job_id", 7) },
			[]string{"level=WARN", "Job appears to be stuck", "job_id=7"}, nil},
		{"info shown at debug with its attributes", slog.LevelDebug,
			func(l *slog.Logger) { l.Info("producer: Producer job counts", "num_completed_jobs", 4) },
			[]string{"level=DEBUG", "Producer job counts", "num_completed_jobs=4"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(riverLogHandler{next: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})}))
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("log has %q:\n%s", w, out)
				}
			}
		})
	}
}
