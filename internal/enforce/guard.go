package enforce

import (
	"context"
	"fmt"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// Guard is one stage of the chain every planned action passes. Check gets
// the candidates no earlier stage stopped, all at once (so a guard can
// make one batched read, and the circuit breaker can judge the run as a
// whole), and blocks those it must stop with Candidate.Block, naming
// itself and saying why. An error means the guard could not judge: every
// candidate it was given and did not block is then blocked by it, because
// an unknown is never a pass.
type Guard interface {
	Name() string
	Check(ctx context.Context, run *Run, cands []*Candidate) error
}

// Run is what the guards of one plan share: the environment and its
// settings, the clock, whether this run applies, and the executors.
type Run struct {
	Environment config.Environment
	Now         time.Time
	// Apply is true for runs that execute what passes (plumb enforce
	// --apply, POST /v1/enforce/apply, serve after a scheduled scan).
	Apply     bool
	Executors map[string]Executor
	// Acting tells whether a resource (type, id) is acted on in this run;
	// nil means the candidates the precondition stage sees.
	Acting func(typ, id string) bool
	// Terraform is the Terraform reverter (nil: none set up).
	Terraform Reverter
	// Trip is set by the circuit breaker when it stopped the run.
	Trip *Trip
	// Errors are guards that could not judge.
	Errors []string

	callers  map[string]callerResult
	evidence map[string]findings.Evidence
	// actsInAccount remembers, by provider/account, whether the executor
	// can act in an account other than its credentials' (nil: it can).
	actsInAccount map[string]error
}

// EvidenceSource is what the complete-scope and grace guards read: the
// findings store.
type EvidenceSource interface {
	Evidence(ctx context.Context, fps []string) (map[string]findings.Evidence, error)
}

// evidenceFor reads the candidates' evidence once per run: the guards
// that need it share one read.
func (r *Run) evidenceFor(ctx context.Context, src EvidenceSource, cands []*Candidate) (map[string]findings.Evidence, error) {
	if r.evidence == nil {
		r.evidence = map[string]findings.Evidence{}
	}
	var missing []string
	for _, c := range cands {
		if _, ok := r.evidence[c.Action.Fingerprint]; !ok {
			missing = append(missing, c.Action.Fingerprint)
		}
	}
	if len(missing) > 0 {
		got, err := src.Evidence(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, fp := range missing {
			// Absent from the store: remembered as the zero value, which
			// the guards read as "not in the store".
			r.evidence[fp] = got[fp]
		}
	}
	return r.evidence, nil
}

// Trip explains why the circuit breaker acted on nothing.
type Trip struct {
	Actions   int     `json:"actions"`
	Resources int     `json:"resources"`
	Fraction  float64 `json:"fraction"`
	Reason    string  `json:"reason"`
}

type callerResult struct {
	account string
	err     error
}

// Settings are the environment's enforcement settings.
func (r *Run) Settings() config.Enforcement { return r.Environment.Enforcement }

// caller asks a provider's executor once per run who its credentials are.
func (r *Run) caller(ctx context.Context, provider string) (string, error) {
	if res, ok := r.callers[provider]; ok {
		return res.account, res.err
	}
	if r.callers == nil {
		r.callers = map[string]callerResult{}
	}
	ex := r.Executors[provider]
	if ex == nil {
		return "", fmt.Errorf("no executor for %s", provider)
	}
	acct, err := ex.Caller(ctx)
	r.callers[provider] = callerResult{acct, err}
	return acct, err
}

// RunGuards passes cands through guards in order. Each guard sees only
// the candidates still open.
func RunGuards(ctx context.Context, run *Run, guards []Guard, cands []*Candidate) {
	for _, g := range guards {
		open := make([]*Candidate, 0, len(cands))
		for _, c := range cands {
			if !c.Stopped() {
				open = append(open, c)
			}
		}
		if len(open) == 0 {
			return
		}
		if err := g.Check(ctx, run, open); err != nil {
			run.Errors = append(run.Errors, fmt.Sprintf("%s: %v", g.Name(), err))
			for _, c := range open {
				c.Block(g.Name(), "could not check: "+err.Error())
			}
		}
	}
}

// Sources are what the guards read besides the cloud: the findings
// store's evidence, the action store, every environment's declared
// resources and the size of the environment.
type Sources struct {
	// Evidence is the findings store (coverage, history).
	Evidence EvidenceSource
	// InFlight is the action store.
	InFlight interface {
		InFlight(ctx context.Context, fps []string) (map[string]*Action, error)
	}
	// Declared holds every environment's declared resources.
	Declared *Declared
	// Size counts the environment's resources (declared plus open
	// unmanaged findings), the circuit breaker's whole.
	Size func(ctx context.Context, environment string) (int, error)
	// Quarantines is the action store's record of quarantines (the
	// quarantined guard); nil skips that guard.
	Quarantines QuarantineSource
	// BreakGlass tells which break-glass windows are open (nil: none).
	BreakGlass WindowSource
	// Decisions are approvers' decisions (the action store); nil for a
	// chain without the approval stage.
	Decisions DecisionSource
}

// StaticGuards need no cloud call: they judge from the config, the
// stores and the states.
func StaticGuards(src Sources) []Guard {
	return []Guard{
		Supported{},
		InFlight{Store: src.InFlight},
		Quarantined{Store: src.Quarantines, Evidence: src.Evidence},
		Account{},
		DeclaredAnywhere{Set: src.Declared},
		ProtectPattern{},
		ProtectTag{},
		CompleteScope{Evidence: src.Evidence},
		Grace{Evidence: src.Evidence},
		BreakGlass{Windows: src.BreakGlass},
	}
}

// LiveGuards read the resource as it is now; the runner applies them
// again right before each write.
func LiveGuards() []Guard {
	return []Guard{
		Live{},
		AWSDefault{},
		ProtectTag{Live: true},
		Precondition{},
	}
}

// DefaultGuards is the whole chain of a plan, in order: the guards that
// need no cloud call, then the circuit breaker over what passed them
// (so a mass delete is stopped before plumb reads anything live), then
// the live guards, the revert plan, the dry run, and last the approval
// (which parks what needs an approver instead of blocking it).
func DefaultGuards(src Sources) []Guard {
	gs := StaticGuards(src)
	gs = append(gs, CircuitBreaker{Size: src.Size})
	gs = append(gs, LiveGuards()...)
	gs = append(gs, RevertPlanner{}, DryRun{})
	if src.Decisions != nil {
		gs = append(gs, Approval{Store: src.Decisions, Evidence: src.Evidence})
	}
	return gs
}

// Guard names, as they appear in plans and records.
const (
	GuardSupported      = "supported"
	GuardInFlight       = "in-flight"
	GuardAccount        = "account"
	GuardDeclared       = "declared"
	GuardProtectPattern = "protect-pattern"
	GuardProtectTag     = "protect-tag"
	GuardScope          = "complete-scope"
	GuardGrace          = "grace"
	GuardCircuit        = "circuit-breaker"
	GuardLive           = "live"
	GuardDefault        = "aws-default"
	GuardPrecondition   = "precondition"
	GuardDryRun         = "dry-run"
)

// fingerprints lists the candidates' findings.
func fingerprints(cands []*Candidate) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.Action.Fingerprint
	}
	return out
}

// resourceOf is what a guard judges: the live resource once read, the
// finding's view before.
func resourceOf(c *Candidate) model.Resource {
	if c.Live != nil {
		return *c.Live
	}
	return c.Action.Resource
}
