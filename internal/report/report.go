// Package report renders the outcome of a scan for people (table,
// markdown) and for other tools (json). The JSON shape is a contract
// documented in docs/report.md: fields are only ever added.
package report

import (
	"time"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// Version is the version of the JSON report contract.
const Version = 1

// Report is everything one scan found.
type Report struct {
	Version     int                    `json:"version"`
	Environment string                 `json:"environment"`
	StartedAt   time.Time              `json:"started_at"`
	DurationMS  int64                  `json:"duration_ms"`
	Summary     model.Summary          `json:"summary"`
	Findings    []model.Finding        `json:"findings"`
	Errors      []inventory.ScopeError `json:"errors"`
	// Notes are caveats a reader must know to interpret the findings
	// (for example that refresh-only drift excludes unapplied code).
	Notes []string `json:"notes,omitempty"`
}
