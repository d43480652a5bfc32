package findings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// NotifyState is the notification log of one routing group at one
// receiver: what the receiver was last told and when. The router decides
// from it whether a group is new (wait group_wait), changed (wait
// group_interval) or unchanged (remind after repeat_interval), and it
// survives restarts so a restart neither re-sends everything nor forgets
// to close what was sent.
type NotifyState struct {
	Receiver string
	GroupKey string
	// FirstSeen is when the group first had a finding to send.
	FirstSeen time.Time
	// LastSent is the last successful send; zero if never sent.
	LastSent time.Time
	// Sent maps each fingerprint the receiver was told about to the
	// router's "status|content-hash" at that time.
	Sent map[string]string
}

// encodeTime stores the zero time as 0: time.Time{}.UnixNano is not
// representable.
func encodeTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func decodeTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NotifyState returns the log of one group; ok is false if the group was
// never seen at that receiver.
func (s *Store) NotifyState(ctx context.Context, receiver, groupKey string) (NotifyState, bool, error) {
	st, err := scanNotifyState(s.db.QueryRowContext(ctx, s.rebind(
		`SELECT receiver, group_key, first_seen, last_sent, sent FROM plumb_notify_state WHERE receiver = ? AND group_key = ?`),
		receiver, groupKey))
	if errors.Is(err, sql.ErrNoRows) {
		return NotifyState{}, false, nil
	}
	if err != nil {
		return NotifyState{}, false, fmt.Errorf("notify state %s/%s: %w", receiver, groupKey, err)
	}
	return st, true, nil
}

// NotifyStates returns every group's log, so one routing pass reads them
// all at once and can find findings it told a receiver about that have
// since left the open set.
func (s *Store) NotifyStates(ctx context.Context) ([]NotifyState, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT receiver, group_key, first_seen, last_sent, sent FROM plumb_notify_state ORDER BY receiver, group_key`)
	if err != nil {
		return nil, fmt.Errorf("notify states: %w", err)
	}
	defer rows.Close()
	var out []NotifyState
	for rows.Next() {
		st, err := scanNotifyState(rows)
		if err != nil {
			return nil, fmt.Errorf("notify states: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify states: %w", err)
	}
	return out, nil
}

func scanNotifyState(sc scanner) (NotifyState, error) {
	var st NotifyState
	var first, last int64
	var sent string
	if err := sc.Scan(&st.Receiver, &st.GroupKey, &first, &last, &sent); err != nil {
		return st, err
	}
	st.FirstSeen = decodeTime(first)
	st.LastSent = decodeTime(last)
	st.Sent = map[string]string{}
	if err := json.Unmarshal([]byte(sent), &st.Sent); err != nil {
		return st, fmt.Errorf("decode sent of %s/%s: %w", st.Receiver, st.GroupKey, err)
	}
	return st, nil
}

// SaveNotifyState writes a group's log, replacing the previous one.
func (s *Store) SaveNotifyState(ctx context.Context, st NotifyState) error {
	if st.Receiver == "" || st.GroupKey == "" {
		return fmt.Errorf("save notify state: receiver and group key are required")
	}
	sent := st.Sent
	if sent == nil {
		sent = map[string]string{}
	}
	b, err := json.Marshal(sent)
	if err != nil {
		return fmt.Errorf("save notify state %s/%s: %w", st.Receiver, st.GroupKey, err)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO plumb_notify_state (receiver, group_key, first_seen, last_sent, sent)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (receiver, group_key) DO UPDATE SET
			first_seen = excluded.first_seen, last_sent = excluded.last_sent, sent = excluded.sent`),
		st.Receiver, st.GroupKey, encodeTime(st.FirstSeen), encodeTime(st.LastSent), string(b)); err != nil {
		return fmt.Errorf("save notify state %s/%s: %w", st.Receiver, st.GroupKey, err)
	}
	return nil
}

// DeleteNotifyState forgets a group whose findings are all closed at the
// receiver, so the log does not grow with every group ever seen. Deleting
// an unknown group is not an error.
func (s *Store) DeleteNotifyState(ctx context.Context, receiver, groupKey string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM plumb_notify_state WHERE receiver = ? AND group_key = ?`),
		receiver, groupKey); err != nil {
		return fmt.Errorf("delete notify state %s/%s: %w", receiver, groupKey, err)
	}
	return nil
}

// ReceiverState is where receivers remember what they created (a GitHub
// issue number per fingerprint) in plumb's own database, so updates reach
// the same artefact after a restart. It has the method set of
// receivers.State; it is a separate type because Store.Get already means
// "get a finding".
type ReceiverState struct {
	s *Store
}

// ReceiverState returns the receivers' key/value state on the store's
// database.
func (s *Store) ReceiverState() *ReceiverState { return &ReceiverState{s: s} }

// Get returns the value a receiver stored under key.
func (r *ReceiverState) Get(ctx context.Context, receiver, key string) (string, bool, error) {
	var v string
	err := r.s.db.QueryRowContext(ctx, r.s.rebind(`SELECT value FROM plumb_receiver_state WHERE receiver = ? AND state_key = ?`),
		receiver, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("receiver state %s/%s: %w", receiver, key, err)
	}
	return v, true, nil
}

// Put stores value under key for receiver, replacing any previous value,
// and records when, for PruneReceiverState.
func (r *ReceiverState) Put(ctx context.Context, receiver, key, value string) error {
	if _, err := r.s.db.ExecContext(ctx, r.s.rebind(`INSERT INTO plumb_receiver_state (receiver, state_key, value, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (receiver, state_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
		receiver, key, value, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("put receiver state %s/%s: %w", receiver, key, err)
	}
	return nil
}
