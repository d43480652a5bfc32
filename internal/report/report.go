// Package report renders the outcome of a scan for people (table,
// markdown) and for other tools (json). The JSON shape is a contract
// documented in docs/report.md: fields are only ever added.
package report

import (
	"fmt"
	"strings"
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
	// Rules describes the policy rules that were evaluated, so formats
	// that list rules (SARIF) can name, explain and classify them even
	// when a rule found nothing.
	Rules []RuleInfo `json:"rules,omitempty"`
	// PlanCheck marks the report of `plumb check`: the resources are
	// planned, not live, so the human formats speak of checked resources
	// and violations rather than of drift.
	PlanCheck bool `json:"-"`
	// ToolVersion is the plumb version that produced the report, for
	// formats that record their producer (SARIF tool.driver.version).
	ToolVersion string `json:"-"`
	// NotEvaluatedReasons say why declared resources were not evaluated
	// (no inventory ran, parts of the estate could not be read, the time
	// limit). The human formats lead with them; JSON carries them in the
	// first note.
	NotEvaluatedReasons []string `json:"-"`
	// NotEvaluated are the policy evaluations that could not be decided:
	// the verdict depends on a value known only after apply, an attribute
	// or related resource the live inventory did not read. They are
	// neither findings nor errors, and never passes.
	NotEvaluated []NotEvaluated `json:"-"`
}

// NotEvaluated is one rule that could not be decided on one resource.
type NotEvaluated struct {
	Rule string
	Type string
	// ID and Address identify the resource: a planned one has only an
	// address, a live one an id, and an address when the code declares it.
	ID      string
	Address string
	// Reason names what was missing ("kms_key_id is known only after
	// apply").
	Reason string
}

// RuleInfo is what a report needs to know about a policy rule. It is a
// copy rather than the policy package's Rule so rendering never depends
// on the engine.
type RuleInfo struct {
	ID          string              `json:"id"`
	Title       string              `json:"title,omitempty"`
	Remediation string              `json:"remediation,omitempty"`
	Severity    string              `json:"severity,omitempty"`
	Controls    map[string][]string `json:"controls,omitempty"`
	Security    bool                `json:"security,omitempty"`
}

// Exit codes promised to scripts and CI (same convention as
// terraform plan -detailed-exitcode). They are part of the contract in
// docs/report.md.
const (
	// ExitClean means the scan read everything and found nothing.
	ExitClean = 0
	// ExitError means plumb failed, or could not read part of the estate
	// and partial scans were not allowed.
	ExitError = 1
	// ExitFindings means the scan found at least one finding.
	ExitFindings = 2
)

// Partial reports whether part of the estate could not be read or some
// declared resource was not evaluated, so that "no findings" must not be
// read as "no drift".
func (r *Report) Partial() bool { return len(r.Errors) > 0 || r.Summary.NotEvaluated > 0 }

// NotEvaluatedLine is the sentence the human formats lead with when
// declared resources were not evaluated: "N of M declared resources not
// evaluated: REASONS." It is "" when everything declared was evaluated.
func (r *Report) NotEvaluatedLine() string {
	s := r.Summary
	if s.NotEvaluated <= 0 {
		return ""
	}
	line := fmt.Sprintf("%d of %d declared %s not evaluated", s.NotEvaluated, s.Managed, plural(s.Managed, "resource", "resources"))
	if len(r.NotEvaluatedReasons) > 0 {
		line += ": " + strings.Join(r.NotEvaluatedReasons, "; ")
	}
	return line + ". Nothing is known about them: they are neither in sync nor missing."
}

// ExitCode maps the report to the process exit code of plumb scan and
// plumb check, so every command applies the same rule: a partial scan is
// an error unless allowPartial, otherwise findings give 2 and none give 0.
func (r *Report) ExitCode(allowPartial bool) int {
	switch {
	case r.Partial() && !allowPartial:
		return ExitError
	case len(r.Findings) > 0:
		return ExitFindings
	default:
		return ExitClean
	}
}
