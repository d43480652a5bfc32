package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"plumb/internal/model"
)

// A rule file looks like this:
//
//	rules:
//	  - id: aws-ebs-volume-encrypted
//	    title: EBS volumes are encrypted at rest
//	    resource: aws_ebs_volume          # or a list of types
//	    deny: '!has(resource.encrypted) || resource.encrypted != true'
//	    message: EBS volume is not encrypted
//	    severity: high                    # low | medium | high | critical
//	    security: true
//	    controls: {pci-dss-4.0: ["3.5.1"], cis-aws-3.0: ["2.2.1"]}
//	    remediation: Set encrypted = true.
//	    examples:
//	      pass: [{encrypted: true}]
//	      fail: [{encrypted: false}]
//
// The file is decoded through yaml.Node, by hand, so that every error names
// the file and line and an unknown key (a typo such as `severty`) is an
// error rather than a silently ignored field.

// LoadError is a problem in a rule file, at a line. Error() reads
// "FILE:LINE: message", the form editors and CI annotations jump to.
type LoadError struct {
	File string
	Line int
	Msg  string
	Err  error // underlying cause, when there is one
}

func (e *LoadError) Error() string { return where(e.File, e.Line) + ": " + e.Msg }

// Unwrap returns the underlying cause.
func (e *LoadError) Unwrap() error { return e.Err }

func where(file string, line int) string {
	if file == "" {
		file = "<rules>"
	}
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

var severityRank = map[model.Severity]int{
	model.SeverityLow: 0, model.SeverityMedium: 1, model.SeverityHigh: 2, model.SeverityCritical: 3,
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

var ruleKeys = map[string]bool{
	"id": true, "title": true, "resource": true, "deny": true, "message": true, "severity": true,
	"security": true, "controls": true, "remediation": true, "examples": true,
}

// readPaths reads rule files and directories, in the order given (a
// directory in lexical order), and reports duplicate ids across them.
func readPaths(paths []string) ([]*Rule, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("policy: reading rules: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("policy: reading rule directory %s: %w", p, err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	var all []*Rule
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("policy: reading rules: %w", err)
		}
		rules, err := parseFile(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, rules...)
	}
	if err := dupIDs(all); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

func dupIDs(rules []*Rule) error {
	first := map[string]*Rule{}
	var errs []error
	for _, r := range rules {
		if prev, ok := first[r.ID]; ok {
			errs = append(errs, &LoadError{File: r.File, Line: r.Line,
				Msg: fmt.Sprintf("duplicate rule id %q (first defined at %s)", r.ID, where(prev.File, prev.Line))})
			continue
		}
		first[r.ID] = r
	}
	return errors.Join(errs...)
}

// parseFile decodes one rule file. It never compiles CEL; Compile does.
func parseFile(file string, data []byte) ([]*Rule, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlErr(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: file, Line: extra.Line, Msg: "a rule file holds one YAML document"}
	}
	if len(doc.Content) == 0 {
		return nil, &LoadError{File: file, Line: 1, Msg: "empty rule file: want a `rules:` list"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &LoadError{File: file, Line: root.Line, Msg: "want a mapping with a `rules:` list"}
	}
	p := &parser{file: file}
	var rulesNode *yaml.Node
	p.fields(root, func(key string, k, v *yaml.Node) {
		if key != "rules" {
			p.errf(k, "unknown key %q (want rules)", key)
			return
		}
		rulesNode = v
	})
	if rulesNode == nil {
		p.errf(root, "missing `rules:` list")
		return nil, p.err()
	}
	if rulesNode.Kind != yaml.SequenceNode {
		p.errf(rulesNode, "`rules` must be a list")
		return nil, p.err()
	}
	var rules []*Rule
	for _, n := range rulesNode.Content {
		if r := p.rule(n); r != nil {
			rules = append(rules, r)
		}
	}
	if err := dupIDs(rules); err != nil {
		p.errs = append(p.errs, err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return rules, nil
}

// yamlErr turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// LoadError with the line where yaml.v3 says it.
func yamlErr(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, rest, ok := strings.Cut(msg, ": "); ok {
		if _, e := fmt.Sscanf(n, "line %d", &line); e == nil {
			msg = rest
		}
	}
	return &LoadError{File: file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

type parser struct {
	file string
	errs []error
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &LoadError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error { return errors.Join(p.errs...) }

// fields walks a mapping node, rejecting duplicate and non-string keys.
func (p *parser) fields(m *yaml.Node, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "keys must be strings")
			continue
		}
		if seen[k.Value] {
			p.errf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, resolveAlias(v))
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && n.Alias != n {
		n = n.Alias
	}
	return n
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := p.str(n, what)
		return []string{s}, ok
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			s, ok := p.str(resolveAlias(c), what)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	p.errf(n, "%s must be a string or a list of strings", what)
	return nil, false
}

func (p *parser) rule(n *yaml.Node) *Rule {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		p.errf(n, "each rule must be a mapping")
		return nil
	}
	before := len(p.errs)
	r := &Rule{File: p.file, Line: n.Line, Severity: model.SeverityMedium}
	var hasResource bool
	p.fields(n, func(key string, k, v *yaml.Node) {
		if !ruleKeys[key] {
			p.errf(k, "unknown key %q in rule", key)
			return
		}
		switch key {
		case "id":
			if s, ok := p.str(v, "id"); ok {
				if !idPattern.MatchString(s) {
					p.errf(v, "invalid rule id %q (letters, digits, '.', '_', ':', '-')", s)
				}
				r.ID = s
			}
		case "title":
			r.Title, _ = p.str(v, "title")
		case "message":
			r.Message, _ = p.str(v, "message")
		case "remediation":
			r.Remediation, _ = p.str(v, "remediation")
		case "deny":
			r.DenyLine = k.Line
			if s, ok := p.str(v, "deny"); ok {
				if strings.TrimSpace(s) == "" {
					p.errf(k, "deny is empty")
				}
				r.Deny = s
			}
		case "resource":
			hasResource = true
			types, ok := p.strList(v, "resource")
			if !ok {
				return
			}
			if len(types) == 0 {
				p.errf(v, "resource lists no types")
			}
			for _, t := range types {
				if !typePattern.MatchString(t) {
					p.errf(v, "invalid Terraform type %q", t)
				}
			}
			r.Resources = types
		case "severity":
			if s, ok := p.str(v, "severity"); ok {
				sev := model.Severity(strings.ToLower(s))
				if _, ok := severityRank[sev]; !ok {
					p.errf(v, "severity %q is not one of low, medium, high, critical", s)
				}
				r.Severity = sev
			}
		case "security":
			var b bool
			if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
				p.errf(v, "security must be true or false")
			}
			r.Security = b
		case "controls":
			r.Controls = p.controls(v)
		case "examples":
			r.Examples = p.examples(v)
		}
	})
	if r.ID == "" {
		p.errf(n, "rule has no id")
	}
	label := r.ID
	if label == "" {
		label = "without id"
	}
	if !hasResource {
		p.errf(n, "rule %s: missing resource (a Terraform type or a list of them)", label)
	}
	if r.DenyLine == 0 {
		p.errf(n, "rule %s: missing deny expression", label)
	}
	if len(p.errs) > before {
		return nil
	}
	return r
}

func (p *parser) controls(n *yaml.Node) map[string][]string {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "controls must map a standard to a list of control ids")
		return nil
	}
	out := map[string][]string{}
	p.fields(n, func(std string, k, v *yaml.Node) {
		if std == "" {
			p.errf(k, "empty standard name")
			return
		}
		ids, ok := p.strList(v, "control ids of "+std)
		if !ok {
			return
		}
		for _, id := range ids {
			if strings.TrimSpace(id) == "" {
				p.errf(v, "empty control id for %s", std)
				return
			}
		}
		out[std] = ids
	})
	return out
}

func (p *parser) examples(n *yaml.Node) Examples {
	var ex Examples
	if n.Kind != yaml.MappingNode {
		p.errf(n, "examples must be a mapping with pass and fail lists")
		return ex
	}
	p.fields(n, func(key string, k, v *yaml.Node) {
		var dst *[]Example
		switch key {
		case "pass":
			dst = &ex.Pass
		case "fail":
			dst = &ex.Fail
		default:
			p.errf(k, "unknown key %q in examples (want pass, fail)", key)
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errf(v, "examples.%s must be a list of attribute maps", key)
			return
		}
		for _, c := range v.Content {
			c = resolveAlias(c)
			if c.Kind != yaml.MappingNode {
				p.errf(c, "each example must be a map of attributes")
				continue
			}
			if e, ok := p.example(c); ok {
				*dst = append(*dst, e)
			}
		}
	})
	return ex
}

// example reads one example: a map of attributes, or, for rules that look
// at related resources, a map with `resource` (the attributes) and
// `related` (Terraform type to a list of attribute maps).
func (p *parser) example(c *yaml.Node) (Example, bool) {
	if isFullExample(c) {
		var e Example
		ok := true
		p.fields(c, func(key string, k, v *yaml.Node) {
			switch key {
			case "resource":
				e.Attributes, ok = p.attrMap(v, "example resource")
			case "related":
				if v.Kind != yaml.MappingNode {
					p.errf(v, "example related must map Terraform types to lists of attribute maps")
					ok = false
					return
				}
				e.Related = map[string][]map[string]any{}
				p.fields(v, func(typ string, tk, tv *yaml.Node) {
					if !typePattern.MatchString(typ) {
						p.errf(tk, "invalid Terraform type %q in example related", typ)
						ok = false
						return
					}
					if tv.Kind != yaml.SequenceNode {
						p.errf(tv, "example related.%s must be a list of attribute maps", typ)
						ok = false
						return
					}
					list := []map[string]any{}
					for _, item := range tv.Content {
						m, good := p.attrMap(resolveAlias(item), "related "+typ)
						if !good {
							ok = false
							continue
						}
						list = append(list, m)
					}
					e.Related[typ] = list
				})
			}
		})
		return e, ok
	}
	m, ok := p.attrMap(c, "example")
	return Example{Attributes: m}, ok
}

// isFullExample tells the two example forms apart: the full form has a
// `resource` mapping and no key but resource and related.
func isFullExample(c *yaml.Node) bool {
	hasResource := false
	for i := 0; i+1 < len(c.Content); i += 2 {
		switch c.Content[i].Value {
		case "resource":
			hasResource = resolveAlias(c.Content[i+1]).Kind == yaml.MappingNode
		case "related":
		default:
			return false
		}
	}
	return hasResource
}

func (p *parser) attrMap(c *yaml.Node, what string) (map[string]any, bool) {
	if c.Kind != yaml.MappingNode {
		p.errf(c, "%s must be a map of attributes", what)
		return nil, false
	}
	var m map[string]any
	if err := c.Decode(&m); err != nil {
		p.errf(c, "%s: %v", what, err)
		return nil, false
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, true
}
