package findings

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"plumb/internal/model"
)

// Matcher selects findings by one label, in the syntax Alertmanager users
// already write: `severity=~"high|critical"`, `kind="drift.unmanaged"`,
// `tags.owner!="platform"`. Routes and silences are lists of matchers,
// all of which must match.
type Matcher struct {
	Label string
	Op    string // =, !=, =~, !~
	Value string
	re    *regexp.Regexp
}

var matcherRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.:/-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher reads one matcher. Regular expressions are anchored at both
// ends, as in Alertmanager, so `kind=~"drift.*"` does not match
// "policy.drift".
func ParseMatcher(s string) (Matcher, error) {
	m := matcherRE.FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: want LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX", s)
	}
	value := m[3]
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad quoted value: %w", s, err)
		}
		value = v
	}
	mt := Matcher{Label: m[1], Op: m[2], Value: value}
	if mt.Op == "=~" || mt.Op == "!~" {
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %w", s, err)
		}
		mt.re = re
	}
	return mt, nil
}

// ParseMatchers reads a list of matchers, naming the index of a bad one.
func ParseMatchers(ss []string) ([]Matcher, error) {
	out := make([]Matcher, 0, len(ss))
	for i, s := range ss {
		m, err := ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// String writes the matcher back in its own syntax.
func (m Matcher) String() string { return m.Label + m.Op + strconv.Quote(m.Value) }

// Matches reports whether the labels satisfy the matcher. A label that is
// absent has the empty value, so `tags.owner=""` selects untagged
// resources and `tags.owner!="x"` matches them.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Label]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	return false
}

// MatchAll reports whether every matcher matches.
func MatchAll(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// Labels are the names routes, silences and group_by use for a finding:
// kind, severity, environment, provider, type, region, account, id, name,
// rule, source, status, owner (the team, from ownership settings; empty
// when nobody owns it), and tags.KEY for each resource tag.
func Labels(f model.Finding, status string) map[string]string {
	l := map[string]string{
		"kind":        string(f.Kind),
		"severity":    string(f.Severity),
		"environment": f.Environment,
		"provider":    f.Resource.Provider,
		"type":        f.Resource.Type,
		"region":      f.Resource.Region,
		"account":     f.Resource.Account,
		"id":          f.Resource.ID,
		"name":        f.Resource.DisplayName(),
		"rule":        f.Rule,
		"source":      f.Source,
		"status":      status,
		"fingerprint": f.Fingerprint,
		"owner":       f.Owner,
	}
	if f.Security {
		l["security"] = "true"
	} else {
		l["security"] = "false"
	}
	for k, v := range f.Resource.Tags {
		l["tags."+k] = v
	}
	return l
}
