package config

import (
	"bufio"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocsYAMLExamples checks every ```yaml block of the README and the
// docs that is a piece of plumb.yaml (its top-level keys are config
// sections) against the config's shape: a field name the loader does not
// know, or a value of the wrong kind, in the documentation fails here.
// Blocks of other formats (policy rules, Alertmanager's config) are not
// plumb.yaml and are left alone.
func TestDocsYAMLExamples(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sections := yamlFields(reflect.TypeOf(Config{}))
	checked := 0
	for _, file := range append(files, "../../README.md") {
		for _, b := range yamlBlocks(t, file) {
			var top map[string]any
			if yaml.Unmarshal([]byte(b.text), &top) != nil || len(top) == 0 {
				continue
			}
			isConfig := true
			for k := range top {
				isConfig = isConfig && containsString(sections, k)
			}
			if !isConfig {
				continue
			}
			checked++
			for _, e := range CheckShape(fmt.Sprintf("%s (block at line %d)", file, b.line), []byte(b.text)) {
				t.Errorf("%v", e)
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d plumb.yaml blocks found in the docs; the extraction is broken", checked)
	}
}

type yamlBlock struct {
	line int
	text string
}

func yamlBlocks(t *testing.T, file string) []yamlBlock {
	t.Helper()
	var out []yamlBlock
	sc := bufio.NewScanner(strings.NewReader(string(mustRead(t, file))))
	var cur *yamlBlock
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```yaml":
			cur = &yamlBlock{line: n + 1}
		case cur != nil && strings.HasPrefix(strings.TrimSpace(line), "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
