package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"plumb/internal/drift"
)

// Enforcement words. Report is the only thing plumb did before
// enforcement existed, and stays the default.
const (
	ActionReport     = "report"
	ActionQuarantine = "quarantine"
	ActionDelete     = "delete"
	ActionRevert     = "revert"
)

// Enforcement defaults, documented in docs/enforcement.md.
const (
	DefaultGrace          = time.Hour
	DefaultMaxActions     = 10
	DefaultMaxFraction    = 0.1
	DefaultProtectTag     = "plumb:protect"
	DefaultKMSWindowDays  = 30
	minKMSWindowDays      = 7
	maxKMSWindowDays      = 30
	enforcementFieldsHelp = "unmanaged, changed, grace, max_actions, max_fraction, dry_run, protect_tags, protect, force_empty, kms_deletion_window_in_days, stop_quarantined_instances, break_glass_roles, missing, allow_replace"
)

// Enforcement is what plumb may do about an environment's findings, and
// the limits it does it within. The YAML takes the short form
// `enforcement: report` (everything is only reported) or a mapping; the
// loader fills in every default, so code reading an Enforcement never
// sees an unset value.
type Enforcement struct {
	// Unmanaged is what happens to a resource no code declares:
	// report, quarantine or delete.
	Unmanaged string
	// Changed is what happens to a resource changed outside the code:
	// report or revert. Revert is accepted but acts as report until plumb
	// can revert.
	Changed string
	// Missing is what happens to a declared resource that is gone: report
	// or recreate (through the environment's terraform_dir).
	Missing string
	// AllowReplace lets a Terraform revert destroy and recreate (replace)
	// a resource; without it such a plan is refused.
	AllowReplace bool
	// Grace is how long a finding must have been open, with its
	// notification delivered, before anything is done about it.
	Grace time.Duration
	// MaxActions is the most actions one run may take; a run that would
	// take more takes none (circuit breaker).
	MaxActions int
	// MaxFraction is the largest share of the environment's resources one
	// run may act on; above it the run takes no action (circuit breaker).
	MaxFraction float64
	// DryRun keeps the environment from ever acting: runs only plan.
	DryRun bool
	// ProtectTags are tag keys that keep a resource from any action;
	// plumb:protect is always one of them.
	ProtectTags []string
	// Protect are TYPE.ID patterns in .plumbignore syntax of resources
	// never acted on; ProtectRules is them parsed.
	Protect      []string
	ProtectRules *drift.Ignore
	// ForceEmpty lets a delete empty a bucket (every object version)
	// first; without it only empty buckets are deleted.
	ForceEmpty bool
	// KMSDeletionWindowDays is the waiting period of a scheduled KMS key
	// deletion (7 to 30 days); keys are never deleted at once.
	KMSDeletionWindowDays int
	// StopQuarantinedInstances stops an instance (AWS) after its security
	// groups were replaced by the isolation group; release starts it
	// again if it was running.
	StopQuarantinedInstances bool
	// BreakGlassRoles are IAM role ARNs a quarantined bucket's deny-all
	// policy spares, so people can still reach the data in an emergency.
	BreakGlassRoles []string

	// What the YAML said, for validation with lines.
	short    string
	isShort  bool
	raw      enforcementYAML
	unknown  []string
	declared bool
}

// enforcementYAML is the mapping form as written. Pointers tell "not
// set" (take the default) from an explicit zero (which may be an error).
type enforcementYAML struct {
	Unmanaged             string         `yaml:"unmanaged"`
	Changed               string         `yaml:"changed"`
	Missing               string         `yaml:"missing"`
	AllowReplace          bool           `yaml:"allow_replace"`
	Grace                 *time.Duration `yaml:"grace"`
	MaxActions            *int           `yaml:"max_actions"`
	MaxFraction           *float64       `yaml:"max_fraction"`
	DryRun                *bool          `yaml:"dry_run"`
	ProtectTags           []string       `yaml:"protect_tags"`
	Protect               []string       `yaml:"protect"`
	ForceEmpty            bool           `yaml:"force_empty"`
	KMSDeletionWindowDays *int           `yaml:"kms_deletion_window_in_days"`
	StopInstances         bool           `yaml:"stop_quarantined_instances"`
	BreakGlassRoles       []string       `yaml:"break_glass_roles"`
}

// UnmarshalYAML takes the short form (a word) or the mapping form.
// Unknown keys are kept for the validator, which reports them with their
// line and the keys it knows.
func (e *Enforcement) UnmarshalYAML(n *yaml.Node) error {
	e.declared = true
	if n.Kind == yaml.ScalarNode {
		e.isShort = true
		e.short = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: enforcement: want report or a mapping (unmanaged: delete, grace: 1h, ...)", n.Line)}}
	}
	known := map[string]bool{}
	t := reflect.TypeOf(enforcementYAML{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		known[name] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !known[k] {
			e.unknown = append(e.unknown, k)
		}
	}
	return n.Decode(&e.raw)
}

// Acts reports whether the settings can lead to any change in the cloud
// (anything but report), which is what needs an account allow-list.
func (e Enforcement) Acts() bool {
	return e.Unmanaged != ActionReport || e.Changed != ActionReport || (e.Missing != "" && e.Missing != ActionReport)
}

// Protected reports whether a tag set carries one of the protect tags.
func (e Enforcement) Protected(tags map[string]string) (string, bool) {
	for _, k := range e.ProtectTags {
		if _, ok := tags[k]; ok {
			return k, true
		}
	}
	return "", false
}

var (
	iamRoleARN   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)
	awsAccountID = regexp.MustCompile(`^[0-9]{12}$`)
	azureSubID   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// enforcement validates and completes one environment's enforcement
// settings and account allow-list.
func (v *validator) enforcement(f string, e *Environment) {
	ef := f + ".enforcement"
	en := &e.Enforcement
	r := en.raw
	switch {
	case !en.declared:
		en.Unmanaged, en.Changed, en.Missing = ActionReport, ActionReport, ActionReport
	case en.isShort:
		if en.short != ActionReport {
			v.errf(ef, "%q: the short form takes only report; write a mapping such as {unmanaged: %s, grace: 1h} (with accounts: [...] on the environment)", en.short, shortHint(en.short))
		}
		en.Unmanaged, en.Changed, en.Missing = ActionReport, ActionReport, ActionReport
	default:
		for _, k := range en.unknown {
			v.errf(ef+"."+k, "unknown setting; enforcement takes %s", enforcementFieldsHelp)
		}
		en.Unmanaged = r.Unmanaged
		switch en.Unmanaged {
		case "":
			en.Unmanaged = ActionReport
		case ActionReport, ActionQuarantine, ActionDelete:
		default:
			v.errf(ef+".unmanaged", "%q: want report, quarantine or delete", r.Unmanaged)
		}
		en.Changed = r.Changed
		switch en.Changed {
		case "":
			en.Changed = ActionReport
		case ActionReport, ActionRevert:
		default:
			v.errf(ef+".changed", "%q: want report or revert", r.Changed)
		}
		en.Missing = r.Missing
		switch en.Missing {
		case "":
			en.Missing = ActionReport
		case ActionReport, ActionRecreate:
		default:
			v.errf(ef+".missing", "%q: want report or recreate", r.Missing)
		}
		en.AllowReplace = r.AllowReplace
	}

	en.Grace = DefaultGrace
	if r.Grace != nil {
		en.Grace = *r.Grace
		switch {
		case en.Grace < 0:
			v.errf(ef+".grace", "%s: must not be negative", en.Grace)
		case en.Grace == 0 && en.Unmanaged == ActionDelete:
			v.errf(ef+".grace", "0s: a delete needs a grace period, so the owning team is told before anything is deleted (quarantine may use 0s)")
		}
	}
	en.MaxActions = DefaultMaxActions
	if r.MaxActions != nil {
		en.MaxActions = *r.MaxActions
		if en.MaxActions < 1 {
			v.errf(ef+".max_actions", "%d: want at least 1 (a run that would act on more than max_actions resources acts on none)", en.MaxActions)
		}
	}
	en.MaxFraction = DefaultMaxFraction
	if r.MaxFraction != nil {
		en.MaxFraction = *r.MaxFraction
		if en.MaxFraction <= 0 || en.MaxFraction > 1 {
			v.errf(ef+".max_fraction", "%g: want a share above 0 and at most 1 (0.1 is 10%% of the environment's resources)", en.MaxFraction)
		}
	}
	en.DryRun = true
	if r.DryRun != nil {
		en.DryRun = *r.DryRun
	}
	en.ForceEmpty = r.ForceEmpty
	en.KMSDeletionWindowDays = DefaultKMSWindowDays
	if r.KMSDeletionWindowDays != nil {
		en.KMSDeletionWindowDays = *r.KMSDeletionWindowDays
		if en.KMSDeletionWindowDays < minKMSWindowDays || en.KMSDeletionWindowDays > maxKMSWindowDays {
			v.errf(ef+".kms_deletion_window_in_days", "%d: AWS schedules key deletion 7 to 30 days ahead", en.KMSDeletionWindowDays)
		}
	}
	en.StopQuarantinedInstances = r.StopInstances
	en.BreakGlassRoles = r.BreakGlassRoles
	for i, arn := range r.BreakGlassRoles {
		if !iamRoleARN.MatchString(arn) {
			v.errf(fmt.Sprintf("%s.break_glass_roles[%d]", ef, i), "%q: want an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", arn)
		}
	}
	en.ProtectTags = []string{DefaultProtectTag}
	for i, k := range r.ProtectTags {
		if strings.TrimSpace(k) == "" {
			v.errf(fmt.Sprintf("%s.protect_tags[%d]", ef, i), "empty tag key")
			continue
		}
		if !slices.Contains(en.ProtectTags, k) {
			en.ProtectTags = append(en.ProtectTags, k)
		}
	}
	en.Protect = r.Protect
	for i, line := range r.Protect {
		pf := fmt.Sprintf("%s.protect[%d]", ef, i)
		ig, err := drift.ParseIgnore(strings.NewReader(line))
		switch {
		case err != nil:
			_, msg, _ := strings.Cut(err.Error(), ": ")
			v.errf(pf, "%s", msg)
		case ig.Len() == 0:
			v.errf(pf, "empty pattern: want TYPE.ID such as aws_s3_bucket.audit-*")
		case strings.Count(strings.ReplaceAll(line, `\.`, ""), ".") > 1:
			v.errf(pf, "%q: protect names whole resources (TYPE.ID), not attribute paths", line)
		}
	}
	if ig, err := drift.ParseIgnore(strings.NewReader(strings.Join(r.Protect, "\n"))); err == nil {
		en.ProtectRules = ig
	}

	if en.Acts() && len(e.Accounts) == 0 {
		// Point at the setting that needs the list: the list is absent.
		at := ef + ".unmanaged"
		what := "unmanaged: " + en.Unmanaged
		switch {
		case en.Unmanaged != ActionReport:
		case en.Changed != ActionReport:
			at, what = ef+".changed", "changed: "+en.Changed
		default:
			at, what = ef+".missing", "missing: "+en.Missing
		}
		v.errs = append(v.errs, &Error{File: v.file, Line: v.line(at), Field: f + ".accounts",
			Msg: fmt.Sprintf("required by enforcement %s: name the account ids plumb may act in (accounts: [\"123456789012\"]); nothing is ever changed outside them", what)})
	}
	if e.Cloud == "azure" && en.Unmanaged == ActionDelete {
		v.errf(ef+".unmanaged", "delete is not available on Azure yet (no ARM peer can test it); use report or quarantine")
	}
}

// shortHint suggests the mapping for a short-form word.
func shortHint(word string) string {
	switch word {
	case ActionDelete, ActionQuarantine:
		return word
	}
	return "delete"
}

// enforcementSchema describes both forms for the JSON Schema.
func enforcementSchema(g *schemaGen) map[string]any {
	obj := g.schemaFor(reflect.TypeOf(enforcementYAML{}))
	props := obj["properties"].(map[string]any)
	props["unmanaged"].(map[string]any)["enum"] = []any{ActionReport, ActionQuarantine, ActionDelete}
	props["changed"].(map[string]any)["enum"] = []any{ActionReport, ActionRevert}
	props["missing"].(map[string]any)["enum"] = []any{ActionReport, ActionRecreate}
	props["max_actions"].(map[string]any)["minimum"] = 1
	props["max_fraction"].(map[string]any)["exclusiveMinimum"] = 0
	props["max_fraction"].(map[string]any)["maximum"] = 1
	props["kms_deletion_window_in_days"].(map[string]any)["minimum"] = minKMSWindowDays
	props["kms_deletion_window_in_days"].(map[string]any)["maximum"] = maxKMSWindowDays
	return map[string]any{
		"description": "what plumb may do about the environment's findings: report (the default), or a mapping per finding kind with its guards (docs/enforcement.md)",
		"oneOf": []any{
			map[string]any{"type": "string", "enum": []any{ActionReport}},
			obj,
		},
	}
}
