// Package progress tells a person that a long scan is alive, how far it
// got and what it is still waiting for. It stays silent for scans that
// finish within the delay. On a terminal it redraws one line; on any
// other writer (asked for with --progress, as in CI logs) it prints a line
// when a unit finishes and, while units are still waiting, a line every
// heartbeat, so a scan stuck on an unreachable endpoint is never silent.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"plumb/internal/inventory"
)

// maxWaiting caps how many waiting units a line names.
const maxWaiting = 4

// Reporter prints progress lines to a writer. It implements
// inventory.Observer and is safe for concurrent use.
type Reporter struct {
	w         io.Writer
	tty       bool
	delay     time.Duration
	heartbeat time.Duration
	label     string

	mu      sync.Mutex
	start   time.Time
	order   []string
	done    map[string]bool
	waiting map[string]string
	last    time.Time // last line printed
	shown   bool
	stopped bool
	stop    chan struct{}
}

var _ inventory.Observer = (*Reporter)(nil)

// New returns a reporter and starts its clock. Nothing is printed before
// delay has passed. On a terminal (tty) the line is redrawn every second;
// elsewhere a line is printed when a unit finishes and at least every
// heartbeat while units are waiting.
func New(w io.Writer, tty bool, delay, heartbeat time.Duration, label string) *Reporter {
	if heartbeat <= 0 {
		heartbeat = 10 * time.Second
	}
	if tty {
		heartbeat = time.Second
	}
	r := &Reporter{w: w, tty: tty, delay: delay, heartbeat: heartbeat, label: label, start: time.Now(),
		done: map[string]bool{}, waiting: map[string]string{}, stop: make(chan struct{})}
	go r.tick()
	return r
}

// tick prints the heartbeat lines.
func (r *Reporter) tick() {
	t := time.NewTicker(min(r.heartbeat, max(r.delay, 10*time.Millisecond)))
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.mu.Lock()
			if !r.stopped && len(r.order) > 0 && now.Sub(r.start) >= r.delay && now.Sub(r.last) >= r.heartbeat {
				r.draw(now)
			}
			r.mu.Unlock()
		}
	}
}

// Planned implements inventory.Observer.
func (r *Reporter) Planned(units []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, units...)
}

// Attempt implements inventory.Observer.
func (r *Reporter) Attempt(unit, operation string, attempt int, lastErr string) {
	what := operation
	if attempt > 1 && lastErr != "" {
		what = fmt.Sprintf("%s, retry %d: %s", operation, attempt-1, lastErr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done[unit] {
		r.waiting[unit] = what
	}
}

// Finished implements inventory.Observer.
func (r *Reporter) Finished(unit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[unit] = true
	delete(r.waiting, unit)
	now := time.Now()
	if !r.stopped && now.Sub(r.start) >= r.delay {
		r.draw(now)
	}
}

// Line returns the current progress line, without the elapsed time.
func (r *Reporter) Line() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.line()
}

func (r *Reporter) line() string {
	line := fmt.Sprintf("%s: %d/%d services and regions done", r.label, len(r.done), len(r.order))
	var waiting []string
	for _, u := range r.order {
		if what, ok := r.waiting[u]; ok && !r.done[u] {
			waiting = append(waiting, fmt.Sprintf("%s (%s)", u, what))
		}
	}
	if len(waiting) > maxWaiting {
		waiting = append(waiting[:maxWaiting], fmt.Sprintf("%d more", len(waiting)-maxWaiting))
	}
	if len(waiting) > 0 {
		line += "; waiting: " + strings.Join(waiting, ", ")
	}
	return line
}

func (r *Reporter) draw(now time.Time) {
	line := r.line() + fmt.Sprintf("; %s", now.Sub(r.start).Round(100*time.Millisecond))
	if r.tty {
		fmt.Fprintf(r.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(r.w, line)
	}
	r.shown = true
	r.last = now
}

// Stop ends the display, leaving the terminal on a fresh line.
func (r *Reporter) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.stopped = true
	close(r.stop)
	if r.shown && r.tty {
		fmt.Fprint(r.w, "\r\033[K")
	}
}
