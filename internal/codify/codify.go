package codify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"plumb/internal/model"
)

// Options describe one codify run.
type Options struct {
	// Dir is the target Terraform root module. It must be initialised.
	Dir string
	// Bin is the terraform (or tofu) executable; "terraform" by default.
	Bin string
	// Workspace selects a Terraform workspace for this run only.
	Workspace string
	// Env is extra environment for Terraform (KEY=VALUE): credentials,
	// TF_VAR_*, TF_CLI_CONFIG_FILE. Later entries win.
	Env []string
	// Environment names the plumb environment in the generated file's
	// header.
	Environment string
	// Now is the clock (time.Now by default); it names the output file.
	Now func() time.Time
	// Progress receives updates about Terraform runs; nil for none.
	Progress func(Progress)
}

// Result is what a codify run proposes, proven with terraform plan.
type Result struct {
	Dir      string
	Adopted  []Adopted
	Accepted []Accepted
	Removed  []Removed
	// Skipped are chosen findings left for a person, each with the reason.
	Skipped []Skipped
	// Files are the files to create or change, relative to Dir.
	Files []FileChange
	// Others are resources of the root module that terraform plan
	// changes for reasons of their own (code not yet applied, drift
	// codify was not asked to accept); codify did not touch them.
	Others []string
	// Terraform is the time spent waiting for Terraform, TerraformRuns
	// the number of its runs, Total the whole run: Total - Terraform is
	// plumb's own work.
	Terraform     time.Duration
	TerraformRuns int
	Total         time.Duration
}

// Adopted is an unmanaged resource written into code with an import block.
type Adopted struct {
	Finding  model.Finding
	Address  string
	ImportID string
	// Restored are arguments kept because leaving them out changed the
	// plan (they differ from the provider's default).
	Restored []string
}

// Accepted is a drift.changed finding written into an existing block.
type Accepted struct {
	Finding model.Finding
	Address string
	File    string
	// Paths are the accepted attribute paths (tags.Owner).
	Paths []string
}

// Removed is a drift.missing finding whose block was deleted and whose
// state entry a removed block forgets.
type Removed struct {
	Finding model.Finding
	Address string
	File    string
}

// Skipped is a chosen finding codify left alone, and why.
type Skipped struct {
	Finding model.Finding
	Address string
	Reason  string
}

// FileChange is one file to write, relative to the root module.
type FileChange struct {
	Path string
	// Old is the current content, nil for a new file.
	Old []byte
	New []byte
}

// Empty reports whether the run proposes no change at all.
func (r *Result) Empty() bool { return len(r.Files) == 0 }

// maxRounds bounds the proof loop; every round either proves the result
// or changes at least one resource, and each resource can change at most
// maxAdjustments times, so the bound is only a safety net.
const maxRounds = 12

// change is an accepted or removed finding on its way into a file.
type change struct {
	finding model.Finding
	address string
	file    string
	edits   []edit
	paths   []string
	remove  bool
	// reverted holds why the change was taken back, empty while included.
	reverted string
}

// run holds the state of one codify run.
type run struct {
	opts      Options
	root      *root
	scratch   *scratch
	tf        *runner
	res       *Result
	adoptions []*adoption
	changes   []*change
	refs      *refIndex
	fileName  string
	// rendered is the last adopted file written into the scratch copy.
	rendered []byte
	total    int
}

// Run codifies the findings into the root module opts.Dir. Findings must
// already be selected (Select). Nothing is written into opts.Dir: the
// result lists the files, which Write writes and Patch turns into a
// patch.
func Run(ctx context.Context, findings []model.Finding, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dataDir := envValue(opts.Env, "TF_DATA_DIR")
	r, err := openRoot(opts.Dir, dataDir)
	if err != nil {
		return nil, err
	}
	sc, err := newScratch(r)
	if err != nil {
		return nil, err
	}
	defer sc.remove()
	env := append([]string{}, opts.Env...)
	env = append(env, "TF_DATA_DIR="+filepath.Join(sc.dir, ".terraform"))
	if opts.Workspace != "" {
		env = append(env, "TF_WORKSPACE="+opts.Workspace)
	}
	c := &run{opts: opts, root: r, scratch: sc, tf: newRunner(opts.Bin, env, opts.Progress), res: &Result{Dir: r.dir}, refs: newRefIndex()}
	if err := c.prepare(ctx, findings); err != nil {
		return nil, err
	}
	if err := c.generate(ctx); err != nil {
		return nil, err
	}
	if err := c.prove(ctx); err != nil {
		return nil, err
	}
	c.finish()
	c.res.Terraform, c.res.TerraformRuns = c.tf.timing()
	c.res.Total = time.Since(start)
	return c.res, nil
}

func envValue(env []string, key string) string {
	v := os.Getenv(key)
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func (c *run) skip(f model.Finding, address, reason string) {
	c.res.Skipped = append(c.res.Skipped, Skipped{Finding: f, Address: address, Reason: reason})
}

// prepare reads the state, then sorts the findings into adoptions and
// changes, skipping those already handled or impossible to edit safely.
func (c *run) prepare(ctx context.Context, findings []model.Finding) error {
	st, err := readState(ctx, c.tf, c.scratch.dir)
	if err != nil {
		return err
	}
	c.total = len(st.instances)
	taken := map[string]bool{}
	for res := range c.root.resources {
		taken[res] = true
	}
	for _, in := range st.instances {
		if in.rootModule {
			taken[in.resource] = true
			c.refs.add(in.address, in.id, in.arn)
		}
	}
	for _, f := range findings {
		switch f.Kind {
		case model.KindUnmanaged:
			key := f.Resource.Type + "\x00" + f.Resource.ID
			if addr, ok := st.byImportID[key]; ok {
				c.skip(f, addr, fmt.Sprintf("already in the Terraform state as %s (the finding is older than the state)", addr))
				continue
			}
			if file, ok := c.root.importIDs[key]; ok {
				c.skip(f, "", fmt.Sprintf("an import block in %s already adopts it: run terraform apply", file))
				continue
			}
			a := &adoption{finding: f, typ: f.Resource.Type, importID: f.Resource.ID}
			a.name = resourceName(f.Resource, taken)
			c.adoptions = append(c.adoptions, a)
		case model.KindChanged, model.KindMissing:
			ch, reason := c.planChange(f)
			if reason != "" {
				c.skip(f, derefAddress(f), reason)
				continue
			}
			c.changes = append(c.changes, ch)
		default:
			c.skip(f, derefAddress(f), fmt.Sprintf("%s findings cannot be codified", f.Kind))
		}
	}
	c.total += len(c.adoptions)
	return nil
}

func derefAddress(f model.Finding) string {
	if f.Address == nil {
		return ""
	}
	return *f.Address
}

// planChange checks that a changed or missing finding can be written into
// the root module's code, and prepares the edits.
func (c *run) planChange(f model.Finding) (*change, string) {
	raw := derefAddress(f)
	if raw == "" {
		return nil, "the finding has no Terraform address, so plumb cannot tell which block declares it"
	}
	addr, err := parseAddress(raw)
	switch {
	case err != nil:
		return nil, err.Error()
	case addr.module != "":
		return nil, fmt.Sprintf("declared in %s: the value is a module input or lives in the module's code, which other instances share; change it there by hand", addr.module)
	case addr.data:
		return nil, "a data source, not a managed resource"
	case addr.indexed:
		return nil, "an instance of a count or for_each resource: one block declares several instances, so an edit here would change them all"
	}
	file, ok := c.root.resources[addr.resource()]
	if !ok {
		return nil, fmt.Sprintf("no resource block %s in the .tf files of %s", addr.resource(), c.root.dir)
	}
	ch := &change{finding: f, address: raw, file: file}
	if f.Kind == model.KindMissing {
		ch.remove = true
		ch.edits = []edit{{typ: addr.typ, name: addr.name, op: opRemoveBlock}}
	} else {
		edits, err := editsForChanged(f, addr)
		if err != nil {
			return nil, err.Error()
		}
		ch.edits = edits
		for _, cc := range f.Changes {
			ch.paths = append(ch.paths, cc.Path)
		}
	}
	if _, err := applyEdits(file, c.root.files[file], ch.edits); err != nil {
		return nil, err.Error()
	}
	return ch, ""
}

// Scratch file names for the generation step; removed before the proof.
const (
	importsFile   = "plumb_codify_imports.tf"
	generatedFile = "plumb_codify_generated.tf"
)

// generate writes import blocks into the scratch copy and lets Terraform
// generate configuration for them, reading the provider schemas at the
// same time.
func (c *run) generate(ctx context.Context) error {
	if len(c.adoptions) == 0 {
		return nil
	}
	var imports []byte
	types := map[string]bool{}
	for _, a := range c.adoptions {
		imports = append(imports, a.importBlock()...)
		imports = append(imports, '\n')
		types[a.typ] = true
	}
	importPath := filepath.Join(c.scratch.dir, importsFile)
	if err := os.WriteFile(importPath, imports, 0o644); err != nil {
		return fmt.Errorf("write import blocks into the scratch copy: %w", err)
	}
	type schemaResult struct {
		s   schemas
		err error
	}
	schemaCh := make(chan schemaResult, 1)
	go func() {
		out, err := c.tf.run(ctx, c.scratch.dir, "providers", "schema", "-json")
		if err != nil {
			schemaCh <- schemaResult{err: err}
			return
		}
		names := make([]string, 0, len(types))
		for t := range types {
			names = append(names, t)
		}
		s, err := parseSchemas(out, names)
		schemaCh <- schemaResult{s: s, err: err}
	}()
	pr, err := c.tf.plan(ctx, c.scratch.dir, "generate configuration", c.total, "-generate-config-out="+generatedFile)
	sr := <-schemaCh
	if err != nil {
		return err
	}
	if sr.err != nil {
		return fmt.Errorf("read provider schemas: %w", sr.err)
	}
	src, readErr := os.ReadFile(filepath.Join(c.scratch.dir, generatedFile))
	if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
		return fmt.Errorf("read generated configuration: %w", readErr)
	}
	blocks := map[string][]byte{}
	if len(src) > 0 {
		if blocks, err = parseGenerated(src); err != nil {
			return err
		}
	}
	errs, unattributed := c.attribute(pr.errors)
	if len(blocks) == 0 && len(unattributed) > 0 {
		return fmt.Errorf("terraform plan -generate-config-out failed in a scratch copy of %s:\n  %s", c.root.dir, joinDiags(unattributed))
	}
	for _, a := range c.adoptions {
		gen, ok := blocks[a.address()]
		if !ok {
			reason := "Terraform generated no configuration for it"
			if e := errs[a.address()]; len(e) > 0 {
				reason = "Terraform could not import it: " + joinDiags(e)
			}
			a.excluded = reason
			continue
		}
		a.generated = stripGeneratedComments(gen)
		if err := a.clean(sr.s[a.typ]); err != nil {
			return err
		}
	}
	for _, p := range []string{importPath, filepath.Join(c.scratch.dir, generatedFile)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// stripGeneratedComments drops the "__generated__ by Terraform" lines.
func stripGeneratedComments(b []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "# __generated__") {
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.TrimLeft(strings.Join(out, "\n"), "\n"))
}

func joinDiags(ds []diagnostic) string {
	var parts []string
	seen := map[string]bool{}
	for _, d := range ds {
		s := d.String()
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// attribute maps diagnostics to adoption addresses: Terraform's own
// address field, else an address quoted in the message.
func (c *run) attribute(ds []diagnostic) (map[string][]diagnostic, []diagnostic) {
	out := map[string][]diagnostic{}
	var rest []diagnostic
	for _, d := range ds {
		addr := d.Address
		if addr == "" {
			for _, a := range c.adoptions {
				if strings.Contains(d.Summary+" "+d.Detail, `"`+a.address()+`"`) {
					addr = a.address()
					break
				}
			}
		}
		if addr == "" || !c.isAdoption(addr) {
			rest = append(rest, d)
			continue
		}
		out[addr] = append(out[addr], d)
	}
	return out, rest
}

func (c *run) isAdoption(addr string) bool {
	for _, a := range c.adoptions {
		if a.address() == addr {
			return true
		}
	}
	return false
}

func (c *run) included() []*adoption {
	var out []*adoption
	for _, a := range c.adoptions {
		if a.excluded == "" {
			out = append(out, a)
		}
	}
	return out
}

func (c *run) includedChanges() []*change {
	var out []*change
	for _, ch := range c.changes {
		if ch.reverted == "" {
			out = append(out, ch)
		}
	}
	return out
}

// outputName picks adopted_<date>.tf, numbered when a file of that name
// exists already.
func outputName(dir string, now time.Time, existing map[string][]byte) string {
	base := "adopted_" + now.Format("2006-01-02")
	name := base + ".tf"
	for i := 2; ; i++ {
		_, inRoot := existing[name]
		if _, err := os.Stat(filepath.Join(dir, name)); !inRoot && errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s_%d.tf", base, i)
	}
}

// finish turns the proven state of the run into the result.
func (c *run) finish() {
	for _, a := range c.adoptions {
		if a.excluded != "" {
			c.skip(a.finding, a.address(), a.excluded)
			continue
		}
		var restored []string
		for k := range a.restored {
			restored = append(restored, k)
		}
		sort.Strings(restored)
		c.res.Adopted = append(c.res.Adopted, Adopted{Finding: a.finding, Address: a.address(), ImportID: a.importID, Restored: restored})
	}
	for _, ch := range c.changes {
		switch {
		case ch.reverted != "":
			c.skip(ch.finding, ch.address, ch.reverted)
		case ch.remove:
			c.res.Removed = append(c.res.Removed, Removed{Finding: ch.finding, Address: ch.address, File: ch.file})
		default:
			c.res.Accepted = append(c.res.Accepted, Accepted{Finding: ch.finding, Address: ch.address, File: ch.file, Paths: ch.paths})
		}
	}
	if len(c.included()) > 0 || slices.ContainsFunc(c.includedChanges(), func(ch *change) bool { return ch.remove }) {
		c.res.Files = append(c.res.Files, FileChange{Path: c.fileName, New: c.rendered})
	}
	edited, _ := c.editedFiles()
	names := make([]string, 0, len(edited))
	for n := range edited {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.res.Files = append(c.res.Files, FileChange{Path: n, Old: c.root.files[n], New: edited[n]})
	}
	sort.SliceStable(c.res.Skipped, func(i, j int) bool {
		return c.res.Skipped[i].Finding.Fingerprint < c.res.Skipped[j].Finding.Fingerprint
	})
}

// editedFiles applies the included changes to the root's files.
func (c *run) editedFiles() (map[string][]byte, error) {
	byFile := map[string][]edit{}
	var order []string
	for _, ch := range c.includedChanges() {
		if _, ok := byFile[ch.file]; !ok {
			order = append(order, ch.file)
		}
		byFile[ch.file] = append(byFile[ch.file], ch.edits...)
	}
	out := map[string][]byte{}
	for _, file := range order {
		b, err := applyEdits(file, c.root.files[file], byFile[file])
		if err != nil {
			return nil, err
		}
		out[file] = b
	}
	return out, nil
}
