package codify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffLines(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       string // edit script, one op per line
	}{
		{"equal", "x\ny\n", "x\ny\n", "  x,  y"},
		{"insert", "x\nz\n", "x\ny\nz\n", "  x,+ y,  z"},
		{"delete", "x\ny\nz\n", "x\nz\n", "  x,- y,  z"},
		{"replace", "x\n", "y\n", "- x,+ y"},
		{"from nothing", "", "a\nb\n", "+ a,+ b"},
		{"to nothing", "a\n", "", "- a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := splitLines([]byte(tt.a)), splitLines([]byte(tt.b))
			var got []string
			for _, op := range diffLines(a, b) {
				line := ""
				switch op.kind {
				case ' ', '-':
					line = a[op.a]
				case '+':
					line = b[op.b]
				}
				got = append(got, string(op.kind)+" "+strings.TrimSuffix(line, "\n"))
			}
			if s := strings.Join(got, ","); s != tt.want {
				t.Errorf("script = %q, want %q", s, tt.want)
			}
		})
	}
}

// TestPatchApplies writes a patch for a new file and two edits far apart
// (two hunks) and a file without a final newline, and checks that git
// apply accepts it and produces exactly the new contents.
func TestPatchApplies(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is required under CI=true")
		}
		t.Skip("git not installed")
	}
	var long []string
	for i := 0; i < 40; i++ {
		long = append(long, "line "+strings.Repeat("x", i%5))
	}
	oldMain := strings.Join(long, "\n") + "\n"
	newLines := append([]string{}, long...)
	newLines[2] = "changed near the top"
	newLines = append(newLines[:30], append([]string{"inserted"}, newLines[30:]...)...)
	newMain := strings.Join(newLines, "\n") + "\n"
	res := &Result{Files: []FileChange{
		{Path: "adopted_2026-05-14.tf", New: []byte("import {\n}\n")},
		{Path: "main.tf", Old: []byte(oldMain), New: []byte(newMain)},
		{Path: "nonl.tf", Old: []byte("a\nb"), New: []byte("a\nc")},
	}}
	dir := t.TempDir()
	root := filepath.Join(dir, "infra", "prod")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"main.tf": oldMain, "nonl.tf": "a\nb"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	patch := res.Patch("infra/prod")
	if strings.Count(string(patch), "@@ -") != 4 {
		t.Errorf("want 4 hunks (new file, two in main.tf, nonl.tf):\n%s", patch)
	}
	pf := filepath.Join(dir, "p.patch")
	if err := os.WriteFile(pf, patch, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(git, "apply", pf)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply: %v\n%s\npatch:\n%s", err, out, patch)
	}
	for _, f := range res.Files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(f.New) {
			t.Errorf("%s after git apply = %q, want %q", f.Path, got, f.New)
		}
	}
}

func TestWriteRefusesChangedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("changed meanwhile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &Result{Dir: dir, Files: []FileChange{
		{Path: "adopted.tf", New: []byte("x\n")},
		{Path: "main.tf", Old: []byte("original\n"), New: []byte("edited\n")},
	}}
	err := res.Write()
	if err == nil || !strings.Contains(err.Error(), "changed while codify ran") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "adopted.tf")); !os.IsNotExist(err) {
		t.Errorf("a file was written although the run was refused")
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("original\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "main.tf"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
	st, _ := os.Stat(filepath.Join(dir, "main.tf"))
	if string(got) != "edited\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("main.tf = %q mode %v, want the edit with its mode kept", got, st.Mode().Perm())
	}
}
