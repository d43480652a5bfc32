package ghaction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// sarifRoot is the uriBaseId plumb gives file locations: relative to the
// Terraform root module.
const sarifRoot = "%SRCROOT%"

// RebaseSARIF prefixes the file locations of a SARIF log (the uris with
// uriBaseId %SRCROOT%, relative to the Terraform root module) with the
// root module's path inside the repository, so that GitHub code scanning,
// which resolves them against the repository root, annotates the right
// lines for a root module in a subdirectory. A prefix of "" or "." leaves
// the file as it is. It returns how many locations it changed.
func RebaseSARIF(file, prefix string) (int, error) {
	prefix = path.Clean(filepath.ToSlash(prefix))
	if prefix == "." || prefix == "" {
		return 0, nil
	}
	if strings.HasPrefix(prefix, "../") || prefix == ".." || path.IsAbs(prefix) {
		return 0, fmt.Errorf("SARIF prefix %q is outside the repository", prefix)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var log map[string]any
	if err := dec.Decode(&log); err != nil {
		return 0, fmt.Errorf("read SARIF %s: %w", file, err)
	}
	n := 0
	runs, _ := log["runs"].([]any)
	for _, r := range runs {
		run, _ := r.(map[string]any)
		results, _ := run["results"].([]any)
		for _, res := range results {
			result, _ := res.(map[string]any)
			locs, _ := result["locations"].([]any)
			for _, l := range locs {
				loc, _ := l.(map[string]any)
				phys, _ := loc["physicalLocation"].(map[string]any)
				art, _ := phys["artifactLocation"].(map[string]any)
				uri, _ := art["uri"].(string)
				if art == nil || uri == "" || art["uriBaseId"] != sarifRoot {
					continue
				}
				art["uri"] = prefix + "/" + uri
				n++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	out, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return 0, err
	}
	return n, os.WriteFile(file, append(out, '\n'), 0o644)
}

// rootModuleDir is the Terraform root module plumb check located files
// in: --config-dir from the extra args, else the plan file's directory,
// relative to the working directory.
func (in Inputs) rootModuleDir(workdir string) string {
	dir := ""
	for i, a := range in.Args {
		if a == "--config-dir" && i+1 < len(in.Args) {
			dir = in.Args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--config-dir="); ok {
			dir = v
		}
	}
	if dir == "" && len(in.Plans) == 1 {
		dir = filepath.Dir(in.Plans[0])
	}
	if dir == "" {
		dir = "."
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(workdir, dir)
	}
	return dir
}
