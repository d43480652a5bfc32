package codify

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Write writes the result's files into the root module: each one to a
// temporary file in the same directory, renamed over the target, so an
// interrupted run leaves every file either as it was or complete. A file
// changed on disk since codify read it is not overwritten.
func (r *Result) Write() error {
	for _, f := range r.Files {
		target := filepath.Join(r.Dir, filepath.FromSlash(f.Path))
		cur, err := os.ReadFile(target)
		switch {
		case f.Old == nil && err == nil:
			return fmt.Errorf("%s appeared while codify ran; nothing more was written", target)
		case f.Old != nil && err != nil:
			return fmt.Errorf("read %s again before writing: %w", target, err)
		case f.Old != nil && !bytes.Equal(cur, f.Old):
			return fmt.Errorf("%s changed while codify ran; it was not overwritten", target)
		}
	}
	for _, f := range r.Files {
		target := filepath.Join(r.Dir, filepath.FromSlash(f.Path))
		if err := writeAtomic(target, f.New); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(target string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(target); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".plumb-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(name, mode)
	}
	if werr == nil {
		werr = os.Rename(name, target)
	}
	if werr != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", target, werr)
	}
	return nil
}

// Patch renders the result's files as a unified diff (git style). prefix
// is put before each file's path, so the patch applies from the directory
// it names the root module relative to (for example "infra/prod").
func (r *Result) Patch(prefix string) []byte {
	var b bytes.Buffer
	for _, f := range r.Files {
		p := path.Join(filepath.ToSlash(prefix), f.Path)
		b.WriteString(unifiedDiff(p, f.Old, f.New))
	}
	return b.Bytes()
}

// contextLines is the number of unchanged lines around each hunk.
const contextLines = 3

// unifiedDiff renders one file's change; old nil means a new file.
func unifiedDiff(name string, old, new []byte) string {
	a, b := splitLines(old), splitLines(new)
	var sb strings.Builder
	fmt.Fprintf(&sb, "diff --git a/%s b/%s\n", name, name)
	if old == nil {
		sb.WriteString("new file mode 100644\n--- /dev/null\n")
	} else {
		fmt.Fprintf(&sb, "--- a/%s\n", name)
	}
	fmt.Fprintf(&sb, "+++ b/%s\n", name)
	ops := diffLines(a, b)
	for _, h := range hunks(ops) {
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(h.aStart, h.aLen), hunkRange(h.bStart, h.bLen))
		for _, op := range ops[h.from:h.to] {
			var line string
			switch op.kind {
			case ' ':
				line = a[op.a]
			case '-':
				line = a[op.a]
			case '+':
				line = b[op.b]
			}
			sb.WriteByte(op.kind)
			if strings.HasSuffix(line, "\n") {
				sb.WriteString(line)
			} else {
				sb.WriteString(line + "\n\\ No newline at end of file\n")
			}
		}
	}
	return sb.String()
}

func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines keeps the line endings, so a missing final newline shows.
func splitLines(s []byte) []string {
	if len(s) == 0 {
		return nil
	}
	var out []string
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, string(s))
			break
		}
		out = append(out, string(s[:i+1]))
		s = s[i+1:]
	}
	return out
}

// lineOp is one line of an edit script: ' ' kept, '-' deleted, '+' added,
// with its index in the old (a) or new (b) file.
type lineOp struct {
	kind byte
	a, b int
}

// diffLines computes a shortest edit script with Myers' algorithm.
func diffLines(a, b []string) []lineOp {
	n, m := len(a), len(b)
	maxD := n + m
	offset := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := false
	for d := 0; d <= maxD && !found; d++ {
		snapshot := make([]int, len(v))
		copy(snapshot, v)
		trace = append(trace, snapshot)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1]
			} else {
				x = v[offset+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[offset+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	// Walk the trace back from (n, m).
	var ops []lineOp
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		vv := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vv[offset+k-1] < vv[offset+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vv[offset+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			ops = append(ops, lineOp{kind: ' ', a: x, b: y})
		}
		if d > 0 {
			if x == prevX {
				y--
				ops = append(ops, lineOp{kind: '+', a: x, b: y})
			} else {
				x--
				ops = append(ops, lineOp{kind: '-', a: x, b: y})
			}
		}
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}

type hunk struct {
	from, to     int // range in the ops
	aStart, aLen int
	bStart, bLen int
}

// hunks groups changed lines with contextLines of context, merging
// groups whose context would overlap.
func hunks(ops []lineOp) []hunk {
	var out []hunk
	i := 0
	for i < len(ops) {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		from := max(0, i-contextLines)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
				continue
			}
			if j-end > 2*contextLines {
				break
			}
		}
		to := min(len(ops), end+1+contextLines)
		h := hunk{from: from, to: to}
		h.aStart, h.bStart = -1, -1
		for _, op := range ops[from:to] {
			switch op.kind {
			case ' ':
				h.aLen++
				h.bLen++
			case '-':
				h.aLen++
			case '+':
				h.bLen++
			}
		}
		// Start lines: the first old/new line at or after the hunk start.
		h.aStart, h.bStart = ops[from].a, ops[from].b
		if h.aLen == 0 {
			h.aStart = ops[from].a
		}
		out = append(out, h)
		i = to
	}
	return out
}
