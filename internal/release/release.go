// Package release builds plumb's release artifacts: static binaries for
// every supported platform with the version and commit stamped in, one
// CycloneDX SBOM per binary made from the Go module graph, and a
// SHA256SUMS file over all of them. `make release` runs it through
// cmd/plumb-release; the GitHub Action downloads what it produces.
package release

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Target is one platform a binary is built for.
type Target struct{ OS, Arch string }

// Targets are the platforms plumb is released for.
func Targets() []Target {
	var ts []Target
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			ts = append(ts, Target{goos, arch})
		}
	}
	return ts
}

// ParseTarget reads OS/ARCH, the form GOOS/GOARCH pairs are written in.
func ParseTarget(s string) (Target, error) {
	goos, arch, ok := strings.Cut(s, "/")
	t := Target{goos, arch}
	if !ok || !slices.Contains(Targets(), t) {
		var all []string
		for _, t := range Targets() {
			all = append(all, t.String())
		}
		return t, fmt.Errorf("target %q: want one of %s", s, strings.Join(all, ", "))
	}
	return t, nil
}

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Binary is the release asset's file name: plumb-OS-ARCH, with .exe on
// Windows. The GitHub Action's installer downloads it by this name.
func (t Target) Binary() string {
	name := "plumb-" + t.OS + "-" + t.Arch
	if t.OS == "windows" {
		name += ".exe"
	}
	return name
}

// SBOM is the file name of the binary's CycloneDX SBOM.
func (t Target) SBOM() string { return "plumb-" + t.OS + "-" + t.Arch + ".cdx.json" }

// SBOMTool is the CycloneDX generator, cyclonedx-gomod, installed by
// version from the Go module proxy for this machine. It reads the module
// graph the go command embedded in each binary; the platform in its
// package URLs comes from `go env`, so it runs with the target's GOOS and
// GOARCH.
const SBOMTool = "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

// Options say what to build.
type Options struct {
	// ModuleDir is the repository root (the plumb module).
	ModuleDir string
	// OutDir receives the artifacts; it is created, and must not hold
	// anything but earlier artifacts of a release (they are replaced).
	OutDir string
	// Version and Commit are stamped into main.version and main.commit.
	Version, Commit string
	// Targets default to Targets().
	Targets []Target
	// Go is the go command; default "go".
	Go string
	// Log receives one line per step; nil discards.
	Log io.Writer
}

// Artifact is one file of a release.
type Artifact struct {
	Name   string
	SHA256 string
}

// versionRule keeps what is stamped into the binary printable and free of
// the characters -ldflags would split on.
var versionRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// Build builds every target, writes an SBOM for each and SHA256SUMS over
// all of them, and returns the artifacts in SHA256SUMS order.
func Build(ctx context.Context, o Options) ([]Artifact, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if len(o.Targets) == 0 {
		o.Targets = Targets()
	}
	if !versionRule.MatchString(o.Version) {
		return nil, fmt.Errorf("version %q: want letters, digits and . _ + - (e.g. v1.2.0)", o.Version)
	}
	if o.Commit != "" && !regexp.MustCompile(`^[0-9a-f]{7,64}$`).MatchString(o.Commit) {
		return nil, fmt.Errorf("commit %q: want a hexadecimal git commit id", o.Commit)
	}
	if err := prepareOut(o.OutDir); err != nil {
		return nil, err
	}
	ldflags := "-s -w -X main.version=" + o.Version
	if o.Commit != "" {
		ldflags += " -X main.commit=" + o.Commit
	}
	toolDir, err := os.MkdirTemp("", "plumb-sbom-tool-")
	if err != nil {
		return nil, fmt.Errorf("SBOM tool: %w", err)
	}
	defer os.RemoveAll(toolDir)
	install := exec.CommandContext(ctx, o.Go, "install", SBOMTool)
	install.Dir = o.ModuleDir
	install.Env = append(os.Environ(), "GOBIN="+toolDir, "GOOS=", "GOARCH=", "CGO_ENABLED=0")
	if b, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("install the SBOM tool %s: %w\n%s", SBOMTool, err, b)
	}
	tool := filepath.Join(toolDir, "cyclonedx-gomod")
	for _, t := range o.Targets {
		fmt.Fprintf(o.Log, "build %s -> %s\n", t, t.Binary())
		out := filepath.Join(o.OutDir, t.Binary())
		if err := o.run(ctx, t, o.Go, "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/plumb"); err != nil {
			return nil, fmt.Errorf("build %s: %w", t, err)
		}
		fmt.Fprintf(o.Log, "sbom  %s -> %s\n", t, t.SBOM())
		// bin mode reads the module graph the go command embedded in the
		// binary: exactly the modules linked for that platform, with their
		// go.sum hashes, and the release version as the main component's.
		// The tool was built for this machine; it runs with t's GOOS and
		// GOARCH, which it reads through `go env` for the package URLs.
		if err := o.run(ctx, t, tool, "bin", "-json", "-version", o.Version, "-output", filepath.Join(o.OutDir, t.SBOM()), out); err != nil {
			return nil, fmt.Errorf("SBOM for %s: %w", t, err)
		}
	}
	return WriteChecksums(o.OutDir)
}

// run runs a go command for target t in the module directory: CGO off
// (static binaries; the SQLite driver is pure Go), GOOS and GOARCH set
// (empty, for the zero Target, means this machine).
func (o Options) run(ctx context.Context, t Target, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.OS, "GOARCH="+t.Arch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// artifactName says which files of OutDir belong to a release, so that
// Build can clear an earlier one without touching anything else.
var artifactName = regexp.MustCompile(`^(plumb-[a-z0-9]+-[a-z0-9]+(\.exe|\.cdx\.json)?|plumb-image-linux-[a-z0-9]+\.oci\.tar|SHA256SUMS)$`)

func prepareOut(dir string) error {
	if dir == "" {
		return fmt.Errorf("no output directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !artifactName.MatchString(e.Name()) {
			return fmt.Errorf("%s holds %s, which is not a release artifact: use an empty or release-only directory", dir, e.Name())
		}
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// WriteChecksums writes dir/SHA256SUMS over every other file in dir, in
// the format sha256sum -c reads ("HEX  NAME", sorted by name).
func WriteChecksums(dir string) ([]Artifact, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var arts []Artifact
	var b strings.Builder
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SHA256SUMS" {
			continue
		}
		sum, err := fileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		arts = append(arts, Artifact{Name: e.Name(), SHA256: sum})
		fmt.Fprintf(&b, "%s  %s\n", sum, e.Name())
	}
	return arts, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// ParseChecksums reads a SHA256SUMS file: one "HEX  NAME" line per file
// (64 lowercase hexadecimal digits, two spaces, a plain file name). A line
// that is anything else is an error naming it, as is an empty list.
func ParseChecksums(data []byte) ([]Artifact, error) {
	var arts []Artifact
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		hexSum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || !sha256Hex.MatchString(hexSum) || name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
			return nil, fmt.Errorf("SHA256SUMS line %d: want \"HEX  NAME\", got %q", line, sc.Text())
		}
		arts = append(arts, Artifact{Name: name, SHA256: hexSum})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(arts) == 0 {
		return nil, fmt.Errorf("SHA256SUMS lists no files")
	}
	return arts, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// VerifyChecksums checks every file SHA256SUMS in dir names. It fails on
// a mismatch, a missing file, a malformed line or an empty list.
func VerifyChecksums(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return err
	}
	arts, err := ParseChecksums(data)
	if err != nil {
		return err
	}
	for _, a := range arts {
		got, err := fileSHA256(filepath.Join(dir, a.Name))
		if err != nil {
			return fmt.Errorf("SHA256SUMS: %w", err)
		}
		if got != a.SHA256 {
			return fmt.Errorf("%s: SHA-256 %s, SHA256SUMS says %s", a.Name, got, a.SHA256)
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
