package findings

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"plumb/internal/model"
)

func silenceIDs(ss []Silence) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	sort.Strings(out)
	return out
}

func sortedIDs(ids ...string) []string {
	sort.Strings(ids)
	return ids
}

// TestSilences covers validation, the active window (start inclusive,
// end exclusive), listing and expiry, and the compiled form the router
// uses; plus the notification log and receiver state beside them.
func TestSilences(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, backend)
			t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

			bad := []struct {
				name string
				sl   Silence
			}{
				{"no matchers", Silence{EndsAt: h(1)}},
				{"bad matcher", Silence{Matchers: []string{`kind="x"`, `severity<high`}, EndsAt: h(1)}},
				{"bad regex", Silence{Matchers: []string{`kind=~"("`}, EndsAt: h(1)}},
				{"ends before start", Silence{Matchers: []string{`kind="x"`}, StartsAt: h(2), EndsAt: h(1)}},
				{"empty window", Silence{Matchers: []string{`kind="x"`}, StartsAt: h(1), EndsAt: h(1)}},
				{"in the past", Silence{Matchers: []string{`kind="x"`}, StartsAt: h(-2), EndsAt: h(-1)}},
			}
			for _, tc := range bad {
				if _, err := s.AddSilence(ctx, t0, tc.sl); err == nil {
					t.Errorf("%s: accepted", tc.name)
				}
			}

			now, err := s.AddSilence(ctx, t0, Silence{ID: "ignored", Matchers: []string{`environment="prod"`, `severity=~"high|critical"`},
				EndsAt: h(2), CreatedBy: "alice", Comment: "maintenance"})
			if err != nil {
				t.Fatal(err)
			}
			if len(now.ID) != 32 || now.ID == "ignored" || !now.StartsAt.Equal(t0) {
				t.Errorf("added: %+v", now)
			}
			later, err := s.AddSilence(ctx, t0, Silence{Matchers: []string{`kind="event.alert"`}, StartsAt: h(1), EndsAt: h(3)})
			if err != nil {
				t.Fatal(err)
			}

			windows := []struct {
				at   time.Time
				want []string
			}{
				{t0.Add(-time.Nanosecond), nil},
				{t0, []string{now.ID}},
				{h(1).Add(-time.Nanosecond), []string{now.ID}},
				{h(1), []string{now.ID, later.ID}},
				{h(2).Add(-time.Nanosecond), []string{now.ID, later.ID}},
				{h(2), []string{later.ID}},
				{h(3), nil},
			}
			for _, w := range windows {
				got, err := s.ListSilences(ctx, w.at, true)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(silenceIDs(got), sortedIDs(w.want...)) {
					t.Errorf("active at %s: %v, want %v", w.at.Format(time.RFC3339Nano), silenceIDs(got), w.want)
				}
				for _, sl := range got {
					if !sl.Active(w.at) {
						t.Errorf("%s listed active at %s but Active says no", sl.ID, w.at)
					}
				}
			}
			all, err := s.ListSilences(ctx, h(10), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2 || !reflect.DeepEqual(all[0].Matchers, now.Matchers) || all[0].CreatedBy != "alice" || all[0].Comment != "maintenance" || !all[0].EndsAt.Equal(h(2)) {
				t.Errorf("all silences: %+v", all)
			}

			active, err := s.ActiveSilences(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			f := model.Finding{Kind: model.KindChanged, Severity: model.SeverityCritical, Environment: "prod"}
			if len(active) != 1 || !active[0].Silences(Labels(f, StatusOpen)) {
				t.Errorf("active silence should mute a critical prod finding: %+v", active)
			}
			f.Severity = model.SeverityLow
			if active[0].Silences(Labels(f, StatusOpen)) {
				t.Error("a low finding is muted by a high|critical silence")
			}

			// Expire the running silence at 30m: gone from active, kept in all.
			if err := s.ExpireSilence(ctx, t0.Add(30*time.Minute), now.ID); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.ListSilences(ctx, t0.Add(30*time.Minute), true); len(got) != 0 {
				t.Errorf("expired silence still active: %+v", got)
			}
			// Expire the pending one before it starts: it never becomes active.
			if err := s.ExpireSilence(ctx, t0.Add(30*time.Minute), later.ID); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.ListSilences(ctx, h(1), true); len(got) != 0 {
				t.Errorf("pending silence expired early is active: %+v", got)
			}
			all, _ = s.ListSilences(ctx, h(10), false)
			for _, sl := range all {
				if sl.ExpiredAt == nil || !sl.ExpiredAt.Equal(t0.Add(30*time.Minute)) || !sl.EndsAt.Equal(t0.Add(30*time.Minute)) || sl.EndsAt.Before(sl.StartsAt) {
					t.Errorf("after expiry: %+v", sl)
				}
			}
			// Expiring again (already over) changes nothing.
			if err := s.ExpireSilence(ctx, h(5), now.ID); err != nil {
				t.Fatal(err)
			}
			if all2, _ := s.ListSilences(ctx, h(10), false); !reflect.DeepEqual(all2, all) {
				t.Errorf("re-expire changed silences: %+v", all2)
			}
			if err := s.ExpireSilence(ctx, t0, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("expire unknown: %v", err)
			}

			// Notification log.
			if _, ok, err := s.NotifyState(ctx, "r", "g"); ok || err != nil {
				t.Errorf("unknown state: ok=%v err=%v", ok, err)
			}
			st := NotifyState{Receiver: "r", GroupKey: "g", FirstSeen: t0, Sent: map[string]string{"fp1": "open|abc"}}
			if err := s.SaveNotifyState(ctx, st); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.NotifyState(ctx, "r", "g")
			if err != nil || !ok || !got.LastSent.IsZero() || !got.FirstSeen.Equal(t0) || !reflect.DeepEqual(got.Sent, st.Sent) {
				t.Errorf("state: %+v ok=%v err=%v", got, ok, err)
			}
			st.LastSent = h(1)
			st.Sent = nil
			if err := s.SaveNotifyState(ctx, st); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := s.NotifyState(ctx, "r", "g"); !got.LastSent.Equal(h(1)) || len(got.Sent) != 0 {
				t.Errorf("state after save: %+v", got)
			}
			if sts, err := s.NotifyStates(ctx); err != nil || len(sts) != 1 {
				t.Errorf("states: %+v %v", sts, err)
			}
			if err := s.DeleteNotifyState(ctx, "r", "g"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.NotifyState(ctx, "r", "g"); ok {
				t.Error("deleted state still there")
			}
			if err := s.SaveNotifyState(ctx, NotifyState{}); err == nil {
				t.Error("state without receiver accepted")
			}

			// Receiver state.
			rs := s.ReceiverState()
			if _, ok, err := rs.Get(ctx, "gh", "fp1"); ok || err != nil {
				t.Errorf("unknown key: ok=%v err=%v", ok, err)
			}
			for _, v := range []string{"12", "13"} {
				if err := rs.Put(ctx, "gh", "fp1", v); err != nil {
					t.Fatal(err)
				}
			}
			if v, ok, err := rs.Get(ctx, "gh", "fp1"); v != "13" || !ok || err != nil {
				t.Errorf("get: %q %v %v", v, ok, err)
			}
			if _, ok, _ := rs.Get(ctx, "other", "fp1"); ok {
				t.Error("receiver state leaks across receivers")
			}
		})
	}
}
