package enforce

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeCursor feeds arbitrary cursors to the actions list: each is
// either a cursor List made for the same filters, or ErrCursor, never a
// panic.
func FuzzDecodeCursor(f *testing.F) {
	good, _ := json.Marshal(actionCursor{V: 1, List: "actions", CreatedAt: 1, ID: "a1", Filters: "prod\x00\x00\x00"})
	f.Add(base64.RawURLEncoding.EncodeToString(good), "prod\x00\x00\x00")
	f.Add("", "")
	f.Add("not-a-cursor", "x")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"v":2,"list":"actions","id":"a"}`)), "")
	f.Fuzz(func(t *testing.T, cursor, filters string) {
		c, err := decodeCursor(cursor, filters)
		if err != nil {
			if !errors.Is(err, ErrCursor) {
				t.Fatalf("error %v is not ErrCursor", err)
			}
			return
		}
		if c.V != 1 || c.List != "actions" || c.ID == "" || c.Filters != filters {
			t.Fatalf("accepted %+v for filters %q", c, filters)
		}
	})
}

// FuzzDecodeJob feeds arbitrary queue payloads to the runner's decoder:
// a run it accepts has every action whole, so executing it cannot trip
// on a missing field.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"run_id":"r","environment":"prod","actions":[{"id":"a","verb":"delete","resource":{"provider":"aws","type":"aws_s3_bucket","id":"b"}}]}`))
	f.Add([]byte(`{"run_id":"r","environment":"prod","actions":[null]}`))
	f.Add([]byte(`{"actions":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		j, err := decodeJob(raw)
		if err != nil {
			return
		}
		for _, a := range j.Actions {
			if a == nil || a.ID == "" || a.Resource.ID == "" {
				t.Fatalf("accepted an incomplete action: %+v", a)
			}
		}
		sortActions(j.Actions)
	})
}
