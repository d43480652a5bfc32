package tfdrift

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"plumb/internal/testenv"
)

// localTerraform returns a terraform runner with the locally built local
// and random providers (see testenv.NewSmallProvidersTerraform).
func localTerraform(t *testing.T) *testenv.Terraform {
	t.Helper()
	return testenv.NewSmallProvidersTerraform(t)
}

// options are the Run options matching a test runner.
func options(tf *testenv.Terraform) Options {
	opts := Options{Bin: tf.Bin, Env: []string{"TF_CLI_CONFIG_FILE=" + tf.CLIConfig, "CHECKPOINT_DISABLE=1"}}
	for k, v := range tf.Env {
		opts.Env = append(opts.Env, k+"="+v)
	}
	return opts
}

// writeConfig writes main.tf into a fresh directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func apply(t *testing.T, tf *testenv.Terraform, dir string) {
	t.Helper()
	if _, err := tf.Run(context.Background(), dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every file and directory under dir with its mode, size,
// modification time and content hash, so any write shows.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		line := fmt.Sprintf("%s %v %d %s", rel, info.Mode(), info.Size(), info.ModTime().UTC().Format("2006-01-02T15:04:05.000000000"))
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// isolateTemp points os.TempDir at a fresh directory, so a test can check
// that Run removed its plan directory.
func isolateTemp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	return tmp
}

// assertNoPlanLeft fails when Run left its private plan directory behind.
func assertNoPlanLeft(t *testing.T, tmp string) {
	t.Helper()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "plumb-tfdrift-") {
			t.Errorf("Run left %s behind in %s", e.Name(), tmp)
		}
	}
}

// assertSecretAbsent fails when secret shows anywhere in the result:
// Go's %+v and %#v renderings and the JSON encoding, both with HTML
// escaping (json.Marshal writes < as \u003c) and without.
func assertSecretAbsent(t *testing.T, res *Result, secret string) {
	t.Helper()
	if secret == "" {
		t.Fatal("empty secret: the test would prove nothing")
	}
	escaped, _ := json.Marshal(secret)
	needles := []string{secret, strings.Trim(string(escaped), `"`)}
	marshalled, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		t.Fatal(err)
	}
	// Raw is not part of DesiredResource's JSON (json:"-"), so encode it
	// on its own too.
	var raws []map[string]any
	for _, d := range res.Drift {
		raws = append(raws, d.Desired.Raw)
	}
	rawJSON, err := json.Marshal(raws)
	if err != nil {
		t.Fatal(err)
	}
	renderings := map[string]string{
		"%+v":            fmt.Sprintf("%+v", res),
		"%#v":            fmt.Sprintf("%#v", res),
		"%+v of Drift":   fmt.Sprintf("%+v", res.Drift),
		"json.Marshal":   string(marshalled),
		"JSON unescaped": plain.String(),
		"JSON of Raw":    string(rawJSON),
	}
	for name, text := range renderings {
		for _, n := range needles {
			if strings.Contains(text, n) {
				t.Errorf("secret appears in the %s rendering of the result", name)
			}
		}
	}
}
