package release

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
)

const testVersion = "v0.0.0-releasetest"

// moduleRoot is the plumb repository root.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// headCommit is the repository's commit, or a stand-in where the tests run
// from a tree without git history.
func headCommit(t *testing.T, root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("no git commit (%v): stamping a stand-in", err)
		return "0123456789abcdef0123456789abcdef01234567"
	}
	return strings.TrimSpace(string(out))
}

// cycloneDX is the part of a CycloneDX BOM the test reads.
type cycloneDX struct {
	BOMFormat   string `json:"bomFormat"`
	SpecVersion string `json:"specVersion"`
	Metadata    struct {
		Component struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"component"`
	} `json:"metadata"`
	Components []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
		Hashes  []struct {
			Alg     string `json:"alg"`
			Content string `json:"content"`
		} `json:"hashes"`
	} `json:"components"`
}

// TestReleaseBuildsEveryTarget runs the whole release: six real static
// binaries, an SBOM each, SHA256SUMS. It is slow the first time on a
// machine (every platform's packages compile once) and reuses the build
// cache after that.
func TestReleaseBuildsEveryTarget(t *testing.T) {
	root := moduleRoot(t)
	commit := headCommit(t, root)
	out := t.TempDir()
	start := time.Now()
	var log bytes.Buffer
	arts, err := Build(context.Background(), Options{ModuleDir: root, OutDir: out, Version: testVersion, Commit: commit, Log: &log})
	t.Logf("release built in %s:\n%s", time.Since(start).Round(time.Second), log.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 12 {
		t.Errorf("%d artifacts, want 6 binaries and 6 SBOMs: %+v", len(arts), arts)
	}

	// The module graph, for the SBOM checks.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, tg := range Targets() {
		t.Run(tg.OS+"-"+tg.Arch, func(t *testing.T) {
			bin := filepath.Join(out, tg.Binary())
			checkExecutable(t, bin, tg)

			// The version and commit are stamped in, and the binary was
			// built without cgo for the target.
			bi, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatalf("build info: %v", err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			if settings["CGO_ENABLED"] != "0" || settings["GOOS"] != tg.OS || settings["GOARCH"] != tg.Arch || settings["-trimpath"] != "true" {
				t.Errorf("build settings %v", settings)
			}
			// The go command leaves -ldflags out of the build info when
			// -trimpath is set (go.dev/issue/52372), so look for the
			// stamped strings in the binary itself.
			binData, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(binData, []byte(testVersion)) || !bytes.Contains(binData, []byte(commit)) {
				t.Errorf("%s lacks the stamped version %s or commit %s", bin, testVersion, commit)
			}

			// The SBOM lists exactly the modules linked into the binary,
			// and so every direct dependency of go.mod the binary uses.
			data, err := os.ReadFile(filepath.Join(out, tg.SBOM()))
			if err != nil {
				t.Fatal(err)
			}
			var bom cycloneDX
			if err := json.Unmarshal(data, &bom); err != nil {
				t.Fatalf("SBOM: %v", err)
			}
			if bom.BOMFormat != "CycloneDX" || bom.SpecVersion == "" || bom.Metadata.Component.Name != "plumb" || bom.Metadata.Component.Version != testVersion {
				t.Errorf("SBOM header: format %q spec %q component %q %q", bom.BOMFormat, bom.SpecVersion, bom.Metadata.Component.Name, bom.Metadata.Component.Version)
			}
			inBOM := map[string]string{}
			for _, c := range bom.Components {
				inBOM[c.Name] = c.Version
				wantPURL := "pkg:golang/" + c.Name + "@" + c.Version + "?goarch=" + tg.Arch + "&goos=" + tg.OS + "&type=module"
				if c.PURL != wantPURL {
					t.Errorf("component %s: purl %q, want %q", c.Name, c.PURL, wantPURL)
				}
				if len(c.Hashes) == 0 || c.Hashes[0].Alg != "SHA-256" || len(c.Hashes[0].Content) != 64 {
					t.Errorf("component %s: hashes %+v, want the SHA-256 of go.sum", c.Name, c.Hashes)
				}
			}
			linked := map[string]string{}
			for _, d := range bi.Deps {
				if d.Replace != nil {
					d = d.Replace
				}
				linked[d.Path] = d.Version
				if inBOM[d.Path] != d.Version {
					t.Errorf("SBOM has %s at %q, the binary links %s", d.Path, inBOM[d.Path], d.Version)
				}
			}
			for name := range inBOM {
				if _, ok := linked[name]; !ok {
					t.Errorf("SBOM lists %s, which the binary does not link", name)
				}
			}
			direct := 0
			for _, r := range mf.Require {
				if r.Indirect {
					continue
				}
				if v, ok := inBOM[r.Mod.Path]; ok {
					direct++
					if v != r.Mod.Version {
						t.Errorf("direct dependency %s: SBOM %s, go.mod %s", r.Mod.Path, v, r.Mod.Version)
					}
				} else if _, used := linked[r.Mod.Path]; used {
					t.Errorf("direct dependency %s is linked but not in the SBOM", r.Mod.Path)
				}
			}
			if direct < 20 {
				t.Errorf("only %d direct dependencies of go.mod are in the SBOM", direct)
			}
		})
	}

	// The binary for this machine runs and says what it is.
	host := Target{runtime.GOOS, runtime.GOARCH}
	if slices.Contains(Targets(), host) {
		got, err := exec.Command(filepath.Join(out, host.Binary()), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("plumb version: %v\n%s", err, got)
		}
		want := "plumb " + testVersion + " (" + commit[:12] + ")"
		if !strings.HasPrefix(string(got), want) {
			t.Errorf("plumb version = %q, want it to start with %q", got, want)
		}
		// plumb --version prints the same line where the root command has
		// the flag (it comes with the CLI reference work).
		if help, _ := exec.Command(filepath.Join(out, host.Binary()), "--help").CombinedOutput(); strings.Contains(string(help), "--version") {
			v, err := exec.Command(filepath.Join(out, host.Binary()), "--version").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(v), want) {
				t.Errorf("plumb --version = %q (%v), want it to start with %q", v, err, want)
			}
		}
	}

	// SHA256SUMS verifies, with this package and with sha256sum -c.
	if err := VerifyChecksums(out); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
		cmd.Dir = out
		if got, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, got)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	for _, a := range arts {
		if !strings.Contains(string(sums), a.SHA256+"  "+a.Name+"\n") {
			t.Errorf("SHA256SUMS lacks %s", a.Name)
		}
	}
}

// checkExecutable opens the binary with the reader for its platform's
// format and checks the architecture; Linux binaries must be static (no
// interpreter, no shared libraries).
func checkExecutable(t *testing.T, path string, tg Target) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 10<<20 {
		t.Errorf("%s is only %d bytes", path, st.Size())
	}
	switch tg.OS {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("not ELF: %v", err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[tg.Arch]
		if f.Machine != want {
			t.Errorf("machine %v, want %v", f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("has a program interpreter: dynamically linked")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("links shared libraries %v", libs)
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("mode %v is not executable", st.Mode())
		}
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			t.Fatalf("not Mach-O: %v", err)
		}
		defer f.Close()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[tg.Arch]
		if f.Cpu != want {
			t.Errorf("cpu %v, want %v", f.Cpu, want)
		}
	case "windows":
		f, err := pe.Open(path)
		if err != nil {
			t.Fatalf("not PE: %v", err)
		}
		defer f.Close()
		want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[tg.Arch]
		if f.Machine != want {
			t.Errorf("machine %#x, want %#x", f.Machine, want)
		}
	}
}

func TestVerifyChecksumsCatchesTampering(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(dir string) error
		wantErr string
	}{
		{"intact", func(string) error { return nil }, ""},
		{"changed byte", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "plumb-linux-amd64"), []byte("binaryX"), 0o755)
		}, "SHA256SUMS says"},
		{"missing file", func(dir string) error { return os.Remove(filepath.Join(dir, "plumb-linux-amd64.cdx.json")) }, "no such file"},
		{"malformed line", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte("abc plumb-linux-amd64\n"), 0o644)
		}, `line 1: want "HEX  NAME"`},
		{"path in name", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Repeat("0", 64)+"  ../etc/passwd\n"), 0o644)
		}, `line 1: want "HEX  NAME"`},
		{"empty", func(dir string) error { return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), nil, 0o644) }, "lists no files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range map[string]string{"plumb-linux-amd64": "binary", "plumb-linux-amd64.cdx.json": "{}"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := WriteChecksums(dir); err != nil {
				t.Fatal(err)
			}
			if err := tc.mutate(dir); err != nil {
				t.Fatal(err)
			}
			err := VerifyChecksums(dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestBuildRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		prep    func(dir string)
		wantErr string
	}{
		{"version with a space", Options{Version: "v1 -X main.x=y"}, nil, "want letters, digits"},
		{"commit not hex", Options{Version: "v1.0.0", Commit: "HEAD"}, nil, "want a hexadecimal git commit id"},
		{"foreign file in out dir", Options{Version: "v1.0.0"}, func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
		}, "notes.txt, which is not a release artifact"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prep != nil {
				tc.prep(dir)
			}
			tc.o.OutDir = dir
			tc.o.ModuleDir = moduleRoot(t)
			_, err := Build(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.prep != nil {
				if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
					t.Errorf("a foreign file was removed: %v", err)
				}
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	for _, s := range []string{"linux/amd64", "darwin/arm64", "windows/amd64"} {
		if _, err := ParseTarget(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"linux", "plan9/amd64", "linux/386", ""} {
		if _, err := ParseTarget(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if got := (Target{"windows", "arm64"}).Binary(); got != "plumb-windows-arm64.exe" {
		t.Errorf("windows binary name %s", got)
	}
}

// FuzzParseChecksums: no input panics, and what parses writes back the
// same way it was read.
func FuzzParseChecksums(f *testing.F) {
	for _, s := range []string{
		strings.Repeat("a", 64) + "  plumb-linux-amd64\n" + strings.Repeat("0", 64) + "  SHA256SUMS.txt\n",
		strings.Repeat("A", 64) + "  x\n",
		"abc  x\n",
		strings.Repeat("0", 64) + "  ../x\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		arts, err := ParseChecksums(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, a := range arts {
			b.WriteString(a.SHA256 + "  " + a.Name + "\n")
		}
		again, err := ParseChecksums([]byte(b.String()))
		if err != nil || !slices.Equal(arts, again) {
			t.Fatalf("round trip: %v %v / %v", arts, err, again)
		}
	})
}
