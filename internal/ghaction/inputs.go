// Package ghaction is the program behind plumb's GitHub Action
// (action.yml at the repository root). The action's composite steps
// install a plumb binary and then run `plumb action`, which reads the
// action's inputs from PLUMB_INPUT_* variables (a composite action gets no
// INPUT_* variables of its own, so action.yml maps each input explicitly),
// runs `plumb scan` or `plumb check` with report files in RUNNER_TEMP,
// appends the Markdown report to the job summary ($GITHUB_STEP_SUMMARY)
// and sets the step outputs through $GITHUB_OUTPUT.
//
// Keeping this logic in Go rather than in shell keeps quoting, JSON
// reading and the file-command syntax in code that tests can drive with
// the environment GitHub Actions provides.
package ghaction

import (
	"fmt"
	"slices"
	"strings"
)

// InputPrefix starts the name of every variable action.yml sets for an
// input: input "terraform-dir" arrives as PLUMB_INPUT_TERRAFORM_DIR.
const InputPrefix = "PLUMB_INPUT_"

// Commands the action can run.
const (
	CommandScan  = "scan"
	CommandCheck = "check"
)

// Inputs are the action's inputs after parsing. Lists come from
// multi-line inputs (one path per line) or, for packs, from comma or
// space separated names.
type Inputs struct {
	// Command is scan or check.
	Command string
	// States, TerraformDirs, Plans and WhatIfs are the desired-state
	// sources of plumb scan; for plumb check, Plans holds the one plan.
	States        []string
	TerraformDirs []string
	Workspace     string
	Plans         []string
	WhatIfs       []string
	Packs         []string
	Policies      []string
	Env           string
	Config        string
	Notify        bool
	DataDir       string
	// SARIF asks for a SARIF 2.1.0 file for code scanning.
	SARIF bool
	// Summary appends the Markdown report to the job summary.
	Summary bool
	// FailOnFindings makes the step fail when plumb exits 2.
	FailOnFindings bool
	// Args are extra plumb arguments, split like a shell's words.
	Args []string
	// WorkingDirectory is where plumb runs, relative to GITHUB_WORKSPACE
	// unless absolute.
	WorkingDirectory string
}

// inputName turns an input id into the variable action.yml sets for it.
func inputName(id string) string {
	return InputPrefix + strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}

// InputIDs lists every input `plumb action` reads, by its id in
// action.yml. The metadata test checks that action.yml declares each one
// and passes it in the step that runs `plumb action`.
func InputIDs() []string {
	return []string{"command", "states", "terraform-dir", "workspace", "plan", "whatif", "packs", "policies",
		"env", "config", "notify", "data-dir", "sarif", "summary", "fail-on-findings", "args", "working-directory"}
}

// EnvName is the variable that carries input id to `plumb action`.
func EnvName(id string) string { return inputName(id) }

// ReadInputs parses the inputs from the environment (getenv is
// os.Getenv in production). Booleans follow the YAML 1.2 core schema, as
// GitHub's own toolkit does: true, True, TRUE, false, False or FALSE;
// anything else is an error naming the input, so a typo such as "yes"
// never silently means false.
func ReadInputs(getenv func(string) string) (Inputs, error) {
	get := func(id string) string { return strings.TrimSpace(getenv(inputName(id))) }
	var errs []string
	boolean := func(id string, def bool) bool {
		v := get(id)
		switch v {
		case "":
			return def
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE":
			return false
		}
		errs = append(errs, fmt.Sprintf("input %s: %q is not a boolean (want true or false)", id, v))
		return def
	}
	in := Inputs{
		Command:          strings.ToLower(get("command")),
		States:           lines(getenv(inputName("states"))),
		TerraformDirs:    lines(getenv(inputName("terraform-dir"))),
		Workspace:        get("workspace"),
		Plans:            lines(getenv(inputName("plan"))),
		WhatIfs:          lines(getenv(inputName("whatif"))),
		Packs:            words(getenv(inputName("packs"))),
		Policies:         lines(getenv(inputName("policies"))),
		Env:              get("env"),
		Config:           get("config"),
		Notify:           boolean("notify", false),
		DataDir:          get("data-dir"),
		SARIF:            boolean("sarif", false),
		Summary:          boolean("summary", true),
		FailOnFindings:   boolean("fail-on-findings", true),
		WorkingDirectory: get("working-directory"),
	}
	if in.Command == "" {
		in.Command = CommandScan
	}
	args, err := SplitArgs(getenv(inputName("args")))
	if err != nil {
		errs = append(errs, fmt.Sprintf("input args: %v", err))
	}
	in.Args = args
	errs = append(errs, in.check()...)
	if len(errs) > 0 {
		return in, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return in, nil
}

// check reports inputs that do not fit the command: they would otherwise
// be dropped without a word.
func (in Inputs) check() []string {
	var errs []string
	switch in.Command {
	case CommandScan:
		if in.Notify && in.Config == "" {
			errs = append(errs, "input notify: true needs input config (a plumb.yaml with a route and receivers)")
		}
	case CommandCheck:
		if len(in.Plans) != 1 {
			errs = append(errs, fmt.Sprintf("input plan: plumb check takes exactly one plan JSON, got %d", len(in.Plans)))
		}
		if len(in.Packs)+len(in.Policies) == 0 {
			errs = append(errs, "inputs packs/policies: plumb check needs at least one pack or policy file")
		}
		for id, set := range map[string]bool{
			"states": len(in.States) > 0, "terraform-dir": len(in.TerraformDirs) > 0, "workspace": in.Workspace != "",
			"whatif": len(in.WhatIfs) > 0, "config": in.Config != "", "notify": in.Notify, "data-dir": in.DataDir != "",
		} {
			if set {
				errs = append(errs, fmt.Sprintf("input %s is not used by plumb check (only by command: scan)", id))
			}
		}
	default:
		errs = append(errs, fmt.Sprintf("input command: %q is not scan or check", in.Command))
	}
	slices.Sort(errs)
	return errs
}

// lines splits a multi-line input into its non-empty lines, trimmed.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// words splits on commas and white space (pack names contain neither).
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
