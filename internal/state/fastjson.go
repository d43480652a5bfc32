package state

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// fastDecode reads the parts of a state document plumb needs without
// reflection. On a 100,000-resource state it is several times faster than
// encoding/json and allocates far less, which is what keeps large estates
// inside the time budget.
//
// It only handles the common case. On anything unusual (malformed JSON, a
// field of an unexpected type, a structural key repeated or spelt in another
// case, a number encoding/json would reject, nesting deeper than
// encoding/json allows) it returns ok=false and the caller decodes with
// encoding/json instead, which either succeeds (the document was merely
// unusual) or yields the precise error. So the fast path never has to
// produce an error message, and its results must equal encoding/json's,
// which TestFastDecodeMatchesStdlib and FuzzParse check.
//
// For large documents the work is split: the structural pass reads
// everything but the attribute objects, which it only delimits, and hands
// them in batches to a pool of workers (one per CPU) that decode them while
// it carries on. The attribute objects are nearly all of the work.
func fastDecode(data []byte) (stateFile, bool) {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers)
	return fastDecodeWith(data, workers > 1 && len(data) >= parallelThreshold, workers)
}

// fastDecodeWith is fastDecode with the choice of the parallel path made by
// the caller, so tests exercise it on small documents.
func fastDecodeWith(data []byte, parallel bool, workers int) (stateFile, bool) {
	d := newFastDec(data)
	if parallel {
		d.pool = startAttrPool(data, workers)
	}
	st, ok := d.state()
	if ok {
		d.ws()
		ok = d.pos == len(d.data)
	}
	if d.pool != nil {
		// Always drain the pool, so no worker outlives the call.
		batches, poolOK := d.pool.finish()
		ok = ok && poolOK && assignAttributes(&st, batches)
	}
	if !ok {
		return stateFile{}, false
	}
	return st, true
}

// parallelThreshold is the document size from which attributes are decoded
// in parallel; below it, starting workers costs more than it saves.
const parallelThreshold = 4 << 20

// maxWorkers caps the decoding pool: beyond it the allocator, not the
// parser, is the bottleneck.
const maxWorkers = 8

// attrBatchSize is how many attribute objects go to a worker at once:
// enough to make the hand-off cheap, few enough to balance the load.
const attrBatchSize = 256

func newFastDec(data []byte) *fastDec {
	return &fastDec{data: data, strs: new([internSlots]internSlot)}
}

// attrPool decodes attribute objects on worker goroutines while the
// structural pass is still reading the rest of the document. Each worker has
// its own decoder (and string cache); they share only the read-only input.
type attrPool struct {
	jobs    chan *attrBatch
	batches []*attrBatch
	cur     *attrBatch
	wg      sync.WaitGroup
	failed  atomic.Bool
}

// attrBatch is a run of attribute objects, in document order.
type attrBatch struct {
	spans   []attrSpan
	results []map[string]any
}

// attrSpan locates one attributes object; depth is its nesting depth, so
// the nesting limit applies exactly as in a single pass.
type attrSpan struct{ start, end, depth int }

func startAttrPool(data []byte, workers int) *attrPool {
	p := &attrPool{jobs: make(chan *attrBatch, 2*workers)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			d := newFastDec(data)
			for b := range p.jobs {
				if p.failed.Load() {
					continue
				}
				b.results = make([]map[string]any, len(b.spans))
				for i, sp := range b.spans {
					d.pos, d.depth = sp.start, sp.depth
					m, ok := d.object()
					if !ok || d.pos != sp.end {
						p.failed.Store(true)
						break
					}
					b.results[i] = m
				}
			}
		}()
	}
	return p
}

func (p *attrPool) add(sp attrSpan) {
	if p.cur == nil {
		p.cur = &attrBatch{spans: make([]attrSpan, 0, attrBatchSize)}
	}
	p.cur.spans = append(p.cur.spans, sp)
	if len(p.cur.spans) == attrBatchSize {
		p.send()
	}
}

func (p *attrPool) send() {
	p.batches = append(p.batches, p.cur)
	p.jobs <- p.cur
	p.cur = nil
}

// finish hands over the last batch, waits for the workers and reports
// whether every object decoded.
func (p *attrPool) finish() ([]*attrBatch, bool) {
	if p.cur != nil {
		p.send()
	}
	close(p.jobs)
	p.wg.Wait()
	return p.batches, !p.failed.Load()
}

// assignAttributes gives each deferred instance its decoded attributes:
// instances and batches are both in document order.
func assignAttributes(st *stateFile, batches []*attrBatch) bool {
	b, k := 0, 0
	for i := range st.Resources {
		for j := range st.Resources[i].Instances {
			in := &st.Resources[i].Instances[j]
			if !in.deferred {
				continue
			}
			for b < len(batches) && k == len(batches[b].results) {
				b, k = b+1, 0
			}
			if b == len(batches) {
				return false
			}
			in.Attributes = batches[b].results[k]
			in.deferred = false
			k++
		}
	}
	return true
}

// maxDepth mirrors encoding/json's nesting limit.
const maxDepth = 10000

// internSlots is the size of the string cache (a power of two).
const internSlots = 1 << 12

// internMax is the longest value string interned; keys are interned
// whatever their length.
const internMax = 24

type fastDec struct {
	data  []byte
	pos   int
	depth int
	// strs interns short strings (attribute names, "us-east-1", "default")
	// that repeat across thousands of resources, so each is allocated once.
	// It is direct-mapped by a hash computed while scanning: measured, a
	// Go map lookup per string cost more than the allocation it saved.
	strs *[internSlots]internSlot
	// kv and vals are scratch stacks: an object's members are gathered
	// here and the map is then allocated once at its final size.
	kv   []kvPair
	vals []any
	// pool, when set, receives the attribute objects to decode in
	// parallel; instance only finds where each one ends.
	pool *attrPool
}

// internSlot holds an interned string and the same string boxed in an
// interface, so that storing it in an attribute map does not allocate again.
type internSlot struct {
	s string
	v any
}

type kvPair struct {
	k string
	v any
}

func (d *fastDec) ws() {
	data, i := d.data, d.pos
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	d.pos = i
}

// next skips whitespace and returns the next byte without consuming it.
func (d *fastDec) next() (byte, bool) {
	d.ws()
	if d.pos >= len(d.data) {
		return 0, false
	}
	return d.data[d.pos], true
}

// consume skips whitespace and consumes c if it is next.
func (d *fastDec) consume(c byte) bool {
	if b, ok := d.next(); ok && b == c {
		d.pos++
		return true
	}
	return false
}

// literal consumes null, true or false.
func (d *fastDec) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

// members iterates over an object's members: it consumes '{', calls fn with
// each key (positioned before the value, which fn must consume) and the
// closing '}'.
func (d *fastDec) members(fn func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	d.depth++
	if d.depth > maxDepth {
		return false
	}
	if d.consume('}') {
		d.depth--
		return true
	}
	for {
		if c, ok := d.next(); !ok || c != '"' {
			return false
		}
		key, ok := d.str(true)
		if !ok || !d.consume(':') || !fn(key) {
			return false
		}
		c, ok := d.next()
		if !ok {
			return false
		}
		d.pos++
		if c == '}' {
			d.depth--
			return true
		}
		if c != ',' {
			return false
		}
	}
}

// elements iterates over an array's elements like members.
func (d *fastDec) elements(fn func() bool) bool {
	if !d.consume('[') {
		return false
	}
	d.depth++
	if d.depth > maxDepth {
		return false
	}
	if d.consume(']') {
		d.depth--
		return true
	}
	for {
		if !fn() {
			return false
		}
		c, ok := d.next()
		if !ok {
			return false
		}
		d.pos++
		if c == ']' {
			d.depth--
			return true
		}
		if c != ',' {
			return false
		}
	}
}

// isNull consumes a null if it is next.
func (d *fastDec) isNull() bool {
	if c, ok := d.next(); ok && c == 'n' {
		return d.literal("null")
	}
	return false
}

// structural reports whether an unrecognised key would still reach one of
// the known fields under encoding/json's case-insensitive matching; such
// documents are left to encoding/json.
func structural(key string, fields ...string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			// Unicode case folding is where fold rules differ; let
			// encoding/json decide.
			return true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(key, f) {
			return true
		}
	}
	return false
}

func (d *fastDec) state() (stateFile, bool) {
	var st stateFile
	var seenVersion, seenResources bool
	ok := d.members(func(key string) bool {
		switch key {
		case "version":
			if seenVersion {
				return false
			}
			seenVersion = true
			if d.isNull() {
				return true
			}
			v, ok := d.integer()
			st.Version = &v
			return ok
		case "resources":
			if seenResources {
				return false
			}
			seenResources = true
			if d.isNull() {
				return true
			}
			st.Resources = []stateResource{}
			return d.elements(func() bool {
				var r stateResource
				if !d.isNull() && !d.resource(&r) {
					return false
				}
				st.Resources = append(st.Resources, r)
				return true
			})
		case "lineage", "serial":
			field := &st.Lineage
			if key == "serial" {
				field = &st.Serial
			}
			if *field != nil {
				return false
			}
			// Kept raw, as encoding/json keeps a json.RawMessage: the
			// value's bytes without the whitespace around them.
			if _, ok := d.next(); !ok {
				return false
			}
			start := d.pos
			if !d.skip() {
				return false
			}
			*field = d.data[start:d.pos]
			return true
		default:
			if structural(key, "version", "resources", "lineage", "serial") {
				return false
			}
			return d.skip()
		}
	})
	return st, ok
}

func (d *fastDec) resource(r *stateResource) bool {
	var seen [6]bool
	return d.members(func(key string) bool {
		var field *string
		var i int
		switch key {
		case "module":
			field, i = &r.Module, 0
		case "mode":
			field, i = &r.Mode, 1
		case "type":
			field, i = &r.Type, 2
		case "name":
			field, i = &r.Name, 3
		case "provider":
			field, i = &r.Provider, 4
		case "instances":
			if seen[5] {
				return false
			}
			seen[5] = true
			if d.isNull() {
				return true
			}
			r.Instances = []stateInstance{}
			return d.elements(func() bool {
				var in stateInstance
				if !d.isNull() && !d.instance(&in) {
					return false
				}
				r.Instances = append(r.Instances, in)
				return true
			})
		default:
			if structural(key, "module", "mode", "type", "name", "provider", "instances") {
				return false
			}
			return d.skip()
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		return d.stringField(field)
	})
}

func (d *fastDec) instance(in *stateInstance) bool {
	var seen [5]bool
	return d.members(func(key string) bool {
		i := -1
		switch key {
		case "index_key":
			i = 0
		case "status":
			i = 1
		case "deposed":
			i = 2
		case "attributes":
			i = 3
		case "attributes_flat":
			i = 4
		default:
			if structural(key, "index_key", "status", "deposed", "attributes", "attributes_flat") {
				return false
			}
			return d.skip()
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		switch i {
		case 0:
			v, ok := d.value()
			in.IndexKey = v
			return ok
		case 1:
			return d.stringField(&in.Status)
		case 2:
			return d.stringField(&in.Deposed)
		case 3:
			if d.isNull() {
				return true
			}
			if c, ok := d.next(); !ok || c != '{' {
				return false
			}
			if d.pool != nil {
				// Only find the end here; the worker's strict decode of
				// exactly this span validates it.
				end, ok := matchBrackets(d.data, d.pos)
				if !ok {
					return false
				}
				d.pool.add(attrSpan{start: d.pos, end: end, depth: d.depth})
				in.deferred = true
				d.pos = end
				return true
			}
			v, ok := d.object()
			in.Attributes = v
			return ok
		default:
			if d.isNull() {
				return true
			}
			in.AttributesFlat = map[string]string{}
			return d.members(func(key string) bool {
				var s string
				if !d.stringField(&s) {
					return false
				}
				in.AttributesFlat[key] = s
				return true
			})
		}
	})
}

// stringField reads a string or null (which, as in encoding/json, leaves
// the field unchanged).
func (d *fastDec) stringField(field *string) bool {
	c, ok := d.next()
	switch {
	case !ok:
		return false
	case c == 'n':
		return d.literal("null")
	case c != '"':
		return false
	}
	s, ok := d.str(false)
	*field = s
	return ok
}

// integer reads a number written as an integer, as encoding/json requires
// for an int64 field.
func (d *fastDec) integer() (int64, bool) {
	start := d.pos
	if !d.number() {
		return 0, false
	}
	v, err := strconv.ParseInt(string(d.data[start:d.pos]), 10, 64)
	return v, err == nil
}

// value reads any JSON value into the types encoding/json uses for an
// interface{}: map[string]any, []any, string, float64, bool, nil.
func (d *fastDec) value() (any, bool) {
	c, ok := d.next()
	if !ok {
		return nil, false
	}
	switch c {
	case '{':
		m, ok := d.object()
		return m, ok
	case '[':
		return d.array()
	case '"':
		return d.strValue()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	start := d.pos
	if !d.number() {
		return nil, false
	}
	return parseNumber(d.data[start:d.pos])
}

func (d *fastDec) object() (map[string]any, bool) {
	base := len(d.kv)
	ok := d.members(func(key string) bool {
		v, ok := d.value()
		d.kv = append(d.kv, kvPair{key, v})
		return ok
	})
	if !ok {
		return nil, false
	}
	m := make(map[string]any, len(d.kv)-base)
	for _, p := range d.kv[base:] {
		m[p.k] = p.v
	}
	clear(d.kv[base:])
	d.kv = d.kv[:base]
	return m, true
}

func (d *fastDec) array() ([]any, bool) {
	base := len(d.vals)
	ok := d.elements(func() bool {
		v, ok := d.value()
		d.vals = append(d.vals, v)
		return ok
	})
	if !ok {
		return nil, false
	}
	out := make([]any, len(d.vals)-base)
	copy(out, d.vals[base:])
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	return out, true
}

// str reads a string token. Plain strings (no escapes, valid UTF-8) are
// copied straight out; escaped ASCII is decoded here; anything else is
// unquoted by encoding/json itself, so surrogates and invalid UTF-8 come out
// exactly as it would produce them. Short strings, and all keys, are
// interned.
func (d *fastDec) str(isKey bool) (string, bool) {
	data := d.data
	start := d.pos + 1
	i := start
	var h uint32
	for i < len(data) && !strSpecial[data[i]] {
		h = h*31 + uint32(data[i])
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		if slot := d.intern(data[start:i], h, isKey); slot != nil {
			return slot.s, true
		}
		return string(data[start:i]), true
	}
	return d.strSlow(start, i)
}

// strValue is str for a value stored in an interface: interned strings come
// already boxed.
func (d *fastDec) strValue() (any, bool) {
	data := d.data
	start := d.pos + 1
	i := start
	var h uint32
	for i < len(data) && !strSpecial[data[i]] {
		h = h*31 + uint32(data[i])
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		if slot := d.intern(data[start:i], h, false); slot != nil {
			return slot.v, true
		}
		return string(data[start:i]), true
	}
	return d.strSlow(start, i)
}

// strSlow finishes a string whose fast scan stopped at data[i] on an
// escape, a control character or a non-ASCII byte.
func (d *fastDec) strSlow(start, i int) (string, bool) {
	data := d.data
	escaped, wide := false, false
	for ; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			break
		}
		switch {
		case c < 0x20:
			return "", false
		case c == '\\':
			escaped = true
			i++
		case c >= utf8.RuneSelf:
			wide = true
		}
	}
	if i >= len(data) {
		return "", false
	}
	d.pos = i + 1
	raw := data[start:i]
	if !escaped {
		if !utf8.Valid(raw) {
			return unquoteJSON(data[start-1 : i+1])
		}
		return string(raw), true
	}
	if !wide {
		if s, ok := unescapeASCII(raw); ok {
			return s, true
		}
	}
	return unquoteJSON(data[start-1 : i+1])
}

// strSpecial marks the bytes that end the fast scan of a string.
var strSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf
	}
	return t
}()

func unquoteJSON(tok []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// unescapeASCII decodes the escapes of an all-ASCII string. Surrogate
// escapes, which need pairing, are left to encoding/json (ok=false).
func unescapeASCII(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(raw) {
				return "", false
			}
			var r rune
			for _, h := range raw[i+1 : i+5] {
				switch {
				case h >= '0' && h <= '9':
					r = r<<4 | rune(h-'0')
				case h >= 'a' && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case h >= 'A' && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					return "", false
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

// intern returns the cache slot holding b, filling it if needed, or nil
// for strings not worth caching (empty, or long values).
func (d *fastDec) intern(b []byte, h uint32, always bool) *internSlot {
	if len(b) == 0 || (!always && len(b) > internMax) {
		return nil
	}
	slot := &d.strs[(h^h>>15)&(internSlots-1)]
	if slot.s != string(b) {
		s := string(b)
		*slot = internSlot{s: s, v: s}
	}
	return slot
}

// number consumes a number token, checking the JSON grammar.
func (d *fastDec) number() bool {
	data, i := d.data, d.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return false
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return false
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return false
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return true
}

// parseNumber converts a validated number token to float64. Integers of up
// to 15 digits are exact in a float64 and are converted directly; the rest
// goes through strconv, and out-of-range values are left to encoding/json.
func parseNumber(tok []byte) (any, bool) {
	digits := tok
	neg := len(tok) > 0 && tok[0] == '-'
	if neg {
		digits = tok[1:]
	}
	if len(digits) <= 15 {
		var n int64
		isInt := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				isInt = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if isInt {
			if !neg && n < int64(len(smallFloats)) {
				return smallFloats[n], true
			}
			f := float64(n)
			if neg {
				f = -f
			}
			return f, true
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// smallFloats holds the integers most attributes carry (ports, counts,
// sizes) already boxed, so decoding them does not allocate. It is never
// written after initialisation.
var smallFloats = func() (t [1024]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// skip consumes and validates one value without building it.
func (d *fastDec) skip() bool {
	c, ok := d.next()
	if !ok {
		return false
	}
	switch c {
	case '{':
		d.pos++
		if d.depth++; d.depth > maxDepth {
			return false
		}
		if d.consume('}') {
			d.depth--
			return true
		}
		for {
			if c, ok := d.next(); !ok || c != '"' || !d.skipString() || !d.consume(':') || !d.skip() {
				return false
			}
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				d.depth--
				return true
			}
			return false
		}
	case '[':
		d.pos++
		if d.depth++; d.depth > maxDepth {
			return false
		}
		if d.consume(']') {
			d.depth--
			return true
		}
		for {
			if !d.skip() {
				return false
			}
			if d.consume(',') {
				continue
			}
			if d.consume(']') {
				d.depth--
				return true
			}
			return false
		}
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.number()
}

// matchBrackets returns the offset just past the object or array that
// starts at start, by counting brackets outside strings. It does not
// validate anything in between; callers decode the span strictly.
func matchBrackets(data []byte, start int) (int, bool) {
	depth := 0
	for i := start; i < len(data); i++ {
		for i < len(data) && !bracketSpecial[data[i]] {
			i++
		}
		if i == len(data) {
			break
		}
		switch data[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"':
			for {
				j := bytes.IndexByte(data[i+1:], '"')
				if j < 0 {
					return 0, false
				}
				i += 1 + j
				// The quote ends the string unless an odd number of
				// backslashes precedes it.
				bs := 0
				for k := i - 1; k > start && data[k] == '\\'; k-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		}
	}
	return 0, false
}

// bracketSpecial marks the bytes matchBrackets stops at.
var bracketSpecial = [256]bool{'{': true, '}': true, '[': true, ']': true, '"': true}

// skipString consumes a string token, validating its escapes.
func (d *fastDec) skipString() bool {
	for i := d.pos + 1; i < len(d.data); i++ {
		for i < len(d.data) && !strSpecial[d.data[i]] {
			i++
		}
		if i >= len(d.data) {
			return false
		}
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(d.data) {
				return false
			}
			switch d.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.data) {
					return false
				}
				for _, h := range d.data[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
