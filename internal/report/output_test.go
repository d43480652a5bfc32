package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseOutputs(t *testing.T) {
	cases := []struct {
		name    string
		specs   []string
		want    []Output
		wantErr string
	}{
		{name: "default", specs: nil, want: []Output{{Format: "table"}}},
		{name: "one stdout", specs: []string{"json"}, want: []Output{{Format: "json"}}},
		{name: "case and space", specs: []string{" Markdown "}, want: []Output{{Format: "markdown"}}},
		{name: "file", specs: []string{"json=out/report.json"}, want: []Output{{Format: "json", Path: "out/report.json"}}},
		{name: "dash is stdout", specs: []string{"json=-"}, want: []Output{{Format: "json"}}},
		{name: "path with equals", specs: []string{"markdown=a=b.md"}, want: []Output{{Format: "markdown", Path: "a=b.md"}}},
		{
			name:  "stdout and files",
			specs: []string{"table", "json=r.json", "markdown=r.md"},
			want:  []Output{{Format: "table"}, {Format: "json", Path: "r.json"}, {Format: "markdown", Path: "r.md"}},
		},
		{name: "same format to two files", specs: []string{"json=a.json", "json=b.json"},
			want: []Output{{Format: "json", Path: "a.json"}, {Format: "json", Path: "b.json"}}},
		{name: "two stdouts", specs: []string{"table", "json"}, wantErr: "only one output can go to standard output"},
		{name: "two stdouts via dash", specs: []string{"table", "json=-"}, wantErr: "only one output can go to standard output"},
		{name: "unknown format", specs: []string{"xml"}, wantErr: `unknown format "xml" (valid: table, json, markdown, sarif, html)`},
		{name: "unknown format with path", specs: []string{"pdf=r.pdf"}, wantErr: `unknown format "pdf"`},
		{name: "html to a file", specs: []string{"html=r.html"}, want: []Output{{Format: FormatHTML, Path: "r.html"}}},
		{name: "path without format", specs: []string{"report.json"}, wantErr: "to write a file use FORMAT=PATH"},
		{name: "empty spec", specs: []string{""}, wantErr: "missing format"},
		{name: "empty format", specs: []string{"=r.json"}, wantErr: "missing format"},
		{name: "empty path", specs: []string{"json="}, wantErr: "empty path"},
		{name: "same file twice", specs: []string{"json=r.json", "markdown=./r.json"}, wantErr: "already written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOutputs(c.specs)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// failingWriter fails every write, like a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteAll(t *testing.T) {
	ctx := context.Background()

	t.Run("files and stdout", func(t *testing.T) {
		dir := t.TempDir()
		outs := []Output{
			{Format: FormatTable},
			{Format: FormatJSON, Path: filepath.Join(dir, "r.json")},
			{Format: FormatMarkdown, Path: filepath.Join(dir, "r.md")},
		}
		var stdout bytes.Buffer
		if err := WriteAll(ctx, outs, kindsReport(), &stdout); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stdout.String(), "Environment prod") {
			t.Errorf("stdout = %q", stdout.String())
		}
		data, err := os.ReadFile(filepath.Join(dir, "r.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Errorf("r.json is not valid JSON")
		}
		fi, err := os.Stat(filepath.Join(dir, "r.md"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("new report mode = %v, want 0644", fi.Mode().Perm())
		}
		assertNoTemps(t, dir)
	})

	t.Run("replaces atomically and keeps mode", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.json")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteAll(ctx, []Output{{Format: FormatJSON, Path: path}}, emptyReport(), nil); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if !json.Valid(data) {
			t.Errorf("replaced file is not JSON: %q", data)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want the old 0600 kept", fi.Mode().Perm())
		}
		assertNoTemps(t, dir)
	})

	t.Run("missing directory names the path", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "no", "such", "dir", "r.json")
		err := WriteAll(ctx, []Output{{Format: FormatJSON, Path: path}}, emptyReport(), nil)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want one naming %s", err, path)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want it to wrap os.ErrNotExist", err)
		}
	})

	t.Run("render error writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.md")
		if err := os.WriteFile(path, []byte("previous report\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		outs := []Output{{Format: FormatMarkdown, Path: path}, {Format: "xml", Path: filepath.Join(dir, "r.xml")}}
		if err := WriteAll(ctx, outs, emptyReport(), nil); err == nil {
			t.Fatal("want an error for the unknown format")
		}
		if data, _ := os.ReadFile(path); string(data) != "previous report\n" {
			t.Errorf("previous report was touched: %q", data)
		}
		assertNoTemps(t, dir)
	})

	t.Run("target is a directory", func(t *testing.T) {
		dir := t.TempDir()
		err := WriteAll(ctx, []Output{{Format: FormatJSON, Path: dir}}, emptyReport(), nil)
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("one failure does not stop the others", func(t *testing.T) {
		dir := t.TempDir()
		good := filepath.Join(dir, "r.json")
		outs := []Output{{Format: FormatTable}, {Format: FormatJSON, Path: good}}
		err := WriteAll(ctx, outs, emptyReport(), failingWriter{})
		if err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(good); err != nil {
			t.Errorf("file output not written after stdout failed: %v", err)
		}
	})

	t.Run("nil stdout", func(t *testing.T) {
		if err := WriteAll(ctx, []Output{{Format: FormatTable}}, emptyReport(), nil); err == nil {
			t.Fatal("want error for a stdout output without a writer")
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		dir := t.TempDir()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		path := filepath.Join(dir, "r.json")
		err := WriteAll(cctx, []Output{{Format: FormatJSON, Path: path}}, emptyReport(), nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file written despite cancellation")
		}
	})

	t.Run("no outputs", func(t *testing.T) {
		if err := WriteAll(ctx, nil, emptyReport(), failingWriter{}); err != nil {
			t.Fatal(err)
		}
	})
}

// assertNoTemps fails if a temporary file was left next to the reports.
func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
