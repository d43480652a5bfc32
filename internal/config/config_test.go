package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var fullEnv = env(map[string]string{
	"PLUMB_API_TOKEN":                 "api-secret",
	"PLUMB_WEBHOOK_KEY":               "hook-secret",
	"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
	"GITHUB_TOKEN":                    "ghp_test",
	"SLACK_WEBHOOK_URL":               "https://hooks.slack.example/services/T/B/X",
})

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/plumb.yaml", fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.APITokens.Value(); got != "api-secret" {
		t.Errorf("api token = %q", got)
	}
	if got := cfg.Sources.EventGrid.Key.Value(); got != "hook-secret" {
		t.Errorf("eventgrid key = %q", got)
	}
	if cfg.Server.MaxBodyBytes != 1<<20 || cfg.Server.MaxInflight != 256 || cfg.Server.Workers != 10 {
		t.Errorf("defaults not applied: %+v", cfg.Server)
	}
	prod, ok := cfg.Environment("prod")
	if !ok {
		t.Fatal("environment prod missing")
	}
	if want := filepath.Join("testdata", "states/prod/**.tfstate"); prod.States[0] != want {
		t.Errorf("state path = %q, want %q (relative to the config file)", prod.States[0], want)
	}
	en := prod.Enforcement
	if en.Unmanaged != "delete" || en.Changed != "report" || en.Grace != 2*time.Hour || en.MaxActions != 5 ||
		en.MaxFraction != 0.05 || en.DryRun || !slices.Equal(en.ProtectTags, []string{"plumb:protect", "keep"}) ||
		!en.ProtectRules.Resource("aws_s3_bucket", "audit-logs") || en.KMSDeletionWindowDays != 30 {
		t.Errorf("enforcement = %+v", en)
	}
	if got := prod.AccountIDs(); !slices.Equal(got, []string{"123456789012"}) {
		t.Errorf("accounts = %v", got)
	}
	if len(cfg.Subscriptions) != 2 {
		t.Fatalf("subscriptions = %d", len(cfg.Subscriptions))
	}
	s0 := cfg.Subscriptions[0]
	if s0.Retry.MaxAttempts != 5 || len(s0.Retry.Schedule) != 3 || s0.Retry.Schedule[2] != time.Minute {
		t.Errorf("retry = %+v", s0.Retry)
	}
	if s0.Handlers[2].Timeout != 30*time.Second {
		t.Errorf("runbook timeout = %v", s0.Handlers[2].Timeout)
	}
	s1 := cfg.Subscriptions[1]
	// Keys stay in the order written.
	want := `{"source":["aws.ec2"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":[{"prefix":"Authorize"},"RunInstances"]}}`
	if string(s1.PatternJSON) != want {
		t.Errorf("pattern JSON = %s\nwant %s", s1.PatternJSON, want)
	}
	r := cfg.Route
	if *r.GroupWait != DefaultGroupWait || *r.RepeatInterval != DefaultRepeatInterval {
		t.Errorf("root route defaults: %v %v", *r.GroupWait, *r.RepeatInterval)
	}
	if got := r.Routes[1]; *got.GroupWait != time.Minute || *got.RepeatInterval != DefaultRepeatInterval || got.GroupBy[0] != "..." {
		t.Errorf("child inherits what it does not set: %+v", got)
	}
	if len(r.Routes[0].Compiled) != 2 || !r.Routes[0].Continue {
		t.Errorf("matchers not compiled: %+v", r.Routes[0])
	}
	if cfg.Receivers[2].GitHubAdvisory.Auth.PrivateKey.Value() == "" {
		t.Error("app private key not read from its file")
	}
	if cfg.QueueAlerts[0].Severity != "high" {
		t.Errorf("queue alert severity default = %q", cfg.QueueAlerts[0].Severity)
	}
}

// TestErrors checks that every problem names the file, the line and the
// field, and that all problems of one file are reported together.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{
			name: "syntax error has a line",
			yaml: "server:\n  listen: [\n",
			want: []string{"plumb.yaml:2: did not find expected node content"},
		},
		{
			name: "unknown field",
			yaml: "server:\n  listn: 1\n",
			want: []string{"plumb.yaml:2: server.listn: unknown field `listn` in `server`; did you mean `listen`?"},
		},
		{
			name: "unknown field in a named environment",
			yaml: "environments:\n  - name: prod\n    clod: aws\n",
			want: []string{"plumb.yaml:3: environments[0].clod: unknown field `clod` in environment `prod`; did you mean `cloud`?"},
		},
		{
			name: "unknown field in a handler of a subscription",
			yaml: "environments: [{name: prod}]\nsubscriptions:\n  - name: s\n    environment: prod\n    handlers:\n      - type: runbook\n        comand: [x]\n",
			want: []string{"plumb.yaml:7: subscriptions[0].handlers[0].comand: unknown field `comand` in handler `runbook` of subscription `s`; did you mean `command`?"},
		},
		{
			name: "unknown field in a nested section",
			yaml: "environments: [{name: prod}]\nsubscriptions:\n  - name: s\n    environment: prod\n    handlers: [{type: audit}]\n    retry: {max_attemps: 3}\n",
			want: []string{"plumb.yaml:6: subscriptions[0].retry.max_attemps: unknown field `max_attemps` in `retry` of subscription `s`; did you mean `max_attempts`?"},
		},
		{
			name: "unknown top-level field",
			yaml: "enviroments: []\n",
			want: []string{"plumb.yaml:1: enviroments: unknown top-level field `enviroments`; did you mean `environments`?"},
		},
		{
			name: "unknown field without a close name lists the known ones",
			yaml: "server:\n  colour: blue\n",
			want: []string{"plumb.yaml:2: server.colour: unknown field `colour` in `server` (known fields: listen, api_token, max_body_bytes"},
		},
		{
			name: "field set twice",
			yaml: "server:\n  listen: a\n  listen: b\n",
			want: []string{"plumb.yaml:3: server.listen: `listen` is set twice in `server` (first on line 2)"},
		},
		{
			name: "wrong type",
			yaml: "server:\n  workers: many\n",
			want: []string{"plumb.yaml:2: server.workers: expected a whole number, found `many`"},
		},
		{
			name: "fraction where a whole number is expected",
			yaml: "server:\n  max_inflight: 1.5\n",
			want: []string{"plumb.yaml:2: server.max_inflight: expected a whole number, found `1.5`"},
		},
		{
			name: "text where a list is expected",
			yaml: "environments:\n  - name: prod\n    states: prod.tfstate\n",
			want: []string{"plumb.yaml:3: environments[0].states: expected a list (`[a, b]`, or one `- item` per line), found `prod.tfstate`"},
		},
		{
			name: "list where text is expected",
			yaml: "server:\n  listen: [a, b]\n",
			want: []string{"plumb.yaml:2: server.listen: expected text, found a list"},
		},
		{
			name: "not true or false",
			yaml: "route:\n  receiver: r\n  routes: [{continue: sometimes}]\nreceivers: [{name: r, alertmanager: {url: 'http://am'}}]\n",
			want: []string{"plumb.yaml:3: route.routes[0].continue: expected true or false, found `sometimes`"},
		},
		{
			name: "the whole file is a list",
			yaml: "- a\n- b\n",
			want: []string{"plumb.yaml:1: expected a mapping of fields (`field: value`), found a list"},
		},
		{
			name: "bad duration",
			yaml: "queue_alerts:\n  - name: a\n    state: retry\n    threshold: 1\n    for: soon\n",
			want: []string{"plumb.yaml:5: queue_alerts[0].for: expected a duration with a unit, such as 30s, 5m or 1h30m, found `soon`"},
		},
		{
			name: "duration without a unit",
			yaml: "server:\n  notify_interval: 30\n",
			want: []string{"plumb.yaml:2: server.notify_interval: expected a duration with a unit, such as 30s, 5m or 1h30m, found the bare number `30` (write 30s for seconds)"},
		},
		{
			name: "secret written inline is not echoed",
			yaml: "sources:\n  eventgrid:\n    key: hunter2\n",
			want: []string{"plumb.yaml:3: sources.eventgrid.key: a secret must be {env: NAME} or {file: PATH}; secrets are never written in the config (found an inline value, not shown)"},
		},
		{
			name: "secret with an unknown field",
			yaml: "server:\n  api_token: {evn: TOKEN}\n",
			want: []string{"plumb.yaml:2: server.api_token.evn: unknown field `evn` in `server.api_token`; did you mean `env`?: a secret must be {env: NAME} or {file: PATH}"},
		},
		{
			name: "secret naming a list",
			yaml: "server:\n  api_token: {env: [A, B]}\n",
			want: []string{"plumb.yaml:2: server.api_token.env: expected the name of an environment variable, found a list"},
		},
		{
			name: "unknown environment reference with a suggestion",
			yaml: "environments: [{name: prod}]\nsubscriptions:\n  - name: s\n    environment: prd\n    handlers: [{type: audit}]\n",
			want: []string{"plumb.yaml:4: subscriptions[0].environment: unknown environment \"prd\"; did you mean \"prod\"?"},
		},
		{
			name: "unknown environment reference lists the defined ones",
			yaml: "environments: [{name: prod}, {name: dev}]\nsources:\n  alertmanager: {key: {env: K}, environment: staging}\n",
			env:  map[string]string{"K": "k"},
			want: []string{"plumb.yaml:3: sources.alertmanager.environment: unknown environment \"staging\" (defined: dev, prod)"},
		},
		{
			name: "unknown environment when none is defined",
			yaml: "subscriptions:\n  - name: s\n    environment: prod\n    handlers: [{type: audit}]\n",
			want: []string{"plumb.yaml:3: subscriptions[0].environment: unknown environment \"prod\": no environments are defined"},
		},
		{
			name: "missing secret variable",
			yaml: "sources:\n  eventgrid:\n    key: {env: NOT_SET}\n",
			want: []string{"plumb.yaml:3: sources.eventgrid.key.env: environment variable NOT_SET is not set or empty"},
		},
		{
			name: "webhook without key",
			yaml: "sources:\n  cloudevents:\n    allowed_origins: [x]\n",
			want: []string{"plumb.yaml:2: sources.cloudevents.key: required"},
		},
		{
			name: "several problems at once",
			yaml: `environments:
  - name: prod
    cloud: gcp
    schedule: "every day"
subscriptions:
  - name: s1
    environment: staging
    handlers:
      - type: runbook
      - type: page-me
    retry: {max_attempts: -1}
`,
			want: []string{
				"plumb.yaml:3: environments[0].cloud: \"gcp\": want aws or azure",
				"plumb.yaml:4: environments[0].schedule:",
				"plumb.yaml:2: environments[0].states: a scheduled scan needs at least one state",
				"plumb.yaml:7: subscriptions[0].environment: unknown environment \"staging\"",
				"plumb.yaml:9: subscriptions[0].handlers[0].command: runbook needs a command",
				"plumb.yaml:10: subscriptions[0].handlers[1].type: \"page-me\"",
				"plumb.yaml:11: subscriptions[0].retry.max_attempts: -1",
			},
		},
		{
			name: "event grid filter errors keep their location",
			yaml: `environments: [{name: prod}]
subscriptions:
  - name: s
    environment: prod
    handlers: [{type: audit}]
    event_grid:
      advanced_filters:
        - {operator_type: StringSmellsLike, key: data.x, values: [a]}
`,
			want: []string{"plumb.yaml:6: subscriptions[0].event_grid:", "StringSmellsLike"},
		},
		{
			name: "bad event pattern",
			yaml: `environments: [{name: prod}]
subscriptions:
  - name: s
    environment: prod
    handlers: [{type: audit}]
    event_pattern:
      source: aws.ec2
`,
			want: []string{"plumb.yaml:6: subscriptions[0].event_pattern:"},
		},
		{
			name: "sqs limits",
			yaml: "sources:\n  sqs:\n    - name: q\n      queue_url: sqs-queue\n      wait_time: 30s\n      batch_size: 11\n",
			want: []string{
				"plumb.yaml:4: sources.sqs[0].queue_url",
				"plumb.yaml:5: sources.sqs[0].wait_time: 30s",
				"plumb.yaml:6: sources.sqs[0].batch_size: 11",
			},
		},
		{
			name: "duplicate names",
			yaml: "environments:\n  - name: a\n  - name: a\n",
			want: []string{"plumb.yaml:3: environments[1].name: environment \"a\" is defined twice"},
		},
		{
			name: "routing mistakes",
			yaml: `route:
  receiver: nowhere
  routes:
    - matchers: ['kind=~"("']
      group_wait: -1s
receivers:
  - name: gh
    github_issue: {repository: acme, auth: {token: {env: T}}}
  - name: adv
    github_advisory: {repository: acme/x, auth: {token: {env: T}}}
  - name: two
    webhook: {url: "https://x", secret: {env: T}}
    slack: {url: {env: T}}
`,
			env: map[string]string{"T": "t"},
			want: []string{
				"plumb.yaml:2: route.receiver: unknown receiver \"nowhere\" (defined: adv, gh, two)",
				"plumb.yaml:4: route.routes[0].matchers: [0]: matcher",
				"plumb.yaml:5: route.routes[0].group_wait: must not be negative",
				"plumb.yaml:8: receivers[0].github_issue.repository: \"acme\": want OWNER/REPO",
				"receivers[1].github_advisory.auth.token: security advisories are written as a GitHub App",
				"plumb.yaml:11: receivers[2]: set exactly one of",
			},
		},
		{
			name: "bad ignore rule",
			yaml: "ignore:\n  - aws_s3_bucket.logs\n  - justatype\n",
			want: []string{"plumb.yaml:3: ignore[1]:", "not TYPE.ID"},
		},
		{
			name: "receivers without a route",
			yaml: "receivers:\n  - name: s\n    slack: {url: {env: T}}\n",
			env:  map[string]string{"T": "t"},
			want: []string{"route: receivers are configured but no route sends findings to them"},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{"plumb.yaml: config is empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("plumb.yaml", []byte(tc.yaml), env(tc.env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var es Errors
			var e *Error
			if !errors.As(err, &es) && !errors.As(err, &e) {
				t.Errorf("error is %T, want config.Errors", err)
			}
			// A person reads these: no Go types, no YAML tags.
			for _, leak := range []string{"config.", "!!", "unmarshal", "not found in type", "time.Duration"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error speaks Go (%q):\n%v", leak, err)
				}
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := writeFile(p, "from-file\n"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("plumb.yaml", []byte("sources:\n  eventgrid:\n    key: {file: "+p+"}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources.EventGrid.Key.Value(); got != "from-file" {
		t.Errorf("key = %q, want from-file", got)
	}
	_, err = Parse("plumb.yaml", []byte("sources:\n  eventgrid:\n    key: {env: A, file: "+p+"}\n"), env(map[string]string{"A": "x"}))
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("env and file together: %v", err)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// TestMergeKeysAndAnchors: YAML anchors and merge keys are ordinary YAML
// and must load, with the merged fields checked like written ones.
func TestMergeKeysAndAnchors(t *testing.T) {
	good := "environments:\n  - &base {name: a, cloud: aws, regions: [eu-west-1]}\n  - <<: *base\n    name: b\n"
	cfg, err := Parse("plumb.yaml", []byte(good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := cfg.Environment("b"); b.Cloud != "aws" || len(b.Regions) != 1 {
		t.Errorf("merged environment = %+v", b)
	}
	bad := "environments:\n  - &base {name: a, clod: aws}\n  - <<: *base\n    name: b\n"
	_, err = Parse("plumb.yaml", []byte(bad), env(nil))
	if err == nil || !strings.Contains(err.Error(), "plumb.yaml:2: environments[0].clod: unknown field `clod` in environment `a`; did you mean `cloud`?") {
		t.Errorf("err = %v", err)
	}
}

// TestSecretsOptional: config validate --no-secrets checks a config
// where the secrets are not available, reporting them as warnings; the
// shape of a secret stays an error.
func TestSecretsOptional(t *testing.T) {
	doc := "server:\n  api_token: {env: TOKEN}\nsources:\n  eventgrid: {key: {file: missing.key}}\n"
	_, warnings, err := Check("plumb.yaml", []byte(doc), Options{SecretsOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"plumb.yaml:2: warning: server.api_token.env: environment variable TOKEN is not set or empty",
		"plumb.yaml:4: warning: sources.eventgrid.key.file: cannot read the secret: open missing.key: no such file or directory",
	}
	if got := warnings.Error(); got != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	_, _, err = Check("plumb.yaml", []byte(doc), Options{})
	if err == nil || !strings.Contains(err.Error(), "plumb.yaml:2: server.api_token.env: environment variable TOKEN is not set or empty") {
		t.Errorf("without SecretsOptional: %v", err)
	}
	_, _, err = Check("plumb.yaml", []byte("server:\n  api_token: inline\n"), Options{SecretsOptional: true})
	if err == nil || !strings.Contains(err.Error(), "a secret must be {env: NAME} or {file: PATH}") {
		t.Errorf("inline secret with SecretsOptional: %v", err)
	}
}

// TestStateWarnings: a state source that matches no file is a warning
// naming its line; one that matches, and s3:// ones, are not.
func TestStateWarnings(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "states", "prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "states", "prod", "net.tfstate"), "{}"); err != nil {
		t.Fatal(err)
	}
	doc := `environments:
  - name: prod
    states: ["states/prod/**.tfstate", "s3://tf/prod/**.tfstate"]
  - name: staging
    states:
      - states/staging/**.tfstate
      - states/old.tfstate
`
	path := filepath.Join(dir, "plumb.yaml")
	cfg, err := Parse(path, []byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.StateWarnings(context.Background())
	want := []string{
		path + ":6: warning: environments[1].states[0]: " + filepath.Join(dir, "states/staging/**.tfstate") + ": no files match: directory " + filepath.Join(dir, "states/staging") + ` does not exist; scans of environment "staging" fail until a state file exists there`,
		path + ":7: warning: environments[1].states[1]: " + filepath.Join(dir, "states/old.tfstate") + `: no such file; scans of environment "staging" fail until a state file exists there`,
	}
	if got.Error() != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%v\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, w := range got {
		if !w.Warning {
			t.Errorf("%v is not marked as a warning", w)
		}
	}
}

// TestYAMLErrorWords: what the shape walk does not catch still reaches
// the user without Go type names.
func TestYAMLErrorWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"yaml: line 3: field clod not found in type config.Environment", "plumb.yaml:3: unknown field `clod`"},
		{"yaml: line 2: cannot unmarshal !!str `x` into config.Secret", "plumb.yaml:2: expected {env: NAME} or {file: PATH}, found `x`"},
		{"yaml: line 4: cannot unmarshal !!seq into string", "plumb.yaml:4: expected text, found a list"},
		{"yaml: line 5: cannot unmarshal !!str `soon` into time.Duration", "plumb.yaml:5: expected a duration such as 30s, 5m or 1h30m, found `soon`"},
		{"yaml: line 6: did not find expected key", "plumb.yaml:6: did not find expected key"},
	}
	for _, tc := range tests {
		if got := yamlError("plumb.yaml", errors.New(tc.in)).Error(); got != tc.want {
			t.Errorf("yamlError(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
