package handler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"plumb/internal/model"
	"plumb/internal/state"
)

// StateLoader returns the desired resources of one environment. The
// server decides where states come from (paths, globs, s3:// URLs); see
// LoadStates for the common case.
type StateLoader func(ctx context.Context, environment string) ([]model.DesiredResource, error)

// LoadStates adapts a per-environment list of state sources to a
// StateLoader using plumb's state reader. States without resources are
// tolerated (a fresh workspace), other read errors are returned.
func LoadStates(sources func(environment string) []string, opts state.Options) StateLoader {
	return func(ctx context.Context, env string) ([]model.DesiredResource, error) {
		srcs := sources(env)
		if len(srcs) == 0 {
			return nil, fmt.Errorf("environment %q has no state sources", env)
		}
		o := opts
		o.Environment = env
		rs, err := state.Load(ctx, srcs, o)
		if err != nil && !errors.Is(err, state.ErrNoResources) {
			return nil, err
		}
		// Empty states contribute nothing; the others are kept.
		return rs, nil
	}
}

// StateDesired is a Desired backed by Terraform state, cached per
// environment so a burst of events reads each state once. Use a pointer;
// the zero value needs Load set.
type StateDesired struct {
	Load StateLoader
	// TTL is how long a loaded set is served; zero means DefaultStateTTL.
	TTL time.Duration
	// MinRefresh is the least age a set must have before Refresh reloads
	// it, so a burst of unmanaged creations does not reread the state per
	// event; zero means DefaultMinRefresh.
	MinRefresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]*envCache
}

// Defaults for StateDesired.
const (
	DefaultStateTTL   = 5 * time.Minute
	DefaultMinRefresh = 30 * time.Second
)

// envCache holds one environment's set; its own lock keeps loads of
// different environments independent.
type envCache struct {
	mu     sync.Mutex
	set    *cloudIDSet
	loaded time.Time
}

// Declared returns the cached set, loading it when absent or older than
// TTL.
func (s *StateDesired) Declared(ctx context.Context, env string) (DeclaredSet, error) {
	return s.get(ctx, env, s.ttl())
}

// Refresh reloads the set unless it is younger than MinRefresh.
func (s *StateDesired) Refresh(ctx context.Context, env string) (DeclaredSet, error) {
	minAge := s.MinRefresh
	if minAge <= 0 {
		minAge = DefaultMinRefresh
	}
	return s.get(ctx, env, minAge)
}

func (s *StateDesired) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultStateTTL
}

func (s *StateDesired) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *StateDesired) entry(env string) *envCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = map[string]*envCache{}
	}
	e := s.cache[env]
	if e == nil {
		e = &envCache{}
		s.cache[env] = e
	}
	return e
}

func (s *StateDesired) get(ctx context.Context, env string, maxAge time.Duration) (DeclaredSet, error) {
	if s.Load == nil {
		return nil, errors.New("desired state: no loader configured")
	}
	e := s.entry(env)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.set != nil && s.now().Sub(e.loaded) < maxAge {
		return e.set, nil
	}
	rs, err := s.Load(ctx, env)
	if err != nil {
		// Keep serving nothing stale: a failed load is retried by the
		// caller, and an old set could hide a deletion from the code.
		return nil, fmt.Errorf("load desired state of %s: %w", env, err)
	}
	e.set = newCloudIDSet(rs)
	e.loaded = s.now()
	return e.set, nil
}

// cloudIDSet indexes desired resources by cloud id: for azurerm the ARM id
// attribute (lower-cased), for AWS the id and arn attributes.
type cloudIDSet struct {
	ids map[string]struct{}
}

func newCloudIDSet(rs []model.DesiredResource) *cloudIDSet {
	s := &cloudIDSet{ids: make(map[string]struct{}, 2*len(rs))}
	for _, r := range rs {
		p := normProvider(r.Provider)
		for _, key := range []string{"id", "arn"} {
			if v, ok := r.Raw[key].(string); ok && v != "" {
				s.add(p, v)
			}
		}
		if r.ID != "" {
			s.add(p, r.ID)
		}
		if r.ARN != "" {
			s.add(p, r.ARN)
		}
	}
	return s
}

func (s *cloudIDSet) add(provider, id string) {
	s.ids[setKey(provider, id)] = struct{}{}
}

func setKey(provider, id string) string {
	if provider == "azure" {
		id = strings.ToLower(id)
	}
	return provider + "\x00" + id
}

// Has reports whether the id is declared.
func (s *cloudIDSet) Has(provider, id string) bool {
	if id == "" {
		return false
	}
	_, ok := s.ids[setKey(normProvider(provider), id)]
	return ok
}
