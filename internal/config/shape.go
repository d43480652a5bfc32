package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkShape walks a plumb.yaml document against the Go types the loader
// decodes into and reports every key the config does not know and every
// value of the wrong kind, with its line, in the config's own words.
// yaml.v3 reports the same mistakes in Go's words ("field clod not found
// in type config.Environment", "cannot unmarshal !!str `x` into
// config.Secret"), which only make sense to someone who has read plumb's
// source. The walk follows the same reflection as the JSON Schema, so a
// field added to a config type is known here without a second list.
func checkShape(file string, doc *yaml.Node) Errors {
	s := &shapeChecker{file: file, seen: map[shapeVisit]bool{}}
	s.value(doc, reflect.TypeOf(Config{}), place{})
	return s.errs
}

type shapeChecker struct {
	file string
	errs Errors
	// seen records the nodes already checked as a type: an alias makes
	// one node appear in many places (a billion-laughs document in
	// exponentially many), but it needs checking, and reporting, once.
	seen map[shapeVisit]bool
	// depth bounds the walk: YAML aliases can make a small document
	// describe a deep (or, through a merge, repeated) tree.
	depth int
}

type shapeVisit struct {
	n *yaml.Node
	t reflect.Type
}

// maxShapeDepth is far deeper than any real plumb.yaml nests.
const maxShapeDepth = 64

// place is where a value sits in the config: its field path, as the
// semantic errors write it ("environments[0].states"), and the nearest
// named list element ("environment `prod`") to describe it to a person.
type place struct {
	path  string
	named string
	rel   string
}

func (p place) field(key string) place {
	q := p
	q.path = join(p.path, key)
	q.rel = join(p.rel, key)
	return q
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// item is the place of a list element; noun and name describe it
// ("environment", "prod") when the element has a name.
func (p place) item(i int, noun, name string) place {
	q := p
	q.path = fmt.Sprintf("%s[%d]", p.path, i)
	if name != "" {
		q.named = fmt.Sprintf("%s `%s`", noun, name)
		if p.named != "" {
			q.named += " of " + p.named
		}
		q.rel = ""
	} else {
		q.rel = fmt.Sprintf("%s[%d]", p.rel, i)
	}
	return q
}

// describe names the place for a person: "the top level", "`server`",
// "environment `prod`", "`retry` of subscription `s1`".
func (p place) describe() string {
	switch {
	case p.path == "":
		return "the top level"
	case p.named == "":
		return "`" + p.path + "`"
	case p.rel == "":
		return p.named
	default:
		return "`" + p.rel + "` of " + p.named
	}
}

// nouns name one element of each list of the config, for messages.
var nouns = map[string]string{
	"environments":     "environment",
	"subscriptions":    "subscription",
	"handlers":         "handler",
	"receivers":        "receiver",
	"routes":           "route",
	"sqs":              "SQS source",
	"storage_queues":   "storage queue source",
	"queue_alerts":     "queue alert",
	"advanced_filters": "advanced filter",
}

func (s *shapeChecker) errf(n *yaml.Node, field, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: s.file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// value checks one node against the type it decodes into.
func (s *shapeChecker) value(n *yaml.Node, t reflect.Type, at place) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxShapeDepth {
		s.errf(n, at.path, "nested too deeply (more than %d levels, through aliases?)", maxShapeDepth)
		return
	}
	n = resolve(n)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s.seen[shapeVisit{n, t}] {
		return
	}
	s.seen[shapeVisit{n, t}] = true
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && t != secretType {
		// An empty value decodes to the field's zero value, which
		// validation then judges like an absent field.
		return
	}
	switch t {
	case nodeType:
		return // an EventBridge pattern: any YAML; its own compiler judges it
	case secretType:
		s.secret(n, at)
		return
	case enforceType:
		// The short form is a word the validator judges; the mapping
		// form has the fields of enforcementYAML.
		if n.Kind != yaml.ScalarNode {
			s.mapping(n, enforceYAMLType, at)
		}
		return
	case accountType:
		s.accountShape(n, at)
		return
	case durationType:
		s.duration(n, at)
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			s.errf(n, at.path, "expected text, found %s", found(n))
		}
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			s.errf(n, at.path, "expected true or false, found %s", found(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s.integer(n, t, at)
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			s.errf(n, at.path, "expected a number, found %s", found(n))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.errf(n, at.path, "expected a list (`[a, b]`, or one `- item` per line), found %s", found(n))
			return
		}
		noun := nouns[lastKey(at.path)]
		for i, c := range n.Content {
			name := ""
			if noun != "" {
				name = nameOf(c, nameKeys[noun])
			}
			s.value(c, t.Elem(), at.item(i, noun, name))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.errf(n, at.path, "expected a mapping (`key: value` lines), found %s", found(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			s.value(n.Content[i+1], t.Elem(), at.field(n.Content[i].Value))
		}
	case reflect.Struct:
		s.mapping(n, t, at)
	}
}

// mapping checks the keys of a mapping against a struct's fields.
func (s *shapeChecker) mapping(n *yaml.Node, t reflect.Type, at place) {
	if n.Kind != yaml.MappingNode {
		s.errf(n, at.path, "expected a mapping of fields (`field: value`), found %s", found(n))
		return
	}
	fields, names := yamlFields(t)
	seen := map[string]int{}
	check := func(k, v *yaml.Node) {
		if k.Kind != yaml.ScalarNode {
			s.errf(k, at.path, "a field name must be plain text, found %s", found(k))
			return
		}
		f, ok := fields[k.Value]
		if !ok {
			s.unknown(k, k.Value, names, at)
			return
		}
		s.value(v, f.Type, at.field(k.Value))
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := seen[k.Value]; dup && k.Kind == yaml.ScalarNode {
			s.errf(k, at.field(k.Value).path, "`%s` is set twice in %s (first on line %d)", k.Value, at.describe(), first)
			continue
		}
		seen[k.Value] = k.Line
		check(k, v)
	}
	// Keys merged in (<<: *base) count where the mapping itself does not
	// set them, as YAML says.
	for _, m := range merges {
		for _, mm := range mergedMappings(m) {
			for i := 0; i+1 < len(mm.Content); i += 2 {
				k := mm.Content[i]
				if k.ShortTag() == "!!merge" {
					continue // merges within merges: yaml.v3 judges those
				}
				if _, own := seen[k.Value]; own {
					continue
				}
				seen[k.Value] = k.Line
				check(k, mm.Content[i+1])
			}
		}
	}
}

// mergedMappings returns the mappings a YAML merge key (<<: *base or
// <<: [*a, *b]) brings in.
func mergedMappings(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			if c = resolve(c); c != nil && c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

func (s *shapeChecker) unknown(k *yaml.Node, key string, names []string, at place) {
	what := "unknown field `" + key + "` in " + at.describe()
	if at.path == "" {
		what = "unknown top-level field `" + key + "`"
	}
	if guess := suggest(key, names); guess != "" {
		s.errf(k, at.field(key).path, "%s; did you mean `%s`?", what, guess)
		return
	}
	s.errf(k, at.field(key).path, "%s (known fields: %s)", what, strings.Join(names, ", "))
}

// secretShape is the one sentence every secret mistake ends with.
const secretShape = "a secret must be {env: NAME} or {file: PATH}; secrets are never written in the config"

func (s *shapeChecker) secret(n *yaml.Node, at place) {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return // absent: validation says whether it is required
	case n.Kind == yaml.ScalarNode:
		// The value is probably the secret itself: never echo it.
		s.errf(n, at.path, "%s (found an inline value, not shown)", secretShape)
		return
	case n.Kind != yaml.MappingNode:
		s.errf(n, at.path, "%s (found %s)", secretShape, found(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		switch k.Value {
		case "env", "file":
			if v.Kind != yaml.ScalarNode {
				s.errf(v, at.field(k.Value).path, "expected the name of %s, found %s", map[string]string{"env": "an environment variable", "file": "a file"}[k.Value], found(v))
			}
		default:
			msg := "unknown field `" + k.Value + "` in " + at.describe()
			if guess := suggest(k.Value, []string{"env", "file"}); guess != "" {
				msg += "; did you mean `" + guess + "`?"
			}
			s.errf(k, at.field(k.Value).path, "%s: %s", msg, secretShape)
		}
	}
}

func (s *shapeChecker) duration(n *yaml.Node, at place) {
	const want = "expected a duration with a unit, such as 30s, 5m or 1h30m"
	if n.Kind != yaml.ScalarNode {
		s.errf(n, at.path, "%s, found %s", want, found(n))
		return
	}
	var d time.Duration
	if err := n.Decode(&d); err != nil {
		if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
			s.errf(n, at.path, "%s, found the bare number `%s` (write %ss for seconds)", want, n.Value, n.Value)
			return
		}
		s.errf(n, at.path, "%s, found %s", want, found(n))
	}
}

func (s *shapeChecker) integer(n *yaml.Node, t reflect.Type, at place) {
	const want = "expected a whole number"
	if n.Kind != yaml.ScalarNode {
		s.errf(n, at.path, "%s, found %s", want, found(n))
		return
	}
	if n.ShortTag() == "!!float" {
		// yaml.v3 would silently drop the fraction of 1.5.
		if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != float64(int64(f)) {
			s.errf(n, at.path, "%s, found %s", want, found(n))
			return
		}
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		if n.ShortTag() == "!!int" {
			s.errf(n, at.path, "%s, found %s, which is too large", want, found(n))
			return
		}
		s.errf(n, at.path, "%s, found %s", want, found(n))
	}
}

// resolve follows aliases and unwraps documents.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < maxShapeDepth; i++ {
		switch n.Kind {
		case yaml.AliasNode:
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

// found describes a value for "expected X, found Y".
func found(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		v = strings.NewReplacer("\n", `\n`, "`", "'").Replace(v)
		if n.ShortTag() == "!!str" && v == "" {
			return "an empty string"
		}
		return "`" + v + "`"
	}
	return "something else"
}

// nameKeys are the fields that name a list element when it is not
// "name": a handler is best known by its type.
var nameKeys = map[string]string{"handler": "type", "advanced filter": "key"}

// nameOf returns the scalar value of a mapping's name key (key, or
// "name" when key is empty), if any.
func nameOf(n *yaml.Node, key string) string {
	if key == "" {
		key = "name"
	}
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolve(n.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode {
				return v.Value
			}
		}
	}
	return ""
}

// lastKey is the last field name of a path: "sources.sqs" -> "sqs".
func lastKey(path string) string {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		return path[i+1:]
	}
	return path
}

// yamlFields maps a struct's YAML keys to its fields, in declaration
// order for the list of known fields.
func yamlFields(t reflect.Type) (map[string]reflect.StructField, []string) {
	fields := map[string]reflect.StructField{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			inner, innerNames := yamlFields(f.Type)
			for k, v := range inner {
				fields[k] = v
			}
			names = append(names, innerNames...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f
		names = append(names, name)
	}
	return fields, names
}

// suggest returns the known name closest to a mistyped one, or "" when
// none is close enough to be what was meant.
func suggest(key string, known []string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	best, bestD := "", -1
	for _, k := range known {
		if norm(k) == norm(key) {
			return k
		}
		d := editDistance(norm(key), norm(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	// One edit in a short name already turns it into another word
	// ("x" into "a"); only longer names get two.
	limit := 2
	switch {
	case len(key) <= 2:
		limit = 0
	case len(key) <= 5:
		limit = 1
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	// A known name that the key contains or is contained in
	// (retention -> retention_dead) is a good guess too.
	for _, k := range known {
		if len(key) >= 4 && (strings.HasPrefix(norm(k), norm(key)) || strings.HasPrefix(norm(key), norm(k))) {
			return k
		}
	}
	return ""
}

// editDistance is the Levenshtein distance (insert, delete, substitute),
// plus transposition of two neighbours, the commonest typo.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// CheckShape checks only the shape of a plumb.yaml fragment: YAML syntax,
// field names and the kinds of values, not references between sections
// or secrets. The docs' YAML examples are fragments; the tests hold them
// to it.
func CheckShape(path string, data []byte) Errors {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		var es Errors
		if errors.As(yamlError(path, err), &es) {
			return es
		}
		return Errors{{File: path, Msg: err.Error()}}
	}
	if len(root.Content) == 0 {
		return nil
	}
	return checkShape(path, root.Content[0])
}
