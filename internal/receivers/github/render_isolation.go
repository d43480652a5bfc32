package github

import (
	"fmt"
	"strings"

	"plumb/internal/receivers"
)

// writeIsolation renders a security operator's isolation request: what
// was isolated and why, the CVE, the resource's other open findings and
// how to undo it once the cause is fixed.
func writeIsolation(b *strings.Builder, f receivers.Finding) {
	iso := f.Isolation
	b.WriteString("**Isolation**\n\n")
	r := f.Resource
	fmt.Fprintf(b, "- What: %s `%s` (%s)\n", safeText(r.Type), strings.ReplaceAll(safeText(r.ID), "`", "'"), safeText(r.DisplayName()))
	fmt.Fprintf(b, "- Why: %s\n", safeText(iso.Reason))
	if iso.CVE != "" {
		fmt.Fprintf(b, "- CVE: [%s](https://www.cve.org/CVERecord?id=%s)\n", safeText(iso.CVE), safeText(iso.CVE))
	}
	fmt.Fprintf(b, "- Requested by: %s\n", safeText(iso.Operator))
	if len(iso.Related) > 0 {
		b.WriteString("- Related findings:\n")
		for _, rf := range iso.Related {
			fmt.Fprintf(b, "  - `%s` %s (%s)\n", safeText(string(rf.Kind)), safeText(rf.Message), safeText(rf.Fingerprint))
		}
	}
	fmt.Fprintf(b, "- To release once the cause is fixed: `%s`\n\n", strings.ReplaceAll(safeText(iso.Release), "`", "'"))
}
