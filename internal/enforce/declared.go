package enforce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

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
	// rules are the security group rules the code declares per group
	// (inline blocks and folded rule resources), by type+id key: what a
	// quarantine of a managed group keeps.
	rules map[string]map[string][]string
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

// DeclaredCache keeps the Declared of a config between runs and builds it
// again only when a state document changed (state.Cache: a stat per local
// file, a HeadObject per S3 key, the listing of an S3 pattern). Every load
// checks every state, so a state written a moment ago is seen by the next
// run's declared-anywhere guard; nothing is served on age. Event-time
// enforcement loads the declared set per event: this makes that a check
// instead of a read and a parse of every environment's states. Safe for
// concurrent use; the zero value is ready.
type DeclaredCache struct {
	states state.Cache
	mu     sync.Mutex
	// docs are the documents last was built from, per environment name
	// and sources.
	docs map[string][]*state.Document
	last *Declared
}

// Load returns the declared resources of cfg's environments, as
// LoadDeclared with LoadStates would: any state that cannot be read fails
// the load.
func (c *DeclaredCache) Load(ctx context.Context, cfg *config.Config) (*Declared, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	docs := map[string][]*state.Document{}
	var keys []string
	envOf := map[string]string{}
	changed := c.last == nil
	for _, env := range cfg.Environments {
		if len(env.States) == 0 {
			continue
		}
		key := env.Name + "\x00" + strings.Join(env.States, "\x00")
		ds, err := c.states.LoadDocuments(ctx, env.States, state.Options{Environment: env.Name})
		if err != nil {
			return nil, fmt.Errorf("read the states of environment %s: %w", env.Name, err)
		}
		docs[key], envOf[key] = ds, env.Name
		keys = append(keys, key)
		if !sameDocuments(c.docs[key], ds) {
			changed = true
		}
	}
	if !changed && len(docs) == len(c.docs) {
		return c.last, nil
	}
	d := &Declared{where: map[string][]string{}, count: map[string]int{}}
	mapper := inventory.MultiMapper{awsinv.NewMapper(), azureinv.NewMapper()}
	for _, key := range keys {
		// A state without resources declares nothing (LoadStates).
		rs, _ := state.Resources(state.Dedupe(docs[key]))
		d.Add(envOf[key], rs, mapper)
	}
	c.docs, c.last = docs, d
	return d, nil
}

// sameDocuments reports whether two loads returned the very same
// documents (the state cache returns an unchanged one as it was).
func sameDocuments(a, b []*state.Document) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
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
		if pt, pid, add, ok := mapper.Fold(r.Type, r.Raw); ok {
			d.note(typeKey(pt, pid), at)
			d.addRules(typeKey(pt, pid), add)
			continue
		}
		d.count[environment]++
		if m, ok := mapper.FromState(r.Type, r.Raw); ok {
			d.note(typeKey(m.Type, m.ID), at)
			d.note(arnKey(m.ARN), at)
			if m.Type == "aws_security_group" {
				d.addRules(typeKey(m.Type, m.ID), ruleLists(m.Attributes))
			}
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
