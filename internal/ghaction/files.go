package ghaction

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// outputName is what GitHub accepts as a step output name: a letter or _
// first, then letters, digits, - and _.
var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Output is one step output.
type Output struct {
	Name, Value string
}

// WriteOutputs appends outputs to the file named by $GITHUB_OUTPUT in the
// documented multi-line form:
//
//	NAME<<DELIMITER
//	VALUE
//	DELIMITER
//
// with a random delimiter per value that the value does not contain, so no
// value (a path with a newline, say) can end early or inject another
// output.
func WriteOutputs(path string, outs []Output) error {
	if path == "" {
		return fmt.Errorf("GITHUB_OUTPUT is not set: not running as a GitHub Actions step")
	}
	var b strings.Builder
	for _, o := range outs {
		if !outputName.MatchString(o.Name) {
			return fmt.Errorf("output name %q: want a letter or _ followed by letters, digits, - or _", o.Name)
		}
		delim, err := delimiter(o.Value)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.Name, delim, o.Value, delim)
	}
	return appendFile(path, b.String())
}

// delimiter returns a random heredoc delimiter that value does not contain.
func delimiter(value string) (string, error) {
	for range 8 {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", fmt.Errorf("random delimiter: %w", err)
		}
		d := "ghadelimiter_" + hex.EncodeToString(raw[:])
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no delimiter found that the output value does not contain")
}

// SummaryLimit is the most GitHub shows of one step's job summary (1 MiB);
// a longer summary is rejected, so the action cuts the report before it.
const SummaryLimit = 1 << 20

// AppendSummary appends markdown to the job summary file ($GITHUB_STEP_SUMMARY).
// A report longer than what the summary can hold is cut at a line
// boundary, with a last line saying how much was left out and where the
// whole report is.
func AppendSummary(path, markdown, fullReport string) error {
	if path == "" {
		return fmt.Errorf("GITHUB_STEP_SUMMARY is not set: not running as a GitHub Actions step")
	}
	existing := 0
	if st, err := os.Stat(path); err == nil {
		existing = int(st.Size())
	}
	room := SummaryLimit - existing - 512
	if len(markdown) > room {
		cut := max(room, 0)
		if i := strings.LastIndexByte(markdown[:cut], '\n'); i >= 0 {
			cut = i + 1
		}
		markdown = markdown[:cut] + fmt.Sprintf("\n\n_The report is %d bytes, more than a job summary holds: %d bytes are left out. The whole report is %s._\n",
			len(markdown), len(markdown)-cut, fullReport)
	}
	return appendFile(path, markdown)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
