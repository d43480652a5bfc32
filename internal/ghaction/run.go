package ghaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Runner is what GitHub Actions gives a step through its environment.
type Runner struct {
	// Output is $GITHUB_OUTPUT, the step's output file.
	Output string
	// StepSummary is $GITHUB_STEP_SUMMARY, the step's job-summary file.
	StepSummary string
	// Temp is $RUNNER_TEMP, emptied at the end of every job.
	Temp string
	// Workspace is $GITHUB_WORKSPACE, the default working directory.
	Workspace string
}

// RunnerFromEnv reads the runner's files and directories. GITHUB_OUTPUT
// and RUNNER_TEMP are required: without them this is not an Actions step,
// and the outputs would be lost without a word.
func RunnerFromEnv(getenv func(string) string) (Runner, error) {
	r := Runner{
		Output:      getenv("GITHUB_OUTPUT"),
		StepSummary: getenv("GITHUB_STEP_SUMMARY"),
		Temp:        getenv("RUNNER_TEMP"),
		Workspace:   getenv("GITHUB_WORKSPACE"),
	}
	var missing []string
	if r.Output == "" {
		missing = append(missing, "GITHUB_OUTPUT")
	}
	if r.Temp == "" {
		missing = append(missing, "RUNNER_TEMP")
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("%s not set: plumb action runs as a step of the plumb GitHub Action (action.yml), which GitHub Actions provides them to", strings.Join(missing, " and "))
	}
	return r, nil
}

// Reports are the report files the action has plumb write.
type Reports struct {
	JSON, Markdown string
	// SARIF is "" unless the sarif input asked for it.
	SARIF string
}

// Argv is the plumb command line for the inputs, writing reports: a table
// on standard output for the log, JSON and Markdown files for the
// outputs and the summary, and SARIF when asked. Extra args come last, so
// they can add to anything the inputs set.
func (in Inputs) Argv(r Reports) []string {
	argv := []string{in.Command}
	add := func(flag string, vals ...string) {
		for _, v := range vals {
			argv = append(argv, flag, v)
		}
	}
	if in.Command == CommandCheck {
		argv = append(argv, in.Plans...)
	} else {
		add("--state", in.States...)
		add("--terraform-dir", in.TerraformDirs...)
		if in.Workspace != "" {
			add("--workspace", in.Workspace)
		}
		add("--plan", in.Plans...)
		add("--whatif", in.WhatIfs...)
	}
	add("--pack", in.Packs...)
	add("--policy", in.Policies...)
	if in.Env != "" {
		add("--env", in.Env)
	}
	if in.Config != "" {
		add("--config", in.Config)
	}
	if in.Notify {
		argv = append(argv, "--notify")
	}
	if in.DataDir != "" {
		add("--data-dir", in.DataDir)
	}
	add("-o", "table", "json="+r.JSON, "markdown="+r.Markdown)
	if r.SARIF != "" {
		add("-o", "sarif="+r.SARIF)
	}
	return append(argv, in.Args...)
}

// Result is what one run of the action found.
type Result struct {
	// ExitCode is plumb's: 0 nothing found, 2 findings, 1 error.
	ExitCode int
	// Findings and Errors count the JSON report's lists; -1 when plumb
	// wrote no report (it failed before it could).
	Findings, Errors int
	Reports          Reports
	// StepExit is the exit code of the action's step: plumb's, except
	// that findings (2) do not fail the step when fail-on-findings is false.
	StepExit int
}

// Run runs plumb (the binary at plumbBin) for the inputs, with plumb's
// standard output and standard error passed through to the step log, then
// writes the job summary and the step outputs. The returned error is for
// what kept the action itself from working (no runner files, plumb not
// startable); plumb's own failures are a Result with exit code 1.
func Run(ctx context.Context, in Inputs, rn Runner, plumbBin string, stdout, stderr io.Writer) (Result, error) {
	res := Result{Findings: -1, Errors: -1}
	dir, err := os.MkdirTemp(rn.Temp, "plumb-report-")
	if err != nil {
		return res, fmt.Errorf("report directory in RUNNER_TEMP: %w", err)
	}
	res.Reports = Reports{JSON: filepath.Join(dir, "report.json"), Markdown: filepath.Join(dir, "report.md")}
	if in.SARIF {
		res.Reports.SARIF = filepath.Join(dir, "report.sarif")
	}
	workdir := rn.Workspace
	if in.WorkingDirectory != "" {
		workdir = in.WorkingDirectory
		if !filepath.IsAbs(workdir) && rn.Workspace != "" {
			workdir = filepath.Join(rn.Workspace, workdir)
		}
	}
	if workdir != "" {
		if st, err := os.Stat(workdir); err != nil || !st.IsDir() {
			return res, fmt.Errorf("input working-directory: %s is not a directory", workdir)
		}
	}

	argv := in.Argv(res.Reports)
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = QuoteArg(a)
	}
	fmt.Fprintf(stdout, "plumb %s\n", strings.Join(quoted, " "))
	tail := &tailBuffer{max: 8 << 10}
	cmd := exec.CommandContext(ctx, plumbBin, argv...)
	cmd.Dir = workdir
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, tail)
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() > 0:
		res.ExitCode = exitErr.ExitCode()
	default:
		return res, fmt.Errorf("run %s: %w", plumbBin, err)
	}

	if err := res.readJSON(); err != nil {
		return res, err
	}
	// plumb writes SARIF file locations relative to the Terraform root
	// module; code scanning reads them relative to the repository.
	if res.Reports.SARIF != "" && in.Command == CommandCheck && rn.Workspace != "" {
		if _, err := os.Stat(res.Reports.SARIF); err == nil {
			rel, err := filepath.Rel(rn.Workspace, in.rootModuleDir(workdir))
			if err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				n, err := RebaseSARIF(res.Reports.SARIF, rel)
				if err != nil {
					return res, err
				}
				if n > 0 {
					fmt.Fprintf(stdout, "SARIF: %d file location(s) made relative to the repository root (prefix %s)\n", n, filepath.ToSlash(rel))
				}
			}
		}
	}
	res.StepExit = res.ExitCode
	if res.ExitCode == 2 && !in.FailOnFindings {
		res.StepExit = 0
	}

	if in.Summary && rn.StepSummary != "" {
		if err := AppendSummary(rn.StepSummary, res.summary(in, tail.String()), res.Reports.Markdown); err != nil {
			return res, err
		}
	}
	if err := WriteOutputs(rn.Output, res.outputs()); err != nil {
		return res, err
	}
	res.annotate(in, stdout, tail.String())
	return res, nil
}

// readJSON counts the report's findings and errors. A run that exited 0
// or 2 must have written the report; after exit 1 it may be missing.
func (res *Result) readJSON() error {
	data, err := os.ReadFile(res.Reports.JSON)
	if errors.Is(err, fs.ErrNotExist) {
		res.Reports.JSON = ""
		if res.ExitCode == 0 || res.ExitCode == 2 {
			return fmt.Errorf("plumb exited %d but wrote no JSON report", res.ExitCode)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the JSON report: %w", err)
	}
	var rep struct {
		Findings []json.RawMessage `json:"findings"`
		Errors   []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("read the JSON report %s: %w", res.Reports.JSON, err)
	}
	res.Findings, res.Errors = len(rep.Findings), len(rep.Errors)
	return nil
}

// outputs are the step outputs; a report plumb did not write has an empty
// path, and counts of a missing report are empty rather than 0.
func (res *Result) outputs() []Output {
	count := func(n int) string {
		if n < 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	exists := func(p string) string {
		if p == "" {
			return ""
		}
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	return []Output{
		{"exit-code", strconv.Itoa(res.ExitCode)},
		{"findings", count(res.Findings)},
		{"errors", count(res.Errors)},
		{"report-json", exists(res.Reports.JSON)},
		{"report-markdown", exists(res.Reports.Markdown)},
		{"sarif-file", exists(res.Reports.SARIF)},
	}
}

// summary is the job summary: plumb's Markdown report, the --notify
// line, and for a failed run the end of plumb's standard error.
func (res *Result) summary(in Inputs, stderrTail string) string {
	var b strings.Builder
	if md, err := os.ReadFile(res.Reports.Markdown); err == nil {
		b.Write(md)
		if len(md) > 0 && md[len(md)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	if in.Notify {
		for l := range strings.SplitSeq(stderrTail, "\n") {
			if strings.HasPrefix(l, "findings: ") {
				fmt.Fprintf(&b, "\n**Notifications** (plumb scan --notify): %s\n", strings.TrimPrefix(l, "findings: "))
			}
		}
	}
	if res.ExitCode != 0 && res.ExitCode != 2 {
		fmt.Fprintf(&b, "\n### plumb %s failed (exit %d)\n\n", in.Command, res.ExitCode)
		if res.Reports.JSON == "" {
			b.WriteString("plumb stopped before it wrote a report. ")
		}
		b.WriteString("The end of its error output:\n\n")
		fence := "```"
		for strings.Contains(stderrTail, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "%s\n%s\n%s\n", fence, strings.TrimRight(stderrTail, "\n"), fence)
	}
	return b.String()
}

// annotate prints a workflow command that shows up on the run's page: an
// error when the step fails, a warning for findings that do not fail it.
func (res *Result) annotate(in Inputs, w io.Writer, stderrTail string) {
	switch {
	case res.ExitCode == 2 && res.StepExit != 0:
		fmt.Fprintln(w, Annotation("error", "plumb "+in.Command, fmt.Sprintf("%d finding(s); see the job summary", res.Findings)))
	case res.ExitCode == 2:
		fmt.Fprintln(w, Annotation("warning", "plumb "+in.Command, fmt.Sprintf("%d finding(s) (fail-on-findings is false); see the job summary", res.Findings)))
	case res.ExitCode != 0:
		last := ""
		for l := range strings.SplitSeq(strings.TrimSpace(stderrTail), "\n") {
			if strings.TrimSpace(l) != "" {
				last = strings.TrimSpace(l)
			}
		}
		fmt.Fprintln(w, Annotation("error", "plumb "+in.Command, fmt.Sprintf("exit %d: %s", res.ExitCode, last)))
	}
}

// Annotation is the workflow command that shows msg on the run's page
// (level error, warning or notice), escaped as the runner expects: in the
// message % CR LF, in a property also : and ,.
func Annotation(level, title, msg string) string {
	data := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	prop := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	return fmt.Sprintf("::%s title=%s::%s", level, prop.Replace(title), data.Replace(msg))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
