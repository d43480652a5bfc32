package ghaction_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"plumb/internal/ghaction"
)

// actionFile is the action's metadata at the repository root.
const actionFile = "../../action.yml"

// The rules below are GitHub's documented metadata syntax for actions
// ("Metadata syntax for GitHub Actions"), for a composite action:
//
//   - name and description are required strings; author is optional;
//     branding is optional; runs is required. The runner rejects keys it
//     does not know ("Unexpected value").
//   - inputs.<input_id>: the id starts with a letter or _ and holds only
//     letters, digits, - and _ (lowercase recommended); description is
//     required; required and default are optional (required a boolean);
//     deprecationMessage is optional.
//   - outputs.<output_id>: same id rule; for composite actions description
//     and value are required.
//   - runs.using is "composite"; runs.steps is a non-empty list. A step has
//     run or uses (not both); a run step needs shell (bash, pwsh, python,
//     sh, cmd, powershell); with goes only with uses; id, if, name, env,
//     working-directory and continue-on-error are optional.
//   - Contexts available to a composite action's metadata: inputs, steps
//     (of earlier steps), github, runner, env, job, strategy, matrix,
//     hashFiles; secrets are not.
var (
	idRule       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	topKeys      = []string{"name", "author", "description", "inputs", "outputs", "runs", "branding"}
	inputKeys    = []string{"description", "required", "default", "deprecationMessage"}
	outputKeys   = []string{"description", "value"}
	runsKeys     = []string{"using", "steps"}
	stepKeys     = []string{"run", "shell", "if", "name", "id", "env", "working-directory", "uses", "with", "continue-on-error"}
	shells       = []string{"bash", "pwsh", "python", "sh", "cmd", "powershell"}
	usesRule     = regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[A-Za-z0-9_.-]+|\./.+|docker://.+)$`)
	exprRule     = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	contextRef   = regexp.MustCompile(`\b(inputs|steps|github|runner|env|job|strategy|matrix|secrets|vars|needs)\.([A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_-]+)*)`)
	composite    = []string{"inputs", "steps", "github", "runner", "env", "job", "strategy", "matrix"}
	stepOutputOf = regexp.MustCompile(`^\.outputs\.([A-Za-z0-9_-]+)$`)
)

// node helpers over yaml.v3's tree, so that unknown keys and wrong kinds
// are seen (a struct decode would drop them).
func mapping(t testing.TB, n *yaml.Node, where string) map[string]*yaml.Node {
	t.Helper()
	if n == nil || n.Kind != yaml.MappingNode {
		t.Fatalf("%s: want a mapping", where)
	}
	m := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if _, dup := m[k]; dup {
			t.Errorf("%s: key %q twice (line %d)", where, k, n.Content[i].Line)
		}
		m[k] = n.Content[i+1]
	}
	return m
}

func onlyKeys(t testing.TB, m map[string]*yaml.Node, allowed []string, where string) {
	t.Helper()
	for k, v := range m {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: unexpected key %q (line %d); allowed: %s", where, k, v.Line, strings.Join(allowed, ", "))
		}
	}
}

func str(t testing.TB, m map[string]*yaml.Node, key, where string, required bool) string {
	t.Helper()
	n, ok := m[key]
	if !ok {
		if required {
			t.Errorf("%s: %s is required", where, key)
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		t.Errorf("%s.%s (line %d): want a string, got %s", where, key, n.Line, n.Tag)
		return ""
	}
	if required && strings.TrimSpace(n.Value) == "" {
		t.Errorf("%s.%s (line %d): empty", where, key, n.Line)
	}
	return n.Value
}

// actionMeta is what the checks collect for the cross-checks.
type actionMeta struct {
	inputs  map[string]string // id -> default
	outputs map[string]string // id -> value
	steps   []map[string]*yaml.Node
	stepIDs []string
}

// checkMetadata validates an action.yml against the documented syntax
// and returns what it read.
func checkMetadata(t testing.TB, data []byte) actionMeta {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("action.yml is not YAML: %v", err)
	}
	if len(doc.Content) != 1 {
		t.Fatal("action.yml: want one document")
	}
	meta := actionMeta{inputs: map[string]string{}, outputs: map[string]string{}}
	top := mapping(t, doc.Content[0], "action.yml")
	onlyKeys(t, top, topKeys, "action.yml")
	str(t, top, "name", "action.yml", true)
	str(t, top, "description", "action.yml", true)
	str(t, top, "author", "action.yml", false)

	if in, ok := top["inputs"]; ok {
		for id, n := range mapping(t, in, "inputs") {
			where := "inputs." + id
			if !idRule.MatchString(id) || strings.ToLower(id) != id {
				t.Errorf("%s: input ids start with a letter or _, hold letters, digits, - and _, and are lowercase", where)
			}
			m := mapping(t, n, where)
			onlyKeys(t, m, inputKeys, where)
			str(t, m, "description", where, true)
			if r, ok := m["required"]; ok && r.Tag != "!!bool" {
				t.Errorf("%s.required (line %d): want true or false, got %q", where, r.Line, r.Value)
			}
			if d, ok := m["default"]; ok {
				if d.Kind != yaml.ScalarNode {
					t.Errorf("%s.default (line %d): want a scalar", where, d.Line)
				}
				meta.inputs[id] = d.Value
			} else {
				meta.inputs[id] = ""
			}
		}
	}
	if out, ok := top["outputs"]; ok {
		for id, n := range mapping(t, out, "outputs") {
			where := "outputs." + id
			if !idRule.MatchString(id) {
				t.Errorf("%s: output ids start with a letter or _ and hold letters, digits, - and _", where)
			}
			m := mapping(t, n, where)
			onlyKeys(t, m, outputKeys, where)
			str(t, m, "description", where, true)
			meta.outputs[id] = str(t, m, "value", where, true)
		}
	}

	runs := mapping(t, top["runs"], "runs")
	onlyKeys(t, runs, runsKeys, "runs")
	if using := str(t, runs, "using", "runs", true); using != "composite" {
		t.Fatalf("runs.using = %q, want composite (a Docker-free action)", using)
	}
	steps := runs["steps"]
	if steps == nil || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
		t.Fatal("runs.steps: a composite action needs a non-empty list of steps")
	}
	for i, sn := range steps.Content {
		where := fmt.Sprintf("runs.steps[%d]", i)
		s := mapping(t, sn, where)
		onlyKeys(t, s, stepKeys, where)
		_, hasRun := s["run"]
		_, hasUses := s["uses"]
		switch {
		case hasRun == hasUses:
			t.Errorf("%s (line %d): a step has either run or uses", where, sn.Line)
		case hasRun:
			str(t, s, "run", where, true)
			if sh := str(t, s, "shell", where, true); sh != "" && !slices.Contains(shells, sh) && !strings.Contains(sh, "{0}") {
				t.Errorf("%s.shell %q: not a documented shell", where, sh)
			}
			if _, ok := s["with"]; ok {
				t.Errorf("%s: with goes with uses, not run", where)
			}
		case hasUses:
			if u := str(t, s, "uses", where, true); !usesRule.MatchString(u) {
				t.Errorf("%s.uses %q: want owner/repo@ref, ./path or docker://image", where, u)
			}
			if _, ok := s["shell"]; ok {
				t.Errorf("%s: shell goes with run, not uses", where)
			}
			if w, ok := s["with"]; ok {
				mapping(t, w, where+".with")
			}
		}
		if id := str(t, s, "id", where, false); id != "" {
			if !idRule.MatchString(id) {
				t.Errorf("%s.id %q: start with a letter or _, then letters, digits, - and _", where, id)
			}
			if slices.Contains(meta.stepIDs, id) {
				t.Errorf("%s.id %q: used twice", where, id)
			}
			meta.stepIDs = append(meta.stepIDs, id)
		} else {
			meta.stepIDs = append(meta.stepIDs, "")
		}
		if env, ok := s["env"]; ok {
			for k, v := range mapping(t, env, where+".env") {
				if v.Kind != yaml.ScalarNode {
					t.Errorf("%s.env.%s: want a string", where, k)
				}
			}
		}
		meta.steps = append(meta.steps, s)
	}
	return meta
}

// references returns the context references of every expression in
// text; bare says text is an if: condition (an expression without ${{ }}).
func references(text string, bare bool) []string {
	var exprs []string
	if bare && !strings.Contains(text, "${{") {
		exprs = []string{text}
	}
	for _, m := range exprRule.FindAllStringSubmatch(text, -1) {
		exprs = append(exprs, m[1])
	}
	var refs []string
	for _, e := range exprs {
		refs = append(refs, contextRef.FindAllString(e, -1)...)
	}
	return refs
}

// checkReferences checks every expression names a context a composite
// action has, a declared input, or an output of an earlier step.
func checkReferences(t testing.TB, meta actionMeta, data []byte) {
	t.Helper()
	check := func(where, ref string, before []string) {
		m := contextRef.FindStringSubmatch(ref)
		ctx, name, rest := m[1], m[2], m[3]
		if !slices.Contains(composite, ctx) {
			t.Errorf("%s: %s: context %s is not available in a composite action", where, ref, ctx)
			return
		}
		switch ctx {
		case "inputs":
			if _, ok := meta.inputs[name]; !ok {
				t.Errorf("%s: %s: no input %q is declared", where, ref, name)
			}
		case "steps":
			if !slices.Contains(before, name) {
				t.Errorf("%s: %s: no earlier step has id %q", where, ref, name)
			}
			if !stepOutputOf.MatchString(rest) {
				t.Errorf("%s: %s: want steps.<id>.outputs.<name>", where, ref)
			}
		}
	}
	for i, s := range meta.steps {
		where := fmt.Sprintf("runs.steps[%d]", i)
		before := meta.stepIDs[:i]
		var walk func(n *yaml.Node, bare bool)
		walk = func(n *yaml.Node, bare bool) {
			if n.Kind == yaml.ScalarNode {
				for _, r := range references(n.Value, bare) {
					check(where, r, before)
				}
			}
			for _, c := range n.Content {
				walk(c, false)
			}
		}
		for k, v := range s {
			walk(v, k == "if")
			if k == "run" && strings.Contains(v.Value, "${{") {
				t.Errorf("%s.run: expressions inside a script are expanded before the shell reads them (script injection); pass them through env", where)
			}
		}
	}
	for id, v := range meta.outputs {
		refs := references(v, false)
		if len(refs) == 0 {
			t.Errorf("outputs.%s.value %q: want an expression such as ${{ steps.<id>.outputs.<name> }}", id, v)
		}
		for _, r := range refs {
			check("outputs."+id, r, meta.stepIDs)
		}
	}
	// Every declared input is used somewhere: an input nothing reads would
	// be accepted and silently ignored.
	for id := range meta.inputs {
		if !strings.Contains(string(data), "inputs."+id+" ") && !strings.Contains(string(data), "inputs."+id+"}") {
			t.Errorf("input %s is declared but no step uses it", id)
		}
	}
}

func TestActionMetadata(t *testing.T) {
	data, err := os.ReadFile(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	meta := checkMetadata(t, data)
	checkReferences(t, meta, data)

	// The step running `plumb action` passes every input it reads, each
	// from its own input.
	var run map[string]*yaml.Node
	for i, id := range meta.stepIDs {
		if id == "run" {
			run = meta.steps[i]
		}
	}
	if run == nil {
		t.Fatal("no step with id run")
	}
	if !strings.Contains(run["run"].Value, " action") {
		t.Errorf("step run runs %q, want plumb action", run["run"].Value)
	}
	env := mapping(t, run["env"], "run.env")
	for _, id := range ghaction.InputIDs() {
		if _, ok := meta.inputs[id]; !ok {
			t.Errorf("plumb action reads input %s, which action.yml does not declare", id)
		}
		v, ok := env[ghaction.EnvName(id)]
		if !ok {
			t.Errorf("step run does not set %s", ghaction.EnvName(id))
			continue
		}
		if want := "${{ inputs." + id + " }}"; v.Value != want {
			t.Errorf("%s = %q, want %q", ghaction.EnvName(id), v.Value, want)
		}
	}
	// The outputs the action declares are the ones plumb action writes.
	for _, o := range []string{"exit-code", "findings", "errors", "report-json", "report-markdown", "sarif-file"} {
		if want := "${{ steps.run.outputs." + o + " }}"; meta.outputs[o] != want {
			t.Errorf("outputs.%s.value = %q, want %q", o, meta.outputs[o], want)
		}
	}
	// The script the install step runs exists and is the one in the repository.
	if _, err := os.Stat(filepath.Join(filepath.Dir(actionFile), "action", "install.sh")); err != nil {
		t.Errorf("install script: %v", err)
	}
}

// TestMetadataChecksCatchMistakes feeds the checks broken metadata, so a
// check that could never fail would show here.
func TestMetadataChecksCatchMistakes(t *testing.T) {
	valid := `name: x
description: y
inputs:
  a:
    description: an input
    default: "1"
outputs:
  o:
    description: an output
    value: ${{ steps.s.outputs.o }}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      env: {A: "${{ inputs.a }}"}
      run: echo "o=$A" >> "$GITHUB_OUTPUT"
`
	tests := []struct {
		name, old, new, want string
	}{
		{"valid", "", "", ""},
		{"no description", "description: y\n", "", "description is required"},
		{"unknown top key", "name: x\n", "name: x\nversion: 2\n", `unexpected key "version"`},
		{"input without description", "    description: an input\n", "", "inputs.a: description is required"},
		{"bad input id", "  a:\n", "  1a:\n", "input ids start with a letter"},
		{"required not boolean", `    default: "1"`, `    required: "yes"`, "want true or false"},
		{"output without value", "    value: ${{ steps.s.outputs.o }}\n", "", "outputs.o: value is required"},
		{"docker action", "using: composite", "using: docker", "want composite"},
		{"run without shell", "      shell: bash\n", "", "shell is required"},
		{"unknown shell", "shell: bash", "shell: zsh", "not a documented shell"},
		{"run and uses", "      shell: bash\n", "      shell: bash\n      uses: actions/cache@v4\n", "either run or uses"},
		{"unknown step key", "      shell: bash\n", "      shell: bash\n      timeout-minutes: 3\n", `unexpected key "timeout-minutes"`},
		{"undeclared input", "inputs.a }}", "inputs.b }}", `no input "b"`},
		{"later step output", "steps.s.outputs.o", "steps.t.outputs.o", `no earlier step has id "t"`},
		{"secrets", "inputs.a }}", "secrets.TOKEN }}", "not available in a composite action"},
		{"expression in script", `echo "o=$A"`, `echo "o=${{ inputs.a }}"`, "script injection"},
		{"unused input", "${{ inputs.a }}", "x", "input a is declared but no step uses it"},
		{"unpinned uses", "  steps:\n", "  steps:\n    - uses: actions/cache\n", "want owner/repo@ref"},
		{"with on a run step", "      shell: bash\n", "      shell: bash\n      with: {a: b}\n", "with goes with uses"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := valid
			if tc.old != "" || tc.new != "" {
				if !strings.Contains(doc, tc.old) {
					t.Fatalf("test setup: %q not in the valid document", tc.old)
				}
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			rec := &recorder{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil && r != errStop {
						panic(r)
					}
				}()
				meta := checkMetadata(rec, []byte(doc))
				checkReferences(rec, meta, []byte(doc))
			}()
			got := strings.Join(rec.msgs, "\n")
			if tc.want == "" {
				if got != "" {
					t.Errorf("valid metadata rejected:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("want a complaint containing %q, got:\n%s", tc.want, got)
			}
		})
	}
}

// recorder is a testing.TB that records failures instead of failing, so
// the checks can be tested on documents that must fail them. Fatalf stops
// the check with errStop, which the caller recovers.
type recorder struct {
	testing.TB
	msgs []string
}

var errStop = fmt.Errorf("stop")

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(errStop)
}

func (r *recorder) Fatal(args ...any) {
	r.msgs = append(r.msgs, fmt.Sprint(args...))
	panic(errStop)
}
