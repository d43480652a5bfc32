package codify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ErrNotRoot is wrapped by the error for a target directory that is not an
// initialised Terraform root module, so callers can tell it from a failed
// Terraform run.
var ErrNotRoot = errors.New("not an initialised Terraform root module")

// root is the target root module: its .tf files and what they declare.
type root struct {
	// dir is the absolute path of the root module.
	dir string
	// dataDir is the Terraform data directory (.terraform, or TF_DATA_DIR).
	dataDir string
	// files holds the contents of the root's .tf files by file name.
	files map[string][]byte
	// resources maps TYPE.NAME of every resource block in the root to the
	// file declaring it.
	resources map[string]string
	// importIDs maps TYPE + "\x00" + id of every import block with a
	// literal id to the file holding it: resources already being adopted.
	importIDs map[string]string
	// outsideModules are the directories of local modules the root calls
	// that lie outside it (source = "../modules/net"), relative to dir.
	outsideModules []string
}

// CheckRoot checks, before any scan or Terraform run, that dir is an
// initialised Terraform root module whose .tf files parse. env is the
// environment Terraform will run with (TF_DATA_DIR moves .terraform).
func CheckRoot(dir string, env []string) error {
	_, err := openRoot(dir, envValue(env, "TF_DATA_DIR"))
	return err
}

// openRoot checks that dir is an initialised Terraform root module and
// reads its configuration. dataDir is TF_DATA_DIR when the caller sets it.
func openRoot(dir, dataDir string) (*root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("target directory %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("target directory %s: %w: %w", dir, ErrNotRoot, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("target directory %s is a file: %w", dir, ErrNotRoot)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("target directory %s: %w", dir, err)
	}
	r := &root{dir: abs, files: map[string][]byte{}, resources: map[string]string{}, importIDs: map[string]string{}}
	jsonOnly := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".tf.json") {
			jsonOnly = true
			continue
		}
		if !strings.HasSuffix(name, ".tf") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(abs, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
		r.files[name] = src
	}
	if len(r.files) == 0 {
		if jsonOnly {
			return nil, fmt.Errorf("target directory %s holds only .tf.json files; plumb codify edits HCL (.tf) configurations: %w", dir, ErrNotRoot)
		}
		return nil, fmt.Errorf("target directory %s has no .tf files: %w", dir, ErrNotRoot)
	}
	r.dataDir = filepath.Join(abs, ".terraform")
	if dataDir != "" {
		r.dataDir = dataDir
		if !filepath.IsAbs(dataDir) {
			r.dataDir = filepath.Join(abs, dataDir)
		}
	}
	if st, err := os.Stat(r.dataDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("target directory %s is not initialised (no %s directory): run terraform init there first: %w",
			dir, filepath.Base(r.dataDir), ErrNotRoot)
	}
	if err := r.parse(dir); err != nil {
		return nil, err
	}
	mods, err := r.readModules()
	if err != nil {
		return nil, err
	}
	r.outsideModules = mods
	return r, nil
}

// parse indexes the resource and import blocks of the root's files. A
// syntax error is reported with file and line: codify must not edit or
// plan a configuration Terraform itself rejects.
func (r *root) parse(display string) error {
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		f, diags := hclsyntax.ParseConfig(r.files[name], filepath.Join(display, name), hcl.InitialPos)
		if diags.HasErrors() {
			return fmt.Errorf("the target's configuration does not parse: %s", diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch {
			case b.Type == "resource" && len(b.Labels) == 2:
				r.resources[b.Labels[0]+"."+b.Labels[1]] = name
			case b.Type == "import":
				to, id := importTarget(b)
				if to != "" && id != "" {
					typ, _, _ := strings.Cut(to, ".")
					r.importIDs[typ+"\x00"+id] = name
				}
			}
		}
	}
	return nil
}

// importTarget reads the to address and literal id of an import block;
// either is empty when not a plain address or literal.
func importTarget(b *hclsyntax.Block) (to, id string) {
	if a, ok := b.Body.Attributes["to"]; ok {
		if tr, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
			to = traversalString(tr)
		}
	}
	if a, ok := b.Body.Attributes["id"]; ok {
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type().FriendlyName() == "string" && v.IsKnown() && !v.IsNull() {
			id = v.AsString()
		}
	}
	return to, id
}

func traversalString(tr hcl.Traversal) string {
	var b strings.Builder
	for i, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case hcl.TraverseIndex:
			b.WriteString("[" + s.Key.GoString() + "]")
		}
	}
	return b.String()
}

// readModules lists the local module directories outside the root, from
// the module manifest terraform init writes, so the scratch copy can keep
// their relative paths working.
func (r *root) readModules() ([]string, error) {
	data, err := os.ReadFile(filepath.Join(r.dataDir, "modules", "modules.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read module manifest: %w", err)
	}
	var manifest struct {
		Modules []struct {
			Key string `json:"Key"`
			Dir string `json:"Dir"`
		} `json:"Modules"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, fmt.Errorf("read module manifest %s: %w (run terraform init again)", filepath.Join(r.dataDir, "modules", "modules.json"), err)
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range manifest.Modules {
		d := filepath.Clean(filepath.FromSlash(m.Dir))
		if m.Key == "" || filepath.IsAbs(d) || !strings.HasPrefix(d, "..") || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}
