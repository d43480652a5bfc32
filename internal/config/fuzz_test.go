package config

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary YAML to the loader: it must return a config
// or an error, never panic.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/plumb.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte("server: {listen: x}\n"))
	f.Add([]byte("subscriptions: [{name: a, environment: b, handlers: [{type: audit}], event_pattern: {a: [1]}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, func(string) string { return "v" })
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
