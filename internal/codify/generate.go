package codify

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"plumb/internal/model"
)

// adoption is one unmanaged resource on its way into code: the import
// block's target and id, the configuration Terraform generated for it,
// and what cleaning decided about each top-level argument.
type adoption struct {
	finding  model.Finding
	typ      string
	name     string
	importID string
	// generated is the resource block exactly as Terraform generated it.
	generated []byte
	// drops lists, per top-level argument or nested block type, the
	// paths cleaning leaves out: "tags_all", "root_block_device.0",
	// "metadata_options.0.http_tokens".
	drops map[string][]string
	// restored holds top-level keys put back as generated because leaving
	// them out made the plan change the resource; the value says how.
	restored map[string]string
	// errorDrops holds top-level keys left out because Terraform rejected
	// the generated value; the value is Terraform's error.
	errorDrops map[string]string
	// literal holds top-level keys where a reference to another resource
	// was replaced by the literal id again.
	literal map[string]bool
	// adjustments counts the proof rounds that had to change this
	// resource; a resource still changing after maxAdjustments is left
	// out as not converging.
	adjustments int
	excluded    string
}

func (a *adoption) address() string { return a.typ + "." + a.name }

// maxAdjustments bounds how often one resource's configuration is
// changed before it is declared not converging.
const maxAdjustments = 3

// parseGenerated splits the file Terraform wrote with
// -generate-config-out into one block per resource address.
func parseGenerated(src []byte) (map[string][]byte, error) {
	f, diags := hclwrite.ParseConfig(src, "generated.tf", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("read the configuration Terraform generated: %s", diags.Error())
	}
	out := map[string][]byte{}
	for _, b := range f.Body().Blocks() {
		if b.Type() != "resource" || len(b.Labels()) != 2 {
			continue
		}
		out[b.Labels()[0]+"."+b.Labels()[1]] = b.BuildTokens(nil).Bytes()
	}
	return out, nil
}

// syntaxBlock parses one generated resource block for its values.
func syntaxBlock(src []byte) (*hclsyntax.Block, error) {
	f, diags := hclsyntax.ParseConfig(src, "generated.tf", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("read generated configuration: %s", diags.Error())
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Blocks) != 1 {
		return nil, fmt.Errorf("read generated configuration: want one block, got %d", len(body.Blocks))
	}
	return body.Blocks[0], nil
}

// clean decides which generated arguments to leave out. The rules, in
// order, for each argument:
//
//   - null: always left out (null is what an absent argument means);
//   - tags_all: always left out (Terraform computes it from tags and the
//     provider's default_tags; writing it only fights default_tags);
//   - required: kept;
//   - tags: kept unless empty;
//   - optional and computed: left out when zero or empty (false, 0, "",
//     [], {}), since the provider keeps the real value; kept otherwise,
//     because such arguments (ami, subnet_id, vpc_id) carry meaning even
//     though the provider could fill them;
//   - optional, not computed: left out as a candidate provider default.
//
// Every decision is proven afterwards: a left-out argument whose absence
// makes the plan change the resource is put back as generated. Nested
// blocks follow the same rules for their own arguments, and a nested
// block left with nothing is left out whole.
func (a *adoption) clean(sch *schemaBlock) error {
	blk, err := syntaxBlock(a.generated)
	if err != nil {
		return err
	}
	a.drops = map[string][]string{}
	a.restored = map[string]string{}
	a.errorDrops = map[string]string{}
	a.literal = map[string]bool{}
	for name, attr := range blk.Body.Attributes {
		if dropArgument(name, attr, sch, true) {
			a.drops[name] = []string{name}
		}
	}
	if sch == nil {
		return nil
	}
	counts := map[string]int{}
	for _, nb := range blk.Body.Blocks {
		i := counts[nb.Type]
		counts[nb.Type]++
		bt, ok := sch.BlockTypes[nb.Type]
		if !ok {
			continue
		}
		prefix := nb.Type + "." + strconv.Itoa(i)
		var inner []string
		for name, attr := range nb.Body.Attributes {
			if dropArgument(name, attr, &bt.Block, false) {
				inner = append(inner, prefix+"."+name)
			}
		}
		if len(inner) == len(nb.Body.Attributes) && len(nb.Body.Blocks) == 0 && bt.MinItems == 0 {
			a.drops[nb.Type] = append(a.drops[nb.Type], prefix)
			continue
		}
		a.drops[nb.Type] = append(a.drops[nb.Type], inner...)
	}
	for k, v := range a.drops {
		if len(v) == 0 {
			delete(a.drops, k)
		}
	}
	return nil
}

// dropArgument applies the cleaning rules to one argument.
func dropArgument(name string, attr *hclsyntax.Attribute, sch *schemaBlock, top bool) bool {
	v, diags := attr.Expr.Value(nil)
	known := !diags.HasErrors() && v.IsWhollyKnown()
	if known && v.IsNull() {
		return true
	}
	if top && name == "tags_all" {
		return true
	}
	if sch == nil {
		return false
	}
	sa, ok := sch.Attributes[name]
	switch {
	case !ok || sa.Required:
		return false
	case top && name == "tags":
		return known && isZero(v)
	case sa.Computed:
		return known && isZero(v)
	case sa.Optional:
		return known
	}
	return false
}

// isZero reports false, 0, "" and empty collections.
func isZero(v cty.Value) bool {
	if v.IsNull() || !v.IsKnown() {
		return false
	}
	t := v.Type()
	switch {
	case t == cty.Bool:
		return v.False()
	case t == cty.Number:
		return v.RawEquals(cty.Zero)
	case t == cty.String:
		return v.AsString() == ""
	case t.IsListType() || t.IsSetType() || t.IsMapType() || t.IsTupleType() || t.IsObjectType():
		return v.LengthInt() == 0
	}
	return false
}

// refIndex maps ids and ARNs of resources declared in the root module
// (and of resources adopted in the same run) to references, so generated
// code says vpc_id = aws_vpc.main.id instead of a literal id.
type refIndex struct {
	ids, arns map[string]string
	// ambiguous values are left literal: two resources share them.
	ambiguous map[string]bool
}

func newRefIndex() *refIndex {
	return &refIndex{ids: map[string]string{}, arns: map[string]string{}, ambiguous: map[string]bool{}}
}

func (x *refIndex) add(address, id, arn string) {
	put := func(m map[string]string, k, ref string) {
		if k == "" {
			return
		}
		if old, ok := m[k]; ok && old != ref {
			x.ambiguous[k] = true
			return
		}
		m[k] = ref
	}
	put(x.ids, id, address+".id")
	put(x.arns, arn, address+".arn")
}

// lookup returns the reference for value under argument name, if any:
// ids for *_id, *_ids and security_groups, ARNs for *_arn and *_arns.
func (x *refIndex) lookup(argument, value, self string) string {
	if x == nil || value == "" || x.ambiguous[value] {
		return ""
	}
	var ref string
	switch {
	case strings.HasSuffix(argument, "_id") || strings.HasSuffix(argument, "_ids") || argument == "security_groups":
		ref = x.ids[value]
	case strings.HasSuffix(argument, "_arn") || strings.HasSuffix(argument, "_arns"):
		ref = x.arns[value]
	}
	if ref == "" || strings.HasPrefix(ref, self+".") {
		return ""
	}
	return ref
}

// referenceTokens turns "aws_vpc.main.id" (address plus attribute) into
// expression tokens.
func referenceTokens(ref string) (hclwrite.Tokens, bool) {
	tr, diags := hclsyntax.ParseTraversalAbs([]byte(ref), "", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, false
	}
	return hclwrite.TokensForTraversal(tr), true
}

// render writes the cleaned resource block: left-out arguments removed
// (unless restored), literal ids replaced by references. It reports the
// top-level keys that now hold references.
func (a *adoption) render(refs *refIndex) ([]byte, []string, error) {
	f, diags := hclwrite.ParseConfig(a.generated, "generated.tf", hcl.InitialPos)
	if diags.HasErrors() || len(f.Body().Blocks()) != 1 {
		return nil, nil, fmt.Errorf("%s: re-read generated configuration: %s", a.address(), diags.Error())
	}
	blk := f.Body().Blocks()[0]
	body := blk.Body()
	nested := map[string][]*hclwrite.Block{}
	for _, nb := range body.Blocks() {
		nested[nb.Type()] = append(nested[nb.Type()], nb)
	}
	var removeBlocks []*hclwrite.Block
	for key, paths := range a.drops {
		if _, ok := a.restored[key]; ok {
			continue
		}
		for _, p := range paths {
			parts := strings.Split(p, ".")
			switch len(parts) {
			case 1:
				body.RemoveAttribute(parts[0])
			case 2, 3:
				i, err := strconv.Atoi(parts[1])
				if err != nil || i >= len(nested[parts[0]]) {
					continue
				}
				nb := nested[parts[0]][i]
				if len(parts) == 2 {
					removeBlocks = append(removeBlocks, nb)
				} else {
					nb.Body().RemoveAttribute(parts[2])
				}
			}
		}
	}
	for _, key := range a.errorKeys() {
		body.RemoveAttribute(key)
		removeBlocks = append(removeBlocks, nested[key]...)
	}
	for _, nb := range removeBlocks {
		body.RemoveBlock(nb)
	}
	referenced, err := a.addReferences(body, refs)
	if err != nil {
		return nil, nil, err
	}
	return hclwrite.Format(blk.BuildTokens(nil).Bytes()), referenced, nil
}

func (a *adoption) errorKeys() []string {
	keys := make([]string, 0, len(a.errorDrops))
	for k := range a.errorDrops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// addReferences replaces literal ids with references in the top-level
// arguments that remain.
func (a *adoption) addReferences(body *hclwrite.Body, refs *refIndex) ([]string, error) {
	blk, err := syntaxBlock(a.generated)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(body.Attributes()))
	for n := range body.Attributes() {
		names = append(names, n)
	}
	sort.Strings(names)
	var referenced []string
	for _, name := range names {
		if a.literal[name] {
			continue
		}
		attr, ok := blk.Body.Attributes[name]
		if !ok {
			continue
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		switch {
		case v.Type() == cty.String:
			if ref := refs.lookup(name, v.AsString(), a.address()); ref != "" {
				if toks, ok := referenceTokens(ref); ok {
					body.SetAttributeRaw(name, toks)
					referenced = append(referenced, name)
				}
			}
		case v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType():
			var elems []hclwrite.Tokens
			changed := false
			for it := v.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				if ev.IsNull() || ev.Type() != cty.String {
					changed = false
					elems = nil
					break
				}
				if ref := refs.lookup(name, ev.AsString(), a.address()); ref != "" {
					if toks, ok := referenceTokens(ref); ok {
						elems = append(elems, toks)
						changed = true
						continue
					}
				}
				elems = append(elems, hclwrite.TokensForValue(ev))
			}
			if changed {
				body.SetAttributeRaw(name, hclwrite.TokensForTuple(elems))
				referenced = append(referenced, name)
			}
		}
	}
	return referenced, nil
}

// importBlock renders the import block of an adoption.
func (a *adoption) importBlock() []byte {
	f := hclwrite.NewEmptyFile()
	b := f.Body().AppendNewBlock("import", nil)
	toks, _ := referenceTokens(a.address())
	b.Body().SetAttributeRaw("to", toks)
	b.Body().SetAttributeValue("id", cty.StringVal(a.importID))
	return f.Bytes()
}

// resourceName derives a readable Terraform name from the Name tag of a
// resource, else its name, else its id, and makes it unique among taken
// names of the same type.
func resourceName(r model.Resource, taken map[string]bool) string {
	var base string
	for _, s := range []string{r.Tags["Name"], r.Name, r.ID} {
		if base = sanitizeName(s); base != "" {
			break
		}
	}
	if base == "" {
		base = "adopted"
	}
	name := base
	for i := 2; taken[r.Type+"."+name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	taken[r.Type+"."+name] = true
	return name
}

// sanitizeName lowers a display name into a Terraform identifier:
// letters, digits and underscores, starting with a letter.
func sanitizeName(s string) string {
	// A URL or ARN id names the resource by its last segment.
	if i := strings.LastIndexAny(s, "/:"); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastUnderscore = false
		default:
			if !lastUnderscore {
				b.WriteByte('_')
				lastUnderscore = true
			}
		}
	}
	out := strings.Trim(b.String(), "_")
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "r_" + out
	}
	const maxLen = 64
	if len(out) > maxLen {
		out = strings.TrimRight(out[:maxLen], "_")
	}
	return out
}
