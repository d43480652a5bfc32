// Package tfrevert reverts (and recreates) resources through their
// Terraform code: in the environment's terraform_dir, a plan targeted at
// the drifted address is made and saved, checked to change that address
// only and never to destroy or replace anything the environment does not
// allow, shown to the approver, and then that saved plan is applied.
// Terraform or OpenTofu (Bin) does every write; plumb only decides
// whether the plan is one it may apply.
package tfrevert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Reverter is the enforce.Reverter of environments with a terraform_dir.
// The directory must be initialised (terraform init), as in the pipeline
// that applies it. Safe for concurrent use; runs on one directory are
// serialised by Terraform's state lock.
type Reverter struct {
	// Bin is the terraform (or tofu) binary; empty is "terraform".
	Bin string
	// Env is added to every run (credentials, TF_CLI_CONFIG_FILE).
	Env []string
	// Observe, when set, is told how long each Terraform command took
	// (performance tests separate Terraform's time from plumb's).
	Observe func(command string, d time.Duration)
}

var _ enforce.Reverter = (*Reverter)(nil)

// interruptGrace is how long Terraform gets to stop after an interrupt.
const interruptGrace = 30 * time.Second

// Prepare implements enforce.Reverter: a targeted plan of the finding's
// address, checked.
func (r *Reverter) Prepare(ctx context.Context, env config.Environment, a *enforce.Action, f model.Finding) (*enforce.RevertPlan, string, error) {
	if f.Address == nil || *f.Address == "" {
		return nil, "the finding has no Terraform address to target", nil
	}
	p, refusal, _, cleanup, err := r.plan(ctx, env, a.Verb, *f.Address, nil)
	cleanup()
	return p, refusal, err
}

// Apply implements enforce.Reverter: a fresh targeted plan, which must
// hash equal to the planned (and approved) one, then `terraform apply` of
// exactly that saved plan file.
func (r *Reverter) Apply(ctx context.Context, env config.Environment, a *enforce.Action, rec enforce.Recorder) (string, error) {
	if a.Revert == nil || a.Revert.Address == "" {
		return "", enforce.Permanent(errors.New("the action has no Terraform plan"))
	}
	p, refusal, file, cleanup, err := r.plan(ctx, env, a.Verb, a.Revert.Address, rec)
	defer cleanup()
	switch {
	case err != nil:
		return "", err
	case refusal != "":
		return "", &enforce.StaleError{Reason: "a fresh plan is refused: " + refusal}
	case len(p.Resources) == 0:
		return "nothing to apply: Terraform plans no change at " + a.Revert.Address, nil
	case p.Hash != a.Revert.Hash:
		return "", &enforce.StaleError{Reason: fmt.Sprintf("a fresh plan differs from the one planned%s (plan %s, now %s):\n%s",
			approvedWord(a), short(a.Revert.Hash), short(p.Hash), p.Summary)}
	}
	if _, err := rec.SaveBefore(ctx, map[string]any{"address": p.Address, "changes": p.Changes, "plan_hash": p.Hash}); err != nil {
		return "", err
	}
	if _, err := r.run(ctx, env, rec, "apply", true, "apply", "-input=false", "-no-color", file); err != nil {
		return "", fmt.Errorf("terraform apply of the saved plan in %s: %w", env.TerraformDir, err)
	}
	var what []string
	for _, c := range p.Resources {
		what = append(what, c.Address+" "+strings.Join(c.Actions, "+"))
	}
	return "applied the saved Terraform plan: " + strings.Join(what, ", "), nil
}

func approvedWord(a *enforce.Action) string {
	if a.Approval != nil && a.Approval.Approved {
		return " and approved"
	}
	return ""
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// plan makes and checks a targeted plan. It returns the plan, a refusal
// (with the plan attached, so the operator sees what Terraform wanted),
// the saved plan file and a cleanup that removes it.
func (r *Reverter) plan(ctx context.Context, env config.Environment, verb enforce.Verb, address string, rec enforce.Recorder) (*enforce.RevertPlan, string, string, func(), error) {
	nop := func() {}
	dir := env.TerraformDir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, "", "", nop, fmt.Errorf("environment %s: terraform_dir %s is not a directory", env.Name, dir)
	}
	tmp, err := os.MkdirTemp("", "plumb-revert-")
	if err != nil {
		return nil, "", "", nop, fmt.Errorf("terraform plan: create temporary directory: %w", err)
	}
	// The plan file holds the state's values, secrets included.
	cleanup := func() { _ = os.RemoveAll(tmp) }
	file := filepath.Join(tmp, "revert.tfplan")
	if _, err := r.run(ctx, env, rec, "plan", false, "plan", "-target="+address, "-input=false", "-lock=false", "-no-color", "-out="+file); err != nil {
		cleanup()
		return nil, "", "", nop, fmt.Errorf("terraform plan -target=%s in %s: %w", address, dir, err)
	}
	out, err := r.run(ctx, env, rec, "show", false, "show", "-json", file)
	if err != nil {
		cleanup()
		return nil, "", "", nop, fmt.Errorf("terraform show in %s: %w", dir, err)
	}
	var doc tfjson.Plan
	if err := json.Unmarshal(out, &doc); err != nil {
		cleanup()
		return nil, "", "", nop, fmt.Errorf("terraform show in %s: read plan JSON: %w", dir, err)
	}
	p, refusal, err := Judge(&doc, address, verb, env.Enforcement.AllowReplace)
	if err != nil {
		cleanup()
		return nil, "", "", nop, err
	}
	p.Summary = fmt.Sprintf("terraform plan -target=%s in %s\n%s", address, dir, p.Summary)
	return p, refusal, file, cleanup, nil
}

// Judge reads a targeted plan: its resource changes must all be at the
// target address, an update (a create for recreate), never a destroy,
// and a replacement only with allowReplace. Data sources read and no-op
// changes are not changes. The plan's hash covers every resource change
// (address, actions, values before and after), so the same drift always
// hashes the same and a different one never does.
func Judge(doc *tfjson.Plan, address string, verb enforce.Verb, allowReplace bool) (*enforce.RevertPlan, string, error) {
	p := &enforce.RevertPlan{Method: enforce.MethodTerraform, Address: address, Changes: []enforce.RevertChange{}}
	type hashed struct {
		Address      string            `json:"address"`
		Actions      []string          `json:"actions"`
		Before       any               `json:"before"`
		After        any               `json:"after"`
		AfterUnknown any               `json:"after_unknown"`
		Importing    *tfjson.Importing `json:"importing,omitempty"`
	}
	var toHash []hashed
	var refusals, lines []string
	for _, rc := range doc.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		acts := rc.Change.Actions
		if acts.NoOp() || acts.Read() {
			continue
		}
		names := make([]string, len(acts))
		for i, x := range acts {
			names[i] = string(x)
		}
		p.Resources = append(p.Resources, enforce.PlannedChange{Address: rc.Address, Actions: names})
		toHash = append(toHash, hashed{rc.Address, names, rc.Change.Before, rc.Change.After, rc.Change.AfterUnknown, rc.Change.Importing})
		what := strings.Join(names, "+")
		switch {
		case rc.Address != address:
			refusals = append(refusals, fmt.Sprintf("%s would be changed too (%s) but is not the drifted resource", rc.Address, what))
			continue
		case rc.Change.Importing != nil:
			refusals = append(refusals, fmt.Sprintf("%s would be imported", rc.Address))
		case acts.Delete():
			refusals = append(refusals, fmt.Sprintf("%s would be destroyed", rc.Address))
		case acts.Forget():
			refusals = append(refusals, fmt.Sprintf("%s would be removed from the state", rc.Address))
		case acts.Replace() && !allowReplace:
			refusals = append(refusals, fmt.Sprintf("%s would be replaced (destroyed and created again); set allow_replace: true on the environment's enforcement to allow it", rc.Address))
		case acts.Create() && verb != enforce.VerbRecreate:
			refusals = append(refusals, fmt.Sprintf("%s would be created: it is missing, which missing: recreate handles, not a revert", rc.Address))
		case acts.Update() && verb == enforce.VerbRecreate:
			refusals = append(refusals, fmt.Sprintf("%s would be updated, not created: it is not missing", rc.Address))
		}
		changes := attributeChanges(rc.Change)
		p.Changes = append(p.Changes, changes...)
		lines = append(lines, fmt.Sprintf("%s will be %s", rc.Address, actionWords(acts)))
		for _, c := range changes {
			lines = append(lines, fmt.Sprintf("  %s: %s -> %s", c.Path, shown(c.From), shown(c.To)))
		}
	}
	hash, err := enforce.HashJSON(toHash)
	if err != nil {
		return nil, "", err
	}
	p.Hash = hash
	if len(lines) == 0 {
		lines = append(lines, "no change at "+address)
	}
	p.Summary = strings.Join(lines, "\n")
	if len(refusals) > 0 {
		return p, "refused: " + strings.Join(refusals, "; "), nil
	}
	return p, "", nil
}

func actionWords(a tfjson.Actions) string {
	switch {
	case a.Update():
		return "updated in-place"
	case a.Replace():
		return "replaced"
	case a.Create():
		return "created"
	case a.Delete():
		return "destroyed"
	}
	return "changed"
}

// sensitiveValue stands for a value Terraform marks sensitive.
const sensitiveValue = "(sensitive)"

// unknownValue stands for a value Terraform knows only after the apply.
const unknownValue = "(known after apply)"

// attributeChanges lists what changes in one resource, one entry per
// attribute (per key of a map, such as tags.env), values marked sensitive
// replaced.
func attributeChanges(c *tfjson.Change) []enforce.RevertChange {
	before, _ := c.Before.(map[string]any)
	after, _ := c.After.(map[string]any)
	unknown, _ := c.AfterUnknown.(map[string]any)
	bs, _ := c.BeforeSensitive.(map[string]any)
	as, _ := c.AfterSensitive.(map[string]any)
	var out []enforce.RevertChange
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range unknown {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if k == "tags_all" {
			continue // tags, as written in the code, says the same
		}
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		b, bok := before[k]
		a, aok := after[k]
		if u, _ := unknown[k].(bool); u {
			a, aok = unknownValue, true
		}
		if sensitive(bs[k]) {
			b = sensitiveValue
		}
		if sensitive(as[k]) {
			a = sensitiveValue
		}
		bm, bIsMap := b.(map[string]any)
		am, aIsMap := a.(map[string]any)
		if (bIsMap || b == nil) && (aIsMap || a == nil) && (bIsMap || aIsMap) {
			out = append(out, mapChanges(k, bm, am)...)
			continue
		}
		if bok == aok && sameJSON(b, a) {
			continue
		}
		out = append(out, enforce.RevertChange{Path: k, From: b, To: a})
	}
	return out
}

// mapChanges lists the keys of a map attribute (tags) that differ.
func mapChanges(attr string, before, after map[string]any) []enforce.RevertChange {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []enforce.RevertChange
	for _, k := range sorted {
		b, a := before[k], after[k]
		if sameJSON(b, a) {
			continue
		}
		out = append(out, enforce.RevertChange{Path: attr + "." + k, From: b, To: a})
	}
	return out
}

// sensitive reads a sensitivity mark: true, or any nested mark set.
func sensitive(mark any) bool {
	switch m := mark.(type) {
	case bool:
		return m
	case map[string]any:
		for _, v := range m {
			if sensitive(v) {
				return true
			}
		}
	case []any:
		for _, v := range m {
			if sensitive(v) {
				return true
			}
		}
	}
	return false
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func shown(v any) string {
	switch t := v.(type) {
	case nil:
		return "(absent)"
	case string:
		if t == sensitiveValue || t == unknownValue {
			return t
		}
		return fmt.Sprintf("%q", t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// run runs one Terraform command in the environment's directory and
// returns its standard output; the error carries Terraform's standard
// error. Each run is recorded as a call (the apply as a write).
func (r *Reverter) run(ctx context.Context, env config.Environment, rec enforce.Recorder, op string, write bool, args ...string) ([]byte, error) {
	bin := r.Bin
	if bin == "" {
		bin = "terraform"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = env.TerraformDir
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_INPUT=0")
	cmd.Env = append(cmd.Env, r.Env...)
	if env.TerraformWorkspace != "" {
		cmd.Env = append(cmd.Env, "TF_WORKSPACE="+env.TerraformWorkspace)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if r.Observe != nil {
		r.Observe(op, time.Since(start))
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		} else if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
	}
	if rec != nil {
		c := enforce.Call{At: start.UTC(), Service: filepath.Base(bin), Operation: op, Write: write}
		if err != nil {
			c.Error = err.Error()
		}
		rec.Call(c)
	}
	if err != nil {
		return nil, err
	}
	return stdout.Bytes(), nil
}
