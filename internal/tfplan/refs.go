package tfplan

import (
	"sort"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// Following references through the configuration.
//
// A plan knows few identifiers before the apply: a new bucket's id, the
// bucket attribute of the public access block that names it, the VPC id a
// flow log watches are all "known after apply". What the plan does know is
// the configuration: the block's bucket expression refers to
// aws_s3_bucket.data (and, with for_each, to the instance of the same
// key). policy.Unknown.Refs and policy.Subject.Refs carry those resource
// addresses so related() can pair the two before either exists.
//
// Plan JSON lists, per expression, the references it makes but not the
// expression itself, and it leaves some out: locals are not in the
// configuration section at all, and an index computed from each.key or
// count.index appears as the bare resource plus "each.key". The resolver
// therefore follows what it can and says when it could not:
//
//   - TYPE.NAME[KEY].attr: that instance of a resource in the same module;
//   - TYPE.NAME with each.key or count.index among the references: the
//     instance with the referring resource's own key (the usual
//     aws_s3_bucket.data[each.key] pattern); without them, every instance;
//   - each.value.attr where for_each iterates over one resource: its
//     instance of the same key (for_each = aws_s3_bucket.data);
//   - module.NAME[KEY].OUTPUT: the output's expression, inside that module
//     instance; var.NAME inside a module: the caller's argument;
//   - local.*, data.* and anything else: untraced.

// step is one module call in a module instance address.
type step struct {
	name   string
	key    any // string or float64
	hasKey bool
}

// parseModule splits module.a["x"].module.b[0] into its steps.
func parseModule(addr string) []step {
	var out []step
	rest := addr
	for rest != "" {
		rest = strings.TrimPrefix(rest, ".")
		if !strings.HasPrefix(rest, "module.") {
			break
		}
		rest = strings.TrimPrefix(rest, "module.")
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			out = append(out, step{name: rest})
			break
		}
		st := step{name: rest[:end]}
		rest = rest[end:]
		if strings.HasPrefix(rest, "[") {
			var raw string
			raw, rest = cutIndex(rest)
			st.key, st.hasKey = parseKey(raw)
		}
		out = append(out, st)
	}
	return out
}

// cutIndex splits a leading [..] off s, returning its content.
func cutIndex(s string) (string, string) {
	inString := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return s[1:i], s[i+1:]
		}
	}
	return "", ""
}

// parseKey reads an instance key as written in an address or reference:
// a quoted string or a number. Anything else (each.key) is not a key.
func parseKey(raw string) (any, bool) {
	if strings.HasPrefix(raw, `"`) {
		if s, err := strconv.Unquote(raw); err == nil {
			return s, true
		}
		return nil, false
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		return f, true
	}
	return nil, false
}

// keyString normalizes an instance key: ["a"] or [0].
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return "[" + strconv.Quote(x) + "]"
	case float64:
		return "[" + strconv.FormatFloat(x, 'f', -1, 64) + "]"
	case int:
		return "[" + strconv.Itoa(x) + "]"
	}
	return ""
}

func formatModule(steps []step) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString("module.")
		b.WriteString(s.name)
		if s.hasKey {
			b.WriteString(keyString(s.key))
		}
	}
	return b.String()
}

func configPathOf(steps []step) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.name
	}
	return strings.Join(names, ".")
}

// refIndex knows the plan's configuration and its resource instances.
type refIndex struct {
	modules   map[string]*tfjson.ConfigModule // by config path
	calls     map[string]*tfjson.ModuleCall   // by the child's config path
	resources map[string]*tfjson.ConfigResource
	// instances maps a resource (module instance | TYPE.NAME) to the
	// addresses of its instances that exist after the apply.
	instances map[string][]instance
	// moduleKeys maps a module call (parent instance | name) to the keys
	// of its instances.
	moduleKeys map[string][]step
}

type instance struct {
	key    any
	hasKey bool
	addr   string
}

func newRefIndex(plan *tfjson.Plan) *refIndex {
	ix := &refIndex{
		modules:    map[string]*tfjson.ConfigModule{},
		calls:      map[string]*tfjson.ModuleCall{},
		resources:  map[string]*tfjson.ConfigResource{},
		instances:  map[string][]instance{},
		moduleKeys: map[string][]step{},
	}
	if plan.Config != nil && plan.Config.RootModule != nil {
		var walk func(path string, m *tfjson.ConfigModule)
		walk = func(path string, m *tfjson.ConfigModule) {
			ix.modules[path] = m
			for _, r := range m.Resources {
				if r != nil && r.Mode == tfjson.ManagedResourceMode {
					ix.resources[path+"|"+r.Type+"."+r.Name] = r
				}
			}
			for name, call := range m.ModuleCalls {
				if call == nil || call.Module == nil {
					continue
				}
				child := name
				if path != "" {
					child = path + "." + name
				}
				ix.calls[child] = call
				walk(child, call.Module)
			}
		}
		walk("", plan.Config.RootModule)
	}
	seenModule := map[string]bool{}
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Mode != tfjson.ManagedResourceMode || rc.DeposedKey != "" || rc.Change == nil || !survives(rc.Change.Actions) {
			continue
		}
		steps := parseModule(rc.ModuleAddress)
		k := formatModule(steps) + "|" + rc.Type + "." + rc.Name
		in := instance{addr: rc.Address}
		if rc.Index != nil {
			in.key, in.hasKey = normalizeKey(rc.Index)
		}
		ix.instances[k] = append(ix.instances[k], in)
		for i := range steps {
			mk := formatModule(steps[:i+1])
			if seenModule[mk] {
				continue
			}
			seenModule[mk] = true
			ck := formatModule(steps[:i]) + "|" + steps[i].name
			ix.moduleKeys[ck] = append(ix.moduleKeys[ck], steps[i])
		}
	}
	return ix
}

func normalizeKey(k any) (any, bool) {
	switch x := k.(type) {
	case string:
		return x, true
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return nil, false
}

// scope is where an expression is evaluated: a module instance, and the
// instance key and for_each of the block it belongs to.
type scope struct {
	module  []step
	key     any
	hasKey  bool
	forEach *tfjson.Expression
}

// maxDepth bounds the resolution through module outputs and variables.
const maxDepth = 16

// resolve follows references to the managed resource instances they
// name. untraced is true when some reference could not be followed.
func (ix *refIndex) resolve(sc scope, refs []string, depth int) (addrs []string, untraced bool) {
	if depth > maxDepth {
		return nil, true
	}
	eachKey := false
	for _, r := range refs {
		if r == "each.key" || r == "count.index" {
			eachKey = true
		}
	}
	// Terraform lists a reference and its prefixes (aws_vpc.main.id,
	// aws_vpc.main); the most specific one with an index wins per object.
	resources := map[string][]any{} // TYPE.NAME -> explicit keys (nil: bare)
	bare := map[string]bool{}
	modules := map[string]map[string]bool{} // call name + key -> outputs
	moduleBare := map[string]bool{}
	add := func(as []string, u bool) {
		addrs = append(addrs, as...)
		untraced = untraced || u
	}
	for _, r := range refs {
		head, rest, _ := strings.Cut(r, ".")
		switch head {
		case "each":
			if strings.HasPrefix(rest, "value") {
				add(ix.eachValue(sc, depth))
			}
		case "count", "path", "terraform", "self":
		case "var":
			name, _, _ := strings.Cut(rest, ".")
			name, _, _ = strings.Cut(name, "[")
			add(ix.variable(sc, name, depth))
		case "local", "data":
			untraced = true
		case "module":
			name, tail := splitName(rest)
			key := ""
			if strings.HasPrefix(tail, "[") {
				raw, after := cutIndex(tail)
				if k, ok := parseKey(raw); ok {
					key = keyString(k)
				} else {
					key = "?"
				}
				tail = after
			}
			out := strings.TrimPrefix(tail, ".")
			out, _, _ = strings.Cut(out, ".")
			out, _, _ = strings.Cut(out, "[")
			if out == "" {
				moduleBare[name+key] = true
				continue
			}
			if modules[name+"\x00"+key] == nil {
				modules[name+"\x00"+key] = map[string]bool{}
			}
			modules[name+"\x00"+key][out] = true
		default:
			name, tail := splitName(rest)
			if name == "" {
				untraced = true
				continue
			}
			res := head + "." + name
			if strings.HasPrefix(tail, "[") {
				raw, _ := cutIndex(tail)
				if k, ok := parseKey(raw); ok {
					resources[res] = append(resources[res], k)
					continue
				}
			}
			bare[res] = true
		}
	}
	mod := formatModule(sc.module)
	for res := range bare {
		if _, keyed := resources[res]; keyed {
			continue
		}
		insts, ok := ix.instances[mod+"|"+res]
		if !ok {
			untraced = true
			continue
		}
		if eachKey && sc.hasKey {
			found := false
			for _, in := range insts {
				if in.hasKey && keyString(in.key) == keyString(sc.key) {
					addrs = append(addrs, in.addr)
					found = true
				}
			}
			if !found {
				untraced = true
			}
			continue
		}
		for _, in := range insts {
			addrs = append(addrs, in.addr)
		}
	}
	for res, keys := range resources {
		insts := ix.instances[mod+"|"+res]
		for _, k := range keys {
			found := false
			for _, in := range insts {
				if in.hasKey && keyString(in.key) == keyString(k) {
					addrs = append(addrs, in.addr)
					found = true
				}
			}
			if !found {
				untraced = true
			}
		}
	}
	for mk, outs := range modules {
		name, key, _ := strings.Cut(mk, "\x00")
		for out := range outs {
			add(ix.output(sc, name, key, eachKey, out, depth))
		}
	}
	for mk := range moduleBare {
		name := mk
		if i := strings.IndexByte(mk, '['); i >= 0 {
			name = mk[:i]
		}
		used := false
		for k := range modules {
			if n, _, _ := strings.Cut(k, "\x00"); n == name {
				used = true
			}
		}
		if !used {
			// The whole module object: its outputs are not known here.
			untraced = true
		}
	}
	sort.Strings(addrs)
	addrs = dedupe(addrs)
	return addrs, untraced
}

// splitName cuts the name off "NAME[...]..." or "NAME.attr".
func splitName(s string) (string, string) {
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		return s, ""
	}
	return s[:end], s[end:]
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// eachValue resolves each.value for a block whose for_each iterates over
// one resource's instances (for_each = aws_s3_bucket.data): the instance
// with the block's own key.
func (ix *refIndex) eachValue(sc scope, _ int) ([]string, bool) {
	if sc.forEach == nil || sc.forEach.ExpressionData == nil || !sc.hasKey {
		return nil, true
	}
	res := ""
	for _, r := range sc.forEach.References {
		head, rest, _ := strings.Cut(r, ".")
		switch head {
		case "each", "count", "path", "terraform", "var", "local", "data", "module", "self":
			return nil, true
		}
		name, tail := splitName(rest)
		if tail != "" {
			return nil, true // an attribute or instance of it: not the collection
		}
		if res != "" && res != head+"."+name {
			return nil, true
		}
		res = head + "." + name
	}
	if res == "" {
		return nil, true
	}
	for _, in := range ix.instances[formatModule(sc.module)+"|"+res] {
		if in.hasKey && keyString(in.key) == keyString(sc.key) {
			return []string{in.addr}, false
		}
	}
	return nil, true
}

// variable resolves var.NAME: known in the root module (variables are
// known at plan time), else the caller's argument for this module.
func (ix *refIndex) variable(sc scope, name string, depth int) ([]string, bool) {
	if len(sc.module) == 0 {
		return nil, false
	}
	call := ix.calls[configPathOf(sc.module)]
	if call == nil {
		return nil, true
	}
	e := call.Expressions[name]
	if e == nil || e.ExpressionData == nil {
		return nil, false // the variable's default, a constant
	}
	own := sc.module[len(sc.module)-1]
	parent := scope{module: sc.module[:len(sc.module)-1], key: own.key, hasKey: own.hasKey, forEach: call.ForEachExpression}
	return ix.resolve(parent, e.References, depth+1)
}

// output resolves module.NAME[KEY].OUT to the resources of the output's
// expression inside that module instance.
func (ix *refIndex) output(sc scope, name, key string, eachKey bool, out string, depth int) ([]string, bool) {
	path := configPathOf(sc.module)
	childPath := name
	if path != "" {
		childPath = path + "." + name
	}
	call := ix.calls[childPath]
	if call == nil || call.Module == nil {
		return nil, true
	}
	o := call.Module.Outputs[out]
	if o == nil || o.Expression == nil || o.Expression.ExpressionData == nil {
		return nil, true
	}
	var instances []step
	switch {
	case key == "?":
		return nil, true
	case key != "":
		for _, st := range ix.moduleKeys[formatModule(sc.module)+"|"+name] {
			if st.hasKey && keyString(st.key) == key {
				instances = append(instances, st)
			}
		}
	case eachKey && sc.hasKey && (call.ForEachExpression != nil || call.CountExpression != nil):
		for _, st := range ix.moduleKeys[formatModule(sc.module)+"|"+name] {
			if st.hasKey && keyString(st.key) == keyString(sc.key) {
				instances = append(instances, st)
			}
		}
	default:
		instances = ix.moduleKeys[formatModule(sc.module)+"|"+name]
	}
	if len(instances) == 0 {
		return nil, true
	}
	var addrs []string
	untraced := false
	for _, st := range instances {
		child := append(append([]step{}, sc.module...), st)
		as, u := ix.resolve(scope{module: child}, o.Expression.References, depth+1)
		addrs = append(addrs, as...)
		untraced = untraced || u
	}
	return addrs, untraced
}
