package enforce

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// GuardBreakGlass names the break-glass stage.
const GuardBreakGlass = "break-glass"

// OpenWindow is a break-glass window as the guard sees it.
type OpenWindow struct {
	ID        string
	Principal string
	Reason    string
	OpenedBy  string
	Until     time.Time
}

// WindowSource tells which break-glass windows of an environment are
// open at a time (internal/breakglass).
type WindowSource interface {
	OpenWindows(ctx context.Context, environment string, at time.Time) ([]OpenWindow, error)
}

// BreakGlass stops every action in an environment while a break-glass
// window is open there: an engineer is changing it by hand on purpose,
// and plumb must not put things back (or delete what they made) behind
// their back. When the window closes, the drift still there is handled as
// usual again.
type BreakGlass struct {
	Windows WindowSource
}

// Name implements Guard.
func (BreakGlass) Name() string { return GuardBreakGlass }

// Check implements Guard.
func (g BreakGlass) Check(ctx context.Context, run *Run, cands []*Candidate) error {
	if g.Windows == nil {
		return nil
	}
	ws, err := g.Windows.OpenWindows(ctx, run.Environment.Name, run.Now)
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return nil
	}
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s for %s (%s, opened by %s, until %s)", w.ID, w.Principal, w.Reason, w.OpenedBy, w.Until.UTC().Format(time.RFC3339)))
	}
	reason := fmt.Sprintf("break-glass window %s is open in %s: plumb acts on nothing there until it closes", strings.Join(parts, "; "), run.Environment.Name)
	for _, c := range cands {
		c.Block(GuardBreakGlass, reason)
	}
	return nil
}
