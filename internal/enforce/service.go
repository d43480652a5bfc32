package enforce

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Service plans and applies enforcement for the CLI and the API: it
// reads the open findings from the store, the states of every
// environment, builds the guard chain and hands applied plans to the
// runner. It holds no logic of its own beyond that wiring.
type Service struct {
	Config    *config.Config
	Findings  *findings.Store
	Actions   *Store
	Executors map[string]Executor
	Runner    *Runner
	// LoadStates reads state sources; nil is LoadStates, through
	// DeclaredCache when that is set.
	LoadStates StateLoader
	// DeclaredCache keeps the declared resources between runs, read again
	// when a state changed (nil: every run reads every state).
	DeclaredCache *DeclaredCache
	// Terraform reverts in environments with a terraform_dir (nil: none).
	Terraform Reverter
	// BreakGlass tells which break-glass windows are open (nil: none).
	BreakGlass WindowSource
	Now        func() time.Time
}

// Plan plans (and with req.Apply, applies) enforcement in one
// environment, named by req.Environment.Name.
func (s *Service) Plan(ctx context.Context, req Request) (*Plan, error) {
	env, ok := s.Config.Environment(req.Environment.Name)
	if !ok {
		return nil, fmt.Errorf("environment %q is not in %s", req.Environment.Name, s.Config.Path)
	}
	req.Environment = env
	recs, err := s.Findings.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Environment: env.Name})
	if err != nil {
		return nil, fmt.Errorf("read open findings of %s: %w", env.Name, err)
	}
	verbs := Verbs(env.Enforcement)
	acts := false
	for _, r := range recs {
		if _, ok := verbs[r.Finding.Kind]; ok {
			acts = true
			break
		}
	}
	var declared *Declared
	if acts {
		if declared, err = s.loadDeclared(ctx); err != nil {
			// Not a plan error: the declared guard blocks everything and
			// the plan says why.
			declared = nil
		}
	}
	declErr := err
	size := func(ctx context.Context, environment string) (int, error) {
		n := 0
		for _, r := range recs {
			if r.Finding.Kind == model.KindUnmanaged {
				n++
			}
		}
		return declared.Count(environment) + n, nil
	}
	src := Sources{Evidence: s.Findings, InFlight: s.Actions, Declared: declared, Size: size, Quarantines: s.Actions, BreakGlass: s.BreakGlass, Decisions: s.Actions}
	guards := DefaultGuards(src)
	if declErr != nil {
		guards = append([]Guard{failing{name: GuardDeclared, err: declErr}}, guards...)
	}
	p := &Planner{Executors: s.Executors, Guards: guards, Now: s.Now, Terraform: s.Terraform}
	plan, err := p.Plan(ctx, req, recs)
	if err != nil {
		return nil, err
	}
	if req.Apply && s.Runner != nil {
		if err := s.Runner.Submit(ctx, plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// loadDeclared reads every environment's declared resources, through the
// cache when there is one.
func (s *Service) loadDeclared(ctx context.Context) (*Declared, error) {
	if s.LoadStates == nil && s.DeclaredCache != nil {
		return s.DeclaredCache.Load(ctx, s.Config)
	}
	return LoadDeclared(ctx, s.Config, s.LoadStates)
}

// failing is a guard that could not be built: it stops everything with
// its error, so a state that cannot be read never lets an action through.
type failing struct {
	name string
	err  error
}

func (f failing) Name() string { return f.name }
func (f failing) Check(context.Context, *Run, []*Candidate) error {
	return f.err
}
