package enforce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"plumb/internal/config"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	azureinv "plumb/internal/inventory/azure"
	"plumb/internal/model"
	"plumb/internal/state"
)

// Declared is every resource the config's environments declare, in the
// live shape (Terraform type and import id, as the inventory lists them),
// with where each is declared. It answers the declared-anywhere guard and
// counts each environment's declared resources for the circuit breaker.
type Declared struct {
	// where maps a lower-cased type+id key, and a lower-cased ARN, to the
	// declarations ("staging: aws_s3_bucket.logs").
	where map[string][]string
	count map[string]int
}

// StateLoader reads the desired resources of some state sources.
type StateLoader func(ctx context.Context, environment string, sources []string) ([]model.DesiredResource, error)

// LoadStates is the StateLoader of plumb's state reader. A state without
// resources declares nothing; any other read error is returned.
func LoadStates(ctx context.Context, environment string, sources []string) ([]model.DesiredResource, error) {
	rs, err := state.Load(ctx, sources, state.Options{Environment: environment})
	if err != nil && !onlyEmpty(err) {
		return nil, err
	}
	return rs, nil
}

func onlyEmpty(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyEmpty(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, state.ErrNoResources)
}

// LoadDeclared reads the states of every environment of cfg. Any state
// that cannot be read fails the load: a declaration plumb could not see
// must not let a delete through.
func LoadDeclared(ctx context.Context, cfg *config.Config, load StateLoader) (*Declared, error) {
	if load == nil {
		load = LoadStates
	}
	d := &Declared{where: map[string][]string{}, count: map[string]int{}}
	mapper := inventory.MultiMapper{awsinv.NewMapper(), azureinv.NewMapper()}
	for _, env := range cfg.Environments {
		if len(env.States) == 0 {
			continue
		}
		rs, err := load(ctx, env.Name, env.States)
		if err != nil {
			return nil, fmt.Errorf("read the states of environment %s: %w", env.Name, err)
		}
		d.Add(env.Name, rs, mapper)
	}
	return d, nil
}

// Add indexes one environment's desired resources.
func (d *Declared) Add(environment string, rs []model.DesiredResource, mapper inventory.StateMapper) {
	if d.where == nil {
		d.where = map[string][]string{}
		d.count = map[string]int{}
	}
	for _, r := range rs {
		if r.Mode == "data" {
			continue
		}
		at := environment + ": " + r.Address
		if pt, pid, _, ok := mapper.Fold(r.Type, r.Raw); ok {
			d.note(typeKey(pt, pid), at)
			continue
		}
		d.count[environment]++
		if m, ok := mapper.FromState(r.Type, r.Raw); ok {
			d.note(typeKey(m.Type, m.ID), at)
			d.note(arnKey(m.ARN), at)
		}
		// The raw attributes too: a type the inventory does not map
		// still declares its id and ARN.
		for _, k := range []string{"id", "arn"} {
			if v, ok := r.Raw[k].(string); ok {
				if k == "arn" {
					d.note(arnKey(v), at)
				} else {
					d.note(typeKey(r.Type, v), at)
				}
			}
		}
		if r.ARN != "" {
			d.note(arnKey(r.ARN), at)
		}
	}
}

func (d *Declared) note(key, at string) {
	if key == "" {
		return
	}
	for _, w := range d.where[key] {
		if w == at {
			return
		}
	}
	d.where[key] = append(d.where[key], at)
}

func typeKey(typ, id string) string {
	if typ == "" || id == "" {
		return ""
	}
	return "t\x00" + strings.ToLower(typ) + "\x00" + strings.ToLower(id)
}

func arnKey(arn string) string {
	if arn == "" {
		return ""
	}
	return "a\x00" + strings.ToLower(arn)
}

// Lookup reports where a live resource is declared, if anywhere. Ids and
// ARNs are compared without case: a false match only stops an action.
func (d *Declared) Lookup(r model.Resource) (string, bool) {
	if d == nil {
		return "", false
	}
	var at []string
	at = append(at, d.where[typeKey(r.Type, r.ID)]...)
	at = append(at, d.where[arnKey(r.ARN)]...)
	if len(at) == 0 {
		return "", false
	}
	sort.Strings(at)
	return strings.Join(dedupe(at), ", "), true
}

// Count is the number of resources an environment's states declare.
func (d *Declared) Count(environment string) int {
	if d == nil {
		return 0
	}
	return d.count[environment]
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
