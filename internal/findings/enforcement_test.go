package findings

import (
	"context"
	"testing"
	"time"

	"plumb/internal/model"
)

// TestEnforcementEvidence follows a finding through what enforcement
// needs to know: coverage by the latest scan, the notification after its
// (re)opening, and the action's record.
func TestEnforcementEvidence(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			a := finding(model.KindUnmanaged, "prod", "a", "Undefined resource exists (a)")
			b := finding(model.KindUnmanaged, "prod", "b", "Undefined resource exists (b)")
			other := finding(model.KindUnmanaged, "dev", "c", "c")
			// The scan read a's scope completely, not b's.
			covered := func(f model.Finding) bool { return f.Resource.ID == "a" }
			if _, err := s.Reconcile(ctx, t0, "prod", []model.Kind{model.KindUnmanaged}, []model.Finding{a, b}, covered); err != nil {
				t.Fatal(err)
			}
			if err := s.Upsert(ctx, t0, []model.Finding{other}); err != nil {
				t.Fatal(err)
			}
			ev, err := s.Evidence(ctx, []string{a.Fingerprint, b.Fingerprint, other.Fingerprint, "unknown"})
			if err != nil {
				t.Fatal(err)
			}
			if len(ev) != 3 {
				t.Fatalf("evidence for %d findings, want 3: %+v", len(ev), ev)
			}
			if e := ev[a.Fingerprint]; !e.CoveredAt.Equal(t0) || !e.ScanAt.Equal(t0) || !e.OpenSince.Equal(t0) || !e.FirstNotified.IsZero() || e.Status != StatusOpen {
				t.Errorf("a after scan: %+v", e)
			}
			if e := ev[b.Fingerprint]; !e.CoveredAt.IsZero() || !e.ScanAt.Equal(t0) {
				t.Errorf("b (scope not read) after scan: %+v", e)
			}
			if e := ev[other.Fingerprint]; !e.CoveredAt.IsZero() || !e.ScanAt.IsZero() {
				t.Errorf("event finding in an environment never scanned: %+v", e)
			}

			// Notified once at t0+1m, again later: the first counts. A
			// resolved finding is not marked.
			if err := s.MarkNotified(ctx, t0.Add(time.Minute), "gh", []string{a.Fingerprint, "unknown"}); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkNotified(ctx, t0.Add(time.Hour), "slack", []string{a.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			ev, _ = s.Evidence(ctx, []string{a.Fingerprint})
			if e := ev[a.Fingerprint]; !e.FirstNotified.Equal(t0.Add(time.Minute)) {
				t.Errorf("first notified = %v, want %v", e.FirstNotified, t0.Add(time.Minute))
			}
			hist, _ := s.History(ctx, a.Fingerprint, 0)
			if n := countAction(hist, ActionNotified); n != 2 {
				t.Errorf("notified entries = %d, want 2: %+v", n, hist)
			}

			// A second scan that no longer reads a's scope keeps it open
			// but its coverage is now older than the scan.
			t1 := t0.Add(2 * time.Hour)
			if _, err := s.Reconcile(ctx, t1, "prod", []model.Kind{model.KindUnmanaged}, []model.Finding{a}, func(model.Finding) bool { return false }); err != nil {
				t.Fatal(err)
			}
			ev, _ = s.Evidence(ctx, []string{a.Fingerprint})
			if e := ev[a.Fingerprint]; !e.CoveredAt.Equal(t0) || !e.ScanAt.Equal(t1) || !e.LastSeen.Equal(t1) {
				t.Errorf("a after a scan that could not read it: %+v", e)
			}

			// Resolved, then reopened: the old notification no longer counts.
			if err := s.ResolveOne(ctx, t1, a.Fingerprint, "test"); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkNotified(ctx, t1.Add(time.Second), "gh", []string{a.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			t2 := t1.Add(time.Hour)
			if err := s.Upsert(ctx, t2, []model.Finding{a}); err != nil {
				t.Fatal(err)
			}
			ev, _ = s.Evidence(ctx, []string{a.Fingerprint})
			if e := ev[a.Fingerprint]; !e.OpenSince.Equal(t2) || !e.FirstNotified.IsZero() {
				t.Errorf("a reopened: %+v (want open since %v, not notified)", e, t2)
			}

			// An action is recorded in the body, the history, and a delete
			// resolves the finding.
			note := model.Enforcement{Verb: "delete", Result: "deleted", ActionID: "act-1", At: t2}
			if err := s.RecordEnforcement(ctx, t2, a.Fingerprint, note, true); err != nil {
				t.Fatal(err)
			}
			r, err := s.Get(ctx, a.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != StatusResolved || r.ResolvedAt == nil || r.Finding.Enforcement == nil || r.Finding.Enforcement.ActionID != "act-1" {
				t.Errorf("after delete: %+v enforcement %+v", r, r.Finding.Enforcement)
			}
			hist, _ = s.History(ctx, a.Fingerprint, 0)
			last := hist[len(hist)-2:]
			if last[0].Action != ActionEnforced || last[0].Detail != "delete: deleted (action act-1)" || last[1].Action != ActionResolved {
				t.Errorf("history tail = %+v", last)
			}

			// A quarantine-like action keeps the finding open, and a scan
			// seeing the resource again keeps the note.
			qn := model.Enforcement{Verb: "quarantine", Result: "isolated", ActionID: "act-2", At: t2}
			if err := s.RecordEnforcement(ctx, t2, b.Fingerprint, qn, false); err != nil {
				t.Fatal(err)
			}
			if err := s.Upsert(ctx, t2.Add(time.Hour), []model.Finding{b}); err != nil {
				t.Fatal(err)
			}
			r, _ = s.Get(ctx, b.Fingerprint)
			if r.Status != StatusOpen || r.Finding.Enforcement == nil || r.Finding.Enforcement.ActionID != "act-2" {
				t.Errorf("quarantined finding seen again: status %s enforcement %+v", r.Status, r.Finding.Enforcement)
			}
			if err := s.RecordEnforcement(ctx, t2, "nope", qn, false); err == nil {
				t.Error("RecordEnforcement on an unknown fingerprint succeeded")
			}
		})
	}
}

func countAction(h []HistoryEntry, action string) int {
	n := 0
	for _, e := range h {
		if e.Action == action {
			n++
		}
	}
	return n
}
