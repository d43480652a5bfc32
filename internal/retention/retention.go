// Package retention prunes what plumb serve's store no longer needs
// (succeeded and dead deliveries, resolved findings, old finding history,
// expired silences, receivers' memory of closed findings), so a store that
// runs for a year stays bounded. Each kind of row is one Rule: adding a
// table to prune is one more Rule with the age it keeps rows and the
// store method that deletes older ones. The server runs Pruner.Run as a
// River periodic job, so it runs once across replicas.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Rule is one kind of row the pruner removes.
type Rule struct {
	// Name is the config key (server.retention.NAME) and the log label.
	Name string
	// Keep is how long rows are kept; zero or negative disables the rule.
	Keep time.Duration
	// Prune deletes rows older than before and returns how many.
	Prune func(ctx context.Context, before time.Time) (int64, error)
}

// Result is what one run removed, by rule name.
type Result map[string]int64

// Pruner runs rules in order. A failing rule does not stop the others;
// their errors are joined.
type Pruner struct {
	Rules  []Rule
	Logger *slog.Logger
	// Now is the clock (time.Now when nil), so tests can move it.
	Now func() time.Time
}

// Run applies every rule once.
func (p *Pruner) Run(ctx context.Context) (Result, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := Result{}
	var errs []error
	for _, r := range p.Rules {
		if r.Keep <= 0 || r.Prune == nil {
			continue
		}
		start := time.Now()
		n, err := r.Prune(ctx, now.Add(-r.Keep))
		res[r.Name] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("retention %s: %w", r.Name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if n > 0 {
			log.Info("retention: pruned", "rule", r.Name, "rows", n, "kept", r.Keep.String(), "took", time.Since(start).Round(time.Millisecond).String())
		}
	}
	return res, errors.Join(errs...)
}
