package codify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// interruptGrace is how long Terraform gets to stop its providers after
// an interrupt before it is killed.
const interruptGrace = 10 * time.Second

// runner runs Terraform in the scratch copy. It records how long
// Terraform took, so plumb's own share of a run can be told apart, and
// turns Terraform's machine-readable plan stream into progress.
type runner struct {
	bin      string
	env      []string
	progress func(Progress)

	mu     sync.Mutex
	spent  time.Duration
	runs   int
	active int
	since  time.Time
}

// Progress is one update about a long Terraform run: which step, how many
// of the resources Terraform reads it has read, and since when it runs.
type Progress struct {
	// Step names the run ("generate configuration", "prove (round 2)").
	Step string
	// Done and Total count resources read by Terraform's refresh; Total is
	// 0 when unknown.
	Done, Total int
	// Elapsed is the time since the step started.
	Elapsed time.Duration
	// Started marks the first update of a step, Finished the last.
	Started, Finished bool
}

func newRunner(bin string, env []string, progress func(Progress)) *runner {
	if bin == "" {
		bin = "terraform"
	}
	full := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	full = append(full, env...)
	return &runner{bin: bin, env: full, progress: progress}
}

// timing reports the wall time during which at least one Terraform
// process ran (runs in parallel count once) and the number of runs.
func (r *runner) timing() (time.Duration, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spent, r.runs
}

// begin and end bracket one Terraform process.
func (r *runner) begin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == 0 {
		r.since = time.Now()
	}
	r.active++
	r.runs++
}

func (r *runner) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active--
	if r.active == 0 {
		r.spent += time.Since(r.since)
	}
}

// run runs one Terraform command in dir and returns standard output. On
// failure the error carries Terraform's trimmed standard error.
func (r *runner) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	r.begin()
	defer r.end()
	cmd := r.command(ctx, dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), r.explain(ctx, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (r *runner) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	return cmd
}

func (r *runner) explain(ctx context.Context, args []string, err error, stderr string) error {
	name := "terraform " + args[0]
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w (%v)", name, ctxErr, err)
	}
	if msg := strings.TrimSpace(stderr); msg != "" {
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// diagnostic is one error or warning Terraform reported, as its
// machine-readable UI (-json) writes it.
type diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
	Range    *struct {
		Filename string `json:"filename"`
		Start    struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
}

func (d diagnostic) String() string {
	s := d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return strings.Join(strings.Fields(s), " ")
}

// planRun is the outcome of one `terraform plan -json`.
type planRun struct {
	// ok says Terraform exited successfully (0, or 2 with
	// -detailed-exitcode, which plumb never passes).
	ok     bool
	errors []diagnostic
	// actions maps each resource instance with a planned change to the
	// stream's action for it ("import", "update", "replace", ...);
	// resources without a change are absent.
	actions map[string]string
	// stderr holds what Terraform printed outside the JSON stream (a crash,
	// a backend failure before the UI starts).
	stderr string
}

// plan runs `terraform plan -json` with extra arguments, reporting
// progress from the stream's refresh messages. A plan that fails with
// diagnostics is not an error: the caller decides from them. An error is
// returned only when Terraform could not run or was interrupted.
func (r *runner) plan(ctx context.Context, dir, step string, total int, extra ...string) (*planRun, error) {
	start := time.Now()
	r.begin()
	defer r.end()
	args := append([]string{"plan", "-json", "-input=false", "-lock=false"}, extra...)
	cmd := r.command(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("terraform plan: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("terraform plan: %w", err)
	}
	res := &planRun{actions: map[string]string{}}
	done := 0
	report := func(started, finished bool) {
		if r.progress != nil {
			r.progress(Progress{Step: step, Done: done, Total: total, Elapsed: time.Since(start), Started: started, Finished: finished})
		}
	}
	report(true, false)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var msg struct {
			Type       string     `json:"type"`
			Diagnostic diagnostic `json:"diagnostic"`
			Change     struct {
				Resource struct {
					Addr string `json:"addr"`
				} `json:"resource"`
				Action string `json:"action"`
			} `json:"change"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		switch msg.Type {
		case "refresh_complete":
			done++
			report(false, false)
		case "planned_change":
			res.actions[msg.Change.Resource.Addr] = msg.Change.Action
		case "diagnostic":
			if msg.Diagnostic.Severity == "error" {
				res.errors = append(res.errors, msg.Diagnostic)
			}
		}
	}
	// Drain whatever the scanner left (a line over the buffer limit).
	_, _ = io.Copy(io.Discard, out)
	err = cmd.Wait()
	report(false, true)
	res.stderr = strings.TrimSpace(stderr.String())
	if err == nil {
		res.ok = true
		return res, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("terraform plan: %w", ctx.Err())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return nil, fmt.Errorf("terraform plan: %w", err)
	}
	if len(res.errors) == 0 {
		msg := res.stderr
		if msg == "" {
			msg = "no diagnostics"
		}
		return nil, fmt.Errorf("terraform plan in %s failed: %v: %s", dir, err, msg)
	}
	return res, nil
}
