package codify

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// ProgressPrinter returns a Progress callback that tells a person what
// Terraform is doing: one line when a step starts and one when it ends,
// and, when periodic (a terminal, or --progress), how many resources
// Terraform has read so far, at most every interval.
func ProgressPrinter(w io.Writer, tty, periodic bool, interval time.Duration) func(Progress) {
	var mu sync.Mutex
	var last time.Time
	open := false // a redrawn line is on the terminal
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		count := ""
		if p.Total > 0 {
			count = fmt.Sprintf(", %d/%d resources read", min(p.Done, p.Total), p.Total)
		} else if p.Done > 0 {
			count = fmt.Sprintf(", %d resources read", p.Done)
		}
		switch {
		case p.Finished:
			if open {
				fmt.Fprint(w, "\r\033[K")
				open = false
			}
			fmt.Fprintf(w, "terraform plan (%s): done in %s%s\n", p.Step, p.Elapsed.Round(100*time.Millisecond), count)
		case p.Started:
			if open {
				fmt.Fprintln(w)
				open = false
			}
			fmt.Fprintf(w, "terraform plan (%s): running\n", p.Step)
			last = time.Now()
		case periodic && time.Since(last) >= interval:
			last = time.Now()
			line := fmt.Sprintf("terraform plan (%s): %s%s", p.Step, p.Elapsed.Round(time.Second), count)
			if tty {
				fmt.Fprint(w, "\r\033[K"+line)
				open = true
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

// WriteSummary prints what a run did, one line per finding, for people.
func WriteSummary(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range res.Adopted {
		fmt.Fprintf(tw, "adopted\t%s\t%s\t%s\n", a.Address, a.ImportID, shortFP(a.Finding.Fingerprint))
	}
	for _, a := range res.Accepted {
		fmt.Fprintf(tw, "accepted\t%s\t%s in %s\t%s\n", a.Address, strings.Join(a.Paths, ", "), a.File, shortFP(a.Finding.Fingerprint))
	}
	for _, r := range res.Removed {
		fmt.Fprintf(tw, "removed\t%s\tblock deleted from %s, state entry forgotten\t%s\n", r.Address, r.File, shortFP(r.Finding.Fingerprint))
	}
	for _, s := range res.Skipped {
		name := s.Address
		if name == "" {
			name = s.Finding.Resource.Type + " " + s.Finding.Resource.ID
		}
		fmt.Fprintf(tw, "left\t%s\t%s\t%s\n", name, s.Reason, shortFP(s.Finding.Fingerprint))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range res.Others {
		fmt.Fprintf(w, "note: %s already has planned changes in this root module; codify did not touch it\n", o)
	}
	return nil
}

func shortFP(fp string) string {
	return "finding " + fp[:min(12, len(fp))]
}

// RepoPath finds the git repository holding dir and returns dir's path
// inside it, with forward slashes ("" at the repository root).
func RepoPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				rel = ""
			}
			return filepath.ToSlash(rel), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no .git directory above " + dir)
		}
	}
}
