package enforce

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// IsolateRequest is a security operator's request to isolate one managed
// resource (POST /v1/isolate, plumb enforce isolate).
type IsolateRequest struct {
	Environment string
	// Resource names the resource: Type and ID as Terraform imports it,
	// Region unless the environment has a single region or the type is
	// global.
	Resource model.Resource
	// Reason is required: it is what the owning team reads first.
	Reason string
	// CVE is optional (CVE-2026-12345).
	CVE string
	// Actor is the operator.
	Actor string
	// RunID names the run; empty picks a new one.
	RunID string
}

// IsolateResult is what an isolation request did: the plan with its one
// quarantine action, and the security finding that tells the owners.
type IsolateResult struct {
	Plan    *Plan          `json:"plan"`
	Finding *model.Finding `json:"finding,omitempty"`
}

// Errors of an isolation request the API maps to status codes.
var (
	// ErrNotManaged: isolation is for resources the code declares;
	// unmanaged ones are the enforcement settings' business.
	ErrNotManaged = errors.New("not declared in the environment's states")
	// ErrResourceNotFound: the environment or the resource could not be
	// found live.
	ErrResourceNotFound = errors.New("not found")
	// ErrRequest: the request itself is incomplete or malformed.
	ErrRequest = errors.New("invalid isolation request")
)

var cvePattern = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// IsolateGuards are the stages an isolation passes. It is the one path
// that acts on a managed resource, so the declared guard is left out, and
// it acts at once on an operator's explicit request, so grace, complete
// scope, the circuit breaker and the environment's dry_run do not apply.
// Everything else holds: the executor can do it, nothing else runs on it,
// it is not isolated already, protect patterns are honoured, the live
// resource exists in an allowed account (with plumb's credentials in one
// too), is not an AWS default, carries no protect tag and meets the
// executor's preconditions.
func IsolateGuards(src Sources) []Guard {
	return []Guard{
		Supported{},
		InFlight{Store: src.InFlight},
		Quarantined{Store: src.Quarantines},
		ProtectPattern{},
		// The request names type and id only: the account is judged on the
		// resource as read back.
		Live{},
		Account{},
		AWSDefault{},
		ProtectTag{Live: true},
		Precondition{},
	}
}

// IsolationFingerprint is the fingerprint of the enforce.isolated finding
// of a resource in an environment.
func IsolationFingerprint(environment string, r model.Resource) string {
	return model.Fingerprint(model.KindIsolated, environment, r.Provider, r.Type, r.Region, r.ID, "")
}

// Isolate quarantines a managed resource at a security operator's request.
// It reads the resource live, passes it through IsolateGuards, and when it
// passes opens a critical security finding (kind enforce.isolated) with the
// operator's reason, the CVE, the resource's other open findings and the
// release command, so the routes deliver it to the owning team (a GitHub
// security advisory), and hands the quarantine to the runner. A request
// that a guard stops opens no finding.
func (s *Service) Isolate(ctx context.Context, req IsolateRequest) (*IsolateResult, error) {
	env, ok := s.Config.Environment(req.Environment)
	if !ok {
		return nil, fmt.Errorf("environment %q is not in %s: %w", req.Environment, s.Config.Path, ErrResourceNotFound)
	}
	r, err := s.isolateTarget(env, req)
	if err != nil {
		return nil, err
	}
	declared, err := s.loadDeclared(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the states: %w", err)
	}
	addr, ok := declared.In(env.Name, r)
	if !ok {
		return nil, fmt.Errorf("%s.%s: %w of %s (isolation is for managed resources; unmanaged ones follow the environment's enforcement settings)",
			r.Type, r.ID, ErrNotManaged, env.Name)
	}
	now := s.now()
	runID := req.RunID
	if runID == "" {
		runID = newID()
	}
	fp := IsolationFingerprint(env.Name, r)
	a := &Action{ID: actionID(runID, fp, VerbQuarantine), RunID: runID, Fingerprint: fp, Environment: env.Name,
		Verb: VerbQuarantine, Resource: r, Kind: model.KindIsolated, Why: isolationMessage(r, req), Actor: req.Actor, State: StatePlanned,
		Keep: declared.Rules(r), CreatedAt: now, UpdatedAt: now}
	plan := &Plan{RunID: runID, Environment: env.Name, Apply: true, DryRun: env.Enforcement.DryRun, At: now, Notes: []string{}}
	c := &Candidate{Action: a}
	run := &Run{Environment: env, Now: now, Apply: true, Executors: s.Executors}
	RunGuards(ctx, run, IsolateGuards(Sources{InFlight: s.Actions, Quarantines: s.Actions}), []*Candidate{c})
	plan.Errors = run.Errors
	plan.Actions = []*Action{a}
	res := &IsolateResult{Plan: plan}
	if c.Done() {
		return res, fmt.Errorf("%s.%s in %s: %w live", r.Type, r.ID, r.Region, ErrResourceNotFound)
	}
	if c.Blocked() {
		return res, nil
	}
	// The record carries the resource as read back (account, tags, name),
	// under the requested identity, so its fingerprint and the finding's
	// agree even if the live read spells a field differently.
	live := *c.Live
	live.Type, live.ID, live.Region = r.Type, r.ID, r.Region
	a.Resource = live
	msg := isolationMessage(live, req)
	a.Why = msg
	f := model.Finding{Kind: model.KindIsolated, Severity: model.SeverityCritical, Fingerprint: fp, Environment: env.Name,
		Resource: live, Address: &addr, Source: "isolate/" + req.Actor, Changes: []model.Change{}, Message: msg, Security: true,
		Isolation: &model.Isolation{Reason: req.Reason, CVE: req.CVE, Operator: req.Actor,
			Release: "plumb enforce release " + fp + " --server URL (with the operator credential)"}}
	if f.Isolation.Related, err = s.related(ctx, env.Name, r); err != nil {
		return res, err
	}
	if err := s.Findings.Upsert(ctx, now, []model.Finding{f}); err != nil {
		return res, fmt.Errorf("open the isolation finding: %w", err)
	}
	res.Finding = &f
	if s.Runner != nil {
		if err := s.Runner.Submit(ctx, plan); err != nil {
			return res, err
		}
	}
	return res, nil
}

// isolateTarget checks the request and completes the resource's identity.
func (s *Service) isolateTarget(env config.Environment, req IsolateRequest) (model.Resource, error) {
	r := req.Resource
	switch {
	case strings.TrimSpace(req.Reason) == "":
		return r, fmt.Errorf("%w: a reason is required (the owning team reads it first)", ErrRequest)
	case req.CVE != "" && !cvePattern.MatchString(req.CVE):
		return r, fmt.Errorf("%w: cve %q: want CVE-YYYY-NNNN", ErrRequest, req.CVE)
	case r.Type == "" || r.ID == "":
		return r, fmt.Errorf("%w: the resource needs a type and an id (aws_instance.i-0123...)", ErrRequest)
	case strings.TrimSpace(req.Actor) == "":
		return r, fmt.Errorf("%w: the actor (who asks) is required", ErrRequest)
	}
	if r.Provider == "" {
		r.Provider = providerOf(r.Type)
	}
	ex := s.Executors[r.Provider]
	if ex == nil || !ex.Supports(VerbQuarantine, r.Type) {
		return r, fmt.Errorf("%w: plumb cannot isolate %s resources", ErrRequest, r.Type)
	}
	if r.Region == "" && !globalType(r.Type) && r.Provider == "aws" {
		if len(env.Regions) != 1 {
			return r, fmt.Errorf("%w: the resource's region is required (environment %s has %d regions)", ErrRequest, env.Name, len(env.Regions))
		}
		r.Region = env.Regions[0]
	}
	if globalType(r.Type) {
		r.Region = ""
	}
	return r, nil
}

// related lists the other open findings of a resource in an environment.
func (s *Service) related(ctx context.Context, environment string, r model.Resource) ([]model.RelatedFinding, error) {
	recs, err := s.Findings.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Environment: environment})
	if err != nil {
		return nil, fmt.Errorf("read the resource's findings: %w", err)
	}
	var out []model.RelatedFinding
	for _, rec := range recs {
		f := rec.Finding
		if f.Kind == model.KindIsolated || f.Resource.Type != r.Type || !strings.EqualFold(f.Resource.ID, r.ID) {
			continue
		}
		out = append(out, model.RelatedFinding{Fingerprint: f.Fingerprint, Kind: f.Kind, Message: f.Message})
	}
	return out, nil
}

// providerOf tells the provider from a Terraform type's prefix.
func providerOf(typ string) string {
	switch {
	case strings.HasPrefix(typ, "aws_"):
		return "aws"
	case strings.HasPrefix(typ, "azurerm_"):
		return "azure"
	}
	return ""
}

// globalType reports AWS types without a region (IAM).
func globalType(typ string) bool {
	return strings.HasPrefix(typ, "aws_iam_")
}

// isolationMessage is the isolation finding's message (and title).
func isolationMessage(r model.Resource, req IsolateRequest) string {
	msg := fmt.Sprintf("%s isolated by plumb at a security operator's request: %s", r.DisplayName(), req.Reason)
	if req.CVE != "" {
		msg += " (" + req.CVE + ")"
	}
	return msg
}
