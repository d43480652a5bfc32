package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestSilenceCLI drives plumb silence add, list and expire against a
// running server, and the usage errors that need no server.
func TestSilenceCLI(t *testing.T) {
	base := startServe(t, t.TempDir())
	api := []string{"--server", base, "--token", serveToken}

	code, out, errOut := cli(append([]string{"silence", "add", "-m", `environment="prod"`, "-m", `kind=~"drift.*"`,
		"--duration", "2h", "--comment", "migration", "--author", "ops"}, api...)...)
	if code != 0 {
		t.Fatalf("silence add: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`^silence ([0-9a-f]+) until \S+\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("silence add printed %q", out)
	}
	id := m[1]

	code, out, errOut = cli(append([]string{"silence", "list"}, api...)...)
	if code != 0 {
		t.Fatalf("silence list: exit %d: %s", code, errOut)
	}
	_, rows := tableRows(t, out)
	if len(rows) != 1 || rows[0]["ID"] != id || rows[0]["ACTIVE"] != "true" || rows[0]["BY"] != "ops" ||
		!strings.Contains(rows[0]["MATCHERS"], `environment="prod"`) || rows[0]["COMMENT"] != "migration" {
		t.Fatalf("silence list rows = %v", rows)
	}

	if code, out, errOut = cli(append([]string{"silence", "expire", id}, api...)...); code != 0 || out != "silence "+id+" expired\n" {
		t.Fatalf("silence expire: exit %d, %q %s", code, out, errOut)
	}
	if _, out, _ = cli(append([]string{"silence", "list"}, api...)...); len(mustRows(t, out)) != 0 {
		t.Errorf("an expired silence is still listed as active:\n%s", out)
	}
	if _, out, _ = cli(append([]string{"silence", "list", "--all"}, api...)...); len(mustRows(t, out)) != 1 {
		t.Errorf("--all does not list the expired silence:\n%s", out)
	}

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no matcher", []string{"silence", "add", "--duration", "1h"}, "at least one --matcher is required"},
		{"bad matcher", []string{"silence", "add", "-m", "kind", "--duration", "1h"}, "matcher"},
		{"unknown silence", []string{"silence", "expire", "0000"}, "404"},
		{"wrong token", []string{"silence", "list", "--server", base, "--token", "guess"}, "401"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.name != "wrong token" {
				args = append(args, api...)
			}
			code, out, errOut := cli(args...)
			if code != exitError || out != "" || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming %q", code, out, errOut, tc.wantErr)
			}
		})
	}
}

func mustRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	_, rows := tableRows(t, out)
	return rows
}

// TestScanNotifyNeedsConfig: --notify without a config is a usage error,
// found before any scanning.
func TestScanNotifyNeedsConfig(t *testing.T) {
	code, out, errOut := cli("scan", "--state", "testdata/none.tfstate", "--notify")
	if code != exitError || out != "" || !strings.Contains(errOut, "--notify needs --config") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
