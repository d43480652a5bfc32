package handler

import (
	"bytes"
	"encoding/json"
	"testing"

	"plumb/internal/state"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func stateOptions() state.Options { return state.Options{} }

// compactJSON is raw as encoding/json re-emits a RawMessage: compacted.
func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
