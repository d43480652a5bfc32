package codify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// prove writes the proposal into the scratch copy and runs terraform plan
// until the plan shows the imports, the accepted changes and the removals
// and nothing else for them. Each round may leave out a generated
// argument, put one back, return to a literal id, or give up on a
// resource or an edit; what is given up on is reported with the reason.
func (c *run) prove(ctx context.Context) error {
	c.fileName = outputName(c.root.dir, c.opts.Now(), c.root.files)
	planFile := filepath.Join(c.scratch.base, "codify.tfplan")
	for round := 1; ; round++ {
		if len(c.included()) == 0 && len(c.includedChanges()) == 0 {
			c.rendered = nil
			return nil
		}
		if round > maxRounds {
			return fmt.Errorf("the generated code still changes the plan after %d rounds of terraform plan; nothing was written", maxRounds)
		}
		referenced, err := c.writeScratch()
		if err != nil {
			return err
		}
		step := "prove the result"
		if round > 1 {
			step = fmt.Sprintf("prove the result (round %d)", round)
		}
		_ = os.Remove(planFile)
		pr, err := c.tf.plan(ctx, c.scratch.dir, step, c.total, "-out="+planFile)
		if err != nil {
			return err
		}
		if !pr.ok {
			progress, err := c.handleErrors(pr.errors)
			if err != nil {
				return err
			}
			if !progress {
				return fmt.Errorf("terraform plan fails in a scratch copy of %s:\n  %s", c.root.dir, joinDiags(pr.errors))
			}
			continue
		}
		if c.onlyImports(pr.actions) {
			c.res.Others = nil
			return nil
		}
		out, err := c.tf.run(ctx, c.scratch.dir, "show", "-json", planFile)
		if err != nil {
			return fmt.Errorf("read the plan: %w", err)
		}
		changes, err := parsePlanChanges(out)
		if err != nil {
			return err
		}
		if !c.evaluate(changes, referenced) {
			return nil
		}
	}
}

// onlyImports reports whether the plan's stream already proves the
// result: every included adoption is planned as a plain import and
// nothing else changes (an accepted change or a removal that converged
// plans nothing). Then reading the saved plan back is not needed.
func (c *run) onlyImports(actions map[string]string) bool {
	imports := 0
	for _, a := range c.included() {
		if actions[a.address()] != "import" {
			return false
		}
		imports++
	}
	return len(actions) == imports
}

// writeScratch writes the adopted file and the edited files into the
// scratch copy; it returns, per adoption, the keys holding references.
func (c *run) writeScratch() (map[string][]string, error) {
	refs := newRefIndex()
	for k, v := range c.refs.ids {
		refs.ids[k] = v
	}
	for k, v := range c.refs.arns {
		refs.arns[k] = v
	}
	for k := range c.refs.ambiguous {
		refs.ambiguous[k] = true
	}
	for _, a := range c.included() {
		refs.add(a.address(), a.importID, "")
	}
	var buf bytes.Buffer
	env := c.opts.Environment
	fmt.Fprintf(&buf, "# Written by plumb codify on %s", c.opts.Now().Format("2006-01-02"))
	if env != "" {
		fmt.Fprintf(&buf, " for environment %q", env)
	}
	buf.WriteString(".\n")
	buf.WriteString("# Each import block adopts a resource that existed but no code declared;\n")
	buf.WriteString("# arguments equal to the provider's defaults are left out. terraform plan\n")
	buf.WriteString("# showed the imports and no other change for these resources.\n")
	referenced := map[string][]string{}
	for _, a := range c.included() {
		block, keys, err := a.render(refs)
		if err != nil {
			return nil, err
		}
		referenced[a.address()] = keys
		buf.WriteString("\n" + findingComment(a.finding.Kind, a.finding.Fingerprint, a.finding.Message))
		buf.Write(a.importBlock())
		buf.WriteString("\n")
		buf.Write(block)
	}
	for _, ch := range c.includedChanges() {
		if !ch.remove {
			continue
		}
		buf.WriteString("\n" + findingComment(ch.finding.Kind, ch.finding.Fingerprint, ch.finding.Message))
		buf.Write(removedBlock(ch.address))
	}
	c.rendered = hclwrite.Format(buf.Bytes())
	path := filepath.Join(c.scratch.dir, c.fileName)
	if err := os.WriteFile(path, c.rendered, 0o644); err != nil {
		return nil, fmt.Errorf("write into the scratch copy: %w", err)
	}
	edited, err := c.editedFiles()
	if err != nil {
		return nil, err
	}
	for name, orig := range c.root.files {
		content := orig
		if e, ok := edited[name]; ok {
			content = e
		}
		if err := os.WriteFile(filepath.Join(c.scratch.dir, name), content, 0o644); err != nil {
			return nil, fmt.Errorf("write into the scratch copy: %w", err)
		}
	}
	return referenced, nil
}

func findingComment(kind any, fingerprint, message string) string {
	msg := strings.Join(strings.Fields(message), " ")
	return fmt.Sprintf("# %s %s: %s\n", kind, fingerprint, msg)
}

// removedBlock forgets a resource without destroying anything
// (Terraform 1.7 and later).
func removedBlock(address string) []byte {
	f := hclwrite.NewEmptyFile()
	b := f.Body().AppendNewBlock("removed", nil)
	toks, _ := referenceTokens(address)
	b.Body().SetAttributeRaw("from", toks)
	lc := b.Body().AppendNewBlock("lifecycle", nil)
	lc.Body().SetAttributeValue("destroy", cty.False)
	return f.Bytes()
}

// plannedChange is one entry of the plan's resource_changes.
type plannedChange struct {
	Address string `json:"address"`
	Mode    string `json:"mode"`
	Change  struct {
		Actions      []string       `json:"actions"`
		Before       map[string]any `json:"before"`
		After        map[string]any `json:"after"`
		AfterUnknown any            `json:"after_unknown"`
		Importing    *struct {
			ID string `json:"id"`
		} `json:"importing"`
	} `json:"change"`
}

func parsePlanChanges(data []byte) (map[string]*plannedChange, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc struct {
		ResourceChanges []*plannedChange `json:"resource_changes"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read terraform show -json: %w", err)
	}
	out := map[string]*plannedChange{}
	for _, rc := range doc.ResourceChanges {
		if rc.Mode == "managed" || rc.Mode == "" {
			out[rc.Address] = rc
		}
	}
	return out, nil
}

func isNoOp(rc *plannedChange) bool {
	return len(rc.Change.Actions) == 1 && rc.Change.Actions[0] == "no-op"
}

// evaluate reads a successful plan. It returns whether anything had to be
// changed (another round is needed).
func (c *run) evaluate(changes map[string]*plannedChange, referenced map[string][]string) bool {
	again := false
	ours := map[string]bool{}
	for _, a := range c.included() {
		ours[a.address()] = true
		rc, ok := changes[a.address()]
		switch {
		case !ok:
			a.excluded = "terraform plan did not plan its import"
			again = true
			continue
		case rc.Change.Importing == nil:
			a.excluded = "terraform plan did not import it"
			again = true
			continue
		case isNoOp(rc):
			continue
		}
		again = true
		c.adjust(a, rc, referenced[a.address()])
	}
	for _, ch := range c.includedChanges() {
		ours[ch.address] = true
		rc, ok := changes[ch.address]
		if ch.remove {
			if ok && !(isNoOp(rc) || contains(rc.Change.Actions, "forget")) {
				ch.reverted = fmt.Sprintf("after deleting the block, terraform plan would still %s it", strings.Join(rc.Change.Actions, "+"))
				again = true
			}
			continue
		}
		if !ok || isNoOp(rc) {
			continue
		}
		keys := diffKeys(rc)
		ch.reverted = fmt.Sprintf("with the change accepted, terraform plan still changes %s: %s", ch.address, describeKeys(rc, keys))
		again = true
	}
	if !again {
		c.res.Others = nil
		var addrs []string
		for addr, rc := range changes {
			if !ours[addr] && !isNoOp(rc) && !contains(rc.Change.Actions, "read") {
				addrs = append(addrs, addr+" ("+strings.Join(rc.Change.Actions, "+")+")")
			}
		}
		sort.Strings(addrs)
		c.res.Others = addrs
	}
	return again
}

// adjust reacts to a planned change of an adopted resource: put back
// arguments whose absence changed the plan, return to literal ids where a
// reference did, or give up on the resource.
func (c *run) adjust(a *adoption, rc *plannedChange, referenced []string) {
	a.adjustments++
	var stuck []string
	progress := false
	keys := diffKeys(rc)
	for _, k := range keys {
		key := k
		if k == "tags_all" {
			if contains(keys, "tags") {
				continue
			}
			key = "tags"
		}
		how := describeChange(rc, k)
		_, dropped := a.drops[key]
		_, restored := a.restored[key]
		switch {
		case a.errorDrops[key] != "":
			stuck = append(stuck, fmt.Sprintf("%s: Terraform rejects the value the provider reads (%s), and without it the plan changes %s", key, a.errorDrops[key], how))
		case dropped && !restored:
			a.restored[key] = how
			progress = true
		case contains(referenced, key) && !a.literal[key]:
			a.literal[key] = true
			progress = true
		default:
			stuck = append(stuck, fmt.Sprintf("the plan changes %s", how))
		}
	}
	switch {
	case len(stuck) > 0:
		a.excluded = "does not converge: " + strings.Join(stuck, "; ")
	case !progress:
		a.excluded = "does not converge: terraform plan would " + strings.Join(rc.Change.Actions, "+") + " it"
	case a.adjustments > maxAdjustments:
		a.excluded = fmt.Sprintf("does not converge after %d attempts: %s", maxAdjustments, describeKeys(rc, diffKeys(rc)))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// diffKeys lists the top-level attributes a planned change alters. When
// some attributes differ with both values known, only those are listed:
// the unknown ones (id, arn after a replacement) are their consequence.
func diffKeys(rc *plannedChange) []string {
	known := map[string]bool{}
	unknownKeys := map[string]bool{}
	unknown, _ := rc.Change.AfterUnknown.(map[string]any)
	isUnknown := func(k string) bool {
		u, _ := unknown[k].(bool)
		return u
	}
	for k, v := range rc.Change.After {
		if isUnknown(k) {
			unknownKeys[k] = true
			continue
		}
		if !reflect.DeepEqual(v, rc.Change.Before[k]) {
			known[k] = true
		}
	}
	for k := range rc.Change.Before {
		if _, ok := rc.Change.After[k]; ok {
			continue
		}
		if isUnknown(k) {
			unknownKeys[k] = true
		} else {
			known[k] = true
		}
	}
	for k := range unknown {
		if isUnknown(k) {
			unknownKeys[k] = true
		}
	}
	pick := known
	if len(known) == 0 {
		pick = unknownKeys
	}
	out := make([]string, 0, len(pick))
	for k := range pick {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeChange(rc *plannedChange, key string) string {
	unknown, _ := rc.Change.AfterUnknown.(map[string]any)
	after := short(rc.Change.After[key])
	if u, _ := unknown[key].(bool); u {
		after = "(known after apply)"
	}
	return fmt.Sprintf("%s from %s to %s", key, short(rc.Change.Before[key]), after)
}

func describeKeys(rc *plannedChange, keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, describeChange(rc, k))
	}
	if len(parts) == 0 {
		return strings.Join(rc.Change.Actions, "+")
	}
	return strings.Join(parts, "; ")
}

// handleErrors reacts to a failed plan: an error in an adopted resource's
// argument leaves that argument out (or, when it was needed, the
// resource); an error naming an edited resource takes the edit back. It
// reports whether anything changed.
func (c *run) handleErrors(ds []diagnostic) (bool, error) {
	progress := false
	var rest []diagnostic
	for _, d := range ds {
		if d.Range != nil && d.Range.Filename == c.fileName {
			addr, key := locateLine(c.rendered, d.Range.Start.Line)
			if a := c.adoption(addr); a != nil && a.excluded == "" {
				progress = true
				a.adjustments++
				switch {
				case key == "":
					a.excluded = "Terraform rejects the generated configuration: " + d.String()
				case a.restored[key] != "":
					a.excluded = fmt.Sprintf("does not converge: %s: Terraform rejects the value the provider reads (%s), and without it the plan changes %s", key, d.String(), a.restored[key])
				case a.errorDrops[key] != "" || a.adjustments > maxAdjustments+1:
					a.excluded = "Terraform rejects the generated configuration: " + d.String()
				default:
					a.errorDrops[key] = d.String()
				}
				continue
			}
			if ch := c.removalAt(addr); ch != nil {
				ch.reverted = "terraform plan rejects the removal: " + d.String()
				progress = true
				continue
			}
		}
		if a := c.adoption(d.Address); a != nil && a.excluded == "" {
			a.excluded = "Terraform rejects it: " + d.String()
			progress = true
			continue
		}
		if ch := c.changeFor(d); ch != nil {
			ch.reverted = "terraform plan fails with the edit: " + d.String()
			progress = true
			continue
		}
		rest = append(rest, d)
	}
	if len(rest) > 0 && !progress {
		// An error no edit explains: take every edit back once, in case
		// one of them caused it (a deleted block still referenced).
		for _, ch := range c.includedChanges() {
			ch.reverted = "terraform plan fails with the edit: " + joinDiags(rest)
			progress = true
		}
	}
	return progress, nil
}

func (c *run) adoption(addr string) *adoption {
	if addr == "" {
		return nil
	}
	for _, a := range c.adoptions {
		if a.address() == addr {
			return a
		}
	}
	return nil
}

func (c *run) removalAt(addr string) *change {
	for _, ch := range c.includedChanges() {
		if ch.remove && ch.address == addr {
			return ch
		}
	}
	return nil
}

// changeFor finds the included change a diagnostic is about: by address,
// or by an address named in its text.
func (c *run) changeFor(d diagnostic) *change {
	for _, ch := range c.includedChanges() {
		if d.Address == ch.address {
			return ch
		}
	}
	text := d.Summary + " " + d.Detail
	for _, ch := range c.includedChanges() {
		if strings.Contains(text, ch.address) {
			return ch
		}
	}
	return nil
}

// locateLine finds the block (resource address, or removed-block target)
// and the top-level key at a line of the adopted file.
func locateLine(src []byte, line int) (addr, key string) {
	f, diags := hclsyntax.ParseConfig(src, "adopted.tf", hcl.InitialPos)
	if diags.HasErrors() {
		return "", ""
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		r := b.Range()
		if line < r.Start.Line || line > r.End.Line {
			continue
		}
		switch {
		case b.Type == "resource" && len(b.Labels) == 2:
			addr = b.Labels[0] + "." + b.Labels[1]
		case b.Type == "removed" || b.Type == "import":
			for _, name := range []string{"from", "to"} {
				if a, ok := b.Body.Attributes[name]; ok {
					if tr, d := hcl.AbsTraversalForExpr(a.Expr); !d.HasErrors() {
						addr = traversalString(tr)
					}
				}
			}
			return addr, ""
		}
		for name, a := range b.Body.Attributes {
			if line >= a.SrcRange.Start.Line && line <= a.SrcRange.End.Line {
				return addr, name
			}
		}
		for _, nb := range b.Body.Blocks {
			if rr := nb.Range(); line >= rr.Start.Line && line <= rr.End.Line {
				return addr, nb.Type
			}
		}
		return addr, ""
	}
	return "", ""
}
