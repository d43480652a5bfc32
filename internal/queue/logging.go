package queue

import (
	"context"
	"log/slog"
	"strings"
)

// riverLogHandler passes River's logs on, except that errors caused by
// the queue's own shutdown (a cancelled context in a maintenance service)
// are demoted to debug: a cron job running `plumb scan --notify` must not
// print an ERROR line on every clean exit.
type riverLogHandler struct{ next slog.Handler }

func (h riverLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelError
}

func (h riverLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && shutdownNoise(r) {
		r = slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h riverLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return riverLogHandler{next: h.next.WithAttrs(as)}
}

func (h riverLogHandler) WithGroup(name string) slog.Handler {
	return riverLogHandler{next: h.next.WithGroup(name)}
}

// shutdownNoise reports whether a record is only about a cancelled
// context.
func shutdownNoise(r slog.Record) bool {
	noise := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" || a.Key == "err" {
			s := a.Value.String()
			if strings.Contains(s, "context canceled") {
				noise = true
				return false
			}
		}
		return true
	})
	return noise
}
