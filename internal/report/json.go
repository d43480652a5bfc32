package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// The json* types are the wire shape of the JSON report, documented field
// by field in docs/report.md. They are spelled out here, rather than
// marshalling the model types directly, so that a change to a model struct
// tag cannot silently break tools that parse plumb's output: the contract
// changes only when this file does.

type jsonReport struct {
	Version     int           `json:"version"`
	Environment string        `json:"environment"`
	StartedAt   string        `json:"started_at"`
	DurationMS  int64         `json:"duration_ms"`
	Summary     jsonSummary   `json:"summary"`
	Findings    []jsonFinding `json:"findings"`
	Errors      []jsonError   `json:"errors"`
	Notes       []string      `json:"notes,omitempty"`
	// PolicyNotEvaluated lists the rules that could not be decided on a
	// resource, and why; absent when every evaluation decided.
	PolicyNotEvaluated []jsonNotEvaluated `json:"policy_not_evaluated,omitempty"`
}

type jsonNotEvaluated struct {
	Rule    string `json:"rule"`
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	Address string `json:"address,omitempty"`
	Reason  string `json:"reason"`
}

type jsonSummary struct {
	Managed      int     `json:"managed"`
	InSync       int     `json:"in_sync"`
	Changed      int     `json:"changed"`
	Missing      int     `json:"missing"`
	Unmanaged    int     `json:"unmanaged"`
	Coverage     float64 `json:"coverage"`
	NotEvaluated int     `json:"not_evaluated"`
	Unsupported  int     `json:"unsupported"`
	Ignored      int     `json:"ignored"`
	Conflicting  int     `json:"conflicting"`
}

type jsonFinding struct {
	Kind        string       `json:"kind"`
	Severity    string       `json:"severity"`
	Fingerprint string       `json:"fingerprint"`
	Resource    jsonResource `json:"resource"`
	Address     *string      `json:"address"`
	Source      string       `json:"source,omitempty"`
	// Declarations are every address and state declaring the resource,
	// for drift.conflict findings only.
	Declarations []jsonDeclaration `json:"declarations,omitempty"`
	Changes      []jsonChange      `json:"changes"`
	Message      string            `json:"message"`
	// Confidence is "low" for predicted rather than observed changes.
	Confidence string `json:"confidence,omitempty"`
	// Rule, Controls and Security describe policy findings.
	Rule     string              `json:"rule,omitempty"`
	Controls map[string][]string `json:"controls,omitempty"`
	Security bool                `json:"security,omitempty"`
	// File and Line point at the declaring code, when known.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

type jsonResource struct {
	Provider string `json:"provider"`
	Type     string `json:"type"`
	ID       string `json:"id"`
	// Region is always present; "" for global resources.
	Region  string `json:"region"`
	Account string `json:"account,omitempty"`
	Name    string `json:"name,omitempty"`
	ARN     string `json:"arn,omitempty"`
	// Tags is null when the tags could not be read, {} when there are none.
	Tags       map[string]string `json:"tags"`
	Attributes map[string]any    `json:"attributes,omitempty"`
}

type jsonDeclaration struct {
	Address string `json:"address"`
	Source  string `json:"source"`
}

type jsonChange struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

type jsonError struct {
	Scope   string   `json:"scope"`
	Message string   `json:"message"`
	Types   []string `json:"types,omitempty"`
}

// renderJSON writes the contract document: two-space indent, a trailing
// newline, findings and errors sorted, and arrays that are never null.
func renderJSON(w io.Writer, r *Report) error {
	doc, err := toJSON(r)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}

// toJSON converts a report to its wire shape.
func toJSON(r *Report) (*jsonReport, error) {
	s := r.Summary
	if math.IsNaN(s.Coverage) || math.IsInf(s.Coverage, 0) {
		return nil, fmt.Errorf("summary coverage is %v, not a number JSON can carry", s.Coverage)
	}
	doc := &jsonReport{
		// The renderer decides the shape, so it states the version it
		// writes, whatever the in-memory report says.
		Version:     Version,
		Environment: r.Environment,
		StartedAt:   r.StartedAt.UTC().Format(time.RFC3339),
		DurationMS:  r.DurationMS,
		Summary: jsonSummary{
			Managed:      s.Managed,
			InSync:       s.InSync,
			Changed:      s.Changed,
			Missing:      s.Missing,
			Unmanaged:    s.Unmanaged,
			Coverage:     s.Coverage,
			NotEvaluated: s.NotEvaluated,
			Unsupported:  s.Unsupported,
			Ignored:      s.Ignored,
			Conflicting:  s.Conflicting,
		},
		Findings: []jsonFinding{},
		Errors:   []jsonError{},
		Notes:    r.Notes,
	}
	if line := r.NotEvaluatedLine(); line != "" {
		doc.Notes = append([]string{line}, r.Notes...)
	}
	for _, f := range sortedFindings(r.Findings) {
		jf := jsonFinding{
			Kind:        string(f.Kind),
			Severity:    string(f.Severity),
			Fingerprint: f.Fingerprint,
			Resource: jsonResource{
				Provider:   f.Resource.Provider,
				Type:       f.Resource.Type,
				ID:         f.Resource.ID,
				Region:     f.Resource.Region,
				Account:    f.Resource.Account,
				Name:       f.Resource.Name,
				ARN:        f.Resource.ARN,
				Tags:       f.Resource.Tags,
				Attributes: f.Resource.Attributes,
			},
			Source:     f.Source,
			Changes:    make([]jsonChange, 0, len(f.Changes)),
			Message:    f.Message,
			Confidence: f.Confidence,
			Rule:       f.Rule,
			Controls:   f.Controls,
			Security:   f.Security,
			File:       f.File,
			Line:       f.Line,
		}
		if a := address(f); a != "" {
			jf.Address = &a
		}
		for _, c := range f.Changes {
			jf.Changes = append(jf.Changes, jsonChange(c))
		}
		for _, d := range f.Declarations {
			jf.Declarations = append(jf.Declarations, jsonDeclaration(d))
		}
		// Check each finding on its own so an unencodable value is
		// reported with the resource it belongs to.
		if _, err := json.Marshal(jf); err != nil {
			return nil, fmt.Errorf("finding %s %s %q: %w", f.Kind, f.Resource.Type, f.Resource.ID, err)
		}
		doc.Findings = append(doc.Findings, jf)
	}
	for _, e := range sortedErrors(r.Errors) {
		doc.Errors = append(doc.Errors, jsonError(e))
	}
	for _, n := range sortedNotEvaluated(r.NotEvaluated) {
		doc.PolicyNotEvaluated = append(doc.PolicyNotEvaluated, jsonNotEvaluated(n))
	}
	return doc, nil
}

// sortedNotEvaluated orders not-evaluated rules by resource, then rule,
// so the output does not depend on evaluation order.
func sortedNotEvaluated(in []NotEvaluated) []NotEvaluated {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b NotEvaluated) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Address, b.Address), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Rule, b.Rule))
	})
	return out
}
