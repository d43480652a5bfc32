package findings

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Silence mutes notifications for findings matching all its matchers
// between StartsAt (inclusive) and EndsAt (exclusive), in the manner of
// Alertmanager: the findings stay open and are still stored, only the
// receivers are not told, so a known incident or a maintenance window does
// not page anyone. When the silence ends, what is still open is sent.
type Silence struct {
	ID string
	// Matchers are in ParseMatcher's syntax and apply to Labels.
	Matchers  []string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
	// CreatedAt is when the silence was added; it never changes, which
	// makes it the order silences are paged in.
	CreatedAt time.Time
	// ExpiredAt is set when an operator ended the silence early.
	ExpiredAt *time.Time
}

// CompiledSilence is an active silence with its matchers parsed, ready for
// the router to test findings against.
type CompiledSilence struct {
	Silence
	Compiled []Matcher
}

// Silences reports whether the silence mutes a finding with these labels.
func (c CompiledSilence) Silences(labels map[string]string) bool {
	return MatchAll(c.Compiled, labels)
}

// Active reports whether the silence is in force at now.
func (sl Silence) Active(now time.Time) bool {
	return !now.Before(sl.StartsAt) && now.Before(sl.EndsAt)
}

// AddSilence stores a new silence and returns it with its ID. At least one
// matcher is required (a silence of everything is a mistake, as in
// Alertmanager), matchers must parse, EndsAt must be after StartsAt and
// after now (a silence already over mutes nothing and is usually a
// time-zone slip). A zero StartsAt means now. Any ID given is replaced.
func (s *Store) AddSilence(ctx context.Context, now time.Time, sl Silence) (Silence, error) {
	if len(sl.Matchers) == 0 {
		return Silence{}, fmt.Errorf("add silence: at least one matcher is required")
	}
	if _, err := ParseMatchers(sl.Matchers); err != nil {
		return Silence{}, fmt.Errorf("add silence: matchers%w", err)
	}
	if sl.StartsAt.IsZero() {
		sl.StartsAt = now
	}
	if !sl.EndsAt.After(sl.StartsAt) {
		return Silence{}, fmt.Errorf("add silence: ends_at %s is not after starts_at %s",
			sl.EndsAt.UTC().Format(time.RFC3339), sl.StartsAt.UTC().Format(time.RFC3339))
	}
	if !sl.EndsAt.After(now) {
		return Silence{}, fmt.Errorf("add silence: ends_at %s is in the past", sl.EndsAt.UTC().Format(time.RFC3339))
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Silence{}, fmt.Errorf("add silence: id: %w", err)
	}
	sl.ID = hex.EncodeToString(id[:])
	sl.ExpiredAt = nil
	sl.CreatedAt = time.Unix(0, now.UnixNano()).UTC()
	sl.StartsAt = sl.StartsAt.UTC()
	sl.EndsAt = sl.EndsAt.UTC()
	ms, err := json.Marshal(sl.Matchers)
	if err != nil {
		return Silence{}, fmt.Errorf("add silence: encode matchers: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO plumb_silence
		(id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`),
		sl.ID, string(ms), sl.StartsAt.UnixNano(), sl.EndsAt.UnixNano(), sl.CreatedBy, sl.Comment, now.UnixNano()); err != nil {
		return Silence{}, fmt.Errorf("add silence: %w", err)
	}
	return sl, nil
}

const silenceColumns = `SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at FROM plumb_silence`

// ListSilences returns silences by start time: only those in force at now
// when activeOnly, otherwise all (pending, active and ended).
func (s *Store) ListSilences(ctx context.Context, now time.Time, activeOnly bool) ([]Silence, error) {
	q := silenceColumns
	var args []any
	if activeOnly {
		q += ` WHERE starts_at <= ? AND ends_at > ?`
		args = append(args, now.UnixNano(), now.UnixNano())
	}
	q += ` ORDER BY starts_at, id`
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		sl, err := scanSilence(rows)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out = append(out, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

// Page sizes of PageSilences.
const (
	DefaultSilenceLimit = 100
	MaxSilenceLimit     = 1000
)

// SilenceQuery selects a page of silences.
type SilenceQuery struct {
	// ActiveOnly keeps the silences in force at Now.
	ActiveOnly bool
	Now        time.Time
	// Limit is the page size: DefaultSilenceLimit when 0, at most
	// MaxSilenceLimit.
	Limit int
	// After continues after this position (SilencePage.Next).
	After *SilencePosition
}

// SilencePosition is where a page of silences ended: the last silence's
// creation time and id, neither of which ever changes.
type SilencePosition struct {
	CreatedAt int64  `json:"t"`
	ID        string `json:"id"`
}

// SilencePage is one page of PageSilences.
type SilencePage struct {
	Silences []Silence
	// Total counts every silence the query selects, on this page or not.
	Total int
	// Next is where the next page starts; nil on the last page.
	Next *SilencePosition
}

// PageSilences lists silences oldest first (by creation, then id), a page
// at a time. A silence expired between two pages keeps its place; one
// added meanwhile comes at the end.
func (s *Store) PageSilences(ctx context.Context, q SilenceQuery) (SilencePage, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultSilenceLimit
	}
	if limit < 0 || limit > MaxSilenceLimit {
		return SilencePage{}, fmt.Errorf("list silences: limit %d: want 1 to %d", limit, MaxSilenceLimit)
	}
	var where []string
	var args []any
	if q.ActiveOnly {
		where = append(where, `starts_at <= ? AND ends_at > ?`)
		args = append(args, q.Now.UnixNano(), q.Now.UnixNano())
	}
	count := `SELECT COUNT(*) FROM plumb_silence`
	if len(where) > 0 {
		count += " WHERE " + strings.Join(where, " AND ")
	}
	var page SilencePage
	if err := s.db.QueryRowContext(ctx, s.rebind(count), args...).Scan(&page.Total); err != nil {
		return SilencePage{}, fmt.Errorf("list silences: count: %w", err)
	}
	if q.After != nil {
		where = append(where, `(created_at > ? OR (created_at = ? AND id > ?))`)
		args = append(args, q.After.CreatedAt, q.After.CreatedAt, q.After.ID)
	}
	query := silenceColumns
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return SilencePage{}, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		sl, err := scanSilence(rows)
		if err != nil {
			return SilencePage{}, fmt.Errorf("list silences: %w", err)
		}
		page.Silences = append(page.Silences, sl)
	}
	if err := rows.Err(); err != nil {
		return SilencePage{}, fmt.Errorf("list silences: %w", err)
	}
	if len(page.Silences) > limit {
		page.Silences = page.Silences[:limit]
		last := page.Silences[limit-1]
		page.Next = &SilencePosition{CreatedAt: last.CreatedAt.UnixNano(), ID: last.ID}
	}
	return page, nil
}

func scanSilence(sc scanner) (Silence, error) {
	var sl Silence
	var ms string
	var start, end, created int64
	var expired sql.NullInt64
	if err := sc.Scan(&sl.ID, &ms, &start, &end, &sl.CreatedBy, &sl.Comment, &created, &expired); err != nil {
		return sl, err
	}
	if err := json.Unmarshal([]byte(ms), &sl.Matchers); err != nil {
		return sl, fmt.Errorf("silence %s: decode matchers: %w", sl.ID, err)
	}
	sl.StartsAt = time.Unix(0, start).UTC()
	sl.EndsAt = time.Unix(0, end).UTC()
	sl.CreatedAt = time.Unix(0, created).UTC()
	if expired.Valid {
		t := time.Unix(0, expired.Int64).UTC()
		sl.ExpiredAt = &t
	}
	return sl, nil
}

// ExpireSilence ends a silence at now, so what it muted is sent on the
// next routing pass. A silence that already ended is left as it is; one
// not yet started ends before it begins. Unknown ids are ErrNotFound.
func (s *Store) ExpireSilence(ctx context.Context, now time.Time, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("expire silence %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	sl, err := scanSilence(tx.QueryRowContext(ctx, s.rebind(silenceColumns+` WHERE id = ?`+s.forUpdate()), id))
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("expire silence %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("expire silence %s: %w", id, err)
	}
	if !now.Before(sl.EndsAt) {
		return nil
	}
	start := sl.StartsAt
	if now.Before(start) {
		start = now
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE plumb_silence SET starts_at = ?, ends_at = ?, expired_at = ? WHERE id = ?`),
		start.UnixNano(), now.UnixNano(), now.UnixNano(), id); err != nil {
		return fmt.Errorf("expire silence %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("expire silence %s: commit: %w", id, err)
	}
	return nil
}

// ActiveSilences returns the silences in force at now with their matchers
// parsed, for the router. A stored matcher that no longer parses is an
// error rather than a silently dropped silence: notifying what an
// operator muted is the worse failure.
func (s *Store) ActiveSilences(ctx context.Context, now time.Time) ([]CompiledSilence, error) {
	sls, err := s.ListSilences(ctx, now, true)
	if err != nil {
		return nil, err
	}
	out := make([]CompiledSilence, 0, len(sls))
	for _, sl := range sls {
		ms, err := ParseMatchers(sl.Matchers)
		if err != nil {
			return nil, fmt.Errorf("silence %s: matchers%w", sl.ID, err)
		}
		out = append(out, CompiledSilence{Silence: sl, Compiled: ms})
	}
	return out, nil
}
