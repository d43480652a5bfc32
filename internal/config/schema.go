package config

import (
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// JSONSchema describes plumb.yaml as a JSON Schema (draft 2020-12), built
// from the Go types the loader decodes into, so the published schema
// (docs/plumb.schema.json, for editors and CI linters) cannot drift from
// what plumb accepts. Semantic rules (known environments, limits) stay in
// the loader, whose errors carry lines.
func JSONSchema() map[string]any {
	g := &schemaGen{defs: map[string]any{}, open: map[reflect.Type]bool{}, recursive: map[reflect.Type]bool{}}
	s := g.schemaFor(reflect.TypeOf(Config{}))
	if len(g.defs) > 0 {
		s["$defs"] = g.defs
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://plumb.dev/schemas/plumb.schema.json"
	s["title"] = "plumb.yaml"
	s["description"] = "Configuration of plumb serve and plumb scan --config: environments, event sources, subscriptions, queue alerts, routes and receivers, the web console's logins and finding ownership. Secrets are never inline: {env: NAME} or {file: PATH}."
	return s
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	nodeType     = reflect.TypeOf(yaml.Node{})
	secretType   = reflect.TypeOf(Secret{})
	enforceType  = reflect.TypeOf(Enforcement{})
	// enforceYAMLType is how the mapping form of enforcement is written.
	enforceYAMLType = reflect.TypeOf(enforcementYAML{})
	accountType     = reflect.TypeOf(Account{})
	controlsType    = reflect.TypeOf(Controls{})
)

// schemaGen builds schemas; a type that contains itself (the routing
// tree) becomes a definition referenced by $ref.
type schemaGen struct {
	defs      map[string]any
	open      map[reflect.Type]bool
	recursive map[reflect.Type]bool
}

func (g *schemaGen) schemaFor(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
			"description": "a Go duration: 500ms, 30s, 5m, 1h30m"}
	case nodeType:
		return map[string]any{"type": "object", "description": "an EventBridge event pattern"}
	case enforceType:
		return enforcementSchema(g)
	case accountType:
		return accountSchema(g)
	case secretType:
		return map[string]any{"type": "object", "additionalProperties": false,
			"description": "a secret read from an environment variable or a file, never written inline",
			"properties":  map[string]any{"env": map[string]any{"type": "string"}, "file": map[string]any{"type": "string"}}}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaFor(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		ref := map[string]any{"$ref": "#/$defs/" + t.Name()}
		if g.open[t] {
			g.recursive[t] = true
			return ref
		}
		g.open[t] = true
		defer delete(g.open, t)
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if opts == "inline" && f.Type.Kind() == reflect.Struct {
				// Inlined fields (an environment's compliance settings
				// and controls) are properties of the enclosing object.
				inner := g.schemaFor(f.Type)
				if p, ok := inner["properties"].(map[string]any); ok {
					for k, v := range p {
						props[k] = v
					}
				}
				if f.Type == controlsType {
					controlsSchema(props)
				}
				continue
			}
			if name == "-" || name == "" {
				continue
			}
			props[name] = g.schemaFor(f.Type)
		}
		obj := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
		if g.recursive[t] {
			g.defs[t.Name()] = obj
			return ref
		}
		return obj
	}
	return map[string]any{}
}
