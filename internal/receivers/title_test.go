package receivers

import (
	"testing"

	"plumb/internal/model"
)

// TestTitle: every kind a scan or the event pipeline produces has the
// operators' title; a conflict is drift like the others.
func TestTitle(t *testing.T) {
	name := model.Resource{ID: "b-1", Name: "shared"}
	tests := []struct {
		kind model.Kind
		want string
	}{
		{model.KindUnmanaged, "[DRIFT DETECTED] Undefined resource exists (shared)"},
		{model.KindMissing, "[DRIFT DETECTED] Defined resource doesn't exist (shared)"},
		{model.KindChanged, "[DRIFT DETECTED] Resource changed outside code (shared)"},
		{model.KindConflict, "[DRIFT DETECTED] Resource defined more than once (shared)"},
	}
	for _, tt := range tests {
		if got := Title(Finding{Finding: model.Finding{Kind: tt.kind, Resource: name}}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.kind, got, tt.want)
		}
	}
}
