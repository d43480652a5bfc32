package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Output is one destination of a report, parsed from an -o/--output flag:
// a format and either a file path or, when Path is "", standard output.
type Output struct {
	Format string
	// Path is the file to write; "" means standard output.
	Path string
}

// String renders the output the way the flag spells it, for messages.
func (o Output) String() string {
	if o.Path == "" {
		return o.Format
	}
	return o.Format + "=" + o.Path
}

// ParseOutputs turns the repeatable -o/--output flag into outputs. Each
// spec is FORMAT (standard output) or FORMAT=PATH (a file; PATH "-" also
// means standard output). With no specs the result is one table on
// standard output. It rejects unknown formats, empty paths, two outputs on
// standard output (they would interleave into something no one can parse)
// and two outputs to the same file (the second would silently win), so
// that mistakes surface before a long scan rather than after it.
func ParseOutputs(specs []string) ([]Output, error) {
	if len(specs) == 0 {
		return []Output{{Format: FormatTable}}, nil
	}
	outs := make([]Output, 0, len(specs))
	stdout := ""
	files := map[string]string{}
	for _, spec := range specs {
		format, path, hasPath := strings.Cut(spec, "=")
		format = strings.ToLower(strings.TrimSpace(format))
		if format == "" {
			return nil, fmt.Errorf("output %q: missing format (valid: %s)", spec, validFormats())
		}
		if !slices.Contains(Formats(), format) {
			hint := ""
			if !hasPath && strings.ContainsAny(format, "./\\") {
				hint = "; to write a file use FORMAT=PATH"
			}
			return nil, fmt.Errorf("output %q: unknown format %q (valid: %s)%s", spec, format, validFormats(), hint)
		}
		if hasPath && path == "" {
			return nil, fmt.Errorf("output %q: empty path after '=' (use %s for standard output)", spec, format)
		}
		if path == "-" {
			path = ""
		}
		o := Output{Format: format, Path: path}
		if o.Path == "" {
			if stdout != "" {
				return nil, fmt.Errorf("output %q: only one output can go to standard output, %q already does", spec, stdout)
			}
			stdout = spec
		} else {
			key := filepath.Clean(o.Path)
			if prev, ok := files[key]; ok {
				return nil, fmt.Errorf("output %q: %s is already written by output %q", spec, o.Path, prev)
			}
			files[key] = spec
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// WriteAll renders r once per output and writes it. Every output is
// rendered before anything is written, so a rendering error leaves no
// output at all. Files are written atomically: to a temporary file in the
// same directory, synced, then renamed over the target, so a reader (or a
// CI step that uploads the file) sees either the previous report or the
// complete new one, never half of one. A failing file does not stop the
// other outputs; all failures are returned together. With no outputs it
// writes nothing.
func WriteAll(ctx context.Context, outs []Output, r *Report, stdout io.Writer) error {
	rendered := make([][]byte, len(outs))
	for i, o := range outs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write reports: %w", err)
		}
		var buf bytes.Buffer
		if err := Render(&buf, o.Format, r); err != nil {
			return fmt.Errorf("output %s: %w", o, err)
		}
		rendered[i] = buf.Bytes()
	}
	var errs []error
	for i, o := range outs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("write reports: %w", err))
			break
		}
		if o.Path == "" {
			if stdout == nil {
				errs = append(errs, fmt.Errorf("output %s: no standard output to write to", o))
				continue
			}
			if _, err := stdout.Write(rendered[i]); err != nil {
				errs = append(errs, fmt.Errorf("write %s report to standard output: %w", o.Format, err))
			}
			continue
		}
		if err := writeFileAtomic(o.Path, rendered[i]); err != nil {
			errs = append(errs, fmt.Errorf("write %s report to %s: %w", o.Format, o.Path, err))
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic replaces path with data or leaves it untouched. A file
// that is replaced keeps its permission bits; a new one gets 0644 like
// other reports and logs.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := fs.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("set mode of %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
