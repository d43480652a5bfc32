// Package paging is how plumb's list APIs hand out long lists: a page at a
// time, with the total that matches and an opaque cursor for the next
// page. A list that was cut is never mistaken for the whole list: either
// the answer carries a cursor, or it holds everything that matched.
//
// A cursor records where the previous page ended in the list's stable
// order (a key that never changes for an item, so an item seen again or
// inserted between two pages neither repeats nor pushes another out of
// view) and a digest of the filters the listing was made with, so a
// cursor replayed with other filters, or on another endpoint, is refused
// instead of silently listing something else.
package paging

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Limits are the page sizes of one list endpoint: Default when the caller
// gives none, and Max, above which a request is refused (never silently
// cut to Max: a caller asking for 5,000 and getting 1,000 without being
// told is the kind of truncation this package exists to prevent).
type Limits struct {
	Default, Max int
}

// Parse reads a limit query parameter: empty is Default; anything but a
// whole number from 1 to Max is an error naming the range and the default.
func (l Limits) Parse(v string) (int, error) {
	if v == "" {
		return l.Default, nil
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 1:
		return 0, fmt.Errorf("limit %q: want a whole number from 1 to %d (default %d)", v, l.Max, l.Default)
	case n > l.Max:
		return 0, fmt.Errorf("limit %d is above the maximum of %d (default %d): ask for at most %d and follow next_cursor for the rest",
			n, l.Max, l.Default, l.Max)
	}
	return n, nil
}

// ErrCursor is a cursor this listing cannot continue from: malformed,
// from another endpoint, or made with other filters. Its errors read
// "cursor: <why>".
var ErrCursor = errors.New("cursor")

// cursorVersion changes if the encoding does; older cursors are then
// refused with a clear error rather than misread.
const cursorVersion = 1

// cursor is the JSON inside the base64 of a cursor.
type cursor struct {
	V    int             `json:"v"`
	List string          `json:"l"`
	Flt  string          `json:"f"`
	Pos  json.RawMessage `json:"p"`
}

// Filters are the query parameters that select a listing's items (not the
// limit, not the cursor). Their digest is bound into every cursor.
type Filters map[string]string

// digest is order-independent and ignores empty values, so "?state=" and
// no state are the same listing.
func (f Filters) digest() string {
	keys := make([]string, 0, len(f))
	for k, v := range f {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k, f[k])
	}
	b, _ := json.Marshal(parts) // a []string always encodes
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Encode makes the cursor that continues listing list (a name such as
// "findings") with filters after pos, the position of the last item
// returned. pos is any JSON-encodable value the store understands.
func Encode(list string, filters Filters, pos any) (string, error) {
	p, err := json.Marshal(pos)
	if err != nil {
		return "", fmt.Errorf("encode %s cursor: %w", list, err)
	}
	b, err := json.Marshal(cursor{V: cursorVersion, List: list, Flt: filters.digest(), Pos: p})
	if err != nil {
		return "", fmt.Errorf("encode %s cursor: %w", list, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode reads a cursor made by Encode for the same list and filters into
// pos. Any other cursor is ErrCursor with a reason a person can act on.
func Decode(token, list string, filters Filters, pos any) error {
	notOurs := fmt.Errorf("%w: not a cursor plumb made (use next_cursor exactly as it was returned)", ErrCursor)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return notOurs
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.V == 0 || len(c.Pos) == 0 {
		return notOurs
	}
	if c.V != cursorVersion {
		return fmt.Errorf("%w: version %d is not understood by this plumb; start again without a cursor", ErrCursor, c.V)
	}
	if c.List != list {
		return fmt.Errorf("%w: it continues a list of %s, not of %s", ErrCursor, c.List, list)
	}
	if c.Flt != filters.digest() {
		return fmt.Errorf("%w: it was made with other filters; repeat the first page's filters with it, or start again without a cursor", ErrCursor)
	}
	if err := json.Unmarshal(c.Pos, pos); err != nil {
		return notOurs
	}
	return nil
}
