package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	plumbconfig "plumb/internal/config"
	"plumb/internal/console"
	"plumb/internal/findings"
	"plumb/internal/policy"
	"plumb/internal/queue"
	"plumb/internal/scan"
	"plumb/internal/scanhistory"
)

// ScanRecord is a scan's entry in the scan history: its counts and the
// per-control results of the packs it evaluated.
type ScanRecord struct {
	Scan  scanhistory.Scan
	Packs []scanhistory.Pack
}

// NewScanRecord makes the history entry of a finished scan. set is the
// policy set the scan evaluated (nil for none) and packs the built-in
// packs it was loaded from: each is summarised per control.
func NewScanRecord(source string, out *scan.Outcome, set *policy.Set, packs []string) *ScanRecord {
	var comps []*policy.Compliance
	if set != nil && out.Policy != nil {
		for _, p := range packs {
			comps = append(comps, policy.SummarizeLive(p, set, out.Policy))
		}
	}
	sc, ps := scanhistory.FromReport(source, out.Report, comps)
	return &ScanRecord{Scan: sc, Packs: ps}
}

// record writes a scan to the history; nil records nothing.
func (r *ScanRecord) record(ctx context.Context, hist *scanhistory.Store) error {
	if r == nil {
		return nil
	}
	if _, err := hist.Record(ctx, r.Scan, r.Packs); err != nil {
		return fmt.Errorf("record scan history: %w", err)
	}
	return nil
}

// scanFailed records a scheduled scan that read nothing (the cloud could
// not be used, the state could not be read), so the console says the last
// attempt failed and why instead of showing an older scan as the latest.
func scanFailed(ctx context.Context, hist *scanhistory.Store, env string, start time.Time, cause error) error {
	_, err := hist.Record(ctx, scanhistory.Scan{Environment: env, StartedAt: start, Duration: time.Since(start),
		Source: scanhistory.SourceSchedule, Error: cause.Error()}, nil)
	return err
}

// environmentPolicies loads the packs and policies each environment's
// scheduled scans evaluate, so a bad rule file fails the start rather than
// every scan.
func environmentPolicies(cfg *plumbconfig.Config) (map[string]*policy.Set, error) {
	out := map[string]*policy.Set{}
	for _, e := range cfg.Environments {
		if len(e.Packs)+len(e.Policies) == 0 {
			continue
		}
		set, err := policy.LoadPacks(e.Packs, e.Policies)
		if err != nil {
			return nil, fmt.Errorf("environment %s: load policies: %w", e.Name, err)
		}
		out[e.Name] = set
	}
	return out, nil
}

// openConsoleStores sets the findings store's ownership, opens the scan
// history and builds the web console over them, with enforcement's
// approve, reject and release on the finding pages. A changed ownership
// mapping is applied to the stored findings in the background.
func openConsoleStores(ctx context.Context, cfg *plumbconfig.Config, q *queue.Queue, store *findings.Store, enf *enforcement, logger *slog.Logger) (*scanhistory.Store, http.Handler, error) {
	store.SetOwnership(cfg.Resolver().Owner)
	hist, err := scanhistory.Open(ctx, q.DB(), q.Dialect())
	if err != nil {
		return nil, nil, err
	}
	con, err := console.New(ctx, console.Options{Config: cfg, Findings: store, Queue: q, History: hist,
		DB: q.DB(), Dialect: q.Dialect(), Logger: logger, Actions: []console.ActionProvider{&consoleActions{cfg: cfg, enf: enf}}})
	if err != nil {
		return nil, nil, err
	}
	go func() {
		n, err := store.Reassign(context.WithoutCancel(ctx))
		if err != nil {
			logger.Warn("reassign finding owners", "error", err)
			return
		}
		if n > 0 {
			logger.Info("finding owners updated from the ownership settings", "findings", n)
		}
	}()
	return hist, con.Handler(), nil
}
