package filter

import (
	"fmt"
	"strings"
	"testing"
)

// TestPatternSemanticsPlumbChose covers what AWS leaves open or what plumb
// decided (docs/filters.md lists each with its reason): exact numbers,
// dotted keys, exists on empty arrays and objects, nested arrays.
func TestPatternSemanticsPlumbChose(t *testing.T) {
	tests := []struct {
		name, pattern, event string
		want                 bool
	}{
		// Exact numbers: equal by value when float64 holds both exactly,
		// otherwise only when spelled the same.
		{"20-digit ids differ", `{"id":[12345678901234567890]}`, `{"id":12345678901234567891}`, false},
		{"20-digit id equal", `{"id":[12345678901234567890]}`, `{"id":12345678901234567890}`, true},
		{"20-digit id other spelling", `{"id":[12345678901234567890]}`, `{"id":12345678901234567890.0}`, false},
		{"2^53+1 is not 2^53", `{"id":[9007199254740993]}`, `{"id":9007199254740992}`, false},
		{"2^53 is not 2^53+1", `{"id":[9007199254740992]}`, `{"id":9007199254740993}`, false},
		{"2^53 in two spellings", `{"id":[9007199254740992]}`, `{"id":9007199254740992.0}`, true},
		{"account id as number", `{"account":[123456789012]}`, `{"account":123456789012}`, true},
		{"account id in exponent form", `{"account":[123456789012]}`, `{"account":1.23456789012e11}`, true},
		{"0.1 and 0.10", `{"n":[0.1]}`, `{"n":0.10}`, true},
		{"0.1 and 1e-1", `{"n":[0.1]}`, `{"n":1e-1}`, true},
		{"-0 and 0", `{"n":[-0]}`, `{"n":0}`, true},
		{"beyond float64, same spelling", `{"n":[1e400]}`, `{"n":1e400}`, true},
		{"beyond float64, other number", `{"n":[1e400]}`, `{"n":2e400}`, false},
		{"number is not its string", `{"n":[300]}`, `{"n":"300"}`, false},
		{"anything-but 20-digit id, other id", `{"id":[{"anything-but":[12345678901234567890]}]}`, `{"id":12345678901234567891}`, true},
		{"anything-but 20-digit id, same id", `{"id":[{"anything-but":[12345678901234567890]}]}`, `{"id":12345678901234567890}`, false},
		{"anything-but single 20-digit id", `{"id":[{"anything-but":12345678901234567890}]}`, `{"id":12345678901234567899}`, true},
		{"anything-but 300 excludes 3.0e2", `{"n":[{"anything-but":[300]}]}`, `{"n":3.0e2}`, false},
		{"anything-but number, string value", `{"n":[{"anything-but":5}]}`, `{"n":"5"}`, true},
		{"numeric on a 20-digit id never matches", `{"id":[{"numeric":[">",0]}]}`, `{"id":12345678901234567890}`, false},
		{"numeric on 1e300", `{"n":[{"numeric":[">",0]}]}`, `{"n":1e300}`, true},
		{"numeric just above the bound, beyond float64 precision", `{"n":[{"numeric":["<=",5e9]}]}`, `{"n":5000000000.0000000001}`, false},

		// Dotted keys.
		{"dotted and nested keys merge", `{"a.b":[1],"a":{"c":[2]}}`, `{"a":{"b":1,"c":2}}`, true},
		{"three levels, dotted in the middle", `{"a":{"b":{"c":[1]}}}`, `{"a":{"b.c":1}}`, true},
		{"dotted pattern, partly dotted event", `{"a.b.c":[1]}`, `{"a.b":{"c":1}}`, true},
		{"leaf and dotted child", `{"a":["x"],"a.b":["y"]}`, `{"a":"x","a.b":"y"}`, true},
		{"leaf and dotted child, child missing", `{"a":["x"],"a.b":["y"]}`, `{"a":"x"}`, false},
		{"event with nested and dotted values: dotted one", `{"a":{"b":[2]}}`, `{"a":{"b":1},"a.b":2}`, true},
		{"event with nested and dotted values: nested one", `{"a":{"b":[1]}}`, `{"a":{"b":1},"a.b":2}`, true},
		{"event with nested and dotted values: neither", `{"a":{"b":[3]}}`, `{"a":{"b":1},"a.b":2}`, false},
		{"dotted keys inside an array of objects", `{"e":{"x":{"y":[2]}}}`, `{"e":[{"x.y":1},{"x":{"y":2}}]}`, true},
		{"fields from two elements still do not combine", `{"e":{"x.y":[1],"z":[2]}}`, `{"e":[{"x.y":1},{"z":2}]}`, false},
		{"empty segment", `{"a..b":[1]}`, `{"a":{"":{"b":1}}}`, true},
		{"dotted key in an $or alternative", `{"$or":[{"a.b":[1]},{"c":[1]}]}`, `{"a":{"b":1}}`, true},

		// exists on empty arrays and objects, nested arrays.
		{"exists true on []", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
		{"exists false on []", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"exists true on {}", `{"a":[{"exists":true}]}`, `{"a":{}}`, false},
		{"exists false on {}", `{"a":[{"exists":false}]}`, `{"a":{}}`, true},
		{"exists true on [[]]", `{"a":[{"exists":true}]}`, `{"a":[[]]}`, false},
		{"exists true on [null]", `{"a":[{"exists":true}]}`, `{"a":[null]}`, true},
		{"nested arrays are flattened", `{"a":[2]}`, `{"a":[[1],[2,[3]]]}`, true},
		{"anything-but on [] does not match", `{"a":[{"anything-but":"x"}]}`, `{"a":[]}`, false},
		{"anything-but on a missing field does not match", `{"a":[{"anything-but":"x"}]}`, `{"b":1}`, false},
		{"nested pattern on an empty array", `{"a":{"b":[{"exists":false}]}}`, `{"a":[]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePattern([]byte(tt.pattern))
			if err != nil {
				t.Fatalf("CompilePattern: %v", err)
			}
			d := mustDoc(t, tt.event)
			if got := p.Match(d); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if v := p.Explain(d); v.Match != tt.want || (!v.Match && len(v.Reasons) == 0) {
				t.Errorf("Explain = %+v", v)
			}
		})
	}
}

// TestDottedKeysLeaveEventGridAlone: Azure documents no support for keys
// with dots, and plumb does not extend Event Grid filters to them; the
// raw envelope is what advanced filters read, even after a pattern split
// the same Doc's keys.
func TestDottedKeysLeaveEventGridAlone(t *testing.T) {
	d := mustDoc(t, `{"data":{"john.doe@contoso.com":"x","a":{"b":"nested"}}}`)
	p, err := CompilePattern([]byte(`{"data":{"john":{"doe@contoso":{"com":["x"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match(d) {
		t.Fatal("the pattern does not see the dotted key")
	}
	for _, tc := range []struct {
		f    AdvancedFilter
		want bool
	}{
		{af("StringIn", "data.john.doe@contoso.com", "x"), false},
		{af("StringIn", "data.a.b", "nested"), true},
		{AdvancedFilter{OperatorType: "IsNullOrUndefined", Key: "data.john"}, true},
	} {
		m, err := EventGrid{AdvancedFilters: []AdvancedFilter{tc.f}}.Compile()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(d); got != tc.want {
			t.Errorf("%s %s: Match = %v, want %v", tc.f.OperatorType, tc.f.Key, got, tc.want)
		}
	}
}

func TestExactFloat(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"0", true}, {"-0", true}, {"300", true}, {"300.0", true}, {"3.0e2", true}, {"3E+2", true},
		{"0.1", true}, {"1e-1", true}, {"301.8", true}, {"123456789012", true},
		{"9007199254740992", true}, {"9007199254740993", false},
		{"12345678901234567890", false}, {"1.7976931348623157e308", true}, {"1e400", false},
		{"0.30000000000000004", true}, {"0.300000000000000041", false},
		{"0e99999999999999999999", true}, {"1e-99999999999999999999", false},
		{"5e-324", true}, {"1e-400", false},
	} {
		f := mustNumber(t, tc.s)
		if got := exactFloat(tc.s, f.f); got != tc.want {
			t.Errorf("exactFloat(%s) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func mustNumber(t *testing.T, s string) number {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := v.(number)
	if !ok {
		t.Fatalf("%s is not a number", s)
	}
	return n
}

func TestCompareDecimal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0}, {"-0", "0", 0}, {"0.5", "0.25", 1}, {"-1", "1", -1}, {"-2", "-1", -1},
		{"1e3", "999", 1}, {"0.001", "1e-3", 0}, {"0", "-1e-9", 1}, {"12345678901234567891", "12345678901234567890", 1},
	} {
		a, ok1 := canonicalDecimal(tc.a)
		b, ok2 := canonicalDecimal(tc.b)
		if !ok1 || !ok2 {
			t.Fatalf("canonicalDecimal(%s, %s) failed", tc.a, tc.b)
		}
		if got := compareDecimal(a, b); got != tc.want {
			t.Errorf("compareDecimal(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", "-", "1..2", "1e", "1e+", "abc", "1x"} {
		if _, ok := canonicalDecimal(bad); ok {
			t.Errorf("canonicalDecimal(%q) accepted", bad)
		}
	}
}

func TestPatternLimits(t *testing.T) {
	leaf := func(n int, r string) string { return `{"a":["` + strings.Repeat(r, n) + `"]}` }
	nest := func(levels int) string {
		// levels objects: {"k":{"k":...{"k":["v"]}}}
		return strings.Repeat(`{"k":`, levels-1) + `{"k":["v"]}` + strings.Repeat("}", levels-1)
	}
	orN := func(counts ...int) string {
		var parts []string
		for i, n := range counts {
			var alts []string
			for j := 0; j < n; j++ {
				alts = append(alts, fmt.Sprintf(`{"f%d":["%d"]}`, i, j))
			}
			parts = append(parts, fmt.Sprintf(`"l%d":{"$or":[%s]}`, i, strings.Join(alts, ",")))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	ok := []struct{ name, pattern string }{
		{"2048 characters", leaf(2038, "x")},
		{"2048 characters, whitespace not counted", strings.Replace(leaf(2038, "x"), `":[`, `" :  [ `, 1) + "\n\n"},
		{"2048 non-ASCII characters", leaf(2038, "é")},
		{"32 levels", nest(32)},
		{"1000 $or combinations", orN(10, 10, 10)},
		{"1000 $or combinations, nested", `{"$or":[{"a":["1"]},` + orN(10, 10, 5) + `]}`},
	}
	for _, tc := range ok {
		if _, err := CompilePattern([]byte(tc.pattern)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	bad := []struct{ name, pattern, want string }{
		{"2049 characters", leaf(2039, "x"), "event pattern: 2049 characters as compact JSON, above EventBridge's event pattern size quota of 2048 characters"},
		{"2049 non-ASCII characters", leaf(2039, "é"), "2049 characters"},
		{"33 levels", nest(33), "nested deeper than 32 levels"},
		{"33 levels through a dotted key", `{"k":` + strings.Repeat(`{"k":`, 30) + `{"k.k":["v"]}` + strings.Repeat("}", 31), "nested deeper than 32 levels"},
		{"1100 $or combinations", orN(10, 10, 11), "$or: 1100 rule combinations"},
		{"nested $or count too", `{"$or":[{"a":["1"]},` + orN(10, 10, 6) + `]}`, "$or: 1200 rule combinations"},
	}
	for _, tc := range bad {
		_, err := CompilePattern([]byte(tc.pattern))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestCompileAnythingButAndDottedErrors(t *testing.T) {
	tests := []struct{ name, pattern, want string }{
		{"prefix list empty", `{"a":[{"anything-but":{"prefix":[]}}]}`, "a[0].anything-but.prefix: empty list"},
		{"prefix list number", `{"a":[{"anything-but":{"prefix":["x",1]}}]}`, "a[0].anything-but.prefix[1]: needs a string, got number 1"},
		{"empty prefix", `{"a":[{"anything-but":{"prefix":""}}]}`, "a[0].anything-but.prefix: an empty prefix would exclude every value"},
		{"empty suffix in list", `{"a":[{"anything-but":{"suffix":["x",""]}}]}`, "a[0].anything-but.suffix[1]: an empty suffix"},
		{"bad wildcard in list", `{"a":[{"anything-but":{"wildcard":["a*","b**"]}}]}`, "a[0].anything-but.wildcard[1]: wildcard \"b**\": consecutive"},
		{"ignore-case object", `{"a":[{"anything-but":{"prefix":{"equals-ignore-case":"x"}}}]}`, "a[0].anything-but.prefix: needs a string, got an object"},
		{"two operators", `{"a":[{"anything-but":{"prefix":"x","suffix":"y"}}]}`, "a[0].anything-but: needs exactly one of"},
		{"path given twice", `{"a.b":["1"],"a":{"b":["2"]}}`, "event pattern: a.b: given twice"},
		{"path given twice deeper", `{"x":{"a.b":{"c":["1"]},"a":{"b":{"c":["2"]}}}}`, "x.a.b.c: given twice"},
		{"$or in a dotted key", `{"a.$or":[{"b":["1"]},{"c":["2"]}]}`, "a.$or: $or cannot be part of a dotted key"},
		{"scalar under a dotted key", `{"a":5,"a.b":["1"]}`, "a: must be an array of values or an object, got number 5"},
		{"empty pattern", `{}`, "$: empty object matches nothing useful"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompilePattern([]byte(tt.pattern))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
