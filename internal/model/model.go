// Package model holds the nouns every part of plumb shares: resources as the
// code declares them and as the cloud reports them, and the findings that
// come out of comparing the two. Terraform type names and import ids are the
// common language, so desired and live resources meet without translation
// tables scattered across packages.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Resource is one cloud object, described the same way whether it was read
// from Terraform state or from a cloud API, so the drift engine can compare
// the two sides field by field.
type Resource struct {
	Provider string `json:"provider"`
	// Type is the Terraform resource type (aws_instance).
	Type string `json:"type"`
	// ID is the id Terraform uses to import the resource.
	ID     string `json:"id"`
	Region string `json:"region,omitempty"`
	// Account is the AWS account id or Azure subscription id, when known.
	Account string `json:"account,omitempty"`
	Name    string `json:"name,omitempty"`
	ARN     string `json:"arn,omitempty"`
	// Tags are the user tags. A nil map means the tags could not be read
	// (so they must not be compared); an empty map means there are none.
	Tags map[string]string `json:"tags"`
	// Attributes are normalized values under Terraform attribute names.
	// Only attributes both sides fill in are ever compared.
	Attributes map[string]any `json:"attributes,omitempty"`
	// Default, when set, says why the cloud itself created this resource
	// (default VPC, service-linked role, ...). Such a resource is never
	// reported as unmanaged.
	Default string `json:"-"`
}

// DisplayName is the short human name used in finding titles: the Name
// tag or name attribute when there is one, the id otherwise.
func (r Resource) DisplayName() string {
	if r.Name != "" {
		return r.Name
	}
	if n := r.Tags["Name"]; n != "" {
		return n
	}
	return r.ID
}

// DesiredResource is a Resource as declared by infrastructure code, with
// where it was declared.
type DesiredResource struct {
	Resource
	// Address is the Terraform address, module path and index included
	// (module.net.aws_subnet.private["a"]).
	Address string `json:"address"`
	// Source is the state file or URL it was read from.
	Source string `json:"source"`
	// Mode is "managed" or "data" in Terraform terms.
	Mode string `json:"mode,omitempty"`
	// Deposed is the deposed key for deposed instances, empty otherwise.
	Deposed string `json:"deposed,omitempty"`
	// Tainted marks instances Terraform will replace on the next apply.
	Tainted bool `json:"tainted,omitempty"`
	// Raw is the attribute object exactly as the state holds it.
	Raw map[string]any `json:"-"`
	// ProviderConfig is the provider configuration that manages the
	// resource (provider["registry.terraform.io/hashicorp/aws"].prod):
	// resources of one configuration are in one account, which tells the
	// account of those whose attributes do not name it.
	ProviderConfig string `json:"-"`
}

// Kind names what sort of problem a finding is. The values are part of the
// JSON contract and of fingerprints, so they never change.
type Kind string

// Finding kinds produced by the drift engine.
const (
	KindUnmanaged Kind = "drift.unmanaged"
	KindMissing   Kind = "drift.missing"
	KindChanged   Kind = "drift.changed"
	// KindConflict is one cloud object declared by more than one resource
	// block: in two states (two roots, or two workspaces, each believe
	// they own it, so every apply of one undoes the other) or twice in
	// one. It is one finding whatever the number of declarations.
	KindConflict Kind = "drift.conflict"
	// KindPolicyViolation is a compliance rule that a planned or live
	// resource breaks.
	KindPolicyViolation Kind = "policy.violation"
	// KindUnexpectedWrite is a write to the estate made by a principal
	// that is not one of the environment's deployment pipelines.
	KindUnexpectedWrite Kind = "audit.unexpected_write"
	// KindAlert is an alert raised by a monitoring system (Azure Monitor,
	// Alertmanager) or by plumb's own queue alerts.
	KindAlert Kind = "event.alert"
)

// Severity orders findings for routing and display.
type Severity string

// Severities, lowest to highest.
const (
	// SeverityInfo records something that happened on purpose (a
	// break-glass write) and needs no one woken up.
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Change is one attribute that differs between code and reality.
type Change struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Finding is one problem plumb detected. Its fingerprint is stable across
// runs so the same problem found twice is recognised as the same finding.
type Finding struct {
	Kind        Kind     `json:"kind"`
	Severity    Severity `json:"severity"`
	Fingerprint string   `json:"fingerprint"`
	Environment string   `json:"environment,omitempty"`
	Resource    Resource `json:"resource"`
	Address     *string  `json:"address"`
	Source      string   `json:"source,omitempty"`
	Changes     []Change `json:"changes"`
	Message     string   `json:"message"`
	// Confidence is "low" when the source is known to predict changes that
	// do not happen (ARM what-if); empty means the change was observed.
	Confidence string `json:"confidence,omitempty"`
	// Rule is the policy rule id for policy findings.
	Rule string `json:"rule,omitempty"`
	// Controls maps compliance standards to the control ids the rule
	// implements ({"pci-dss-4.0": ["1.3.1"]}).
	Controls map[string][]string `json:"controls,omitempty"`
	// Security marks findings that belong in security channels
	// (advisories) rather than ordinary issues.
	Security bool `json:"security,omitempty"`
	// Declarations lists every declaration of the resource, for
	// drift.conflict findings (nil for other kinds): Address and Source
	// then repeat the first of them.
	Declarations []Declaration `json:"declarations,omitempty"`
	// File and Line point at the code that declares the resource, when
	// known (SARIF and PR annotations use them).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Principal is who made the change, when an event said so
	// (audit.unexpected_write findings).
	Principal string `json:"principal,omitempty"`
	// Owner is the team the resource belongs to (package ownership): set
	// by the findings store from tags or plumb.yaml's ownership rules,
	// empty when nobody owns it or no store decided.
	Owner string `json:"owner,omitempty"`
	// Enforcement is the latest action plumb took on the finding's
	// resource (deleted, quarantined, released), so receivers tell the
	// owning team what happened; nil when plumb never acted.
	Enforcement *Enforcement `json:"enforcement,omitempty"`
	// Isolation is the context of a security operator's isolation
	// (KindIsolated findings only).
	Isolation *Isolation `json:"isolation,omitempty"`
	FirstSeen time.Time  `json:"-"`
	LastSeen  time.Time  `json:"-"`
}

// Declaration is one place that declares a resource: its Terraform
// address and the state it was read from.
type Declaration struct {
	Address string `json:"address"`
	Source  string `json:"source"`
}

// Enforcement is what plumb did to a finding's resource.
type Enforcement struct {
	// Verb is delete, quarantine, revert or release.
	Verb string `json:"verb"`
	// Result says what was done, in a sentence ("terminated", "deleted
	// after a final snapshot plumb-final-db1-3f2a").
	Result string `json:"result"`
	// ActionID finds the full record (plumb enforce log).
	ActionID string    `json:"action_id"`
	At       time.Time `json:"at"`
}

// KindCircuitOpen is raised when an enforcement run would have acted on
// more resources than its limits allow and acted on none instead.
const KindCircuitOpen Kind = "enforce.circuit_open"

// Break-glass kinds (internal/breakglass): a write by a principal inside an
// open break-glass window is recorded, not alarmed about, and the change it
// made is to be put into code.
const (
	// KindBreakGlass is a write by the principal of an open break-glass
	// window (severity info), instead of audit.unexpected_write.
	KindBreakGlass Kind = "audit.break_glass"
	// KindReconcile asks to put a change made under break-glass into the
	// code. No enforcement acts on it.
	KindReconcile Kind = "drift.reconcile"
)

// Fingerprint hashes what makes a problem the same problem: its kind, the
// environment, the resource identity and, for rule-based findings, the rule.
// Attribute values are deliberately left out so an update to a drifted
// resource stays the same finding.
func Fingerprint(kind Kind, environment, provider, typ, region, id, rule string) string {
	h := sha256.New()
	for _, part := range []string{string(kind), environment, provider, typ, region, strings.ToLower(id), rule} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// WithAccount is the fingerprint of a finding of an environment that reads
// several accounts: the same problem in two accounts (a role of one name,
// a table of one name) is two findings. It mixes the account into a
// fingerprint made by Fingerprint, so environments of one account keep
// the fingerprints they always had. An empty account leaves fp as it is.
func WithAccount(fp, account string) string {
	if account == "" || fp == "" {
		return fp
	}
	h := sha256.New()
	h.Write([]byte(fp))
	h.Write([]byte{0})
	h.Write([]byte(account))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Summary counts a drift comparison. Managed counts desired resources of
// the types plumb can compare (in sync, changed, missing or not
// evaluated); coverage is computed over what was read (see SetCoverage).
type Summary struct {
	Managed   int     `json:"managed"`
	InSync    int     `json:"in_sync"`
	Changed   int     `json:"changed"`
	Missing   int     `json:"missing"`
	Unmanaged int     `json:"unmanaged"`
	Coverage  float64 `json:"coverage"`
	// NotEvaluated counts desired resources whose type or region could not
	// be read, so they were neither confirmed nor reported missing.
	NotEvaluated int `json:"not_evaluated"`
	// Conflicting counts resources declared more than once (each once,
	// however many declarations): drift.conflict findings. They are part
	// of Managed but of none of InSync, Changed, Missing, NotEvaluated.
	Conflicting int `json:"conflicting"`
	// Unsupported counts desired resources of types plumb cannot list.
	Unsupported int `json:"unsupported"`
	// Ignored counts resources left out by ignore rules.
	Ignored int `json:"ignored"`
}

// Evaluated is the number of declared resources whose state was
// established: in sync, changed or missing.
func (s Summary) Evaluated() int { return s.Managed - s.NotEvaluated }

// CoverageKnown reports whether anything was read that coverage could be
// computed over: an evaluated declared resource or an unmanaged one.
func (s Summary) CoverageKnown() bool { return s.Evaluated()+s.Unmanaged > 0 }

// SetCoverage computes Coverage over what was read: evaluated / (evaluated
// + unmanaged). Declared resources that were not evaluated count on
// neither side, so a scan never claims coverage of what it did not read.
// When nothing was read, Coverage is 0 if some declared resource was not
// evaluated (nothing is known to be covered), and 1 when nothing was
// declared and nothing found (an empty estate is trivially covered).
func (s *Summary) SetCoverage() {
	switch {
	case s.CoverageKnown():
		s.Coverage = float64(s.Evaluated()) / float64(s.Evaluated()+s.Unmanaged)
	case s.NotEvaluated > 0:
		s.Coverage = 0
	default:
		s.Coverage = 1
	}
}
