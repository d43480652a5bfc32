// Package progress tells a person at a terminal that a long scan is alive
// and how far it got. It stays silent for scans that finish within the
// delay, and silent when stderr is not a terminal unless asked, so logs in
// CI are not flooded with carriage returns.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Reporter prints "done/total" progress lines to a writer.
type Reporter struct {
	w     io.Writer
	tty   bool
	delay time.Duration
	label string

	mu      sync.Mutex
	start   time.Time
	done    int
	total   int
	unit    string
	shown   bool
	stopped bool
	timer   *time.Timer
}

// New returns a reporter. On a terminal (tty) it redraws one line; on other
// writers it prints one line per update. Nothing is printed before delay
// has passed since New.
func New(w io.Writer, tty bool, delay time.Duration, label string) *Reporter {
	r := &Reporter{w: w, tty: tty, delay: delay, label: label, start: time.Now()}
	r.timer = time.AfterFunc(delay, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.stopped && r.total > 0 {
			r.draw()
		}
	})
	return r
}

// Update records progress; it is safe for concurrent use.
func (r *Reporter) Update(done, total int, unit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.total, r.unit = done, total, unit
	if r.stopped || time.Since(r.start) < r.delay {
		return
	}
	r.draw()
}

// SetTotal announces the amount of work before any of it is done, so the
// first line printed after the delay has a meaningful total.
func (r *Reporter) SetTotal(total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total = total
}

func (r *Reporter) draw() {
	line := fmt.Sprintf("%s: %d/%d services and regions done", r.label, r.done, r.total)
	if r.unit != "" {
		line += " (last: " + r.unit + ")"
	}
	line += fmt.Sprintf(", %s", time.Since(r.start).Round(100*time.Millisecond))
	if r.tty {
		fmt.Fprintf(r.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(r.w, line)
	}
	r.shown = true
}

// Stop ends the display, leaving the terminal on a fresh line.
func (r *Reporter) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer.Stop()
	if r.shown && r.tty && !r.stopped {
		fmt.Fprint(r.w, "\r\033[K")
	}
	r.stopped = true
}
