package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// packFS holds the built-in packs. Each file is named after the standard
// whose controls it was written for; rules also carry the controls of the
// other standard when they check the same thing.
//
//go:embed packs/*.yaml
var packFS embed.FS

func packNames() []string {
	entries, err := fs.ReadDir(packFS, "packs")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// embeddedRules parses every embedded pack file, in name order.
func embeddedRules() ([]*Rule, error) {
	var all []*Rule
	for _, n := range packNames() {
		file := path.Join("packs", n+".yaml")
		data, err := packFS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("policy: reading built-in pack %s: %w", n, err)
		}
		rules, err := parseFile("builtin:"+file, data)
		if err != nil {
			return nil, fmt.Errorf("policy: built-in pack %s: %w", n, err)
		}
		all = append(all, rules...)
	}
	if err := dupIDs(all); err != nil {
		return nil, fmt.Errorf("policy: built-in packs: %w", err)
	}
	return all, nil
}

// packRules returns the embedded rules that implement a control of the
// named standard, whichever file they are written in.
func packRules(name string) ([]*Rule, error) {
	known := false
	for _, n := range packNames() {
		if n == name {
			known = true
		}
	}
	if !known {
		return nil, fmt.Errorf("policy: unknown pack %q (built-in packs: %s)", name, strings.Join(packNames(), ", "))
	}
	all, err := embeddedRules()
	if err != nil {
		return nil, err
	}
	var out []*Rule
	for _, r := range all {
		if len(r.Controls[name]) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}
