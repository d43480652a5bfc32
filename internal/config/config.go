// Package config loads plumb.yaml, the file that tells plumb serve which
// environments it watches, where events come from, which subscriptions
// route them to which handlers, and how the queue alerts. Every error names
// the file, the line and the field, because a config mistake found at
// 3 am must be fixable without reading plumb's source.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"plumb/internal/drift"
	"plumb/internal/filter"
)

// Config is a validated plumb.yaml.
type Config struct {
	// Path is the file the config came from (errors and logs name it).
	Path          string         `yaml:"-"`
	Server        Server         `yaml:"server"`
	Environments  []Environment  `yaml:"environments"`
	Sources       Sources        `yaml:"sources"`
	Subscriptions []Subscription `yaml:"subscriptions"`
	QueueAlerts   []QueueAlert   `yaml:"queue_alerts"`
	// Route is the root of the routing tree; Receivers are where it
	// sends findings.
	Route     *Route           `yaml:"route"`
	Receivers []ReceiverConfig `yaml:"receivers"`
	// Ignore holds .plumbignore lines applied to every scan the server
	// runs; IgnoreRules is them parsed.
	Ignore      []string      `yaml:"ignore"`
	IgnoreRules *drift.Ignore `yaml:"-"`
	// PolicyParams override policy rule parameters (see compliance.go).
	PolicyParams PolicyParams `yaml:"policy_params"`
	// Console is the web console's logins (console.go); Ownership says
	// which team owns a finding.
	Console   Console   `yaml:"console"`
	Ownership Ownership `yaml:"ownership"`

	// lines holds the line of every field path, for warnings found
	// after the load (a state pattern that matches no file).
	lines map[string]int
}

// Server holds the HTTP side: where it listens and who may call the API.
type Server struct {
	Listen string `yaml:"listen"`
	// APITokens authenticate API and CLI calls (bearer tokens). They are
	// secrets, so they come from the environment or a file.
	APITokens Secret `yaml:"api_token"`
	// OperatorToken is the security operator role's own credential: the
	// only one that may isolate a managed resource (POST /v1/isolate) or
	// release an isolation. It must differ from api_token.
	OperatorToken Secret `yaml:"operator_token"`
	// NamedTokens are API tokens with a name each: the identity recorded
	// for who approved or opened a break-glass window (environments.go).
	NamedTokens []NamedToken `yaml:"api_tokens"`
	// MaxBodyBytes bounds one request; larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxInflight bounds concurrent intake requests; above it the sender
	// gets 429 with Retry-After and retries, instead of the server
	// accepting work it cannot commit.
	MaxInflight int `yaml:"max_inflight"`
	// Workers is the number of deliveries processed at once.
	Workers int `yaml:"workers"`
	// RetentionSucceeded keeps succeeded deliveries for statistics; the
	// older name of Retention.SucceededEvents, which it mirrors after
	// loading.
	RetentionSucceeded time.Duration `yaml:"retention_succeeded" plumb:"older-name"`
	// RetentionDead keeps dead-lettered deliveries for inspection; the
	// older name of Retention.DeadEvents, which it mirrors after loading.
	RetentionDead time.Duration `yaml:"retention_dead" plumb:"older-name"`
	// Retention is how long the store keeps what it no longer needs.
	Retention Retention `yaml:"retention"`
	// MaxPending makes intake answer 503 when this many deliveries wait.
	MaxPending int `yaml:"max_pending"`
	// NotifyRetry is the retry policy of notifications to receivers
	// (default: the queue's, 8 attempts over about 1h45m).
	NotifyRetry Retry `yaml:"notify_retry"`
	// NotifyInterval is how often the router looks for findings to send.
	NotifyInterval time.Duration `yaml:"notify_interval"`
	// ExternalURL is how receivers link back to this server.
	ExternalURL string `yaml:"external_url"`
	// RescueAfter is how long a delivery may run before it is taken for
	// the work of a replica that died and retried by any replica (River's
	// rescuer, which looks every 30 s; default 2m, not River's 30m). River
	// has no heartbeat, so it also bounds a delivery's run: a subscription
	// with runbooks gets their timeouts on top of it. The planner, parts
	// and join of a split scheduled scan are bounded and rescued by it too.
	RescueAfter time.Duration `yaml:"rescue_after"`
}

// Secret is a value that must never sit in the config file: it names an
// environment variable or a file to read it from.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
	// value is resolved at load time so a missing secret fails the start,
	// not the first request.
	value string
}

// Value returns the resolved secret.
func (s Secret) Value() string { return s.value }

// Set reports whether the secret was configured.
func (s Secret) Set() bool { return s.Env != "" || s.File != "" }

// Environment is one estate plumb keeps true to its code.
type Environment struct {
	Name string `yaml:"name"`
	// Cloud is aws or azure; empty lets the scan decide from the state.
	Cloud string `yaml:"cloud"`
	// States are tfstate sources (paths, globs, s3:// URLs), relative
	// paths resolved against the config file's directory.
	States  []string `yaml:"states"`
	Regions []string `yaml:"regions"`
	// AzureSubscriptions scope the Azure inventory.
	AzureSubscriptions []string `yaml:"azure_subscriptions"`
	// PipelineIdentities are the principals allowed to write: anyone else
	// writing is an audit.unexpected_write finding.
	PipelineIdentities []string `yaml:"pipeline_identities"`
	// Schedule is a cron expression (5 fields or @every/@hourly) for
	// periodic scans; empty means no scheduled scan.
	Schedule string `yaml:"schedule"`
	// Enforcement is what plumb may do about the environment's findings
	// (see enforcement.go and docs/enforcement.md).
	Enforcement Enforcement `yaml:"enforcement"`
	// Accounts is the allow-list of accounts plumb may act in; any
	// enforcement other than report requires it. AWS accounts with a
	// role_arn are also read by scans (see accounts.go).
	Accounts []Account `yaml:"accounts"`
	// Compliance settings: production, account_baseline (compliance.go).
	EnvironmentCompliance `yaml:",inline"`
	// Controls are approvals, the Terraform directory reverts run in,
	// promotion order and policy packs (environments.go). The packs and
	// policies are what plumb gate checks a plan against and what
	// scheduled scans evaluate on the live estate (the console's
	// compliance page).
	Controls `yaml:",inline"`
	// Organization discovers more AWS accounts to scan (accounts.go).
	Organization *Organization `yaml:"organization"`
	// ScanLimits bound the parts of a scan reading one account at once.
	ScanLimits ScanLimits `yaml:"scan_limits"`
}

// Sources configures event intake.
type Sources struct {
	EventGrid     *WebhookSource       `yaml:"eventgrid"`
	CloudEvents   *WebhookSource       `yaml:"cloudevents"`
	AzureMonitor  *WebhookSource       `yaml:"azure_monitor"`
	Alertmanager  *WebhookSource       `yaml:"alertmanager"`
	SQS           []SQSSource          `yaml:"sqs"`
	StorageQueues []StorageQueueSource `yaml:"storage_queues"`
}

// WebhookSource is an HTTP receiver. A receiver without a key is refused
// at load time: an open webhook lets anyone inject events.
type WebhookSource struct {
	Key Secret `yaml:"key"`
	// Environment findings from this source belong to (alerts).
	Environment string `yaml:"environment"`
	// AllowedOrigins answer the CloudEvents abuse-protection handshake;
	// empty allows any origin that presents the key.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// SQSSource polls an SQS queue that an EventBridge rule targets.
type SQSSource struct {
	Name              string        `yaml:"name"`
	QueueURL          string        `yaml:"queue_url"`
	Region            string        `yaml:"region"`
	WaitTime          time.Duration `yaml:"wait_time"`
	BatchSize         int           `yaml:"batch_size"`
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
}

// StorageQueueSource polls an Azure Storage Queue that an Event Grid
// subscription delivers to. The settings keep the names Azure Functions
// gives them, so an operator moving from a Function finds them again.
type StorageQueueSource struct {
	Name               string        `yaml:"name"`
	ConnectionString   Secret        `yaml:"connection_string"`
	Queue              string        `yaml:"queue"`
	Schema             string        `yaml:"schema"` // eventgrid | cloudevents
	BatchSize          int           `yaml:"batch_size"`
	VisibilityTimeout  time.Duration `yaml:"visibility_timeout"`
	MaxPollingInterval time.Duration `yaml:"max_polling_interval"`
	MaxDequeueCount    int           `yaml:"max_dequeue_count"`
}

// Subscription routes matching events to handlers, like an Event Grid
// event subscription or an EventBridge rule.
type Subscription struct {
	Name        string `yaml:"name"`
	Environment string `yaml:"environment"`
	// Sources limits the subscription to some intake protocols
	// (eventgrid, cloudevents, eventbridge); empty means all.
	Sources   []string          `yaml:"sources"`
	EventGrid *filter.EventGrid `yaml:"event_grid"`
	// EventPattern is an EventBridge event pattern, written in YAML or
	// JSON; PatternJSON holds it compiled to JSON.
	EventPattern yaml.Node `yaml:"event_pattern"`
	PatternJSON  []byte    `yaml:"-"`
	Handlers     []Handler `yaml:"handlers"`
	Retry        Retry     `yaml:"retry"`
}

// Handler is one step a subscription runs for each matching event.
type Handler struct {
	Type string `yaml:"type"` // validate | audit | drift-check | runbook | enforce | tag | grant | operation-failed
	// RequiredTags for validate.
	RequiredTags []string `yaml:"required_tags"`
	// Packs and Policies for validate: the rules of plumb check and
	// plumb scan --pack, evaluated on the event's resource read back live.
	Packs    []string `yaml:"packs"`
	Policies []string `yaml:"policies"`
	// Command, Timeout, Dir for runbook.
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`
	Dir     string        `yaml:"dir"`
	// Tags for tag: key -> value template ({principal}, {time}, ...).
	Tags map[string]string `yaml:"tags"`
	// ResourceTypes, Policy and Group for grant: when a resource of one
	// of the types appears, attach the policy (an IAM policy ARN) to the
	// group (an IAM group name). ResourceTypes also narrows tag.
	ResourceTypes []string `yaml:"resource_types"`
	Policy        string   `yaml:"policy"`
	Group         string   `yaml:"group"`
}

// Retry is a subscription's retry policy.
type Retry struct {
	MaxAttempts int             `yaml:"max_attempts"`
	Schedule    []time.Duration `yaml:"schedule"`
}

// QueueAlert raises an event.alert finding when a queue state stays above
// a threshold, the signal that handlers are failing faster than they
// recover.
type QueueAlert struct {
	Name      string        `yaml:"name"`
	State     string        `yaml:"state"` // pending | retry | dead
	Threshold int           `yaml:"threshold"`
	For       time.Duration `yaml:"for"`
	Severity  string        `yaml:"severity"`
}

// Error is a config problem at a place in the file. A Warning does not
// stop plumb from starting (a state pattern that matches no file yet);
// everything else does.
type Error struct {
	File    string
	Line    int
	Field   string
	Msg     string
	Warning bool
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Warning {
		loc += ": warning"
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found in one load, so an operator fixes them
// in one round instead of one per restart.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Options tune how a config is checked.
type Options struct {
	// Getenv resolves {env: NAME} secrets; nil means no variable is set.
	Getenv func(string) string
	// SecretsOptional reports secrets that do not resolve (a variable not
	// set, a file not readable) as warnings instead of errors, for
	// checking a config where its secrets are not available (a CI job).
	// The Config returned then lacks those values: never serve with it.
	SecretsOptional bool
}

// Load reads, decodes and validates a config file. Secrets are resolved
// from the environment (getenv) and files at load time.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(path, data, getenv)
}

// Parse is Load on bytes already read.
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	cfg, _, err := Check(path, data, Options{Getenv: getenv})
	return cfg, err
}

// Check is Parse that also returns the warnings, and takes Options. err
// is nil or Errors (all problems of the file, in line order); warnings
// never stop a load.
func Check(path string, data []byte, opts Options) (cfg *Config, warnings Errors, err error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, yamlError(path, err)
	}
	if len(root.Content) == 0 {
		return nil, nil, Errors{{File: path, Msg: "config is empty"}}
	}
	shape := checkShape(path, root.Content[0])
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg = &Config{Path: path}
	if err := dec.Decode(cfg); err != nil && len(shape) == 0 {
		// The shape walk should have caught whatever yaml.v3 refuses;
		// if it did not, yaml.v3's message, in plainer words, is all
		// there is.
		return nil, nil, yamlError(path, err)
	}
	v := &validator{file: path, pos: map[string]int{}, getenv: getenv, secretsOptional: opts.SecretsOptional,
		enforceRoles: map[string]enforceRole{}}
	v.index(root.Content[0], "")
	v.validate(cfg)
	cfg.resolvePaths(filepath.Dir(path))
	cfg.lines = v.pos
	errs := append(shape, dropCovered(v.errs, shape)...)
	sortByLine(errs)
	sortByLine(v.warnings)
	if len(errs) > 0 {
		return nil, v.warnings, errs
	}
	return cfg, v.warnings, nil
}

// dropCovered leaves out semantic errors about a field whose shape was
// already wrong: a secret written inline is one mistake, not also a
// "required" one.
func dropCovered(errs, shape Errors) Errors {
	var out Errors
	for _, e := range errs {
		covered := false
		for _, s := range shape {
			if s.Field == "" || e.Field == s.Field || strings.HasPrefix(e.Field, s.Field+".") || strings.HasPrefix(e.Field, s.Field+"[") || strings.HasPrefix(s.Field, e.Field+".") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	return out
}

func sortByLine(es Errors) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknown  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlMismatch = regexp.MustCompile("^cannot unmarshal !!(\\w+) (`.*`|) ?into (\\S+)$")
)

// yamlError turns yaml.v3's messages ("yaml: line 4: ...", or a
// TypeError listing several) into Errors with lines, in the config's
// words rather than Go's: the shape walk catches these mistakes first, so
// this is the fallback for what it does not know.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	var lines []string
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{err.Error()}
	}
	var out Errors
	for _, l := range lines {
		e := &Error{File: path, Msg: strings.TrimPrefix(l, "yaml: ")}
		if m := yamlLine.FindStringSubmatch(l); m != nil {
			fmt.Sscan(m[1], &e.Line)
			e.Msg = m[2]
		}
		if m := yamlUnknown.FindStringSubmatch(e.Msg); m != nil {
			e.Msg = "unknown field `" + m[1] + "`"
		} else if m := yamlMismatch.FindStringSubmatch(e.Msg); m != nil {
			what := m[2]
			if what == "" {
				what = yamlKindWords(m[1])
			}
			e.Msg = fmt.Sprintf("expected %s, found %s", goTypeWords(m[3]), what)
		}
		out = append(out, e)
	}
	return out
}

// goTypeWords says what a Go type named in a yaml.v3 message expects.
func goTypeWords(t string) string {
	switch {
	case t == "config.Secret":
		return "{env: NAME} or {file: PATH}"
	case t == "time.Duration":
		return "a duration such as 30s, 5m or 1h30m"
	case t == "string":
		return "text"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping of fields"
}

func yamlKindWords(tag string) string {
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "str":
		return "text"
	case "int", "float":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return tag
}

// validator walks the decoded config with the YAML node positions at
// hand, so semantic errors carry lines like syntax errors do.
type validator struct {
	file            string
	pos             map[string]int
	errs            Errors
	warnings        Errors
	getenv          func(string) string
	secretsOptional bool
	// enforceRoles are the enforce_role_arn seen so far, by account.
	enforceRoles map[string]enforceRole
}

// index records the line of every field path ("subscriptions[2].retry").
func (v *validator) index(n *yaml.Node, path string) {
	v.pos[path] = n.Line
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			v.pos[p] = n.Content[i].Line
			v.index(n.Content[i+1], p)
			v.pos[p] = n.Content[i].Line
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			v.index(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// line finds the line of a field, or of its closest configured parent.
func (v *validator) line(field string) int {
	for p := field; ; {
		if l, ok := v.pos[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return v.pos[""]
		}
		p = p[:i]
	}
}

func (v *validator) errf(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// unknownRef reports a reference to an environment or receiver that is
// not defined, with the closest defined name or the list of them.
func (v *validator) unknownRef(field, kind, name string, defined map[string]bool) {
	var names []string
	for n := range defined {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	switch guess := suggest(name, names); {
	case guess != "":
		v.errf(field, "unknown %s %q; did you mean %q?", kind, name, guess)
	case len(names) == 0:
		v.errf(field, "unknown %s %q: no %ss are defined", kind, name, kind)
	default:
		v.errf(field, "unknown %s %q (defined: %s)", kind, name, strings.Join(names, ", "))
	}
}

// unresolved reports a secret that does not resolve: an error, or a
// warning when secrets are optional (Options.SecretsOptional).
func (v *validator) unresolved(field, format string, args ...any) {
	e := &Error{File: v.file, Line: v.line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	if v.secretsOptional {
		e.Warning = true
		v.warnings = append(v.warnings, e)
		return
	}
	v.errs = append(v.errs, e)
}

func (v *validator) secret(field string, s *Secret, required bool) {
	switch {
	case s.Env != "" && s.File != "":
		v.errf(field, "set env or file, not both")
	case s.Env != "":
		s.value = v.getenv(s.Env)
		if s.value == "" {
			v.unresolved(field+".env", "environment variable %s is not set or empty", s.Env)
		}
	case s.File != "":
		path := s.File
		if !filepath.IsAbs(path) {
			// Relative to the config file, like state paths.
			path = filepath.Join(filepath.Dir(v.file), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			v.unresolved(field+".file", "cannot read the secret: %v", err)
			return
		}
		s.value = strings.TrimSpace(string(b))
		if s.value == "" {
			v.unresolved(field+".file", "secret file %s is empty", path)
		}
	case required:
		v.errf(field, "required: %s", secretShape)
	}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func (v *validator) name(field, name string) {
	if name == "" {
		v.errf(field, "required")
	} else if !namePattern.MatchString(name) {
		v.errf(field, "%q: use letters, digits, '-', '_' or '.' (at most 63)", name)
	}
}

func (v *validator) validate(c *Config) {
	v.validatePolicyParams(c.PolicyParams)
	s := &c.Server
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	} else if s.MaxBodyBytes < 1024 {
		v.errf("server.max_body_bytes", "must be at least 1024")
	}
	if s.MaxInflight == 0 {
		s.MaxInflight = 256
	} else if s.MaxInflight < 1 {
		v.errf("server.max_inflight", "must be at least 1")
	}
	if s.Workers == 0 {
		s.Workers = 10
	} else if s.Workers < 1 {
		v.errf("server.workers", "must be at least 1")
	}
	v.retention(s)
	if s.MaxPending == 0 {
		s.MaxPending = 100000
	}
	v.secret("server.api_token", &s.APITokens, false)
	v.secret("server.operator_token", &s.OperatorToken, false)
	if s.OperatorToken.Value() != "" && s.OperatorToken.Value() == s.APITokens.Value() {
		v.errf("server.operator_token", "must differ from server.api_token: the operator credential is what keeps the API token from isolating managed resources")
	}
	for i, nt := range s.NamedTokens {
		if op := s.OperatorToken.Value(); op != "" && nt.Token.Value() == op {
			v.errf(fmt.Sprintf("server.api_tokens[%d].token", i), "must differ from server.operator_token: the operator credential is what keeps API tokens from isolating managed resources")
		}
	}
	v.namedTokens(s)
	v.scale(s)
	if s.NotifyInterval == 0 {
		s.NotifyInterval = 10 * time.Second
	} else if s.NotifyInterval < 0 {
		v.errf("server.notify_interval", "must be positive")
	}
	if s.NotifyRetry.MaxAttempts < 0 || s.NotifyRetry.MaxAttempts > 100 {
		v.errf("server.notify_retry.max_attempts", "%d: want 1 to 100", s.NotifyRetry.MaxAttempts)
	}

	envs := map[string]bool{}
	for i := range c.Environments {
		e := &c.Environments[i]
		f := fmt.Sprintf("environments[%d]", i)
		v.name(f+".name", e.Name)
		if envs[e.Name] {
			v.errf(f+".name", "environment %q is defined twice", e.Name)
		}
		envs[e.Name] = true
		switch e.Cloud {
		case "", "aws", "azure":
		default:
			v.errf(f+".cloud", "%q: want aws or azure", e.Cloud)
		}
		v.accounts(f, e)
		v.enforcement(f, e)
		if e.Schedule != "" {
			if _, err := cron.ParseStandard(e.Schedule); err != nil {
				v.errf(f+".schedule", "%q: %v", e.Schedule, err)
			}
			if len(e.States) == 0 {
				v.errf(f+".states", "a scheduled scan needs at least one state")
			}
		}
	}

	v.controls(c)

	src := &c.Sources
	for _, w := range []struct {
		field string
		s     *WebhookSource
	}{{"sources.eventgrid", src.EventGrid}, {"sources.cloudevents", src.CloudEvents}, {"sources.azure_monitor", src.AzureMonitor}, {"sources.alertmanager", src.Alertmanager}} {
		if w.s == nil {
			continue
		}
		v.secret(w.field+".key", &w.s.Key, true)
		if w.s.Environment != "" && !envs[w.s.Environment] {
			v.unknownRef(w.field+".environment", "environment", w.s.Environment, envs)
		}
	}
	names := map[string]bool{}
	for i := range src.SQS {
		q := &src.SQS[i]
		f := fmt.Sprintf("sources.sqs[%d]", i)
		v.name(f+".name", q.Name)
		if names[q.Name] {
			v.errf(f+".name", "source %q is defined twice", q.Name)
		}
		names[q.Name] = true
		if !strings.HasPrefix(q.QueueURL, "http://") && !strings.HasPrefix(q.QueueURL, "https://") {
			v.errf(f+".queue_url", "want the queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), got %q", q.QueueURL)
		}
		if q.WaitTime < 0 || q.WaitTime > 20*time.Second {
			v.errf(f+".wait_time", "%s: SQS long polling waits 0 to 20s", q.WaitTime)
		}
		if q.BatchSize < 0 || q.BatchSize > 10 {
			v.errf(f+".batch_size", "%d: SQS returns 1 to 10 messages per receive", q.BatchSize)
		}
	}
	for i := range src.StorageQueues {
		q := &src.StorageQueues[i]
		f := fmt.Sprintf("sources.storage_queues[%d]", i)
		v.name(f+".name", q.Name)
		if names[q.Name] {
			v.errf(f+".name", "source %q is defined twice", q.Name)
		}
		names[q.Name] = true
		v.secret(f+".connection_string", &q.ConnectionString, true)
		if q.Queue == "" {
			v.errf(f+".queue", "required")
		}
		switch q.Schema {
		case "":
			q.Schema = "eventgrid"
		case "eventgrid", "cloudevents":
		default:
			v.errf(f+".schema", "%q: want eventgrid or cloudevents", q.Schema)
		}
		if q.BatchSize < 0 || q.BatchSize > 32 {
			v.errf(f+".batch_size", "%d: Storage Queues return 1 to 32 messages per dequeue", q.BatchSize)
		}
		if q.MaxDequeueCount < 0 {
			v.errf(f+".max_dequeue_count", "must not be negative")
		}
	}

	subs := map[string]bool{}
	for i := range c.Subscriptions {
		v.subscription(fmt.Sprintf("subscriptions[%d]", i), &c.Subscriptions[i], envs, subs)
	}

	v.routing(c)
	v.actHandlerEnvironments(c)
	v.consoleAndOwnership(c)

	for i, line := range c.Ignore {
		if _, err := drift.ParseIgnore(strings.NewReader(line)); err != nil {
			_, msg, _ := strings.Cut(err.Error(), ": ")
			v.errf(fmt.Sprintf("ignore[%d]", i), "%s", msg)
		}
	}
	if ig, err := drift.ParseIgnore(strings.NewReader(strings.Join(c.Ignore, "\n"))); err == nil {
		c.IgnoreRules = ig
	}

	for i := range c.QueueAlerts {
		a := &c.QueueAlerts[i]
		f := fmt.Sprintf("queue_alerts[%d]", i)
		v.name(f+".name", a.Name)
		switch a.State {
		case "pending", "retry", "dead":
		default:
			v.errf(f+".state", "%q: want pending, retry or dead", a.State)
		}
		if a.Threshold < 1 {
			v.errf(f+".threshold", "must be at least 1")
		}
		if a.For < 0 {
			v.errf(f+".for", "must not be negative")
		}
		switch a.Severity {
		case "":
			a.Severity = "high"
		case "low", "medium", "high", "critical":
		default:
			v.errf(f+".severity", "%q: want low, medium, high or critical", a.Severity)
		}
	}
}

func (v *validator) subscription(f string, s *Subscription, envs, seen map[string]bool) {
	v.name(f+".name", s.Name)
	if seen[s.Name] {
		v.errf(f+".name", "subscription %q is defined twice", s.Name)
	}
	seen[s.Name] = true
	if s.Environment == "" {
		v.errf(f+".environment", "required: findings belong to an environment")
	} else if !envs[s.Environment] {
		v.unknownRef(f+".environment", "environment", s.Environment, envs)
	}
	for j, src := range s.Sources {
		switch src {
		case "eventgrid", "cloudevents", "eventbridge":
		default:
			v.errf(fmt.Sprintf("%s.sources[%d]", f, j), "%q: want eventgrid, cloudevents or eventbridge", src)
		}
	}
	if s.EventGrid != nil {
		if _, err := s.EventGrid.Compile(); err != nil {
			v.errf(f+".event_grid", "%v", err)
		}
	}
	if !s.EventPattern.IsZero() {
		if b, err := patternJSON(&s.EventPattern); err != nil {
			v.errf(f+".event_pattern", "%v", err)
		} else if _, err := filter.CompilePattern(b); err != nil {
			v.errf(f+".event_pattern", "%v", err)
		} else {
			s.PatternJSON = b
		}
	}
	if len(s.Handlers) == 0 {
		v.errf(f+".handlers", "required: at least one of %s", handlerTypes)
	}
	for j := range s.Handlers {
		h := &s.Handlers[j]
		hf := fmt.Sprintf("%s.handlers[%d]", f, j)
		switch h.Type {
		case "validate":
			if len(h.RequiredTags)+len(h.Packs)+len(h.Policies) == 0 {
				v.errf(hf, "validate needs required_tags, packs or policies")
			}
		case "audit", "drift-check":
		case "runbook":
			if len(h.Command) == 0 {
				v.errf(hf+".command", "runbook needs a command (a list: [program, arg, ...])")
			}
			if h.Timeout == 0 {
				h.Timeout = 5 * time.Minute
			} else if h.Timeout < 0 {
				v.errf(hf+".timeout", "must be positive")
			}
		case HandlerEnforce, HandlerTag, HandlerGrant, HandlerOperationFailed:
			v.actHandler(hf, h)
		case "":
			v.errf(hf+".type", "required: %s", handlerTypes)
		default:
			v.errf(hf+".type", "%q: want %s", h.Type, handlerTypes)
		}
	}
	if s.Retry.MaxAttempts < 0 || s.Retry.MaxAttempts > 100 {
		v.errf(f+".retry.max_attempts", "%d: want 1 to 100", s.Retry.MaxAttempts)
	}
	for j, d := range s.Retry.Schedule {
		if d <= 0 {
			v.errf(fmt.Sprintf("%s.retry.schedule[%d]", f, j), "must be positive")
		}
	}
}

// Environment returns the named environment.
func (c *Config) Environment(name string) (Environment, bool) {
	for _, e := range c.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// resolvePaths makes state paths and runbook directories relative to the
// config file, so `plumb serve --config deploy/plumb.yaml` reads the same
// files whatever directory it was started from.
func (c *Config) resolvePaths(dir string) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range c.Environments {
		for j, s := range c.Environments[i].States {
			c.Environments[i].States[j] = rel(s)
		}
	}
	c.resolveControlPaths(rel) // terraform_dir, policies
	for i := range c.Subscriptions {
		for j := range c.Subscriptions[i].Handlers {
			h := &c.Subscriptions[i].Handlers[j]
			h.Dir = rel(h.Dir)
			for k, p := range h.Policies {
				h.Policies[k] = rel(p)
			}
		}
	}
}
