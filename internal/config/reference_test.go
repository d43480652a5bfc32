package config

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const referencePath = "../../examples/plumb.reference.yaml"

// TestReferenceConfigHasEveryField keeps examples/plumb.reference.yaml
// complete: every field of every config type must appear in it (with a
// comment saying what it means), so a field added to the loader without
// documenting it fails here. Loading it is checked by the CLI tests
// (plumb config validate on every shipped config).
func TestReferenceConfigHasEveryField(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(mustRead(t, referencePath), &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var secretForms []string
	var collect func(n *yaml.Node, path string)
	collect = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := join(path, n.Content[i].Value)
				have[p] = true
				if k := n.Content[i].Value; k == "env" || k == "file" {
					secretForms = append(secretForms, k)
				}
				collect(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				collect(c, path+"[]")
			}
		}
	}
	collect(doc.Content[0], "")
	// A type used in several places (a webhook source, GitHub auth, a
	// route node) must show each of its fields in one of them: a root
	// route cannot have matchers, an advisory cannot use a token.
	places := map[string][]string{}
	fieldPlaces(reflect.TypeOf(Config{}), "", map[reflect.Type]int{}, places)
	for field, paths := range places {
		found := false
		for _, p := range paths {
			found = found || have[p]
		}
		if !found {
			t.Errorf("%s lacks the field %s (at %s)", referencePath, field, strings.Join(paths, " or "))
		}
	}
	for _, form := range []string{"env", "file"} {
		if !strings.Contains(strings.Join(secretForms, " "), form) {
			t.Errorf("%s has no secret given as {%s: ...}", referencePath, form)
		}
	}
}

// fieldPlaces records, for every field of every config type below t
// ("Route.matchers"), the YAML paths where it can be written
// ("route.routes[].matchers"). Secrets, durations and event patterns are
// leaves; a type met again below itself (the routing tree) is expanded
// once more, so its children's fields count.
func fieldPlaces(t reflect.Type, path string, depth map[reflect.Type]int, out map[string][]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretType || t == durationType || t == nodeType:
		return
	case t == enforceType:
		t = enforceYAMLType
	case t == accountType:
		t = reflect.TypeOf(accountYAML{})
	case t.Kind() == reflect.Slice:
		fieldPlaces(t.Elem(), path+"[]", depth, out)
		return
	case t.Kind() != reflect.Struct || depth[t] > 1:
		return
	}
	depth[t]++
	defer func() { depth[t]-- }()
	fields, names := yamlFields(t)
	for _, name := range names {
		if fields[name].Tag.Get("plumb") == "older-name" {
			continue // still read, documented under its current name
		}
		p := join(path, name)
		key := t.Name() + "." + name
		out[key] = append(out[key], p)
		fieldPlaces(fields[name].Type, p, depth, out)
	}
}
