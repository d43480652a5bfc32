package queue

import (
	"context"
	"log/slog"
	"strings"
)

// riverLogHandler passes River's logs on at levels an operator of plumb
// wants: River's informational lines (producer job counts, client
// started/stopped, applied migrations, job errors that plumb reports in
// its own words) are library detail and go to DEBUG; its warnings and
// errors stay, except those caused by the queue's own shutdown (a
// cancelled context in a maintenance service), also demoted to DEBUG: a
// cron job running `plumb scan --notify` must not print an ERROR line on
// every clean exit.
type riverLogHandler struct{ next slog.Handler }

// riverLogger is the logger handed to River and its migrator.
func (q *Queue) riverLogger() *slog.Logger {
	return slog.New(riverLogHandler{next: q.log.Handler()})
}

func (h riverLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelError
}

func (h riverLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || shutdownNoise(r) {
		r = demote(r)
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

// demote copies r at DEBUG, attributes included.
func demote(r slog.Record) slog.Record {
	d := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		d.AddAttrs(a)
		return true
	})
	return d
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
