// Command parsediff measures the offline half of a scan: parse a synthetic
// Terraform state of N resources from disk and diff it against a synthetic
// live inventory of the same estate (95% in sync, 2% changed, 1% missing,
// 2% unmanaged extra). It prints wall time per phase and peak RSS.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"plumb/internal/drift"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/state"
)

func main() {
	n := flag.Int("n", 100000, "resources in the synthetic state")
	write := flag.String("write", "", "only write the synthetic state to this file and exit")
	statePath := flag.String("state", "", "read this state instead of generating one (keeps generation out of the RSS figure)")
	flag.Parse()
	if *write != "" {
		if err := os.WriteFile(*write, state.Synthetic(*n), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "parsediff:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *statePath); err != nil {
		fmt.Fprintln(os.Stderr, "parsediff:", err)
		os.Exit(1)
	}
}

func run(n int, path string) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "plumb-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "big.tfstate")
		if err := os.WriteFile(path, state.Synthetic(n), 0o644); err != nil {
			return err
		}
		runtime.GC()
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	size := int(st.Size())

	mapper := awsinv.NewMapper()
	t0 := time.Now()
	desired, err := state.Load(context.Background(), []string{path}, state.Options{})
	if err != nil {
		return err
	}
	parsed := time.Since(t0)

	// Build the live side from the same estate, then disturb it.
	inv := inventory.NewResult([]string{"us-east-1"})
	for _, t := range mapper.Types() {
		inv.Add(t.Name, "us-east-1", nil)
		inv.Add(t.Name, "", nil)
	}
	live := make([]model.Resource, 0, len(desired)+len(desired)/50)
	mapped := 0
	for i, d := range desired {
		r, ok := mapper.FromState(d.Type, d.Raw)
		if !ok {
			continue
		}
		mapped++
		switch {
		case i%100 == 0: // missing
			continue
		case i%50 == 1: // changed tag
			tags := map[string]string{}
			for k, v := range r.Tags {
				tags[k] = v
			}
			tags["env"] = "edited-by-hand"
			r.Tags = tags
		}
		live = append(live, r)
		if i%50 == 2 { // an unmanaged sibling
			u := r
			u.ID = r.ID + "-stray"
			live = append(live, u)
		}
	}
	inv.Add("bench", "us-east-1", live)

	t1 := time.Now()
	res := drift.Diff(desired, inv, mapper, drift.Options{Environment: "bench"})
	diffed := time.Since(t1)

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := parsed + diffed
	fmt.Printf("state: %d resources (%d of supported types), %.1f MiB on disk\n", len(desired), mapped, float64(size)/(1<<20))
	fmt.Printf("parse: %.3f s   diff: %.3f s   total: %.3f s   (goal < 2 s)\n", parsed.Seconds(), diffed.Seconds(), total.Seconds())
	fmt.Printf("peak RSS: %.0f MiB   (goal < 1024 MiB)\n", float64(ru.Maxrss)/1024)
	fmt.Printf("findings: %d (in sync %d, changed %d, missing %d, unmanaged %d)\n",
		len(res.Findings), res.Summary.InSync, res.Summary.Changed, res.Summary.Missing, res.Summary.Unmanaged)
	return nil
}
