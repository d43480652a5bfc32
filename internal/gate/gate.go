// Package gate decides whether a Terraform plan may be applied to an
// environment (plumb gate): it must pass the environment's policy packs,
// the same change set must have been applied to the environment it
// promotes from, which must have been scanned drift-free since, and the
// approvals the environment requires must be present. It is meant to run
// in CI right before terraform apply.
package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/policy"
	"plumb/internal/sqlbind"
	"plumb/internal/tfplan"
)

// ChangeSet is what a plan changes, the same in every environment: per
// resource change (not no-op, not a read) its address, its actions and
// the attribute names whose values change. Values themselves are left
// out, since names and ids differ between environments.
type ChangeSet struct {
	Hash    string         `json:"hash"`
	Changes []ChangedThing `json:"changes"`
}

// ChangedThing is one resource change of a change set.
type ChangedThing struct {
	Address    string   `json:"address"`
	Actions    []string `json:"actions"`
	Attributes []string `json:"attributes"`
}

// ReadChangeSet reads a plan in terraform show -json form.
func ReadChangeSet(planJSON []byte) (ChangeSet, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(planJSON, &p); err != nil {
		return ChangeSet{}, fmt.Errorf("read plan JSON (terraform show -json PLANFILE): %w", err)
	}
	if p.FormatVersion == "" {
		return ChangeSet{}, errors.New("read plan JSON: no format_version: not the output of terraform show -json PLANFILE")
	}
	cs := ChangeSet{Changes: []ChangedThing{}}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() {
			continue
		}
		acts := make([]string, len(rc.Change.Actions))
		for i, a := range rc.Change.Actions {
			acts[i] = string(a)
		}
		cs.Changes = append(cs.Changes, ChangedThing{Address: rc.Address, Actions: acts, Attributes: changedAttributes(rc.Change)})
	}
	sort.Slice(cs.Changes, func(i, j int) bool { return cs.Changes[i].Address < cs.Changes[j].Address })
	h, err := enforce.HashJSON(cs.Changes)
	if err != nil {
		return ChangeSet{}, err
	}
	cs.Hash = h
	return cs, nil
}

// changedAttributes lists the top-level attributes whose values differ
// (or become known only after apply).
func changedAttributes(c *tfjson.Change) []string {
	before, _ := c.Before.(map[string]any)
	after, _ := c.After.(map[string]any)
	unknown, _ := c.AfterUnknown.(map[string]any)
	keys := map[string]bool{}
	for k, v := range after {
		if b, ok := before[k]; !ok || !sameJSON(b, v) {
			keys[k] = true
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys[k] = true
		}
	}
	for k, v := range unknown {
		if u, _ := v.(bool); u {
			keys[k] = true
		}
	}
	delete(keys, "tags_all")
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Subject is the approval subject of a change set: approvals of a change
// set are decisions on it, bound to its hash.
func Subject(hash string) string { return "changeset:" + hash }

// Applied records which change sets were applied to which environment
// (plumb gate --record-applied, after terraform apply succeeded).
type Applied struct {
	db      *sql.DB
	dialect string
}

// NewApplied creates the table if missing.
func NewApplied(ctx context.Context, db *sql.DB, dialect string) (*Applied, error) {
	if dialect != "sqlite" && dialect != "postgres" {
		return nil, fmt.Errorf("promotion store: unsupported dialect %q", dialect)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS plumb_promotion (
		environment TEXT NOT NULL,
		change_set TEXT NOT NULL,
		applied_at BIGINT NOT NULL,
		applied_by TEXT NOT NULL,
		PRIMARY KEY (environment, change_set)
	)`); err != nil {
		return nil, fmt.Errorf("promotion store: create table: %w", err)
	}
	return &Applied{db: db, dialect: dialect}, nil
}

// Record stores that the change set was applied to environment at; a
// later record of the same change set replaces the time.
func (a *Applied) Record(ctx context.Context, environment, hash, by string, at time.Time) error {
	_, err := a.db.ExecContext(ctx, sqlbind.For(a.dialect, `INSERT INTO plumb_promotion (environment, change_set, applied_at, applied_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (environment, change_set) DO UPDATE SET applied_at = excluded.applied_at, applied_by = excluded.applied_by`),
		environment, hash, at.UnixNano(), by)
	if err != nil {
		return fmt.Errorf("record change set %s applied to %s: %w", short(hash), environment, err)
	}
	return nil
}

// When returns when the change set was applied to environment.
func (a *Applied) When(ctx context.Context, environment, hash string) (at time.Time, by string, ok bool, err error) {
	var ts int64
	err = a.db.QueryRowContext(ctx, sqlbind.For(a.dialect, `SELECT applied_at, applied_by FROM plumb_promotion WHERE environment = ? AND change_set = ?`),
		environment, hash).Scan(&ts, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", false, nil
	}
	if err != nil {
		return time.Time{}, "", false, fmt.Errorf("change set %s in %s: %w", short(hash), environment, err)
	}
	return time.Unix(0, ts).UTC(), by, true, nil
}

// Check is one condition of the gate.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// Verdict is the gate's answer.
type Verdict struct {
	Environment string    `json:"environment"`
	ChangeSet   ChangeSet `json:"change_set"`
	Passed      bool      `json:"passed"`
	Checks      []Check   `json:"checks"`
}

// Inputs are what the gate reads.
type Inputs struct {
	Config      *config.Config
	Environment config.Environment
	// PlanPath and Plan are the plan JSON and where it was read from
	// (declarations are looked up beside it).
	PlanPath string
	Plan     []byte
	// Requester runs the gate; their own approval does not count.
	Requester string
	Findings  *findings.Store
	Applied   *Applied
	Decisions enforce.DecisionSource
	Now       time.Time
}

// Evaluate judges a plan. An error is returned only when the gate could
// not read its inputs; every condition not met is a failed check.
func Evaluate(ctx context.Context, in Inputs) (*Verdict, error) {
	cs, err := ReadChangeSet(in.Plan)
	if err != nil {
		return nil, err
	}
	env := in.Environment
	v := &Verdict{Environment: env.Name, ChangeSet: cs}
	pol, err := policyCheck(ctx, in)
	if err != nil {
		return nil, err
	}
	prom, err := promotionCheck(ctx, in, cs)
	if err != nil {
		return nil, err
	}
	appr, err := approvalCheck(ctx, in, cs)
	if err != nil {
		return nil, err
	}
	v.Checks = []Check{pol, prom, appr}
	v.Passed = true
	for _, c := range v.Checks {
		v.Passed = v.Passed && c.Passed
	}
	return v, nil
}

func policyCheck(ctx context.Context, in Inputs) (Check, error) {
	env := in.Environment
	c := Check{Name: "policy"}
	if len(env.Packs)+len(env.Policies) == 0 {
		c.Passed, c.Detail = true, "no packs or policies configured for "+env.Name
		return c, nil
	}
	set, err := policy.LoadPacks(env.Packs, env.Policies)
	if err != nil {
		return c, fmt.Errorf("environment %s: load policies: %w", env.Name, err)
	}
	subjects, err := tfplan.Read(in.PlanPath, in.Plan, filepath.Dir(in.PlanPath))
	if err != nil {
		return c, err
	}
	outcomes, err := set.Evaluate(ctx, subjects)
	if err != nil {
		return c, fmt.Errorf("evaluate policies: %w", err)
	}
	var violations, failed []string
	notEvaluated := 0
	for _, f := range policy.Findings(outcomes, env.Name) {
		at := f.Resource.ID
		if f.Address != nil {
			at = *f.Address
		}
		violations = append(violations, fmt.Sprintf("%s at %s", f.Rule, at))
	}
	for _, o := range outcomes {
		switch {
		case o.Err != nil && o.Rule != nil:
			failed = append(failed, fmt.Sprintf("%s: %v", o.Rule.ID, o.Err))
		case o.NotEvaluated():
			notEvaluated++
		}
	}
	sort.Strings(violations)
	switch {
	case len(failed) > 0:
		c.Detail = fmt.Sprintf("%d rule evaluation(s) failed, so the plan was not fully checked: %s", len(failed), strings.Join(failed, "; "))
	case len(violations) > 0:
		c.Detail = fmt.Sprintf("%d violation(s): %s", len(violations), strings.Join(violations, ", "))
	default:
		c.Passed = true
		c.Detail = fmt.Sprintf("%d planned resource(s) pass %d rule(s)", len(subjects), len(set.Rules))
		if notEvaluated > 0 {
			c.Detail += fmt.Sprintf("; %d evaluation(s) depend on values known only after apply and were not evaluated", notEvaluated)
		}
	}
	return c, nil
}

func promotionCheck(ctx context.Context, in Inputs, cs ChangeSet) (Check, error) {
	env := in.Environment
	c := Check{Name: "promotion"}
	pred := env.PromotesFrom
	if pred == "" {
		c.Passed, c.Detail = true, env.Name+" promotes from no environment (promotes_from not set)"
		return c, nil
	}
	at, by, ok, err := in.Applied.When(ctx, pred, cs.Hash)
	if err != nil {
		return c, err
	}
	if !ok {
		c.Detail = fmt.Sprintf("change set %s was never applied to %s (after its terraform apply there, run plumb gate --env %s --record-applied with the same plan)", short(cs.Hash), pred, pred)
		return c, nil
	}
	scanned, ok, err := in.Findings.LastScan(ctx, pred)
	if err != nil {
		return c, err
	}
	if !ok || !scanned.After(at) {
		c.Detail = fmt.Sprintf("change set %s was applied to %s at %s (by %s), but %s has not been scanned since, so it is not known to be drift-free", short(cs.Hash), pred, at.Format(time.RFC3339), by, pred)
		return c, nil
	}
	recs, err := in.Findings.ListAll(ctx, findings.Query{Status: findings.StatusOpen, Environment: pred})
	if err != nil {
		return c, err
	}
	var drift []string
	for _, r := range recs {
		if strings.HasPrefix(string(r.Finding.Kind), "drift.") {
			drift = append(drift, fmt.Sprintf("%s %s", r.Finding.Kind, r.Finding.Resource.DisplayName()))
		}
	}
	if len(drift) > 0 {
		sort.Strings(drift)
		if len(drift) > 5 {
			drift = append(drift[:5], fmt.Sprintf("and %d more", len(drift)-5))
		}
		c.Detail = fmt.Sprintf("%s has open drift: %s", pred, strings.Join(drift, ", "))
		return c, nil
	}
	c.Passed = true
	c.Detail = fmt.Sprintf("change set %s applied to %s at %s (by %s); %s scanned drift-free at %s", short(cs.Hash), pred, at.Format(time.RFC3339), by, pred, scanned.Format(time.RFC3339))
	return c, nil
}

func approvalCheck(ctx context.Context, in Inputs, cs ChangeSet) (Check, error) {
	env := in.Environment
	c := Check{Name: "approval"}
	if !env.NeedsApproval() {
		c.Passed, c.Detail = true, env.Name+" needs no approval (approval: none)"
		return c, nil
	}
	ds, err := in.Decisions.Decisions(ctx, Subject(cs.Hash), cs.Hash)
	if err != nil {
		return c, err
	}
	var requesters []string
	if in.Requester != "" {
		requesters = []string{in.Requester}
	}
	valid, expired, approved, rejected := enforce.Verdict(env, requesters, ds, in.Now)
	var who []string
	for _, d := range valid {
		who = append(who, fmt.Sprintf("%s by %s at %s", d.Decision, d.Approver, d.At.UTC().Format(time.RFC3339)))
	}
	switch {
	case rejected:
		c.Detail = "rejected: " + strings.Join(who, "; ")
	case approved:
		c.Passed = true
		c.Detail = fmt.Sprintf("%s approval present: %s", env.Approval, strings.Join(who, "; "))
	default:
		c.Detail = fmt.Sprintf("no valid %s approval of change set %s: one of %s must run plumb gate --env %s --approve with this plan", env.Approval, short(cs.Hash), strings.Join(env.Approvers, ", "), env.Name)
		for _, d := range expired {
			if d.Decision == enforce.DecisionApprove {
				c.Detail += fmt.Sprintf("; the approval by %s at %s expired (approval_ttl %s)", d.Approver, d.At.UTC().Format(time.RFC3339), env.ApprovalTTL)
			}
		}
	}
	return c, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Approve records an approver's decision on a change set for an
// environment that needs approval. The approver must be one of the
// environment's approvers.
func Approve(ctx context.Context, store *enforce.Store, env config.Environment, cs ChangeSet, approver, decision, comment string, now time.Time) error {
	if !env.NeedsApproval() {
		return fmt.Errorf("environment %s needs no approval (approval: none)", env.Name)
	}
	if !env.MayApprove(approver) {
		return fmt.Errorf("%s is not an approver of environment %s (approvers: %s)", approver, env.Name, strings.Join(env.Approvers, ", "))
	}
	_, err := store.RecordDecision(ctx, enforce.Decision{Subject: Subject(cs.Hash), Environment: env.Name, PlanHash: cs.Hash,
		Approver: approver, Decision: decision, Via: enforce.ViaCLI, Comment: comment, At: now})
	return err
}
