package codify

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// scratch is a private copy of the target root module where Terraform
// generates configuration and proves it, so nothing is written into the
// target until the result is known to converge.
type scratch struct {
	// base is the temporary directory to remove.
	base string
	// dir is the copy of the root module inside base.
	dir string
}

// newScratch copies the root module, and the local modules it calls from
// outside it, into a temporary directory laid out so that relative module
// sources still resolve. The Terraform data directory is not copied:
// its subdirectories (providers, downloaded modules) are linked, its files
// (backend configuration, selected workspace) copied, so no multi-hundred
// megabyte provider binary is duplicated and the original is never
// written.
func newScratch(r *root) (*scratch, error) {
	// Depth above the root needed so ../ paths stay inside the copy.
	up := 0
	for _, m := range r.outsideModules {
		n := 0
		for _, part := range strings.Split(m, string(filepath.Separator)) {
			if part == ".." {
				n++
			}
		}
		up = max(up, n)
	}
	base, err := os.MkdirTemp("", "plumb-codify-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	s := &scratch{base: base}
	// The root goes below `up` levels of directories named after the
	// root's own ancestors, as the modules' relative paths expect.
	ancestors := r.dir
	rel := ""
	for i := 0; i < up; i++ {
		rel = filepath.Join(filepath.Base(ancestors), rel)
		ancestors = filepath.Dir(ancestors)
	}
	s.dir = filepath.Join(base, "root")
	if up > 0 {
		s.dir = filepath.Join(base, rel)
	}
	if err := copyTree(r.dir, s.dir, r.dataDir); err != nil {
		s.remove()
		return nil, err
	}
	for _, m := range r.outsideModules {
		if err := copyTree(filepath.Join(r.dir, m), filepath.Join(s.dir, m), ""); err != nil {
			s.remove()
			return nil, err
		}
	}
	if err := linkDataDir(r.dataDir, filepath.Join(s.dir, ".terraform")); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *scratch) remove() { _ = os.RemoveAll(s.base) }

// copyTree copies regular files below src into dst, skipping version
// control directories, Terraform data directories and skip.
func copyTree(src, dst, skip string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy %s into the scratch directory: %w", src, err)
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != src && (d.Name() == ".git" || d.Name() == ".terraform" || path == skip) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o200)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// linkDataDir recreates a Terraform data directory: files copied,
// directories linked.
func linkDataDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	for _, e := range entries {
		from := filepath.Join(src, e.Name())
		to := filepath.Join(dst, e.Name())
		if e.IsDir() {
			abs, err := filepath.Abs(from)
			if err != nil {
				return err
			}
			if err := os.Symlink(abs, to); err != nil {
				return fmt.Errorf("link %s into the scratch directory: %w", from, err)
			}
			continue
		}
		if e.Type().IsRegular() {
			if err := copyFile(from, to); err != nil {
				return err
			}
		}
	}
	return nil
}
