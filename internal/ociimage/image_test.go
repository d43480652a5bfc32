package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"plumb/internal/testenv"
)

const testVersion = "v0.0.0-imagetest"

var created = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// buildPlumb builds a static Linux plumb for this machine's architecture
// with the flags of a release (the build cache is shared with the release
// and action tests).
func buildPlumb(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "plumb")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion+" -X main.commit=0123456789abcdef0123", "-o", bin, "./cmd/plumb")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// untar extracts a tar file into dir.
func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir) {
			t.Fatalf("tar entry %s escapes the directory", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fileInLayer is one entry of an image layer.
type fileInLayer struct {
	header *tar.Header
	body   []byte
}

func layerFiles(t *testing.T, l v1.Layer) map[string]fileInLayer {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]fileInLayer{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		files[strings.TrimSuffix(h.Name, "/")] = fileInLayer{h, body}
	}
}

// TestImageArchive builds the image from a real static plumb, writes the
// OCI archive, loads it back with go-containerregistry's layout reader
// and checks its manifest, config and layers; then runs plumb version in
// it with podman.
func TestImageArchive(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("images are built for amd64 and arm64, not %s", runtime.GOARCH)
	}
	bin := buildPlumb(t)
	certs := filepath.Join(t.TempDir(), "ca.pem")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if host, err := os.ReadFile(CABundle); err == nil {
		pem = string(host)
	}
	if err := os.WriteFile(certs, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Binary: bin, Arch: runtime.GOARCH, CACerts: certs, Version: testVersion, Revision: "0123456789abcdef0123",
		Source: "https://github.com/acme/plumb", Created: created}
	img, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "plumb.oci.tar")
	if err := WriteArchive(img, "plumb:"+testVersion, archive, created); err != nil {
		t.Fatal(err)
	}

	// Load it back from the archive alone.
	dir := t.TempDir()
	untar(t, archive, dir)
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatalf("not an OCI image layout: %v", err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "plumb:"+testVersion ||
		im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index %+v", im.Manifests)
	}
	loaded, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, _ := loaded.Digest(); got != want {
		t.Errorf("loaded digest %s, built %s", got, want)
	}

	cfg, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if !slices.Equal(c.Entrypoint, []string{"/plumb"}) || !slices.Equal(c.Cmd, DefaultCmd()) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", c.User)
	}
	for _, e := range []string{"SSL_CERT_FILE=" + CABundle, "PLUMB_DATA_DIR=" + DataDir} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %q lacks %s", c.Env, e)
		}
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":    "plumb",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": "0123456789abcdef0123",
		"org.opencontainers.image.source":   "https://github.com/acme/plumb",
		"org.opencontainers.image.created":  "2026-03-04T05:06:07Z",
	}
	for k, v := range labels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cfg.Created.Time.Equal(created) {
		t.Errorf("created %v", cfg.Created)
	}

	// The layers: the base with certificates, users and the data
	// directory, then the binary.
	layers, err := loaded.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 || len(cfg.RootFS.DiffIDs) != 2 {
		t.Fatalf("%d layers, %d diff ids", len(layers), len(cfg.RootFS.DiffIDs))
	}
	base, app := layerFiles(t, layers[0]), layerFiles(t, layers[1])
	if got := string(base[strings.TrimPrefix(CABundle, "/")].body); got != pem {
		t.Errorf("CA bundle differs from the one given (%d bytes)", len(got))
	}
	passwd := string(base["etc/passwd"].body)
	if !strings.Contains(passwd, "plumb:x:65532:65532:") {
		t.Errorf("/etc/passwd:\n%s", passwd)
	}
	if !strings.Contains(string(base["etc/group"].body), "plumb:x:65532:") {
		t.Errorf("/etc/group lacks plumb")
	}
	data := base[strings.TrimPrefix(DataDir, "/")].header
	if data == nil || data.Typeflag != tar.TypeDir || data.Uid != UID || data.Mode&0o700 != 0o700 {
		t.Errorf("data dir header %+v: want a directory owned by %d", data, UID)
	}
	if tmp := base["tmp"].header; tmp == nil || tmp.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp header %+v: want mode 1777", tmp)
	}
	plumb := app["plumb"]
	if plumb.header == nil || plumb.header.Mode&0o111 == 0 || plumb.header.Uid != 0 {
		t.Fatalf("/plumb header %+v: want an executable owned by root", plumb.header)
	}
	binData, _ := os.ReadFile(bin)
	if sha256.Sum256(plumb.body) != sha256.Sum256(binData) {
		t.Error("/plumb is not the binary given")
	}
	for name, f := range app {
		if !f.header.ModTime.Equal(created) {
			t.Errorf("%s: mtime %v, want the creation time", name, f.header.ModTime)
		}
	}

	// The same inputs give the same image and the same archive.
	again, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != want {
		t.Errorf("rebuild digest %s, first %s: not reproducible", d, want)
	}
	archive2 := filepath.Join(t.TempDir(), "again.oci.tar")
	if err := WriteArchive(again, "plumb:"+testVersion, archive2, created); err != nil {
		t.Fatal(err)
	}
	a1, _ := os.ReadFile(archive)
	a2, _ := os.ReadFile(archive2)
	if !bytes.Equal(a1, a2) {
		t.Error("the archives of two identical builds differ")
	}

	t.Run("podman", func(t *testing.T) {
		podman := testenv.Require(t, "podman")
		// runc rather than Debian's default crun, which refuses the
		// build machines' hybrid cgroup hierarchy.
		runc := testenv.Require(t, "runc")
		// Storage of this test's own, so nothing is left in the machine's.
		store := t.TempDir()
		base := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
			"--storage-driver", "vfs", "--events-backend", "file", "--cgroup-manager", "cgroupfs", "--runtime", runc}
		pod := func(args ...string) (string, error) {
			cmd := exec.Command(podman, append(slices.Clone(base), args...)...)
			cmd.Env = append(os.Environ(), "TMPDIR="+store)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		t.Cleanup(func() {
			// vfs layers are plain directories; podman removes them.
			_, _ = pod("system", "reset", "--force")
		})
		out, err := pod("load", "-i", archive)
		if err != nil {
			t.Fatalf("podman load: %v\n%s", err, out)
		}
		imageID := ""
		for _, l := range strings.Split(out, "\n") {
			if name, ok := strings.CutPrefix(l, "Loaded image: "); ok {
				imageID = strings.TrimSpace(name)
			}
		}
		if imageID != "localhost/plumb:"+testVersion {
			t.Fatalf("podman load named the image %q, want localhost/plumb:%s:\n%s", imageID, testVersion, out)
		}
		// Limits within the sandbox's own: the build machines refuse a
		// container more open files or processes than they allow.
		out, err = pod("run", "--rm", "--network", "none", "--pull", "never",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", imageID, "version")
		if err != nil {
			t.Fatalf("podman run %s version: %v\n%s", imageID, err, out)
		}
		if !strings.HasPrefix(out, "plumb "+testVersion+" (0123456789ab)") || !strings.Contains(out, "linux/"+runtime.GOARCH) {
			t.Errorf("plumb version in the container: %q", out)
		}
		// podman reads the same non-root user from the image.
		out, err = pod("image", "inspect", "--format", "{{.User}}", imageID)
		if err != nil || strings.TrimSpace(out) != "65532:65532" {
			t.Errorf("podman image inspect user: %q %v", out, err)
		}
	})
}

func TestBuildRefusesBadInputs(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script")
	_ = os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	elfFile := filepath.Join(dir, "elf")
	_ = os.WriteFile(elfFile, []byte("\x7fELF rest"), 0o755)
	noPEM := filepath.Join(dir, "empty.pem")
	_ = os.WriteFile(noPEM, []byte("nothing"), 0o644)
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"arch", Options{Binary: elfFile, Arch: "386", Created: created}, `arch "386"`},
		{"no time", Options{Binary: elfFile, Arch: "amd64"}, "no creation time"},
		{"not ELF", Options{Binary: notELF, Arch: "amd64", Created: created}, "not a Linux (ELF) binary"},
		{"missing binary", Options{Binary: filepath.Join(dir, "nope"), Arch: "amd64", Created: created}, "read the plumb binary"},
		{"no certificates", Options{Binary: elfFile, Arch: "amd64", CACerts: noPEM, Created: created}, "holds no PEM certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
