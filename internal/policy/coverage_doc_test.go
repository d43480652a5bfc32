package policy

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCISCoverageTable holds the CIS AWS Foundations 3.0 coverage table of
// docs/policies.md to the cis-aws-3.0 pack: every row's rules are exactly
// the rules mapped to that control, every control the pack maps is a row,
// and the summary counts are the table's.
func TestCISCoverageTable(t *testing.T) {
	data, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "### CIS AWS Foundations 3.0 coverage")
	if start < 0 {
		t.Fatal("docs/policies.md has no CIS coverage section")
	}
	section := doc[start:]
	if end := strings.Index(section[4:], "\n## "); end >= 0 {
		section = section[:end+4]
	}

	set, err := LoadPacks([]string{"cis-aws-3.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, r := range set.Rules {
		for _, c := range r.Controls["cis-aws-3.0"] {
			want[c] = append(want[c], r.ID)
		}
	}

	row := regexp.MustCompile(`^\| (\d+(?:\.\d+)+) \| [^|]+ \| (yes|no) \| (yes|no) \| ([^|]+) \|`)
	ruleID := regexp.MustCompile("`([a-z0-9-]+)`")
	seen := map[string]bool{}
	var total, tf, liveOnly, neither, covered, coveredTF int
	var tfUncovered []string
	for _, line := range strings.Split(section, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id, byTF, byLive := m[1], m[2] == "yes", m[3] == "yes"
		if seen[id] {
			t.Errorf("control %s is listed twice", id)
		}
		seen[id] = true
		var got []string
		for _, r := range ruleID.FindAllStringSubmatch(m[4], -1) {
			got = append(got, r[1])
		}
		w := slices.Clone(want[id])
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("control %s: the table lists rules %v, the pack maps %v", id, got, w)
		}
		total++
		switch {
		case byTF:
			tf++
		case byLive:
			liveOnly++
		default:
			neither++
		}
		if len(got) > 0 {
			covered++
			if byTF {
				coveredTF++
			}
			if !byTF {
				t.Errorf("control %s has rules but the table says Terraform does not decide it", id)
			}
		} else if byTF {
			tfUncovered = append(tfUncovered, id)
		}
	}
	for c := range want {
		if !seen[c] {
			t.Errorf("the pack maps control %s, which the table does not list", c)
		}
	}
	if total != 62 {
		t.Errorf("the table lists %d recommendations, CIS AWS Foundations 3.0.0 has 62", total)
	}
	summary := []string{
		"| Terraform decides | " + strconv.Itoa(tf) + " | " + strconv.Itoa(coveredTF) + " (not " + strings.Join(tfUncovered, ", ") + ") |",
		"| only the live API decides | " + strconv.Itoa(liveOnly) + " | 0 |",
		"| neither | " + strconv.Itoa(neither) + " | - |",
		"| total | " + strconv.Itoa(total) + " | " + strconv.Itoa(covered) + " |",
		"The benchmark has " + strconv.Itoa(total) + " recommendations.",
	}
	for _, s := range summary {
		if !strings.Contains(section, s) {
			t.Errorf("the summary does not say %q", s)
		}
	}
}
