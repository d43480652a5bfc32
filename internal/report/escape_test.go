package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestVisible(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain-id_1", "plain-id_1"},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"日本語 🚀 café", "日本語 🚀 café"},
		{"evil\u202etxt", `evil\u202etxt`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"line\u2028sep", `line\u2028sep`},
	}
	for _, c := range cases {
		if got := visible(c.in); got != c.want {
			t.Errorf("visible(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 40); got != "short" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("é", 100)
	got := truncate(long, 40)
	if n := utf8.RuneCountInString(got); n != 40 || !strings.HasSuffix(got, "...") || !utf8.ValidString(got) {
		t.Errorf("truncate to 40 runes: got %q (%d runes)", got, n)
	}
}

func TestMdText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Resource changed outside code (web)", "Resource changed outside code (web)"},
		{"a|b", `a\|b`},
		{"<img src=x onerror=alert(1)>", `\<img src=x onerror=alert(1)\>`},
		{"[x](http://e) *b* _i_ `c` ~s~ $m$ &amp; !", `\[x\](http://e) \*b\* \_i\_ \` + "`" + `c\` + "`" + ` \~s\~ \$m\$ \&amp; \!`},
		{"# h", `\# h`},
		{"- item", `\- item`},
		{"1. item", `1\. item`},
		{"v1.2", "v1.2"},
		{"a\nb", `a\\nb`},
		{`back\slash`, `back\\slash`},
	}
	for _, c := range cases {
		if got := mdText(c.in); got != c.want {
			t.Errorf("mdText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMdCode(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"sg-1", "`sg-1`"},
		{"a`b", "``a`b``"},
		{"`x`", "`` `x` ``"},
		{"a|b", "`a\\|b`"},
		{`a\|b`, "`a\\\\\\|b`"},
		{`a\\|b`, "`a\\\\\\|b`"},
		{"<b>", "`<b>`"},
		{"a\nb", "`a\\nb`"},
		{" x ", "`  x  `"},
	}
	for _, c := range cases {
		got := mdCode(c.in)
		if got != c.want {
			t.Errorf("mdCode(%q) = %q, want %q", c.in, got, c.want)
		}
		if gfmCells("|"+got+"|") != 1 {
			t.Errorf("mdCode(%q) = %q splits a table cell", c.in, got)
		}
	}
}
