// Package policy evaluates compliance rules written in CEL on resources
// described by their Terraform attributes, so one rule serves a planned
// resource (plan JSON) and a live one (the inventory) alike.
package policy

import (
	"context"
	"errors"

	"plumb/internal/model"
)

// Rule is one compliance control check.
type Rule struct {
	ID          string
	Title       string
	Resources   []string // Terraform types the rule applies to
	Deny        string   // CEL expression over `resource`; true means violated
	Message     string
	Severity    model.Severity
	Security    bool
	Controls    map[string][]string
	Remediation string
	File        string
	Line        int
}

// Subject is a resource a rule is evaluated on.
type Subject struct {
	Provider   string
	Type       string
	Address    string // Terraform address, when known
	ID         string
	Name       string
	Region     string
	Tags       map[string]string
	Attributes map[string]any // Terraform attribute names
	File       string         // .tf file declaring it, when known
	Line       int
}

// Outcome is the verdict of one rule on one subject.
type Outcome struct {
	Rule     *Rule
	Subject  *Subject
	Violated bool
	Err      error
}

// Set is a compiled set of rules.
type Set struct {
	Rules []*Rule
}

// ErrNotImplemented marks the API skeleton until the engine lands.
var ErrNotImplemented = errors.New("policy engine not implemented")

// Load reads rule files (YAML) and directories of them.
func Load(paths []string) (*Set, error) { return nil, ErrNotImplemented }

// Builtin returns an embedded pack by name.
func Builtin(name string) (*Set, error) { return nil, ErrNotImplemented }

// Packs lists the embedded packs.
func Packs() []string { return nil }

// Evaluate runs every rule on every subject of its types.
func (s *Set) Evaluate(ctx context.Context, subjects []Subject) ([]Outcome, error) {
	return nil, ErrNotImplemented
}

// Findings turns violations into policy.violation findings.
func Findings(outcomes []Outcome, environment string) []model.Finding { return nil }
