// Package ociimage builds plumb's container image without a container
// daemon: an OCI image from scratch with two layers (a minimal base: CA
// certificates, /etc/passwd and /etc/group with a non-root user, a data
// directory; then the static plumb binary), written as an OCI image
// layout in a tar file that podman load, skopeo copy oci-archive:... and
// crane push accept. Everything in it is fixed by its inputs (file times
// are the creation time), so the same inputs give the same digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user plumb runs as: not root, the uid/gid distroless images use for
// "nonroot", so volume permissions set up for those fit plumb too.
const (
	UID      = 65532
	UserName = "plumb"
	// DataDir is the image's data directory (SQLite store), owned by UID;
	// PLUMB_DATA_DIR points at it.
	DataDir = "/var/lib/plumb"
	// ConfigPath is where the default command reads plumb.yaml: mount it.
	ConfigPath = "/etc/plumb/plumb.yaml"
	// CABundle is where the CA certificates are, the path Go reads first
	// on Linux.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
)

// Options describe one image.
type Options struct {
	// Binary is a static linux plumb binary for Arch.
	Binary string
	// Arch is the GOARCH of Binary (amd64 or arm64).
	Arch string
	// CACerts is the PEM bundle to ship; default the machine's
	// /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates).
	CACerts string
	// Version and Revision (the git commit) become OCI labels.
	Version, Revision string
	// Source is the repository URL for the org.opencontainers.image.source label.
	Source string
	// Created is the image's creation time and every file's mtime.
	Created time.Time
}

// DefaultCmd is the image's default command after the entrypoint
// (/plumb): the service, with its config mounted at ConfigPath and its
// SQLite store in DataDir, listening on every interface of the container.
// Any other plumb command replaces it (docker run IMAGE scan ...).
func DefaultCmd() []string {
	return []string{"serve", "--config", ConfigPath, "--data-dir", DataDir, "--listen", "0.0.0.0:8080"}
}

// Build assembles the image.
func Build(o Options) (v1.Image, error) {
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return nil, fmt.Errorf("arch %q: want amd64 or arm64", o.Arch)
	}
	if o.CACerts == "" {
		o.CACerts = CABundle
	}
	if o.Created.IsZero() {
		return nil, fmt.Errorf("no creation time: give one (SOURCE_DATE_EPOCH or the commit time) so the image is reproducible")
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read the plumb binary: %w", err)
	}
	if len(bin) < 4 || !bytes.Equal(bin[:4], []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s is not a Linux (ELF) binary", o.Binary)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificates (install Debian's ca-certificates or pass another bundle): %w", err)
	}
	if !bytes.Contains(certs, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s holds no PEM certificates", o.CACerts)
	}

	uid := strconv.Itoa(UID)
	base, err := layerOf(o.Created, []entry{
		{name: "etc/", mode: 0o755 | fs.ModeDir},
		{name: "etc/passwd", mode: 0o644, body: "root:x:0:0:root:/root:/sbin/nologin\n" +
			UserName + ":x:" + uid + ":" + uid + ":plumb:/home/" + UserName + ":/sbin/nologin\n"},
		{name: "etc/group", mode: 0o644, body: "root:x:0:\n" + UserName + ":x:" + uid + ":\n"},
		{name: "etc/nsswitch.conf", mode: 0o644, body: "hosts: files dns\n"},
		{name: "etc/plumb/", mode: 0o755 | fs.ModeDir},
		{name: "etc/ssl/", mode: 0o755 | fs.ModeDir},
		{name: "etc/ssl/certs/", mode: 0o755 | fs.ModeDir},
		{name: CABundle[1:], mode: 0o644, body: string(certs)},
		{name: "home/", mode: 0o755 | fs.ModeDir},
		{name: "home/" + UserName + "/", mode: 0o700 | fs.ModeDir, uid: UID},
		{name: "tmp/", mode: 0o777 | fs.ModeDir | fs.ModeSticky},
		{name: "var/", mode: 0o755 | fs.ModeDir},
		{name: "var/lib/", mode: 0o755 | fs.ModeDir},
		{name: DataDir[1:] + "/", mode: 0o750 | fs.ModeDir, uid: UID},
	})
	if err != nil {
		return nil, err
	}
	app, err := layerOf(o.Created, []entry{{name: "plumb", mode: 0o755, body: string(bin)}})
	if err != nil {
		return nil, err
	}

	labels := map[string]string{
		"org.opencontainers.image.title":       "plumb",
		"org.opencontainers.image.description": "Keeps a cloud estate true to its infrastructure code: drift, policies, cloud events, findings",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
	}
	if o.Source != "" {
		labels["org.opencontainers.image.source"] = o.Source
		labels["org.opencontainers.image.documentation"] = o.Source + "/blob/" + firstNonEmpty(o.Revision, "main") + "/docs/install.md"
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	cfg := &v1.ConfigFile{
		Architecture: o.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: o.Created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{"/plumb"},
			Cmd:        DefaultCmd(),
			User:       uid + ":" + uid,
			WorkingDir: "/home/" + UserName,
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"SSL_CERT_FILE=" + CABundle,
				"PLUMB_DATA_DIR=" + DataDir,
			},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Volumes:      map[string]struct{}{DataDir: {}},
			Labels:       labels,
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "plumb image: base (CA certificates, user " + UserName + ", " + DataDir + ")"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "plumb image: /plumb " + o.Version}},
	)
	if err != nil {
		return nil, err
	}
	return img, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// entry is one file or directory of a layer.
type entry struct {
	name string
	mode fs.FileMode
	uid  int
	body string
}

// layerOf writes entries (sorted, fixed times and owners) into an
// uncompressed tar and wraps it as a gzip-compressed OCI layer.
func layerOf(mtime time.Time, entries []entry) (v1.Layer, error) {
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: int64(e.mode.Perm()), Uid: e.uid, Gid: e.uid, ModTime: mtime,
			Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(e.body)),
		}
		if e.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if e.mode.IsDir() {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !e.mode.IsDir() {
			if _, err := io.WriteString(tw, e.body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// WriteArchive writes img as an OCI image layout in a tar file at path
// (an "oci-archive"), its manifest named by ref (the
// org.opencontainers.image.ref.name annotation, e.g. "v1.2.0").
func WriteArchive(img v1.Image, ref, path string, mtime time.Time) error {
	dir, err := os.MkdirTemp("", "plumb-oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	return tarDir(dir, path, mtime.UTC().Truncate(time.Second))
}

// tarDir writes the files below dir into a tar at path, sorted, with
// fixed times and owners.
func tarDir(dir, path string, mtime time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		st, err := os.Stat(p)
		if err != nil {
			f.Close()
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: st.Size()}
		if st.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if !st.IsDir() {
			src, err := os.Open(p)
			if err != nil {
				f.Close()
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
