package eventformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"plumb/internal/model"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// assertEvent compares every normalized field; Raw is checked for being
// valid JSON and, when wantRaw is given, for byte equality.
func assertEvent(t *testing.T, got, want model.Event, wantRaw []byte) {
	t.Helper()
	if got.Source != want.Source || got.ID != want.ID || got.Type != want.Type ||
		got.Subject != want.Subject || !got.Time.Equal(want.Time) || got.Topic != want.Topic ||
		got.Principal != want.Principal || got.Operation != want.Operation ||
		got.ResourceID != want.ResourceID || got.Region != want.Region || got.Account != want.Account {
		g, w := got, want
		g.Raw, w.Raw = nil, nil
		t.Errorf("event mismatch\n got: %+v\nwant: %+v", g, w)
	}
	if !json.Valid(got.Raw) {
		t.Errorf("Raw is not valid JSON: %s", got.Raw)
	}
	if wantRaw != nil && !bytes.Equal(got.Raw, wantRaw) {
		t.Errorf("Raw = %s\nwant %s", got.Raw, wantRaw)
	}
}

// assertParseError checks err is a *ParseError at index and field.
func assertParseError(t *testing.T, err error, index int, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want *ParseError (index %d, field %q), got nil", index, field)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("want *ParseError, got %T: %v", err, err)
	}
	if pe.Index != index || pe.Field != field {
		t.Errorf("ParseError index=%d field=%q (%v); want index=%d field=%q", pe.Index, pe.Field, err, index, field)
	}
}

// elements returns the raw bytes of each element of a JSON array file.
func elements(t testing.TB, body []byte) []json.RawMessage {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}
