package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"plumb/internal/console/theme"
)

// funcs are the template helpers: formatting only, no data access.
var funcs = template.FuncMap{
	"num":      theme.Number,
	"pct":      pct,
	"sevClass": func(s any) string { return "sev-" + strings.ToLower(fmt.Sprint(s)) },
	"stClass":  func(s any) string { return "st-" + strings.ToLower(fmt.Sprint(s)) },
	"when":     when,
	"dur":      dur,
	"value":    jsonValue,
	"pretty":   prettyJSON,
	"join":     strings.Join,
	"upper":    strings.ToUpper,
	"add":      func(a, b int) int { return a + b },
	"short":    func(s string) string { return shorten(s, 12) },
	"label":    statusLabel,
	"packPct":  packPct,
	"dict":     dict,
	"vis":      visible,
}

// visible shows invisible characters of cloud-controlled text as escapes
// (\u202e): a bidi override or a zero-width character in a resource id,
// tag or event could otherwise reorder or hide what an operator reads.
// Line breaks and tabs stay, so payloads keep their layout.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if r != '\n' && r != '\t' && (unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || r == utf8.RuneError) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unicode.Is(unicode.Cf, r) || unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dict builds a map from key, value pairs, to pass several values to a
// sub-template.
func dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// packPct prints a pack's compliance percentage of a day, "unknown" when
// no control was evaluated that day.
func packPct(m map[string]float64, pack string) string {
	v, ok := m[pack]
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// pct prints a 0..1 ratio as a percentage with one decimal.
func pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

// when prints a time in UTC to the minute; zero is "never".
func when(t any) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v == nil {
			return "never"
		}
		tt = *v
	}
	if tt.IsZero() {
		return "never"
	}
	return tt.UTC().Format("2006-01-02 15:04 UTC")
}

// dur prints a duration rounded for people: 850ms, 12.3s, 4m10s.
func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// jsonValue renders a change value as the reports do: JSON, so strings are
// quoted and an absent value reads null.
func jsonValue(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return visible(fmt.Sprint(v))
	}
	return visible(strings.TrimSuffix(buf.String(), "\n"))
}

// prettyJSON indents a raw JSON payload for reading; anything else is
// shown as it is.
func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return visible(string(raw))
	}
	return visible(buf.String())
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// statusLabel is how a status or state reads in a badge.
func statusLabel(s string) string {
	switch s {
	case "not_evaluated":
		return "not evaluated"
	case "":
		return "unknown"
	}
	return s
}
