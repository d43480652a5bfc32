package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"plumb/internal/config"
	"plumb/internal/policy"
	"plumb/internal/state"
	"plumb/internal/tfplan"
)

// Policy inputs: the plans and states a check or a compliance report
// evaluates, each belonging to an environment. One plan is the usual
// pipeline step; several, named ENV=FILE, let rules compare environments
// (production's address space against the others'); --config reads every
// environment's states from plumb.yaml.

// policyInput is one file to evaluate and its environment.
type policyInput struct {
	env, path string
}

// policyInputFlags are the flags shared by plumb check and plumb report
// compliance to say what to evaluate and how.
type policyInputFlags struct {
	production      []string
	configPath      string
	accountBaseline bool
	params          []string
}

var envNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// parseInputs reads [ENV=]FILE arguments. One unnamed file belongs to
// defaultEnv; several files need a name each, and names are unique.
func parseInputs(args []string, defaultEnv string) ([]policyInput, error) {
	var out []policyInput
	named := 0
	for _, a := range args {
		env, path, ok := strings.Cut(a, "=")
		if !ok {
			out = append(out, policyInput{env: defaultEnv, path: a})
			continue
		}
		if !envNamePattern.MatchString(env) {
			return nil, fmt.Errorf("%q: %q is not an environment name (letters, digits, '-', '_', '.')", a, env)
		}
		if path == "" {
			return nil, fmt.Errorf("%q: no file after %s=", a, env)
		}
		named++
		out = append(out, policyInput{env: env, path: path})
	}
	if len(out) > 1 && named != len(out) {
		return nil, fmt.Errorf("several files are several environments: name each one ENV=FILE (got %s)", strings.Join(args, " "))
	}
	seen := map[string]bool{}
	for _, in := range out {
		if seen[in.env] {
			return nil, fmt.Errorf("environment %s is given twice; give each environment once", in.env)
		}
		seen[in.env] = true
	}
	return out, nil
}

// isStateJSON tells a Terraform state (tfstate v4) from a plan.
func isStateJSON(data []byte) bool {
	var probe struct {
		Lineage *string         `json:"lineage"`
		Version json.RawMessage `json:"version"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Lineage != nil
}

// readInput reads one plan or state into subjects of its environment.
// configDir locates .tf files for a plan ("" means the plan's directory).
func readInput(in policyInput, configDir string) ([]policy.Subject, error) {
	data, err := os.ReadFile(in.path)
	if err != nil {
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("read %s: %w", in.path, err)}
	}
	var subjects []policy.Subject
	if isStateJSON(data) {
		res, err := state.Parse(in.path, data)
		if err != nil {
			return nil, &exitCodeError{code: exitError, err: err}
		}
		subjects = tfplan.StateSubjects(res)
	} else {
		if configDir == "" {
			configDir = filepath.Dir(in.path)
		}
		subjects, err = tfplan.Read(in.path, data, configDir)
		if err != nil {
			return nil, &exitCodeError{code: exitError, err: err}
		}
	}
	for i := range subjects {
		subjects[i].Environment = in.env
	}
	return subjects, nil
}

// policySources gathers what to evaluate: the inputs given, or, with
// --config and no input, every environment's states. It also returns the
// evaluation options those imply (production environments, the account
// baseline) and the parameter overrides to apply.
func policySources(ctx context.Context, inputs []policyInput, configDir string, f policyInputFlags) ([]policy.Subject, policy.EvalOptions, policy.Params, error) {
	var opts policy.EvalOptions
	var cfg *config.Config
	if f.configPath != "" {
		c, err := config.Load(f.configPath, os.Getenv)
		if err != nil {
			return nil, opts, nil, &exitCodeError{code: exitError, err: err}
		}
		cfg = c
	}
	if len(inputs) > 1 && configDir != "" {
		return nil, opts, nil, usageErr(fmt.Errorf("--config-dir applies to one plan; with several, each plan's .tf files are found next to it"))
	}
	var subjects []policy.Subject
	switch {
	case len(inputs) > 0:
		for _, in := range inputs {
			s, err := readInput(in, configDir)
			if err != nil {
				return nil, opts, nil, err
			}
			subjects = append(subjects, s...)
		}
	case cfg != nil:
		for _, env := range cfg.Environments {
			if len(env.States) == 0 {
				continue
			}
			res, err := state.Load(ctx, env.States, state.Options{})
			if err != nil {
				return nil, opts, nil, &exitCodeError{code: exitError, err: fmt.Errorf("environment %s: %w", env.Name, err)}
			}
			s := tfplan.StateSubjects(res)
			for i := range s {
				s[i].Environment = env.Name
			}
			subjects = append(subjects, s...)
			inputs = append(inputs, policyInput{env: env.Name})
		}
		if len(inputs) == 0 {
			return nil, opts, nil, usageErr(fmt.Errorf("%s: no environment has states to evaluate", f.configPath))
		}
	default:
		return nil, opts, nil, usageErr(fmt.Errorf("nothing to evaluate: give a plan (or state) file, ENV=FILE for each environment, or --config"))
	}
	envs := map[string]bool{}
	for _, in := range inputs {
		envs[in.env] = true
	}
	opts.Production = map[string]bool{}
	if cfg != nil {
		for name := range cfg.Production() {
			opts.Production[name] = true
		}
		for _, env := range cfg.Environments {
			if env.AccountBaseline && envs[env.Name] {
				opts.AccountBaseline = true
			}
		}
	}
	for _, p := range f.production {
		if !envs[p] {
			known := slices.Sorted(func(yield func(string) bool) {
				for e := range envs {
					if !yield(e) {
						return
					}
				}
			})
			return nil, opts, nil, usageErr(fmt.Errorf("--production %s: no input of that environment (inputs: %s)", p, strings.Join(known, ", ")))
		}
		opts.Production[p] = true
	}
	if f.accountBaseline {
		opts.AccountBaseline = true
	}
	var params policy.Params
	if cfg != nil {
		params = policy.Params{}
		for k, v := range cfg.PolicyParams {
			params[k] = map[string]any{}
			for n, x := range v {
				params[k][n] = x
			}
		}
	}
	return subjects, opts, params, nil
}

// applyParams sets the rule parameters of a check: plumb.yaml's
// policy_params, then --param (which wins). plumb.yaml serves every
// check, so its entries for a built-in pack or rule this check did not
// load are left out; a key that names nothing built in or loaded is an
// error, like every --param that names nothing loaded.
func applyParams(set *policy.Set, cfgParams policy.Params, flagSpecs []string) error {
	flagParams, err := parseParamFlags(flagSpecs)
	if err != nil {
		return usageErr(err)
	}
	loaded := map[string]bool{}
	for _, r := range set.Rules {
		loaded[r.ID] = true
		for std := range r.Controls {
			loaded[std] = true
		}
	}
	var builtin map[string]bool
	params := policy.Params{}
	for k, v := range cfgParams {
		if !loaded[k] {
			if builtin == nil {
				builtin = builtinParamKeys()
			}
			if builtin[k] {
				continue
			}
		}
		params[k] = v
	}
	for k, v := range flagParams {
		if params[k] == nil {
			params[k] = map[string]any{}
		} else {
			params[k] = maps.Clone(params[k])
		}
		maps.Copy(params[k], v)
	}
	if err := set.SetParams(params); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	return nil
}

// builtinParamKeys are the names of the built-in packs and rules.
func builtinParamKeys() map[string]bool {
	out := map[string]bool{}
	for _, p := range policy.Packs() {
		out[p] = true
	}
	if all, err := policy.LoadPacks(policy.Packs(), nil); err == nil {
		for _, r := range all.Rules {
			out[r.ID] = true
		}
	}
	return out
}

// parseParamFlags reads --param KEY.NAME=VALUE: KEY is a rule id or a pack
// name (which may contain dots; NAME never does), VALUE a YAML value (a
// number, string, boolean or [list]).
func parseParamFlags(specs []string) (policy.Params, error) {
	out := policy.Params{}
	for _, spec := range specs {
		lhs, raw, ok := strings.Cut(spec, "=")
		i := strings.LastIndexByte(lhs, '.')
		if !ok || i <= 0 || i == len(lhs)-1 {
			return nil, fmt.Errorf("--param %q: want RULE_OR_PACK.NAME=VALUE, such as observability.max_retention_days=365", spec)
		}
		key, name := lhs[:i], lhs[i+1:]
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil || v == nil {
			return nil, fmt.Errorf("--param %q: the value is not a number, string, boolean or list", spec)
		}
		if _, isMap := v.(map[string]any); isMap {
			return nil, fmt.Errorf("--param %q: want a number, string, boolean or list, not a mapping", spec)
		}
		if out[key] == nil {
			out[key] = map[string]any{}
		}
		out[key][name] = v
	}
	return out, nil
}

// addInputFlags declares the shared flags.
func (f *policyInputFlags) add(fl interface {
	StringArrayVar(*[]string, string, []string, string)
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fl.StringArrayVar(&f.production, "production", nil, "mark environment ENV as production, for rules that compare environments (repeatable; plumb.yaml: environments[].production)")
	fl.StringVar(&f.configPath, "config", "", "plumb.yaml: production environments, account_baseline and policy_params; with no file argument, every environment's states are evaluated")
	fl.BoolVar(&f.accountBaseline, "account-baseline", false, "the plan manages the account's own settings (Access Analyzer, Security Hub, trails, the support role): what it does not declare does not exist")
	fl.StringArrayVar(&f.params, "param", nil, "override a rule parameter: RULE_OR_PACK.NAME=VALUE (repeatable; wins over plumb.yaml policy_params)")
}

// sortedEnvs lists the environments of the subjects, for notes.
func sortedEnvs(subjects []policy.Subject) []string {
	seen := map[string]bool{}
	for _, s := range subjects {
		if s.Environment != "" {
			seen[s.Environment] = true
		}
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}
