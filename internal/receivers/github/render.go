package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"plumb/internal/model"
	"plumb/internal/receivers"
)

// Limits GitHub enforces (issue titles are cut at 256 characters, bodies
// refused above 65536); plumb stays below them so a huge finding still
// produces an issue instead of a 422.
const (
	maxTitle      = 256
	maxBody       = 60000
	maxChangeRows = 200
)

// plumbLabel marks every issue plumb owns; the fallback lookup lists
// issues by it when search has not indexed a new issue yet.
const plumbLabel = "plumb"

// findingMarker is the hidden line that ties an issue or advisory to a
// finding across a lost database: search and listing look for it.
func findingMarker(fingerprint string) string {
	return "<!-- plumb:fingerprint=" + fingerprint + " -->"
}

// groupMarker ties a per-group issue to its routing group.
func groupMarker(groupKey string) string {
	return "<!-- plumb:group=" + groupKey + " -->"
}

// hashMarker records, in the artefact itself, the content hash it was last
// written with, so an unchanged finding is recognised even after the
// database that held the hash is gone.
func hashMarker(h string) string { return "<!-- plumb:hash=" + h + " -->" }

var hashRe = regexp.MustCompile(`<!-- plumb:hash=([0-9a-f]+) -->`)

// bodyHash reads the hash marker back from a body ("" when absent).
func bodyHash(body string) string {
	if m := hashRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// material is what makes a finding's report different: what is wrong,
// where, how badly and who did it. Timestamps and counts are left out on
// purpose, or every scan would rewrite every issue.
type material struct {
	Kind        model.Kind          `json:"k"`
	Severity    model.Severity      `json:"s"`
	Environment string              `json:"e"`
	Provider    string              `json:"p"`
	Type        string              `json:"t"`
	ID          string              `json:"i"`
	Region      string              `json:"r"`
	Account     string              `json:"a"`
	Name        string              `json:"n"`
	Address     string              `json:"ad"`
	Changes     []model.Change      `json:"c"`
	Message     string              `json:"m"`
	Rule        string              `json:"ru"`
	Controls    map[string][]string `json:"co"`
	Confidence  string              `json:"cf"`
	Principal   string              `json:"pr"`
	Status      string              `json:"st"`
	// Enforcement is what plumb did; omitted when nothing, so the hashes
	// of issues written before enforcement existed stay the same.
	Enforcement *model.Enforcement `json:"en,omitempty"`
}

// contentHash hashes the material content of findings (in order), so a
// delivery that changes nothing writes nothing.
func contentHash(fs ...receivers.Finding) string {
	h := sha256.New()
	for _, f := range fs {
		m := material{
			Kind: f.Kind, Severity: f.Severity, Environment: f.Environment,
			Provider: f.Resource.Provider, Type: f.Resource.Type, ID: f.Resource.ID,
			Region: f.Resource.Region, Account: f.Resource.Account, Name: f.Resource.Name,
			Changes: f.Changes, Message: f.Message, Rule: f.Rule, Controls: f.Controls,
			Confidence: f.Confidence, Principal: f.Principal, Status: f.Status, Enforcement: f.Enforcement,
		}
		if f.Address != nil {
			m.Address = *f.Address
		}
		b, err := json.Marshal(m)
		if err != nil {
			// Unmarshalable change values: fall back to their printed form,
			// still deterministic for the same input.
			b = fmt.Appendf(nil, "%#v", m)
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// severityRank orders severities for min_severity and group labels.
func severityRank(s model.Severity) int {
	switch s {
	case model.SeverityLow:
		return 1
	case model.SeverityMedium:
		return 2
	case model.SeverityHigh:
		return 3
	case model.SeverityCritical:
		return 4
	}
	return 0
}

// kindLabel is the family of a kind (drift, policy, audit, event), the
// label teams filter their boards by.
func kindLabel(k model.Kind) string {
	fam, _, _ := strings.Cut(string(k), ".")
	return fam
}

// issueLabels are the configured labels plus plumb's own: the ownership
// label, the kind families and the highest severity.
func issueLabels(configured []string, fs []receivers.Finding) []string {
	seen := map[string]bool{}
	var out []string
	add := func(l string) {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range configured {
		add(l)
	}
	add(plumbLabel)
	var top model.Severity
	for _, f := range fs {
		add(kindLabel(f.Kind))
		if severityRank(f.Severity) > severityRank(top) {
			top = f.Severity
		}
	}
	if top != "" {
		add("severity:" + string(top))
	}
	return out
}

// truncate cuts s to n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// safeText keeps user-controlled text (messages, principals, names) from
// forging a plumb marker or opening an HTML comment that hides the rest
// of the body.
func safeText(s string) string {
	return strings.ReplaceAll(s, "<!--", "&lt;!--")
}

// cell makes text safe inside a markdown table cell: pipes would end the
// cell and newlines the row.
func cell(s string) string {
	s = safeText(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", "<br>")
	return strings.ReplaceAll(s, "|", `\|`)
}

// codeCell renders a value as inline code inside a table cell. GitHub
// tables need pipes escaped even inside code spans.
func codeCell(v any) string {
	var s string
	switch t := v.(type) {
	case nil:
		return "_(none)_"
	case string:
		s = t
	default:
		b, err := json.Marshal(t)
		if err != nil {
			s = fmt.Sprint(t)
		} else {
			s = string(b)
		}
	}
	s = strings.ReplaceAll(s, "\r\n", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = truncate(s, 300)
	s = strings.ReplaceAll(s, "|", `\|`)
	if s == "" {
		return "`\"\"`"
	}
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// writeFinding renders one finding's details as markdown: the facts an
// on-call engineer needs without opening plumb.
func writeFinding(b *strings.Builder, f receivers.Finding, heading string) {
	r := f.Resource
	rows := [][2]string{
		{"Provider", cell(r.Provider)},
		{"Type", codeOrEmpty(r.Type)},
		{"ID", codeOrEmpty(r.ID)},
		{"Name", cell(r.Name)},
		{"Region", cell(r.Region)},
		{"Account", cell(r.Account)},
	}
	if f.Address != nil {
		rows = append(rows, [2]string{"Address", codeOrEmpty(*f.Address)})
	}
	// A conflict names every declaration of the resource.
	for _, d := range f.Declarations {
		rows = append(rows, [2]string{"Declared as", codeOrEmpty(d.Address) + " in " + codeOrEmpty(d.Source)})
	}
	rows = append(rows,
		[2]string{"Environment", cell(f.Environment)},
		[2]string{"Severity", cell(string(f.Severity))},
		[2]string{"Kind", codeOrEmpty(string(f.Kind))},
		[2]string{"Status", cell(f.Status)},
		[2]string{"Rule", codeOrEmpty(f.Rule)},
		[2]string{"Confidence", cell(f.Confidence)},
		[2]string{"Principal", cell(f.Principal)},
		[2]string{"First seen", fmtTime(f.FirstSeen)},
		[2]string{"Last seen", fmtTime(f.LastSeen)},
	)
	if f.Count > 0 {
		rows = append(rows, [2]string{"Count", fmt.Sprint(f.Count)})
	}
	if f.ResolvedAt != nil {
		rows = append(rows, [2]string{"Resolved at", fmtTime(*f.ResolvedAt)})
	}
	if e := f.Enforcement; e != nil {
		rows = append(rows, [2]string{"Enforcement", fmt.Sprintf("%s: %s (%s, action %s)", cell(e.Verb), cell(e.Result), fmtTime(e.At), codeCell(e.ActionID))})
	}
	if f.File != "" {
		loc := f.File
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		rows = append(rows, [2]string{"Declared in", codeOrEmpty(loc)})
	}

	if heading != "" {
		fmt.Fprintf(b, "%s\n\n", heading)
	}
	if f.Message != "" {
		fmt.Fprintf(b, "%s\n\n", safeText(f.Message))
	}
	b.WriteString("| | |\n|---|---|\n")
	for _, row := range rows {
		if row[1] != "" {
			fmt.Fprintf(b, "| **%s** | %s |\n", row[0], row[1])
		}
	}
	b.WriteString("\n")

	if len(f.Changes) > 0 {
		b.WriteString("**Changes**\n\n| path | before (code) | after (live) |\n|---|---|---|\n")
		for i, c := range f.Changes {
			if i == maxChangeRows {
				fmt.Fprintf(b, "\n…and %d more changes (see plumb).\n", len(f.Changes)-maxChangeRows)
				break
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", codeCell(c.Path), codeCell(c.Before), codeCell(c.After))
		}
		b.WriteString("\n")
	}

	if len(f.Controls) > 0 {
		b.WriteString("**Controls**\n\n")
		stds := make([]string, 0, len(f.Controls))
		for s := range f.Controls {
			stds = append(stds, s)
		}
		sort.Strings(stds)
		for _, s := range stds {
			fmt.Fprintf(b, "- %s: %s\n", safeText(s), safeText(strings.Join(f.Controls[s], ", ")))
		}
		b.WriteString("\n")
	}
}

func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return codeCell(s)
}

// capBody keeps a body under GitHub's size limit while keeping the
// trailing markers, which lookups depend on.
func capBody(content, markers string) string {
	room := maxBody - len(markers) - 64
	if len(content) > room {
		cut := room
		for cut > 0 && !utf8Start(content[cut]) {
			cut--
		}
		content = content[:cut] + "\n\n…(truncated; see plumb for the full finding)\n\n"
	}
	return content + markers
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// findingBody is the issue (or advisory) body for one finding, ending in
// its markers.
func findingBody(f receivers.Finding, externalURL, hash string) string {
	var b strings.Builder
	writeFinding(&b, f, "")
	if externalURL != "" {
		fmt.Fprintf(&b, "[Open in plumb](%s)\n\n", externalURL)
	}
	b.WriteString("_Reported by plumb. Edits to this body are overwritten when the finding changes; comment instead._\n\n")
	return capBody(b.String(), findingMarker(f.Fingerprint)+"\n"+hashMarker(hash)+"\n")
}

// groupTitle names a per-group issue by its group labels, stable across
// notifications so the issue keeps its title.
func groupTitle(n receivers.Notification) string {
	keys := make([]string, 0, len(n.GroupLabels))
	for k := range n.GroupLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+n.GroupLabels[k])
	}
	what := strings.Join(parts, ", ")
	if what == "" {
		what = n.GroupKey
	}
	return truncate("[plumb] Findings ("+what+")", maxTitle)
}

// groupBody lists every finding of a group, open ones first.
func groupBody(n receivers.Notification, hash string) string {
	var b strings.Builder
	open, closed := splitOpen(n.Findings)
	fmt.Fprintf(&b, "%d open, %d resolved or suppressed in this group.\n\n", len(open), len(closed))
	for _, f := range open {
		writeFinding(&b, f, "### "+safeText(receivers.Title(f)))
	}
	for _, f := range closed {
		writeFinding(&b, f, "### ~~"+safeText(receivers.Title(f))+"~~ ("+f.Status+")")
	}
	if n.ExternalURL != "" {
		fmt.Fprintf(&b, "[Open in plumb](%s)\n\n", n.ExternalURL)
	}
	b.WriteString("_Reported by plumb. Edits to this body are overwritten when the group changes; comment instead._\n\n")
	return capBody(b.String(), groupMarker(n.GroupKey)+"\n"+hashMarker(hash)+"\n")
}

func splitOpen(fs []receivers.Finding) (open, closed []receivers.Finding) {
	for _, f := range fs {
		if f.Status == statusOpen {
			open = append(open, f)
		} else {
			closed = append(closed, f)
		}
	}
	return open, closed
}

// changeSummary is the comment plumb leaves when it rewrites a body, so
// watchers see what moved without diffing the body history.
func changeSummary(f receivers.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plumb saw this finding change (last seen %s, severity %s).", fmtTime(f.LastSeen), f.Severity)
	if len(f.Changes) > 0 {
		paths := make([]string, 0, len(f.Changes))
		for i, c := range f.Changes {
			if i == 20 {
				paths = append(paths, fmt.Sprintf("and %d more", len(f.Changes)-20))
				break
			}
			paths = append(paths, codeCell(c.Path))
		}
		fmt.Fprintf(&b, " Differing attributes now: %s.", strings.Join(paths, ", "))
	}
	if f.Principal != "" {
		fmt.Fprintf(&b, " Principal: %s.", safeText(f.Principal))
	}
	b.WriteString(" The description above is updated.")
	return b.String()
}
