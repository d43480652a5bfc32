package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/plumb.schema.json")

const schemaPath = "../../docs/plumb.schema.json"

// TestSchemaUpToDate keeps the published schema equal to what the loader
// accepts: change a config type and this test says to regenerate it.
func TestSchemaUpToDate(t *testing.T) {
	want, err := json.MarshalIndent(JSONSchema(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *updateSchema {
		if err := os.WriteFile(schemaPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./internal/config -run TestSchemaUpToDate -update-schema", schemaPath)
	}
}

// TestExampleMatchesSchema validates the example config against the
// published schema, and checks that the schema rejects what the loader
// rejects for structure (unknown fields, wrong types).
func TestExampleMatchesSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(mustRead(t, schemaPath))))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("plumb.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("plumb.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		yaml  string
		valid bool
	}{
		{"example", string(mustRead(t, "testdata/plumb.yaml")), true},
		{"minimal example", string(mustRead(t, "../../examples/plumb.yaml")), true},
		{"reference example", string(mustRead(t, referencePath)), true},
		{"unknown field", "server: {listn: x}\n", false},
		{"wrong type", "server: {workers: many}\n", false},
		{"bad duration", "queue_alerts: [{name: a, state: retry, threshold: 1, for: soon}]\n", false},
		{"inline secret", "sources: {eventgrid: {key: hunter2}}\n", false},
		{"enforcement short form", "environments: [{name: a, enforcement: report}]\n", true},
		{"enforcement short delete", "environments: [{name: a, enforcement: delete}]\n", false},
		{"enforcement unknown word", "environments: [{name: a, accounts: ['123456789012'], enforcement: {unmanaged: nuke}}]\n", false},
		{"enforcement unknown setting", "environments: [{name: a, enforcement: {blast: 1}}]\n", false},
		{"enforcement max_actions 0", "environments: [{name: a, enforcement: {max_actions: 0}}]\n", false},
		{"account id as number", "environments: [{name: a, accounts: [123456789012]}]\n", true},
		{"account id malformed", "environments: [{name: a, accounts: [prod]}]\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := yaml.Unmarshal([]byte(tc.yaml), &v); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			err = sch.Validate(inst)
			if (err == nil) != tc.valid {
				t.Errorf("valid = %v, want %v: %v", err == nil, tc.valid, err)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
