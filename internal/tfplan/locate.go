package tfplan

import (
	"github.com/zclconf/go-cty/cty"

	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	tfjson "github.com/hashicorp/terraform-json"
)

// Plan JSON's configuration section says which module declares a
// resource but not where: it has no file names or line numbers. The
// locator therefore reads the .tf files themselves. It only needs the
// block headers (resource "TYPE" "NAME"), so expressions it cannot
// evaluate and files with syntax errors further down do not matter.

// location is where a resource block starts.
type location struct {
	file string // relative to the root module directory, slash-separated
	line int
}

// locator finds resource declarations in a root module and the local
// modules it calls, parsing each directory once.
type locator struct {
	root string
	// dirs maps a module path ("" for the root, "net" or "net.sub" for
	// nested calls) to its directory, relative to root.
	dirs map[string]string
	// blocks caches the resource blocks of each parsed directory, keyed
	// by TYPE.NAME.
	blocks map[string]map[string]location
}

func newLocator(root string, dirs map[string]string) *locator {
	return &locator{root: root, dirs: dirs, blocks: map[string]map[string]location{}}
}

// find returns the file (relative to the root module, with forward
// slashes as SARIF and GitHub expect) and line of the resource block, or
// "" and 0 when it cannot be found.
func (l *locator) find(module, typ, name string) (string, int) {
	dir, ok := l.dirs[module]
	if !ok {
		return "", 0
	}
	blocks, ok := l.blocks[dir]
	if !ok {
		blocks = parseDir(l.root, dir)
		l.blocks[dir] = blocks
	}
	loc, ok := blocks[typ+"."+name]
	if !ok {
		return "", 0
	}
	return loc.file, loc.line
}

// parseDir indexes the resource blocks of the .tf files in root/dir.
// Unreadable directories and files give an empty or partial index.
func parseDir(root, dir string) map[string]location {
	out := map[string]location{}
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return out
	}
	parser := hclparse.NewParser()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tf") {
			continue
		}
		rel := filepath.Join(dir, e.Name())
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue
		}
		// Diagnostics are ignored on purpose: hclsyntax returns the
		// blocks it could parse, and those are all that is needed.
		f, _ := parser.ParseHCL(src, rel)
		if f == nil {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			var key string
			switch {
			case b.Type == "resource" && len(b.Labels) == 2:
				key = b.Labels[0] + "." + b.Labels[1]
			case b.Type == "provider" && len(b.Labels) == 1:
				// provider.NAME, or provider.NAME.ALIAS when the alias
				// is a literal.
				key = "provider." + b.Labels[0]
				if a := b.Body.Attributes["alias"]; a != nil {
					v, diags := a.Expr.Value(nil)
					if diags.HasErrors() || !v.Type().Equals(cty.String) || v.IsNull() {
						continue
					}
					key += "." + v.AsString()
				}
			default:
				continue
			}
			if _, dup := out[key]; dup {
				continue
			}
			out[key] = location{file: filepath.ToSlash(rel), line: b.DefRange().Start.Line}
		}
	}
	return out
}

// moduleDirs follows module_calls from the root module: a call whose
// source is a relative path ("./modules/net", "../shared") is a directory
// next to its caller; registry and git sources are not on disk in a form
// worth guessing at, so their resources get no location.
func moduleDirs(cfg *tfjson.Config) map[string]string {
	dirs := map[string]string{"": "."}
	if cfg == nil || cfg.RootModule == nil {
		return dirs
	}
	var walk func(path, dir string, m *tfjson.ConfigModule)
	walk = func(path, dir string, m *tfjson.ConfigModule) {
		for name, call := range m.ModuleCalls {
			if call == nil || !isLocalSource(call.Source) {
				continue
			}
			child := name
			if path != "" {
				child = path + "." + name
			}
			childDir := filepath.Clean(filepath.Join(dir, filepath.FromSlash(call.Source)))
			dirs[child] = childDir
			if call.Module != nil {
				walk(child, childDir, call.Module)
			}
		}
	}
	walk("", ".", cfg.RootModule)
	return dirs
}

func isLocalSource(src string) bool {
	return strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")
}

// modulePath turns a module address (module.net["a"].module.sub[0]) into
// the call path the locator knows (net.sub): every instance of a module
// shares the same code.
func modulePath(addr string) string {
	if addr == "" {
		return ""
	}
	var names []string
	rest := addr
	for rest != "" {
		rest = strings.TrimPrefix(rest, ".")
		if !strings.HasPrefix(rest, "module.") {
			break
		}
		rest = strings.TrimPrefix(rest, "module.")
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			names = append(names, rest)
			break
		}
		names = append(names, rest[:end])
		rest = rest[end:]
		if strings.HasPrefix(rest, "[") {
			rest = skipIndex(rest)
		}
	}
	return strings.Join(names, ".")
}

// skipIndex drops a leading [..] instance key, which may be a quoted
// string containing brackets or dots.
func skipIndex(s string) string {
	inString := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return s[i+1:]
		}
	}
	return ""
}
