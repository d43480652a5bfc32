package findings

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"testing"
	"time"

	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/testenv"
)

// TestPrune checks every Prune method on real SQLite and PostgreSQL:
// rows past retention are deleted, the others (and everything still in
// use at any age) are kept.
func TestPrune(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			day := func(n int) time.Time { return now.AddDate(0, 0, n) }
			keep90 := day(-90)

			oldResolved := finding("drift.unmanaged", "prod", "old-resolved", "gone long ago")
			newResolved := finding("drift.unmanaged", "prod", "new-resolved", "gone lately")
			told := finding("drift.unmanaged", "prod", "told", "resolved, receiver not told yet")
			open := finding("drift.changed", "prod", "open", "v1")
			suppressed := finding("drift.changed", "prod", "suppressed", "lived with")
			all := []model.Finding{oldResolved, newResolved, told, open, suppressed}
			if err := s.Upsert(ctx, day(-200), all); err != nil {
				t.Fatal(err)
			}
			open2 := open
			open2.Message = "v2"
			if err := s.Upsert(ctx, day(-100), []model.Finding{open2}); err != nil {
				t.Fatal(err)
			}
			open3 := open
			open3.Message = "v3"
			if err := s.Upsert(ctx, day(-5), []model.Finding{open3}); err != nil {
				t.Fatal(err)
			}
			if err := s.Suppress(ctx, day(-150), suppressed.Fingerprint, "accepted risk"); err != nil {
				t.Fatal(err)
			}
			if err := s.Resolve(ctx, day(-100), []string{oldResolved.Fingerprint, told.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			if err := s.Resolve(ctx, day(-10), []string{newResolved.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveNotifyState(ctx, NotifyState{Receiver: "gh", GroupKey: "g1", FirstSeen: day(-200), LastSent: day(-100),
				Sent: map[string]string{told.Fingerprint: "open|x"}}); err != nil {
				t.Fatal(err)
			}
			// Occurrences of a finding of their own: the newer first,
			// since an occurrence upsert forgets older ones itself.
			occ := finding("audit.unexpected_write", "prod", "occ", "written by hand")
			if err := s.UpsertOccurrence(ctx, day(-1), "delivery-2", []model.Finding{occ}); err != nil {
				t.Fatal(err)
			}
			if err := s.UpsertOccurrence(ctx, day(-40), "delivery-1", []model.Finding{occ}); err != nil {
				t.Fatal(err)
			}

			// Silences.
			addSilence := func(at, ends time.Time) string {
				t.Helper()
				sl, err := s.AddSilence(ctx, at, Silence{Matchers: []string{`kind="drift.changed"`}, EndsAt: ends, CreatedBy: "test"})
				if err != nil {
					t.Fatal(err)
				}
				return sl.ID
			}
			endedLongAgo := addSilence(day(-20), day(-19))
			expiredEarly := addSilence(day(-20), day(10))
			if err := s.ExpireSilence(ctx, day(-10), expiredEarly); err != nil {
				t.Fatal(err)
			}
			endedLately := addSilence(day(-3), day(-1))
			active := addSilence(day(-1), day(1))
			future := addSilence(day(-1), day(30))

			// Receiver state; backdate writes the way time would.
			rs := s.ReceiverState()
			type entry struct{ receiver, key string }
			put := func(e entry, written time.Time) {
				t.Helper()
				if err := rs.Put(ctx, e.receiver, e.key, "42"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE plumb_receiver_state SET updated_at = ? WHERE receiver = ? AND state_key = ?`),
					written.UnixNano(), e.receiver, e.key); err != nil {
					t.Fatal(err)
				}
			}
			stateGone := []entry{
				{"gh", oldResolved.Fingerprint}, {"gh", oldResolved.Fingerprint + "#hash"},
				{"gh", newResolved.Fingerprint}, // resolved lately, but last written long ago
				{"gh", "group:g2"},              // a group no longer in the log
				{"slack", "group:g1"},           // g1 is live at gh only
				{"gh", "deleted-finding"},
			}
			stateKept := []entry{
				{"gh", open.Fingerprint}, {"gh", open.Fingerprint + "#hash"},
				{"gh", suppressed.Fingerprint},
				{"gh", "group:g1"}, {"gh", "group:g1#hash"},
			}
			for _, e := range append(append([]entry(nil), stateGone...), stateKept...) {
				put(e, day(-100))
			}
			recent := entry{"gh", told.Fingerprint}
			put(recent, day(-1))
			stateKept = append(stateKept, recent)

			rules := []struct {
				name   string
				prune  func(context.Context, time.Time) (int64, error)
				before time.Time
				want   int64
			}{
				// old-resolved only: told is still in gh's log.
				{"resolved findings", s.PruneResolved, keep90, 1},
				// open: opened (-200) and v2 (-100); suppressed: opened
				// (-200) and suppressed (-150); told and new-resolved:
				// opened (-200); told: resolved (-100). Kept: v3 (-5),
				// new-resolved's resolution (-10).
				{"finding history", s.PruneHistory, keep90, 7},
				{"finding occurrences", s.PruneOccurrences, day(-30), 1},
				{"expired silences", s.PruneSilences, day(-5), 2},
				{"receiver state", s.PruneReceiverState, keep90, int64(len(stateGone))},
			}
			for _, r := range rules {
				n, err := r.prune(ctx, r.before)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if n != r.want {
					t.Errorf("%s: pruned %d, want %d", r.name, n, r.want)
				}
				// A second run finds nothing more.
				if n, err := r.prune(ctx, r.before); err != nil || n != 0 {
					t.Errorf("%s again: pruned %d, %v; want 0", r.name, n, err)
				}
			}

			if _, err := s.Get(ctx, oldResolved.Fingerprint); !errors.Is(err, ErrNotFound) {
				t.Errorf("old resolved finding: %v, want ErrNotFound", err)
			}
			for _, f := range []model.Finding{newResolved, told, open, suppressed} {
				if _, err := s.Get(ctx, f.Fingerprint); err != nil {
					t.Errorf("%s should be kept: %v", f.Resource.ID, err)
				}
			}
			hist, err := s.History(ctx, open.Fingerprint, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(hist); len(got) != 1 || got[0] != ActionSeenChanged || !hist[0].At.Equal(day(-5)) {
				t.Errorf("open finding history after prune: %+v", hist)
			}
			var n int
			var occLeft string
			if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM plumb_finding_history WHERE fingerprint = ?`), oldResolved.Fingerprint).Scan(&n); err != nil || n != 0 {
				t.Errorf("history of the pruned finding: %d rows, %v", n, err)
			}
			if err := s.db.QueryRowContext(ctx, `SELECT occurrence FROM plumb_finding_occurrence`).Scan(&occLeft); err != nil || occLeft != "delivery-2" {
				t.Errorf("occurrence left: %q, %v; want delivery-2 only", occLeft, err)
			}

			sils, err := s.ListSilences(ctx, now, false)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := silenceIDs(sils), sortedIDs(endedLately, active, future); !equalStrings(got, want) {
				t.Errorf("silences kept %v, want %v (pruned %s, %s)", got, want, endedLongAgo, expiredEarly)
			}

			for _, e := range stateGone {
				if _, ok, err := rs.Get(ctx, e.receiver, e.key); err != nil || ok {
					t.Errorf("receiver state %s/%s: kept=%v, %v; want pruned", e.receiver, e.key, ok, err)
				}
			}
			for _, e := range stateKept {
				if _, ok, err := rs.Get(ctx, e.receiver, e.key); err != nil || !ok {
					t.Errorf("receiver state %s/%s: kept=%v, %v; want kept", e.receiver, e.key, ok, err)
				}
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReceiverStateMigration: a store created before receiver state had
// updated_at gains the column on start, and the rows already there count
// as written then (so an upgrade does not prune them at once).
func TestReceiverStateMigration(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			o := queue.Options{Logger: slog.New(slog.DiscardHandler)}
			if backend == "postgres" {
				o.DatabaseURL = testenv.StartPostgres(t)
			} else {
				o.DataDir = t.TempDir()
			}
			q, err := queue.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			db := q.DB()
			for _, stmt := range []string{
				`CREATE TABLE plumb_receiver_state (receiver TEXT NOT NULL, state_key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (receiver, state_key))`,
				`INSERT INTO plumb_receiver_state (receiver, state_key, value) VALUES ('gh', 'fp1', '7')`,
			} {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			before := time.Now()
			s, err := NewStore(ctx, db, q.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			var at int64
			if err := db.QueryRowContext(ctx, `SELECT updated_at FROM plumb_receiver_state WHERE state_key = 'fp1'`).Scan(&at); err != nil {
				t.Fatal(err)
			}
			if at < before.UnixNano() {
				t.Errorf("migrated row updated_at = %d, want at least %d", at, before.UnixNano())
			}
			// Nothing of it is pruned by a 90-day retention right away.
			if n, err := s.PruneReceiverState(ctx, time.Now().AddDate(0, 0, -90)); err != nil || n != 0 {
				t.Errorf("prune after migration: %d, %v", n, err)
			}
			if v, ok, err := s.ReceiverState().Get(ctx, "gh", "fp1"); err != nil || !ok || v != "7" {
				t.Errorf("migrated value: %q %v %v", v, ok, err)
			}
			// Restarting finds the column and changes nothing.
			if _, err := NewStore(ctx, db, q.Dialect()); err != nil {
				t.Fatalf("restart: %v", err)
			}
		})
	}
}
