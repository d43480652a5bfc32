package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"plumb/internal/filter"
	"plumb/internal/model"
)

// TestPatternJSON pins how a YAML event pattern becomes the JSON the
// matcher compiles: numbers keep their spelling (so 64-bit ids and 300.0
// compare as EventBridge compares them), strings are not HTML-escaped,
// and YAML-only number spellings become their value.
func TestPatternJSON(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"big integer kept exactly", `{detail: {id: [12345678901234567890]}}`, `{"detail":{"id":[12345678901234567890]}}`},
		{"decimal spelling kept", `{detail: {n: [300.0, 3.0e2, -0.5]}}`, `{"detail":{"n":[300.0,3.0e2,-0.5]}}`},
		{"no HTML escaping", `{detail: {q: ["a<b&c>d"]}}`, `{"detail":{"q":["a<b&c>d"]}}`},
		{"YAML-only numbers become values", `{n: [0x1F, 0o17, +5, 1_000]}`, `{"n":[31,15,5,1000]}`},
		{"null, bool, quoted number", `{a: [null, true, "42"]}`, `{"a":[null,true,"42"]}`},
		{"operators", "source: [aws.ec2]\ndetail:\n  state: [{anything-but: {prefix: init}}]\n  size: [{numeric: ['>', 0, '<=', 5]}]\n",
			`{"source":["aws.ec2"],"detail":{"state":[{"anything-but":{"prefix":"init"}}],"size":[{"numeric":[">",0,"<=",5]}]}}`},
		{"order kept", `{b: [1], a: [2]}`, `{"b":[1],"a":[2]}`},
		{"alias expanded", "x: &v [1]\ny: *v\n", `{"x":[1],"y":[1]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			got, err := patternJSON(&n)
			if err != nil {
				t.Fatalf("patternJSON: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestPatternJSONBigIntegersDoNotCollide is the bug this file fixes: going
// through float64 made two different 20-digit ids the same number.
func TestPatternJSONBigIntegersDoNotCollide(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`{detail: {id: [12345678901234567890]}}`), &n); err != nil {
		t.Fatal(err)
	}
	b, err := patternJSON(&n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := filter.CompilePattern(b)
	if err != nil {
		t.Fatal(err)
	}
	for event, want := range map[string]bool{
		`{"detail":{"id":12345678901234567890}}`: true,
		`{"detail":{"id":12345678901234567891}}`: false,
	} {
		d, err := filter.NewDoc(model.Event{Raw: []byte(event)})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(d); got != want {
			t.Errorf("Match(%s) = %v, want %v", event, got, want)
		}
	}
}

func TestPatternJSONRefuses(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	tests := []struct{ name, yaml, want string }{
		{"alias bomb", bomb, "more than 1048576 bytes"},
		{"merge key", "base: &b {x: [1]}\nm: {<<: *b}\n", "merge keys and complex keys are not supported"},
		{"complex key", "? [a]\n: [1]\n", "a pattern key must be plain text"},
		{"infinity", "n: [.inf]\n", "infinity and NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			_, err := patternJSON(&n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
