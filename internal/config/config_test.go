package config

import (
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
	want := `{"detail":{"eventName":[{"prefix":"Authorize"},"RunInstances"]},"detail-type":["AWS API Call via CloudTrail"],"source":["aws.ec2"]}`
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
			want: []string{"plumb.yaml:2: field listn not found"},
		},
		{
			name: "wrong type",
			yaml: "server:\n  workers: many\n",
			want: []string{"plumb.yaml:2: cannot unmarshal !!str `many`"},
		},
		{
			name: "bad duration",
			yaml: "queue_alerts:\n  - name: a\n    state: retry\n    threshold: 1\n    for: soon\n",
			want: []string{"plumb.yaml:5:"},
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
				"plumb.yaml:2: route.receiver: unknown receiver \"nowhere\"",
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
