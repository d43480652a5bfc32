package codify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"plumb/internal/model"
)

// An edit is one change to an existing .tf file: a tag set or removed, a
// top-level argument set, or a resource block deleted. Edits are applied
// to the source bytes at the positions hclsyntax reports, so everything
// else in the file (comments, blank lines, alignment, ordering) stays as
// it was. A file that was already in `terraform fmt` style is formatted
// again afterwards, so the realigned "=" of a neighbouring line is the
// only other difference; a file that was not is left unformatted.
type edit struct {
	typ, name string
	op        editOp
	key       string    // tag key or argument name
	value     cty.Value // new value (null removes a tag)
}

type editOp int

const (
	opSetTag editOp = iota
	opRemoveTag
	opSetArgument
	opRemoveBlock
)

// refusal is an edit plumb will not make, with the reason in the user's
// terms; the finding is left for a person.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func refuse(format string, args ...any) error {
	return &refusal{reason: fmt.Sprintf(format, args...)}
}

// editsForChanged turns a drift.changed finding into edits, or refuses
// with the reason. Only tags and top-level scalar arguments are accepted:
// those are the changes whose meaning in code is unambiguous.
func editsForChanged(f model.Finding, addr parsedAddress) ([]edit, error) {
	if len(f.Changes) == 0 {
		return nil, refuse("the finding lists no changed attribute")
	}
	var out []edit
	for _, c := range f.Changes {
		if isRedacted(c.After) || isRedacted(c.Before) {
			return nil, refuse("%s is sensitive: its value is not in the report, set it by hand", c.Path)
		}
		if key, ok := strings.CutPrefix(c.Path, "tags."); ok && key != "" {
			if c.After == nil {
				out = append(out, edit{typ: addr.typ, name: addr.name, op: opRemoveTag, key: key})
				continue
			}
			s, ok := c.After.(string)
			if !ok {
				return nil, refuse("tag %s: live value %v is not a string", key, c.After)
			}
			out = append(out, edit{typ: addr.typ, name: addr.name, op: opSetTag, key: key, value: cty.StringVal(s)})
			continue
		}
		if !hclsyntax.ValidIdentifier(c.Path) {
			return nil, refuse("%s: only tags and top-level arguments are accepted automatically; nested values need a person", c.Path)
		}
		v, ok := scalarValue(c.After)
		if !ok {
			return nil, refuse("%s: only tags and top-level string, number or bool arguments are accepted automatically (live value %s)", c.Path, short(c.After))
		}
		out = append(out, edit{typ: addr.typ, name: addr.name, op: opSetArgument, key: c.Path, value: v})
	}
	return out, nil
}

func isRedacted(v any) bool {
	s, ok := v.(string)
	return ok && s == "(sensitive)"
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// scalarValue converts a JSON value from a report into a cty value.
func scalarValue(v any) (cty.Value, bool) {
	switch x := v.(type) {
	case string:
		return cty.StringVal(x), true
	case bool:
		return cty.BoolVal(x), true
	case float64:
		return cty.NumberFloatVal(x), true
	case json.Number:
		f, _, err := big.ParseFloat(x.String(), 10, 512, big.ToNearestEven)
		if err != nil {
			return cty.NilVal, false
		}
		return cty.NumberVal(f), true
	case int:
		return cty.NumberIntVal(int64(x)), true
	case int64:
		return cty.NumberIntVal(x), true
	}
	return cty.NilVal, false
}

// applyEdits applies edits to one file in order and keeps the file's
// formatting (see edit).
func applyEdits(filename string, src []byte, edits []edit) ([]byte, error) {
	canonical := bytes.Equal(hclwrite.Format(src), src)
	out := src
	for _, e := range edits {
		var err error
		out, err = applyEdit(filename, out, e)
		if err != nil {
			return nil, err
		}
	}
	if canonical {
		out = hclwrite.Format(out)
	}
	if _, diags := hclsyntax.ParseConfig(out, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, fmt.Errorf("%s: the edited file does not parse (a bug in plumb): %s", filename, diags.Error())
	}
	return out, nil
}

func findResource(filename string, src []byte, typ, name string) (*hclsyntax.Block, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s does not parse: %s", filename, diags.Error())
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == typ && b.Labels[1] == name {
			return b, nil
		}
	}
	return nil, refuse("resource block %s.%s not found in %s", typ, name, filename)
}

func applyEdit(filename string, src []byte, e edit) ([]byte, error) {
	b, err := findResource(filename, src, e.typ, e.name)
	if err != nil {
		return nil, err
	}
	addr := e.typ + "." + e.name
	switch e.op {
	case opRemoveBlock:
		return removeBlock(src, b), nil
	case opSetArgument:
		if attr, ok := b.Body.Attributes[e.key]; ok {
			if !isConstant(attr.Expr) {
				return nil, refuse("%s of %s comes from %s: set it to %s there by hand", e.key, addr, describeSource(attr.Expr, src), literal(e.value))
			}
			return splice(src, attr.Expr.Range(), []byte(literal(e.value))), nil
		}
		return insertInBlock(src, b, e.key+" = "+literal(e.value)), nil
	case opSetTag, opRemoveTag:
		return editTag(src, b, addr, e)
	}
	return nil, errors.New("unknown edit")
}

// editTag sets or removes one key of the block's tags.
func editTag(src []byte, b *hclsyntax.Block, addr string, e edit) ([]byte, error) {
	attr, ok := b.Body.Attributes["tags"]
	if !ok {
		if e.op == opRemoveTag {
			return src, nil
		}
		line := "tags = {\n" + tagKey(e.key, false) + " = " + literal(e.value) + "\n}"
		return insertInBlock(src, b, line), nil
	}
	obj, ok := tagObject(attr.Expr)
	if !ok {
		return nil, refuse("the tags of %s come from %s: %s by hand", addr, describeSource(attr.Expr, src), tagAdvice(e))
	}
	var found *hclsyntax.ObjectConsItem
	quoted := len(obj.Items) > 0
	for i := range obj.Items {
		it := &obj.Items[i]
		k, isQuoted, ok := itemKey(it)
		if !ok {
			continue
		}
		quoted = quoted && isQuoted
		if k == e.key {
			found = it
		}
	}
	if found != nil && !isConstant(found.ValueExpr) {
		return nil, refuse("tag %s of %s comes from %s: %s by hand", e.key, addr, describeSource(found.ValueExpr, src), tagAdvice(e))
	}
	switch {
	case e.op == opRemoveTag && found == nil:
		return src, nil
	case e.op == opRemoveTag:
		return removeItem(src, obj, found), nil
	case found != nil:
		return splice(src, found.ValueExpr.Range(), []byte(literal(e.value))), nil
	}
	return addItem(src, obj, tagKey(e.key, quoted)+" = "+literal(e.value)), nil
}

func tagAdvice(e edit) string {
	if e.op == opRemoveTag {
		return "remove " + e.key + " there"
	}
	return "set " + e.key + " = " + literal(e.value) + " there"
}

// tagObject finds the literal object a tag belongs in: the tags object
// itself, or the last object argument of merge(...), which wins.
func tagObject(expr hclsyntax.Expression) (*hclsyntax.ObjectConsExpr, bool) {
	switch x := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		return x, true
	case *hclsyntax.FunctionCallExpr:
		if x.Name == "merge" && len(x.Args) > 0 && !x.ExpandFinal {
			if o, ok := x.Args[len(x.Args)-1].(*hclsyntax.ObjectConsExpr); ok {
				return o, true
			}
		}
	}
	return nil, false
}

// itemKey returns an object item's literal key and whether it is quoted.
func itemKey(it *hclsyntax.ObjectConsItem) (string, bool, bool) {
	kx, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr)
	if !ok {
		return "", false, false
	}
	if !kx.ForceNonLiteral {
		if tr, ok := kx.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && len(tr.Traversal) == 1 {
			return tr.Traversal.RootName(), false, true
		}
	}
	if !isConstant(kx.Wrapped) {
		return "", false, false
	}
	v, diags := kx.Wrapped.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return "", false, false
	}
	return v.AsString(), true, true
}

func tagKey(k string, quoted bool) string {
	if !quoted && hclsyntax.ValidIdentifier(k) {
		return k
	}
	return literal(cty.StringVal(k))
}

// isConstant reports an expression without variables or function calls:
// a value written in the file itself.
func isConstant(expr hclsyntax.Expression) bool {
	if len(expr.Variables()) > 0 {
		return false
	}
	calls := false
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			calls = true
		}
		return nil
	})
	if calls {
		return false
	}
	_, diags := expr.Value(nil)
	return !diags.HasErrors()
}

// describeSource names where a non-literal value comes from, in the
// user's terms.
func describeSource(expr hclsyntax.Expression, src []byte) string {
	text := strings.Join(strings.Fields(string(expr.Range().SliceBytes(src))), " ")
	if len(text) > 80 {
		text = text[:77] + "..."
	}
	for _, tr := range expr.Variables() {
		switch tr.RootName() {
		case "var":
			return "the variable " + traversalString(tr[:min(2, len(tr))]) + " (" + text + ")"
		case "local":
			return "the local value " + traversalString(tr[:min(2, len(tr))]) + " (" + text + ")"
		case "module":
			return "the module output " + traversalString(tr[:min(3, len(tr))]) + " (" + text + ")"
		case "data":
			return "a data source (" + text + ")"
		}
	}
	return "the expression " + text
}

func literal(v cty.Value) string {
	if v.Type() == cty.Number {
		if bf := v.AsBigFloat(); bf.IsInt() {
			i, _ := bf.Int(nil)
			return i.String()
		}
	}
	return strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
}

func splice(src []byte, r hcl.Range, with []byte) []byte {
	out := make([]byte, 0, len(src)+len(with))
	out = append(out, src[:r.Start.Byte]...)
	out = append(out, with...)
	return append(out, src[r.End.Byte:]...)
}

// lineStart returns the offset of the start of the line holding off.
func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

// lineEnd returns the offset just past the newline ending the line
// holding off (or len(src)).
func lineEnd(src []byte, off int) int {
	if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(src)
}

func indentOf(src []byte, off int) string {
	s := lineStart(src, off)
	e := s
	for e < len(src) && (src[e] == ' ' || src[e] == '\t') {
		e++
	}
	return string(src[s:e])
}

// onlySpaceBefore reports whether nothing but blanks precede off on its line.
func onlySpaceBefore(src []byte, off int) bool {
	return len(bytes.TrimSpace(src[lineStart(src, off):off])) == 0
}

// insertInBlock adds lines (relative indentation in text) just before the
// block's closing brace, indented one level deeper than the brace.
func insertInBlock(src []byte, b *hclsyntax.Block, text string) []byte {
	closeOff := b.CloseBraceRange.Start.Byte
	if !onlySpaceBefore(src, closeOff) {
		// The closing brace shares its line ({} or a one-liner): open it.
		ind := indentOf(src, b.OpenBraceRange.Start.Byte)
		body := bytes.TrimSpace(src[b.OpenBraceRange.End.Byte:closeOff])
		var nb bytes.Buffer
		nb.WriteString("{\n")
		if len(body) > 0 {
			nb.WriteString(ind + "  ")
			nb.Write(body)
			nb.WriteString("\n")
		}
		nb.WriteString(indentLines(text, ind+"  "))
		nb.WriteString(ind + "}")
		r := hcl.Range{Start: b.OpenBraceRange.Start, End: b.CloseBraceRange.End}
		return splice(src, r, nb.Bytes())
	}
	ind := indentOf(src, closeOff)
	at := lineStart(src, closeOff)
	out := append([]byte{}, src[:at]...)
	out = append(out, indentLines(text, ind+"  ")...)
	return append(out, src[at:]...)
}

// indentLines prefixes every line of text with ind, nesting "{" ... "}"
// one more level, and ends it with a newline.
func indentLines(text, ind string) string {
	var b strings.Builder
	depth := 0
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "}") {
			depth--
		}
		b.WriteString(ind + strings.Repeat("  ", max(depth, 0)) + t + "\n")
		if strings.HasSuffix(t, "{") {
			depth++
		}
	}
	return b.String()
}

// addItem adds "key = value" to an object constructor.
func addItem(src []byte, obj *hclsyntax.ObjectConsExpr, item string) []byte {
	closeOff := obj.SrcRange.End.Byte - 1
	multiLine := obj.OpenRange.Start.Line != obj.SrcRange.End.Line && onlySpaceBefore(src, closeOff)
	if !multiLine {
		return rewriteObject(src, obj, nil, item)
	}
	ind := indentOf(src, closeOff) + "  "
	if n := len(obj.Items); n > 0 {
		last := obj.Items[n-1]
		if onlySpaceBefore(src, last.KeyExpr.Range().Start.Byte) {
			ind = indentOf(src, last.KeyExpr.Range().Start.Byte)
		}
	}
	at := lineStart(src, closeOff)
	out := append([]byte{}, src[:at]...)
	out = append(out, ind+item+"\n"...)
	return append(out, src[at:]...)
}

// removeItem deletes one item of an object constructor: its lines when it
// has them to itself, otherwise by rewriting the object.
func removeItem(src []byte, obj *hclsyntax.ObjectConsExpr, it *hclsyntax.ObjectConsItem) []byte {
	start := it.KeyExpr.Range().Start.Byte
	end := it.ValueExpr.Range().End.Byte
	rest := lineEnd(src, end)
	tail := bytes.TrimSpace(src[end:rest])
	tail = bytes.TrimPrefix(tail, []byte(","))
	tail = bytes.TrimSpace(tail)
	ownLines := onlySpaceBefore(src, start) && (len(tail) == 0 || tail[0] == '#' || bytes.HasPrefix(tail, []byte("//")))
	if ownLines && obj.OpenRange.Start.Line != obj.SrcRange.End.Line {
		out := append([]byte{}, src[:lineStart(src, start)]...)
		return append(out, src[rest:]...)
	}
	return rewriteObject(src, obj, it, "")
}

// rewriteObject writes an object constructor out again on several lines,
// without skip and with extra appended, keeping each item's own source.
func rewriteObject(src []byte, obj *hclsyntax.ObjectConsExpr, skip *hclsyntax.ObjectConsItem, extra string) []byte {
	ind := indentOf(src, obj.OpenRange.Start.Byte)
	var b strings.Builder
	b.WriteString("{\n")
	for i := range obj.Items {
		it := &obj.Items[i]
		if it == skip {
			continue
		}
		r := hcl.RangeBetween(it.KeyExpr.Range(), it.ValueExpr.Range())
		b.WriteString(ind + "  " + string(r.SliceBytes(src)) + "\n")
	}
	if extra != "" {
		b.WriteString(ind + "  " + extra + "\n")
	}
	b.WriteString(ind + "}")
	return splice(src, obj.SrcRange, []byte(b.String()))
}

// removeBlock deletes a block with the comment lines directly above it,
// and one blank line so no double gap remains.
func removeBlock(src []byte, b *hclsyntax.Block) []byte {
	start := lineStart(src, b.TypeRange.Start.Byte)
	for start > 0 {
		prev := lineStart(src, start-1)
		t := bytes.TrimSpace(src[prev:start])
		if len(t) == 0 || !(t[0] == '#' || bytes.HasPrefix(t, []byte("//"))) {
			break
		}
		start = prev
	}
	end := lineEnd(src, b.CloseBraceRange.End.Byte-1)
	// Drop one surrounding blank line.
	if end < len(src) && len(bytes.TrimSpace(src[end:lineEnd(src, end)])) == 0 {
		end = lineEnd(src, end)
	} else if start > 0 {
		prev := lineStart(src, start-1)
		if len(bytes.TrimSpace(src[prev:start])) == 0 {
			start = prev
		}
	}
	out := append([]byte{}, src[:start]...)
	return append(out, src[end:]...)
}
