package ghaction_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// This file is a small runner for composite actions, the part of GitHub's
// runner the plumb action needs: it reads action.yml, fills in the inputs
// (with their defaults), evaluates the ${{ }} expressions the action uses,
// runs each run step with bash the way GitHub does
// (bash --noprofile --norc -eo pipefail FILE) and with the environment a
// step gets (GITHUB_OUTPUT and GITHUB_STEP_SUMMARY per step, GITHUB_PATH,
// GITHUB_WORKSPACE, RUNNER_TEMP, RUNNER_TOOL_CACHE, RUNNER_OS,
// RUNNER_ARCH, CI, GITHUB_ACTIONS, ...), reads the step outputs back and
// resolves the action's outputs. Steps that use other actions (setup-go,
// cache) are GitHub's own and are skipped; the run records them.
//
// Expressions it does not know fail the test, so action.yml cannot grow an
// expression this test would silently leave unevaluated.

type actionYAML struct {
	Inputs  map[string]struct{ Default string } `yaml:"inputs"`
	Outputs map[string]struct{ Value string }   `yaml:"outputs"`
	Runs    struct {
		Steps []struct {
			ID               string            `yaml:"id"`
			Name             string            `yaml:"name"`
			If               string            `yaml:"if"`
			Uses             string            `yaml:"uses"`
			Run              string            `yaml:"run"`
			Shell            string            `yaml:"shell"`
			Env              map[string]string `yaml:"env"`
			WorkingDirectory string            `yaml:"working-directory"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// job is the part of a job the action runs in: one workspace, one
// RUNNER_TEMP, one tool cache, shared by the actions of the job.
type job struct {
	t                          *testing.T
	actionDir                  string
	workspace, temp, toolCache string
	// ref and repository are github.action_ref and github.action_repository.
	ref, repository string
	env             map[string]string
	pathFile        string
}

func newJob(t *testing.T, actionDir string) *job {
	t.Helper()
	root := t.TempDir()
	j := &job{t: t, actionDir: actionDir, workspace: filepath.Join(root, "workspace"), temp: filepath.Join(root, "temp"),
		toolCache: filepath.Join(root, "toolcache"), ref: "v0.0.0-test", repository: "acme/plumb", env: map[string]string{},
		pathFile: filepath.Join(root, "github_path")}
	for _, d := range []string{j.workspace, j.temp, j.toolCache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// actionRun is what one use of the action did.
type actionRun struct {
	outputs map[string]string
	// stepOutputs by step id.
	stepOutputs map[string]map[string]string
	summary     string
	log         string
	// failedStep is the id (or name) of the step that failed, "" if none;
	// exitCode is its exit code.
	failedStep string
	exitCode   int
	// skipped are the uses: steps whose if: held (they would have run on
	// GitHub); ran are the run: steps that ran.
	skipped []string
	ran     []string
}

var exprPattern = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runnerOS and runnerArch are RUNNER_OS and RUNNER_ARCH for this machine.
func runnerOS() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return "Linux"
}

func runnerArch() string {
	if runtime.GOARCH == "arm64" {
		return "ARM64"
	}
	return "X64"
}

// use runs the action with the given inputs (the step's with:).
func (j *job) use(with map[string]string) actionRun {
	t := j.t
	t.Helper()
	data, err := os.ReadFile(filepath.Join(j.actionDir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{}
	for k, in := range a.Inputs {
		inputs[k] = in.Default
	}
	for k, v := range with {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("with: %s is not an input of the action", k)
		}
		inputs[k] = v
	}
	res := actionRun{outputs: map[string]string{}, stepOutputs: map[string]map[string]string{}}
	eval := func(expr string) string {
		parts := strings.Split(expr, ".")
		switch {
		case len(parts) == 2 && parts[0] == "inputs":
			v, ok := inputs[parts[1]]
			if !ok {
				t.Fatalf("expression %s: no such input", expr)
			}
			return v
		case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
			return res.stepOutputs[parts[1]][parts[3]]
		}
		switch expr {
		case "github.action_path":
			return j.actionDir
		case "github.action_repository":
			return j.repository
		case "github.action_ref":
			return j.ref
		case "runner.tool_cache":
			return j.toolCache
		case "runner.temp":
			return j.temp
		case "runner.os":
			return runnerOS()
		case "runner.arch":
			return runnerArch()
		}
		t.Fatalf("the test runner does not know the expression ${{ %s }}", expr)
		return ""
	}
	expand := func(s string) string {
		return exprPattern.ReplaceAllStringFunc(s, func(m string) string {
			return eval(exprPattern.FindStringSubmatch(m)[1])
		})
	}

	// cond evaluates the if: conditions the action uses: terms
	// "X == 'literal'" or "X != 'literal'" joined by &&.
	term := regexp.MustCompile(`^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*'([^']*)'\s*$`)
	cond := func(label, expr string) bool {
		expr = strings.TrimSpace(expr)
		if m := exprPattern.FindStringSubmatch(expr); m != nil && m[0] == expr {
			expr = m[1]
		}
		ok := true
		for _, part := range strings.Split(expr, "&&") {
			m := term.FindStringSubmatch(part)
			if m == nil {
				t.Fatalf("%s: the test runner does not evaluate if: %q", label, expr)
			}
			v := eval(m[1])
			if (m[2] == "==") != (v == m[3]) {
				ok = false
			}
		}
		return ok
	}

	var log bytes.Buffer
	for i, st := range a.Runs.Steps {
		label := st.ID
		if label == "" {
			label = fmt.Sprintf("step %d (%s)", i, st.Name)
		}
		if st.If != "" && !cond(label, st.If) {
			continue
		}
		if st.Uses != "" {
			// GitHub's own actions are not run here; the run records
			// the ones whose condition held.
			res.skipped = append(res.skipped, st.Uses)
			continue
		}
		if st.Shell != "bash" {
			t.Fatalf("%s: shell %q; the test runner runs bash", label, st.Shell)
		}
		stepDir := filepath.Join(j.temp, "_runner_file_commands", fmt.Sprintf("%d-%d", len(res.ran), i))
		if err := os.MkdirAll(stepDir, 0o755); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(stepDir, "script.sh")
		if err := os.WriteFile(script, []byte(expand(st.Run)), 0o644); err != nil {
			t.Fatal(err)
		}
		outFile, sumFile := filepath.Join(stepDir, "output"), filepath.Join(stepDir, "summary")
		for _, f := range []string{outFile, sumFile} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = j.workspace
		if st.WorkingDirectory != "" {
			cmd.Dir = filepath.Join(j.workspace, expand(st.WorkingDirectory))
		}
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		for k, v := range j.env {
			env[k] = v
		}
		path := env["PATH"]
		if added, err := os.ReadFile(j.pathFile); err == nil {
			for _, p := range strings.Split(strings.TrimSpace(string(added)), "\n") {
				if p != "" {
					path = p + string(os.PathListSeparator) + path
				}
			}
		}
		for k, v := range map[string]string{
			"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": j.workspace, "RUNNER_TEMP": j.temp,
			"RUNNER_TOOL_CACHE": j.toolCache, "RUNNER_OS": runnerOS(), "RUNNER_ARCH": runnerArch(),
			"GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": sumFile, "GITHUB_PATH": j.pathFile,
			"GITHUB_ACTION_PATH": j.actionDir, "GITHUB_ACTION_REPOSITORY": j.repository, "GITHUB_ACTION_REF": j.ref,
			"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/infra", "PATH": path,
		} {
			env[k] = v
		}
		for k, v := range st.Env {
			env[k] = expand(v)
		}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		fmt.Fprintf(&log, "::group::%s\n", label)
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		fmt.Fprintf(&log, "::endgroup::\n")
		res.ran = append(res.ran, label)
		outs, _ := os.ReadFile(outFile)
		if st.ID != "" {
			res.stepOutputs[st.ID] = parseOutputFile(t, string(outs))
		}
		sum, _ := os.ReadFile(sumFile)
		res.summary += string(sum)
		if err != nil {
			res.failedStep = label
			res.exitCode = -1
			if ee, ok := err.(*exec.ExitError); ok {
				res.exitCode = ee.ExitCode()
			}
			break
		}
	}
	for k, o := range a.Outputs {
		res.outputs[k] = expand(o.Value)
	}
	res.log = log.String()
	t.Logf("action log:\n%s", res.log)
	return res
}

// parseOutputFile reads a GITHUB_OUTPUT file: NAME=VALUE lines and the
// NAME<<DELIMITER multi-line form.
func parseOutputFile(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ls := strings.Split(data, "\n")
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(ls) && ls[i] != delim; i++ {
				val = append(val, ls[i])
			}
			if i == len(ls) {
				t.Fatalf("GITHUB_OUTPUT: delimiter %s of %s never closes", delim, name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT: line %q is neither NAME=VALUE nor NAME<<DELIMITER", l)
		}
		out[name] = val
	}
	return out
}
