package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Built-in revert: where an environment has no terraform_dir, plumb
// writes back the values the code declares for the changes the inventory
// understands well enough to write: tags (set or unset the drifted keys),
// security group rules (revoke the added, authorize the removed) and log
// group retention. Anything else is refused with a pointer to
// terraform_dir. Every write is preceded by a read of the live value,
// which must still equal what the scan saw: a value changed again since
// is not overwritten (no lost update).

var _ enforce.Reverter = (*Executor)(nil)

// revertable reports whether plumb can write some change of a type
// itself.
func revertable(typ string) bool {
	if _, ok := revertTaggers()[typ]; ok {
		return true
	}
	return typ == "aws_security_group" || typ == "aws_cloudwatch_log_group"
}

// writable says whether the built-in revert writes path on typ.
func writable(typ, path string) bool {
	switch {
	case strings.HasPrefix(path, "tags."):
		_, ok := revertTaggers()[typ]
		return ok
	case typ == "aws_security_group":
		return path == "ingress" || path == "egress"
	case typ == "aws_cloudwatch_log_group":
		return path == "retention_in_days"
	}
	return false
}

// Prepare implements enforce.Reverter: the plan is the finding's changes,
// each back to the value the code declares. A change plumb cannot write
// refuses the whole revert (half a revert would leave a drift nobody
// asked for).
func (e *Executor) Prepare(_ context.Context, env plumbconfig.Environment, a *enforce.Action, f model.Finding) (*enforce.RevertPlan, string, error) {
	if a.Verb != enforce.VerbRevert {
		return nil, fmt.Sprintf("plumb cannot %s without Terraform (set terraform_dir on environment %s)", a.Verb, env.Name), nil
	}
	if len(f.Changes) == 0 {
		return nil, "", nil
	}
	var cannot []string
	for _, c := range f.Changes {
		if !writable(a.Resource.Type, c.Path) {
			cannot = append(cannot, c.Path)
		}
	}
	if len(cannot) > 0 {
		return nil, fmt.Sprintf("plumb cannot write %s of %s itself (it writes tags, security group rules and log retention); set terraform_dir on environment %s to revert through the code",
			strings.Join(cannot, ", "), a.Resource.Type, env.Name), nil
	}
	p, err := enforce.BuiltinPlan(a.Resource, f.Changes)
	if err != nil {
		return nil, "", err
	}
	return p, "", nil
}

// revertBefore is what a built-in revert saves before writing: the live
// value of every path it writes.
type revertBefore struct {
	Values map[string]any `json:"values"`
}

// Apply implements enforce.Reverter. It reads the resource live, checks
// each path still holds what the scan saw (a path already back at the
// code's value needs no write), saves the live values as the
// before-state, and writes.
func (e *Executor) Apply(ctx context.Context, _ plumbconfig.Environment, a *enforce.Action, rec enforce.Recorder) (string, error) {
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	found, unknown, err := e.Read(ctx, []model.Resource{a.Resource})
	if err != nil {
		return "", fmt.Errorf("read before reverting: %w", err)
	}
	key := enforce.ResourceKey(a.Resource)
	if err := unknown[key]; err != nil {
		return "", fmt.Errorf("read before reverting: %w", err)
	}
	live, ok := found[key]
	if !ok {
		return "", &enforce.StaleError{Reason: "the resource no longer exists"}
	}
	var todo []enforce.RevertChange
	var moved []string
	var now []model.Change
	values := map[string]any{}
	for _, c := range a.Revert.Changes {
		cur, known := liveValue(live, c.Path)
		if !known {
			return "", fmt.Errorf("read before reverting: %s of %s could not be read", c.Path, a.Resource.ID)
		}
		values[c.Path] = cur
		switch {
		case sameValue(cur, c.To):
			// Already as the code declares it.
		case sameValue(cur, c.From):
			todo = append(todo, c)
			now = append(now, model.Change{Path: c.Path, Before: c.To, After: cur})
		default:
			moved = append(moved, fmt.Sprintf("%s is now %s (the scan saw %s)", c.Path, shown(cur), shown(c.From)))
			now = append(now, model.Change{Path: c.Path, Before: c.To, After: cur})
		}
	}
	if len(moved) > 0 {
		return "", &enforce.StaleError{Reason: "changed again since the scan: " + strings.Join(moved, "; ") +
			"; the finding now shows the live values and a new plan is needed", Changes: now}
	}
	if len(todo) == 0 {
		return "nothing to write: already as the code declares it", nil
	}
	if _, err := rec.SaveBefore(ctx, revertBefore{Values: values}); err != nil {
		return "", err
	}
	c, err := e.clientsIn(ctx, a.Resource.Account, a.Resource.Region)
	if err != nil {
		return "", enforce.Permanent(err)
	}
	var done []string
	set, unset := map[string]string{}, []string{}
	for _, ch := range todo {
		if k, ok := strings.CutPrefix(ch.Path, "tags."); ok {
			if ch.To == nil {
				unset = append(unset, k)
			} else {
				set[k] = fmt.Sprint(ch.To)
			}
			continue
		}
		what, err := e.writeAttribute(ctx, c, live, ch)
		if err != nil {
			return "", errors.New(errorText(err))
		}
		done = append(done, what)
	}
	if len(set)+len(unset) > 0 {
		sort.Strings(unset)
		if err := revertTaggers()[a.Resource.Type](ctx, c, live, set, unset); err != nil {
			return "", errors.New(errorText(err))
		}
		var keys []string
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 0 {
			done = append(done, "set tags "+strings.Join(keys, ", "))
		}
		if len(unset) > 0 {
			done = append(done, "removed tags "+strings.Join(unset, ", "))
		}
	}
	return "reverted: " + strings.Join(done, "; "), nil
}

// writeAttribute writes one non-tag attribute back.
func (e *Executor) writeAttribute(ctx context.Context, c *clients, live model.Resource, ch enforce.RevertChange) (string, error) {
	switch {
	case live.Type == "aws_security_group":
		return revertRules(ctx, c, live.ID, ch.Path, stringList(ch.From), stringList(ch.To))
	case live.Type == "aws_cloudwatch_log_group" && ch.Path == "retention_in_days":
		return revertRetention(ctx, c, live.ID, ch.To)
	}
	return "", enforce.Permanent(fmt.Errorf("plumb cannot write %s of %s", ch.Path, live.Type))
}

// liveValue reads a change's path from the live resource: tags.K (nil
// when absent) or a normalized attribute. known is false when the
// inventory could not read it.
func liveValue(r model.Resource, path string) (any, bool) {
	if k, ok := strings.CutPrefix(path, "tags."); ok {
		if r.Tags == nil {
			return nil, false
		}
		v, ok := r.Tags[k]
		if !ok {
			return nil, true
		}
		return v, true
	}
	v, ok := r.Attributes[path]
	return v, ok
}

// sameValue compares values through their JSON, which makes a live
// []string and a stored []any of the same strings equal, and numbers
// equal whatever their Go type.
func sameValue(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func shown(v any) string {
	if v == nil {
		return "absent"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// stringList reads a rule set stored as JSON ([]any of strings) or live
// ([]string).
func stringList(v any) []string {
	switch t := v.(type) {
	case []string:
		return t
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
