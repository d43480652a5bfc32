package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// Output formats understood by Render and by the -o flag.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	// FormatSARIF is SARIF 2.1.0, the format GitHub code scanning and
	// other code review tools ingest (see sarif.go).
	FormatSARIF = "sarif"
)

// Formats lists the valid output formats in the order help texts and error
// messages show them.
func Formats() []string {
	return []string{FormatTable, FormatJSON, FormatMarkdown, FormatSARIF, FormatHTML}
}

// validFormats is the list quoted in errors about unknown formats.
func validFormats() string { return strings.Join(Formats(), ", ") }

// sensitive is what the drift engine puts in place of a secret value. It is
// printed as is (unquoted) so it never looks like the literal value.
const sensitive = "(sensitive)"

// Render writes r to w in the named format. Every format sorts findings the
// same way (see sortedFindings) and never modifies r, so a report can be
// rendered several times, concurrently, in different formats.
func Render(w io.Writer, format string, r *Report) error {
	if r == nil {
		return errors.New("render report: report is nil")
	}
	var err error
	switch format {
	case FormatTable:
		err = renderTable(w, r)
	case FormatJSON:
		err = renderJSON(w, r)
	case FormatMarkdown:
		err = renderMarkdown(w, r)
	case FormatSARIF:
		err = renderSARIF(w, r)
	case FormatHTML:
		err = renderHTML(w, r)
	default:
		return fmt.Errorf("render report: unknown format %q (valid: %s)", format, validFormats())
	}
	if err != nil {
		return fmt.Errorf("render %s report: %w", format, err)
	}
	return nil
}

// severityRank orders severities from most to least urgent; unknown
// severities sort after low so a typo never hides a critical finding.
func severityRank(s model.Severity) int {
	switch s {
	case model.SeverityCritical:
		return 0
	case model.SeverityHigh:
		return 1
	case model.SeverityMedium:
		return 2
	case model.SeverityLow:
		return 3
	}
	return 4
}

// kindRank follows the drift engine's order: what exists without code,
// what code declares but is gone, what differs. Other kinds come after,
// alphabetically.
func kindRank(k model.Kind) int {
	switch k {
	case model.KindUnmanaged:
		return 0
	case model.KindMissing:
		return 1
	case model.KindChanged:
		return 2
	}
	return 3
}

// sortedFindings returns a sorted copy of the findings: severity (critical
// first), kind (unmanaged, missing, changed, then others by name), type,
// region, id, address and finally fingerprint, so that the order is total
// and the output byte-for-byte reproducible.
func sortedFindings(fs []model.Finding) []model.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b model.Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Resource.Type, b.Resource.Type),
			cmp.Compare(a.Resource.Region, b.Resource.Region),
			cmp.Compare(a.Resource.ID, b.Resource.ID),
			cmp.Compare(address(a), address(b)),
			cmp.Compare(a.Fingerprint, b.Fingerprint),
		)
	})
	return out
}

// sortedErrors returns the scope errors ordered by scope, then message.
func sortedErrors(es []inventory.ScopeError) []inventory.ScopeError {
	out := slices.Clone(es)
	slices.SortStableFunc(out, func(a, b inventory.ScopeError) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// errorGroup is one cause and the scopes that failed with it.
type errorGroup struct {
	scopes  []string
	message string
}

// groupErrors merges scope errors with the same message into one group,
// in the order of the sorted errors, so a cause shared by every scope
// (an unreachable endpoint, a denied role) is said once with the list of
// scopes it hit.
func groupErrors(es []inventory.ScopeError) []errorGroup {
	var out []errorGroup
	index := map[string]int{}
	for _, e := range sortedErrors(es) {
		i, ok := index[e.Message]
		if !ok {
			i = len(out)
			index[e.Message] = i
			out = append(out, errorGroup{message: e.Message})
		}
		out[i].scopes = append(out[i].scopes, e.Scope)
	}
	return out
}

// ErrorSummary says each distinct scope error once with the scopes it hit
// ("MESSAGE (aws/us-east-1/ec2, aws/global/iam); MESSAGE2 (...)"), for
// logs and health checks that have one line to explain a partial scan.
func ErrorSummary(es []inventory.ScopeError) string {
	groups := groupErrors(es)
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%s (%s)", g.message, strings.Join(g.scopes, ", ")))
	}
	return strings.Join(parts, "; ")
}

// address returns the finding's Terraform address, "" when it has none.
func address(f model.Finding) string {
	if f.Address == nil {
		return ""
	}
	return *f.Address
}

// formatValue renders a change value for people: JSON for structure (so
// strings are quoted and lists are recognisable), null for an absent value,
// and the redaction marker as is.
func formatValue(v any) string {
	if s, ok := v.(string); ok && s == sensitive {
		return sensitive
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Values that JSON cannot express (NaN, channels) still deserve a
		// rendering in a human report; the JSON format reports the error.
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// coverageText shows coverage as a percentage, or "-" when nothing was
// read (no evaluated declared resource, no unmanaged one) and the ratio
// says nothing.
func coverageText(s model.Summary) string {
	if !s.CoverageKnown() {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", s.Coverage*100)
}

// plural picks the singular or plural form of a noun for a count.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
