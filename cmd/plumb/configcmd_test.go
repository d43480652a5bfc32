package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shippedConfigEnv is what the shipped configs' {env: NAME} secrets need.
var shippedConfigEnv = map[string]string{
	"PLUMB_API_TOKEN":                 "api-secret",
	"PLUMB_WEBHOOK_KEY":               "hook-secret",
	"PLUMB_ALERT_KEY":                 "alert-secret",
	"PLUMB_WEBHOOK_SECRET":            "webhook-signing-secret",
	"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
	"GITHUB_TOKEN":                    "ghp_test",
	"GITHUB_APP_PRIVATE_KEY":          "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
	"SLACK_WEBHOOK_URL":               "https://hooks.slack.example/services/T/B/X",
	"PLUMB_TEST_API_TOKEN":            serveToken,
	"PLUMB_TEST_WEBHOOK_KEY":          serveKey,
	"PLUMB_OPERATOR_TOKEN":            "operator-secret",
}

// TestConfigValidateShippedConfigs runs plumb config validate on every
// config the repository ships: the examples a newcomer copies, and the
// test data. Valid ones pass with exactly the warnings listed; the one
// meant to be wrong fails with its line.
func TestConfigValidateShippedConfigs(t *testing.T) {
	for k, v := range shippedConfigEnv {
		t.Setenv(k, v)
	}
	ex := func(p string) string { return filepath.Join(repoRoot, "examples", p) }
	tests := []struct {
		path     string
		code     int
		want     []string // lines of stdout, in order, the summary last
		noSecret bool     // also valid with --no-secrets and no variables set
	}{
		{ex("plumb.yaml"), 0, []string{ex("plumb.yaml") + ": valid (1 environment, 1 event source, 1 subscription, 0 receivers, 0 warnings)"}, true},
		{ex("plumb.reference.yaml"), 0, []string{
			ex("plumb.reference.yaml") + fmt.Sprintf(":%d", lineOf(t, ex("plumb.reference.yaml"), `states: ["states/azure/**.tfstate"]`)) + `: warning: environments[1].states[0]: ` + ex("states/azure/**.tfstate") + `: no files match: directory ` + ex("states/azure") + ` does not exist; scans of environment "azure-prod" fail until a state file exists there`,
			ex("plumb.reference.yaml") + ": valid (2 environments, 6 event sources, 3 subscriptions, 7 receivers, 1 warning)",
		}, true},
		{"../../internal/config/testdata/plumb.yaml", 0, []string{
			`../../internal/config/testdata/plumb.yaml:8: warning: environments[0].states[0]: ../../internal/config/testdata/states/prod/**.tfstate: no files match: directory ../../internal/config/testdata/states/prod does not exist; scans of environment "prod" fail until a state file exists there`,
			"../../internal/config/testdata/plumb.yaml: valid (1 environment, 5 event sources, 2 subscriptions, 4 receivers, 1 warning)",
		}, true},
		{"testdata/serve/plumb.yaml", 0, []string{"testdata/serve/plumb.yaml: valid (1 environment, 1 event source, 2 subscriptions, 0 receivers, 0 warnings)"}, true},
		{"testdata/serve/bad.yaml", 1, []string{
			`testdata/serve/bad.yaml:9: subscriptions[0].environment: unknown environment "staging" (defined: prod)`,
			"testdata/serve/bad.yaml: invalid: 1 error, 0 warnings",
		}, false},
	}
	var covered []string
	for _, tc := range tests {
		covered = append(covered, filepath.Clean(tc.path))
		t.Run(tc.path, func(t *testing.T) {
			code, out, errOut := cli("config", "validate", tc.path)
			if code != tc.code || out != strings.Join(tc.want, "\n")+"\n" {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, tc.code, out, strings.Join(tc.want, "\n"), errOut)
			}
			if !tc.noSecret {
				return
			}
			for k := range shippedConfigEnv {
				t.Setenv(k, "")
			}
			code, out, _ = cli("config", "validate", "--no-secrets", tc.path)
			if code != 0 || !strings.Contains(out, ": valid (") {
				t.Errorf("--no-secrets without the variables: exit %d\n%s", code, out)
			}
		})
	}
	// A config added to examples/ or the test data is validated here too.
	shipped, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(repoRoot, "internal", "config", "testdata", "*.yaml"))
	serve, _ := filepath.Glob(filepath.Join("testdata", "serve", "*.yaml"))
	for _, p := range append(append(shipped, more...), serve...) {
		if !slices.Contains(covered, filepath.Clean(p)) {
			t.Errorf("%s is shipped but not validated by this test", p)
		}
	}
}

// TestConfigValidateReportsEveryProblem: each mistake is reported with
// the file, the line, the field and what was expected, in the config's
// words, all of them in one run, and the exit code is 1.
func TestConfigValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown field with a suggestion", "environments:\n  - name: prod\n    clod: aws\n",
			[]string{"plumb.yaml:3: environments[0].clod: unknown field `clod` in environment `prod`; did you mean `cloud`?"}},
		{"secret written inline", "server:\n  api_token: s3cr3t-value\n",
			[]string{"plumb.yaml:2: server.api_token: a secret must be {env: NAME} or {file: PATH}; secrets are never written in the config (found an inline value, not shown)"}},
		{"wrong type", "server:\n  workers: ten\n",
			[]string{"plumb.yaml:2: server.workers: expected a whole number, found `ten`"}},
		{"bad duration", "server:\n  notify_interval: soon\n",
			[]string{"plumb.yaml:2: server.notify_interval: expected a duration with a unit, such as 30s, 5m or 1h30m, found `soon`"}},
		{"unknown environment reference", "environments: [{name: prod}]\nsubscriptions:\n  - name: s\n    environment: prdo\n    handlers: [{type: audit}]\n",
			[]string{`plumb.yaml:4: subscriptions[0].environment: unknown environment "prdo"; did you mean "prod"?`}},
		{"unknown receiver reference", "route: {receiver: gh}\nreceivers:\n  - name: github\n    github_issue: {repository: acme/x, auth: {token: {env: T}}}\n",
			[]string{`plumb.yaml:1: route.receiver: unknown receiver "gh" (defined: github)`, "plumb.yaml:4: receivers[0].github_issue.auth.token.env: environment variable T is not set or empty"}},
		{"several problems, in file order", "server:\n  listn: x\n  max_inflight: many\nenvironments:\n  - name: prod\n    schedule: sometimes\n    states: [nothing/*.tfstate]\n",
			[]string{
				"plumb.yaml:2: server.listn: unknown field `listn` in `server`; did you mean `listen`?",
				"plumb.yaml:3: server.max_inflight: expected a whole number, found `many`",
				`plumb.yaml:6: environments[0].schedule: "sometimes": `,
			}},
		{"yaml syntax", "server:\n  listen: [\n", []string{"plumb.yaml:2: did not find expected node content"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "plumb.yaml", tc.yaml)
			code, out, _ := cli("config", "validate", p)
			if code != exitError {
				t.Errorf("exit %d, want 1:\n%s", code, out)
			}
			out = strings.ReplaceAll(out, dir+string(filepath.Separator), "")
			last := -1
			for _, w := range tc.want {
				i := strings.Index(out, w)
				if i < 0 {
					t.Errorf("output lacks %q:\n%s", w, out)
				} else if i < last {
					t.Errorf("%q is out of file order:\n%s", w, out)
				}
				last = i
			}
			if !strings.Contains(out, "plumb.yaml: invalid: ") {
				t.Errorf("no summary line:\n%s", out)
			}
			for _, leak := range []string{"config.", "!!", "unmarshal", "s3cr3t"} {
				if strings.Contains(out, leak) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
		})
	}
}

// TestConfigValidateDefaultFile: without an argument the command reads
// ./plumb.yaml, and a missing file is an error naming it.
func TestConfigValidateDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, errOut := cli("config", "validate")
	if code != exitError || out != "" || !strings.Contains(errOut, "read config: open plumb.yaml: no such file or directory") {
		t.Errorf("no plumb.yaml: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	writeFile(t, dir, "plumb.yaml", "environments:\n  - name: prod\n    states: [prod.tfstate]\n")
	code, out, _ = cli("config", "validate")
	want := "plumb.yaml:3: warning: environments[0].states[0]: prod.tfstate: no such file; scans of environment \"prod\" fail until a state file exists there\n" +
		"plumb.yaml: valid (1 environment, 0 event sources, 0 subscriptions, 0 receivers, 1 warning)\n"
	if code != 0 || out != want {
		t.Errorf("exit %d\n%s\nwant:\n%s", code, out, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "prod.tfstate"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = cli("config", "validate"); code != 0 || !strings.Contains(out, "0 warnings") {
		t.Errorf("with the state present: exit %d\n%s", code, out)
	}
}

// TestScanNotifyValidatesConfigFirst: scan --notify checks its config
// before scanning: a broken config fails at once with its line, and the
// (missing) state is never read.
func TestScanNotifyValidatesConfigFirst(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "plumb.yaml", "route:\n  receiver: gh\n  grop_by: [kind]\n")
	code, out, errOut := cli("scan", "--state", filepath.Join(dir, "no-such.tfstate"), "--notify", "--config", bad, "--data-dir", filepath.Join(dir, "data"))
	if code != exitError || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, w := range []string{"nothing was scanned", bad + ":3: route.grop_by: unknown field `grop_by` in `route`; did you mean `group_by`?", `unknown receiver "gh"`} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "no-such.tfstate") {
		t.Errorf("the state was read before the config was checked:\n%s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("the data directory was created for a scan that never ran")
	}
}

// lineOf is the 1-based line of the first line of file containing text,
// so expectations follow the shipped configs as they are edited.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, text)
	return 0
}
