package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"plumb/internal/jsonpos"
	"plumb/internal/model"
)

// stateFile is the part of a version 4 state document plumb uses. Fields it
// does not need (outputs, sensitive_attributes, dependencies, ...) are
// deliberately not decoded: skipping them is faster, and a state written by
// a newer Terraform that changes their shape still reads. Lineage and
// serial, which tell copies of one state apart from different states, are
// kept raw and interpreted leniently (see identity), for the same reason.
type stateFile struct {
	Version   *int64          `json:"version"`
	Lineage   json.RawMessage `json:"lineage"`
	Serial    json.RawMessage `json:"serial"`
	Resources []stateResource `json:"resources"`
}

type stateResource struct {
	Module    string          `json:"module"`
	Mode      string          `json:"mode"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Provider  string          `json:"provider"`
	Instances []stateInstance `json:"instances"`
}

type stateInstance struct {
	// IndexKey is a number (count) or a string (for_each); absent for a
	// resource with neither.
	IndexKey any    `json:"index_key"`
	Status   string `json:"status"`
	Deposed  string `json:"deposed"`
	// Attributes is the shape Raw needs, so it is decoded straight into a
	// map rather than kept as a json.RawMessage for a second pass.
	Attributes     map[string]any    `json:"attributes"`
	AttributesFlat map[string]string `json:"attributes_flat"`

	// deferred marks an instance whose attributes fastDecode's worker pool
	// is still decoding.
	deferred bool
}

const (
	modeManaged = "managed"
	modeData    = "data"
)

// Parse reads one state document; name is used in errors and becomes the
// Source of every resource. Data sources are skipped: they describe objects
// the code reads, not objects it owns. A state without managed resources
// returns a *NoResourcesError (errors.Is(err, ErrNoResources)).
//
// Attribute values keep their JSON types (numbers are float64). States
// carried over from Terraform 0.11 hold attributes_flat instead; those are
// rebuilt into nested maps and lists, but their scalar values stay strings,
// because without the provider schema "1" may as well be a string attribute.
func Parse(name string, data []byte) ([]model.DesiredResource, error) {
	doc, err := ParseDocument(name, data)
	if err != nil {
		return nil, err
	}
	if err := doc.Empty(); err != nil {
		return nil, err
	}
	return doc.Resources, nil
}

// ParseDocument reads one state document like Parse, and also what makes
// it a version of one state: its lineage and serial. A document without
// managed resources is not an error here (it may be the newest serial of a
// state whose resources were destroyed, which must win over older copies);
// Document.Empty says whether it is one.
func ParseDocument(name string, data []byte) (*Document, error) {
	p := parser{name: name, data: data}
	return p.parse()
}

type parser struct {
	name string
	data []byte
}

func (p *parser) parse() (*Document, error) {
	if len(p.data) > MaxStateSize {
		return nil, fmt.Errorf("read state %s: %w", p.name, sizeError(int64(len(p.data))))
	}
	if err := p.checkEncoding(); err != nil {
		return nil, err
	}
	st, ok := fastDecode(p.data)
	if !ok {
		st = stateFile{}
		if err := json.Unmarshal(p.data, &st); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field != "version" && st.Version != nil && *st.Version != 4 {
				// An older or newer format fails on the v4 shape; the version
				// is the real problem.
				return nil, p.versionError(*st.Version)
			}
			return nil, p.jsonError(err)
		}
	}
	if st.Version == nil {
		return nil, fmt.Errorf("read state %s: no \"version\" field: not a Terraform state file", p.name)
	}
	if *st.Version != 4 {
		return nil, p.versionError(*st.Version)
	}

	count, dataSources := 0, 0
	for _, r := range st.Resources {
		if r.Mode == modeManaged {
			count += len(r.Instances)
		} else {
			dataSources++
		}
	}
	out := make([]model.DesiredResource, 0, count)
	for i := range st.Resources {
		r := &st.Resources[i]
		path := "resources[" + strconv.Itoa(i) + "]"
		switch r.Mode {
		case modeManaged:
		case modeData:
			continue
		case "":
			return nil, p.errorAt(path, "no \"mode\" (expected \"managed\" or \"data\")")
		default:
			return nil, p.errorAt(path+".mode", fmt.Sprintf("unknown mode %q (expected \"managed\" or \"data\")", r.Mode))
		}
		if r.Type == "" {
			return nil, p.errorAt(path, "resource has no \"type\"")
		}
		if r.Name == "" {
			return nil, p.errorAt(path, "resource "+r.Type+" has no \"name\"")
		}
		if r.Module != "" && !strings.HasPrefix(r.Module, "module.") {
			return nil, p.errorAt(path+".module", fmt.Sprintf("invalid module path %q (expected module.NAME...)", r.Module))
		}
		provider, ok := providerType(r.Provider)
		if !ok {
			return nil, p.errorAt(path+".provider", fmt.Sprintf("invalid provider address %q", r.Provider))
		}
		if provider == "" {
			// Terraform implies the provider from the type prefix.
			provider, _, _ = strings.Cut(r.Type, "_")
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for j := range r.Instances {
			in := &r.Instances[j]
			ipath := path + ".instances[" + strconv.Itoa(j) + "]"
			key, err := instanceKey(in.IndexKey)
			if err != nil {
				return nil, p.errorAt(ipath+".index_key", base+": "+err.Error())
			}
			d := model.DesiredResource{
				Address: base + key,
				Source:  p.name,
				Mode:    modeManaged,
				Deposed: in.Deposed,
			}
			switch in.Status {
			case "":
			case "tainted":
				d.Tainted = true
			default:
				return nil, p.errorAt(ipath+".status", fmt.Sprintf("%s: unknown instance status %q (expected \"tainted\" or none)", d.Address, in.Status))
			}
			attrs := in.Attributes
			if attrs == nil {
				if in.AttributesFlat != nil {
					attrs = unflatten(in.AttributesFlat)
				} else {
					attrs = map[string]any{}
				}
			}
			d.Provider, d.Type = provider, r.Type
			d.ProviderConfig = r.Provider
			d.Raw = attrs
			out = append(out, d)
		}
	}
	inParallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := &out[i]
			d.Resource = resourceFrom(d.Provider, d.Type, d.Raw)
		}
	})
	doc := &Document{Source: p.name, Resources: out, DataSources: dataSources}
	doc.Lineage, doc.Serial = identity(st)
	if doc.Lineage == "" {
		doc.digest = sha256.Sum256(p.data)
	}
	return doc, nil
}

// identity reads a state's lineage and serial. Both are written by every
// Terraform and OpenTofu release that writes format 4; a lineage that is
// not a string counts as none, and a serial that is not an integer as 0,
// so an odd value never makes an otherwise readable state unreadable.
func identity(st stateFile) (lineage string, serial int64) {
	if len(st.Lineage) > 0 && st.Lineage[0] == '"' {
		if err := json.Unmarshal(st.Lineage, &lineage); err != nil {
			lineage = ""
		}
	}
	if len(st.Serial) > 0 {
		if n, err := strconv.ParseInt(string(st.Serial), 10, 64); err == nil {
			serial = n
		}
	}
	return strings.TrimSpace(lineage), serial
}

// parallelMin is the number of items from which inParallel uses more than
// one goroutine.
const parallelMin = 4096

// inParallel calls fn over [0, n) split into one contiguous run per CPU
// (up to maxWorkers), or once for all of it when n is small.
func inParallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers)
	if n < parallelMin || workers < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+per, n))
	}
	wg.Wait()
}

// checkEncoding catches the encodings a state picks up on its way through
// Windows tools, which otherwise surface as a baffling syntax error at 1:1.
func (p *parser) checkEncoding() error {
	switch {
	case len(p.data) == 0:
		return fmt.Errorf("read state %s: file is empty", p.name)
	case bytes.HasPrefix(p.data, []byte{0xEF, 0xBB, 0xBF}):
		// A UTF-8 byte order mark is harmless; drop it.
		p.data = p.data[3:]
	case bytes.HasPrefix(p.data, []byte{0xFF, 0xFE}), bytes.HasPrefix(p.data, []byte{0xFE, 0xFF}):
		return fmt.Errorf("read state %s: file is UTF-16 encoded (as PowerShell's > writes it); save it as UTF-8, e.g. terraform state pull | Out-File -Encoding utf8", p.name)
	}
	return nil
}

func (p *parser) versionError(v int64) error {
	if v < 4 {
		return fmt.Errorf("read state %s: unsupported state version %d (plumb reads version 4, written by Terraform 0.12 and later; run terraform state pull with a current Terraform)", p.name, v)
	}
	return fmt.Errorf("read state %s: unsupported state version %d (plumb reads version 4; this state was written by a newer Terraform or OpenTofu than plumb knows)", p.name, v)
}

// jsonError turns an encoding/json error into one naming the file, the line
// and column, and for type errors the full path of the offending field.
func (p *parser) jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		pos := int(syn.Offset) - 1
		if syn.Offset >= int64(len(p.data)) && strings.Contains(syn.Error(), "unexpected end") {
			pos = len(p.data)
		}
		pos = max(pos, 0)
		line, col := jsonpos.LineCol(p.data, int64(pos))
		return fmt.Errorf("read state %s: invalid JSON at line %d, column %d (byte offset %d): %w", p.name, line, col, pos, err)
	case errors.As(err, &typ):
		path, start := jsonpos.ValueAt(p.data, typ.Offset, nil)
		line, col := jsonpos.LineCol(p.data, start)
		// encoding/json names Go types ("cannot unmarshal array into Go
		// value of type state.stateFile"); say what the state format
		// wants instead.
		if path == "" {
			return fmt.Errorf("read state %s: line %d, column %d: expected a Terraform state (a JSON object with \"version\" and \"resources\"), found %s",
				p.name, line, col, jsonTypeWords(typ.Value))
		}
		return fmt.Errorf("read state %s: line %d, column %d: %s: expected %s, found %s",
			p.name, line, col, path, describeGoType(typ), jsonTypeWords(typ.Value))
	default:
		return fmt.Errorf("read state %s: %w", p.name, err)
	}
}

// errorAt reports a semantic problem at a JSON path, with its line and
// column when the path can be found (it always can in a document that
// decoded).
func (p *parser) errorAt(path, msg string) error {
	if start, ok := jsonpos.Find(p.data, path); ok {
		line, col := jsonpos.LineCol(p.data, start)
		return fmt.Errorf("read state %s: line %d, column %d: %s: %s", p.name, line, col, path, msg)
	}
	return fmt.Errorf("read state %s: %s: %s", p.name, path, msg)
}

// jsonTypeWords turns encoding/json's name of a JSON value's type
// ("array", "number 1.5") into words for a sentence.
func jsonTypeWords(v string) string {
	switch {
	case v == "array" || v == "object":
		return "an " + v
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "bool":
		return "a boolean"
	case v == "string":
		return "a string"
	case v == "null":
		return "null"
	}
	return v
}

func describeGoType(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	switch e.Type.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return e.Type.String()
}

// instanceKey formats an index_key as Terraform prints it in addresses:
// [0] for count, ["a"] for for_each.
func instanceKey(v any) (string, error) {
	switch k := v.(type) {
	case nil:
		return "", nil
	case string:
		return "[" + hclQuote(k) + "]", nil
	case float64:
		if k != math.Trunc(k) || k < 0 || k > math.MaxInt32 {
			return "", fmt.Errorf("index key %v is not a valid count index", k)
		}
		return "[" + strconv.FormatInt(int64(k), 10) + "]", nil
	default:
		return "", fmt.Errorf("index key must be a number or a string, found %s", jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// hclQuote quotes a for_each key the way Terraform does in addresses: HCL
// string syntax, with template introducers ("${", "%{") doubled so the
// address could be parsed back as an HCL traversal.
func hclQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteRune(r)
			b.WriteRune(r)
		case !unicode.IsPrint(r):
			if r > 0xFFFF {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// providerType extracts the provider type name from a provider configuration
// address: aws from provider["registry.terraform.io/hashicorp/aws"],
// module.x.provider["registry.terraform.io/hashicorp/aws"].west and the
// legacy provider.aws.west alike. An empty address gives "" and ok, so the
// caller can fall back to the type prefix as Terraform does.
func providerType(addr string) (string, bool) {
	if addr == "" {
		return "", true
	}
	const quoted = `provider["`
	if i := strings.LastIndex(addr, quoted); i >= 0 {
		if i > 0 && addr[i-1] != '.' {
			return "", false
		}
		rest := addr[i+len(quoted):]
		end := strings.Index(rest, `"]`)
		if end < 0 {
			return "", false
		}
		source, alias := rest[:end], rest[end+2:]
		if alias != "" && (alias[0] != '.' || len(alias) == 1) {
			return "", false
		}
		typ := source[strings.LastIndexByte(source, '/')+1:]
		return typ, typ != ""
	}
	const legacy = "provider."
	i := strings.LastIndex(addr, legacy)
	if i < 0 || (i > 0 && addr[i-1] != '.') {
		return "", false
	}
	typ, _, _ := strings.Cut(addr[i+len(legacy):], ".")
	return typ, typ != ""
}

// resourceFrom fills the shared Resource fields from state attributes.
func resourceFrom(provider, typ string, attrs map[string]any) model.Resource {
	r := model.Resource{
		Provider: provider,
		Type:     typ,
		ID:       stringAttr(attrs, "id"),
		ARN:      stringAttr(attrs, "arn"),
		Name:     stringAttr(attrs, "name"),
		Tags:     tagsAttr(attrs),
	}
	r.Region = stringAttr(attrs, "region")
	if r.ARN != "" {
		region, account := splitARN(r.ARN)
		if r.Region == "" {
			r.Region = region
		}
		r.Account = account
	}
	if r.Region == "" {
		if az := stringAttr(attrs, "availability_zone"); len(az) > 1 {
			r.Region = strings.TrimRight(az, "abcdefghijklmnopqrstuvwxyz")
		}
	}
	return r
}

// stringAttr reads a scalar attribute as a string; numbers are formatted
// without an exponent so numeric ids survive.
func stringAttr(attrs map[string]any, key string) string {
	switch v := attrs[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// tagsAttr prefers tags_all, which includes the provider's default_tags and
// so matches what the cloud shows. A state with neither attribute yields nil
// (tags unknown, not compared); a present but null or empty one yields an
// empty map (no tags).
func tagsAttr(attrs map[string]any) map[string]string {
	var raw any
	found := false
	for _, key := range [...]string{"tags_all", "tags"} {
		v, ok := attrs[key]
		if !ok {
			continue
		}
		found = true
		if v != nil {
			raw = v
			break
		}
	}
	if !found {
		return nil
	}
	m, _ := raw.(map[string]any)
	tags := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			tags[k] = s
		}
	}
	return tags
}

// splitARN returns the region and account fields of an ARN; both are empty
// for global services (IAM has no region, S3 buckets neither).
func splitARN(arn string) (region, account string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", ""
	}
	return parts[3], parts[4]
}
