package findings

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ResolveBecause resolves an open finding with detail as the history
// entry's reason (a break-glass window closed, for example); unlike
// ResolveOne it is not an operator's manual resolve. A finding not open
// is left as it is; an unknown one is ErrNotFound.
func (s *Store) ResolveBecause(ctx context.Context, now time.Time, fingerprint, detail string) error {
	return s.transition(ctx, now, fingerprint, ActionResolved, func(status string) (string, string, bool) {
		return StatusResolved, detail, status == StatusOpen
	})
}

// LastScan returns when environment was last scanned into this store
// (plumb scan --notify, scheduled scans); ok is false if never.
func (s *Store) LastScan(ctx context.Context, environment string) (at time.Time, ok bool, err error) {
	var ts int64
	err = s.db.QueryRowContext(ctx, s.rebind(`SELECT scanned_at FROM plumb_scan WHERE environment = ?`), environment).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last scan of %s: %w", environment, err)
	}
	return time.Unix(0, ts).UTC(), true, nil
}
