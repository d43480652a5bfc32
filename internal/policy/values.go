package policy

import (
	"math"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// How unknown values reach a rule.
//
// CEL has a value for "not known": types.Unknown, which every operator
// propagates and which `||` and `&&` absorb where the other side decides
// (true || unknown is true). The engine builds one for every value a rule
// cannot have, so a rule that does not depend on it still decides, and a
// rule that does comes out unknown: not evaluated, never a pass or a
// violation. Each Unknown carries an id into a table of sources (which
// resource, why) and an attribute trail (which attribute), from which the
// outcome's Gaps are written.
//
// Three kinds of values are unknown:
//   - a plan's *Unknown marker that the configuration sets (a reference
//     to another resource): the key is present, so has() is true, and the
//     value is unknown;
//   - a plan's *Unknown marker the provider computes: the key is hidden
//     from presence tests, so has() is unknown too;
//   - live, any attribute the inventory did not read (an "open" map):
//     has() and the value are unknown.

// Reasons an attribute is unknown, as they read after its name.
const (
	reasonAfterApply = "is known only after apply"
	reasonNotRead    = "is not read by the live inventory"
)

// source is where a family of Unknown values comes from.
type source struct {
	label string // the resource the value belongs to
	// related is the type of a related() lookup that could not complete;
	// empty for attributes.
	related string
	reason  string
	// refs and untraced are the plan's knowledge of what the value is
	// computed from (see Unknown), which related() keys on.
	refs     []string
	untraced bool
}

// sources is a table of sources Unknown ids point into. Ids are positive
// for the table of one evaluation (its subject and lookups) and negative
// for the shared table of the related-resource index.
type sources struct {
	list []source
	// negative selects the id sign: the index's table.
	negative bool
}

func (t *sources) add(s source) int64 {
	t.list = append(t.list, s)
	n := int64(len(t.list) - 1)
	if t.negative {
		return -n - 1
	}
	return n
}

func (t *sources) get(id int64) (source, bool) {
	i := id
	if t.negative {
		i = -id - 1
	}
	if i < 0 || i >= int64(len(t.list)) {
		return source{}, false
	}
	return t.list[i], true
}

// converter turns a subject's attributes into CEL values once, deeply, so
// the ~50 rules a resource meets do not each re-wrap the same nested lists
// and maps (the dominant cost of comprehension rules otherwise), and
// measures the largest of them on the way.
type converter struct {
	table *sources
	label string
	// own is the subject's address, what a computed attribute without
	// references is computed from.
	own string
	// open marks a live subject: its top-level map answers "unknown" for
	// attributes the inventory did not read.
	open bool
	// maxSize is the length of the subject's largest string (in bytes, at
	// least its CEL size in code points), list or map, the attribute map
	// itself included; math.MaxInt when a value of a type CEL sizes
	// differently is present. It picks the program of a compiledRule.
	maxSize int
	// path is the attribute path of the value being converted, for the
	// trails of the unknowns met (kept unboxed: most subjects have none).
	path []pathElem
}

// pathElem is one step of an attribute path: a map key or a list index.
type pathElem struct {
	key   string
	index int64
	isKey bool
}

// convert builds the CEL value of a subject's attributes.
func (c *converter) convert(attrs map[string]any) ref.Val {
	c.maxSize = 0
	c.path = c.path[:0]
	return c.mapValue(attrs, c.open)
}

func (c *converter) grow(n int) {
	c.maxSize = max(c.maxSize, n)
}

func (c *converter) mapValue(x map[string]any, open bool) ref.Val {
	c.grow(len(x))
	m := make(map[string]ref.Val, len(x))
	var hidden map[string]*types.Unknown
	for k, e := range x {
		c.grow(len(k))
		c.path = append(c.path, pathElem{key: k, isKey: true})
		if u, ok := e.(*Unknown); ok && !u.Configured {
			if hidden == nil {
				hidden = map[string]*types.Unknown{}
			}
			hidden[k] = c.unknown(u)
		} else {
			m[k] = c.value(e)
		}
		c.path = c.path[:len(c.path)-1]
	}
	known := types.NewMap(types.DefaultTypeAdapter, m)
	if hidden == nil && !open {
		return known
	}
	am := &attrMap{Mapper: known, hidden: hidden}
	am.finder, _ = known.(stringKeyFinder)
	if open {
		am.open = true
		am.openID = c.table.add(source{label: c.label, reason: reasonNotRead})
	}
	return am
}

func (c *converter) value(v any) ref.Val {
	switch x := v.(type) {
	case map[string]any:
		return c.mapValue(x, false)
	case []any:
		c.grow(len(x))
		l := make([]ref.Val, len(x))
		for i, e := range x {
			c.path = append(c.path, pathElem{index: int64(i)})
			l[i] = c.value(e)
			c.path = c.path[:len(c.path)-1]
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	case *Unknown:
		return c.unknown(x)
	case nil:
		return types.NullValue
	case string:
		c.grow(len(x))
	case bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	default:
		// A container or string type converted lazily by the adapter
		// ([]string, map[string]string, []byte, ...): its sizes are not
		// measured here, so every tracked rule stays tracked.
		c.maxSize = math.MaxInt
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

// unknown registers a plan marker and returns its CEL Unknown.
func (c *converter) unknown(u *Unknown) *types.Unknown {
	refs := u.Refs
	if len(refs) == 0 && !u.Configured && !u.Untraced && c.own != "" {
		refs = []string{c.own}
	}
	id := c.table.add(source{label: c.label, reason: reasonAfterApply, refs: refs, untraced: u.Untraced})
	return types.NewUnknown(id, trail(c.path))
}

// trail turns an attribute path into a CEL attribute trail: the first
// element is the variable, the rest qualifiers.
func trail(path []pathElem) *types.AttributeTrail {
	if len(path) == 0 || !path[0].isKey || path[0].key == "" {
		// NewAttributeTrail("") is a shared value: never qualify it.
		return types.NewAttributeTrail("")
	}
	t := types.NewAttributeTrail(path[0].key)
	for _, q := range path[1:] {
		if q.isKey {
			types.QualifyAttribute(t, q.key)
		} else {
			types.QualifyAttribute(t, q.index)
		}
	}
	return t
}

type stringKeyFinder interface {
	FindStringKey(string) (any, bool)
}

// attrMap is an attribute map with values that are unknown. Known keys,
// configured unknowns among them, behave as in any map; hidden keys (values
// the provider computes) and, on an open map, every other key are unknown
// to a presence test as well as to a read: has(), `in` and selection all
// return the Unknown. The interpreter tests presence through FindStringKey
// first, which only answers for known keys, then through Find.
type attrMap struct {
	traits.Mapper
	finder stringKeyFinder
	hidden map[string]*types.Unknown
	open   bool
	openID int64
}

// FindStringKey answers for known keys only.
func (m *attrMap) FindStringKey(k string) (any, bool) {
	if m.finder != nil {
		return m.finder.FindStringKey(k)
	}
	v, ok := m.Mapper.Find(types.String(k))
	return v, ok
}

// Find returns a known value, or the Unknown of a hidden or unread key.
func (m *attrMap) Find(key ref.Val) (ref.Val, bool) {
	if v, ok := m.Mapper.Find(key); ok {
		return v, true
	}
	if u := m.unknownKey(key); u != nil {
		return u, true
	}
	return nil, false
}

// Get is Find, with CEL's error for a missing key.
func (m *attrMap) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return m.Mapper.Get(key)
}

// Contains is true for known keys and unknown for hidden or unread ones.
func (m *attrMap) Contains(key ref.Val) ref.Val {
	if _, ok := m.Mapper.Find(key); ok {
		return types.True
	}
	if u := m.unknownKey(key); u != nil {
		return u
	}
	return types.False
}

func (m *attrMap) unknownKey(key ref.Val) *types.Unknown {
	s, ok := key.(types.String)
	if !ok {
		return nil
	}
	if u, ok := m.hidden[string(s)]; ok {
		return u
	}
	if m.open {
		return types.NewUnknown(m.openID, types.NewAttributeTrail(string(s)))
	}
	return nil
}
