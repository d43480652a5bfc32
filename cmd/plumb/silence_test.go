package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/testenv"
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

// TestSilenceDataDirMutesScanNotify: a silence added with --data-dir, no
// server anywhere, is honoured by plumb scan --notify on that directory:
// the drift is stored but no issue is opened. Listed and expired the same
// way, the finding is sent by the next run.
func TestSilenceDataDirMutesScanNotify(t *testing.T) {
	m := testenv.StartMoto(t)
	buckets := newNotifyBuckets(t, m)
	buckets.create("plumb-declared")
	buckets.create("plumb-stray")
	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken(notifyGHToken)
	sc := newNotifyScanner(t, fake)
	t.Setenv("PLUMB_SERVER", "")
	t.Setenv("PLUMB_DATA_DIR", "")
	dir := []string{"--data-dir", sc.dataDir}

	code, out, errOut := cli(append([]string{"silence", "add", "-m", `kind="drift.unmanaged"`, "-m", `environment="prod"`,
		"--duration", "1h", "--comment", "import in progress", "--author", "ops"}, dir...)...)
	m1 := regexp.MustCompile(`^silence ([0-9a-f]{32}) until \S+\n$`).FindStringSubmatch(out)
	if code != 0 || m1 == nil || errOut != "created a new plumb store in "+sc.dataDir+"\n" {
		t.Fatalf("silence add --data-dir: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	id := m1[1]

	rep, stderr := sc.scan(exitFindings)
	if len(rep.Findings) != 1 || rep.Findings[0].Resource.ID != "plumb-stray" {
		t.Fatalf("findings = %s", describe(rep))
	}
	wantSummary(t, stderr, "findings: 1 opened, 0 reopened, 0 still open, 0 resolved, 0 kept open (scope not read); 0 notification(s) sent")
	if _, n := fake.Counts(); n != 0 {
		t.Fatalf("%d issues opened for a silenced finding", n)
	}

	code, out, errOut = cli(append([]string{"silence", "list"}, dir...)...)
	_, rows := tableRows(t, out)
	if code != 0 || errOut != "" || len(rows) != 1 || rows[0]["ID"] != id || rows[0]["ACTIVE"] != "true" || rows[0]["COMMENT"] != "import in progress" {
		t.Fatalf("silence list --data-dir: exit %d, rows %v, stderr %q", code, rows, errOut)
	}
	if code, out, errOut = cli(append([]string{"silence", "expire", id}, dir...)...); code != 0 || out != "silence "+id+" expired\n" {
		t.Fatalf("silence expire --data-dir: exit %d, %q %s", code, out, errOut)
	}
	if _, out, _ = cli(append([]string{"silence", "list"}, dir...)...); len(mustRows(t, out)) != 0 {
		t.Errorf("an expired silence is still listed as active:\n%s", out)
	}
	if _, out, _ = cli(append([]string{"silence", "list", "--all"}, dir...)...); len(mustRows(t, out)) != 1 {
		t.Errorf("--all does not list the expired silence:\n%s", out)
	}

	_, stderr = sc.scan(exitFindings)
	wantSummary(t, stderr, "1 notification(s) sent")
	if _, n := fake.Counts(); n != 1 {
		t.Errorf("after the silence: %d issues, want 1", n)
	}
}

// TestSilenceTargetRule: plumb silence works on exactly one of a server
// and a data directory, chosen by flag, else by environment variable.
func TestSilenceTargetRule(t *testing.T) {
	base := startServe(t, t.TempDir())
	store := t.TempDir()
	if code, _, errOut := cli("silence", "add", "--data-dir", store, "-m", `kind="x"`); code != 0 {
		t.Fatalf("seed the store: %s", errOut)
	}
	missing := filepath.Join(t.TempDir(), "nothing-here")
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		wantCode  int
		wantOut   string // a substring of stdout
		wantError string // a substring of stderr
	}{
		{"neither", nil, []string{"silence", "list"}, exitError, "", "say where the silences are: --server URL"},
		{"both flags", nil, []string{"silence", "list", "--server", base, "--data-dir", store}, exitError, "", "not both"},
		{"both variables", map[string]string{"PLUMB_SERVER": base, "PLUMB_DATA_DIR": store}, []string{"silence", "list"}, exitError, "", "PLUMB_SERVER and PLUMB_DATA_DIR are both set"},
		{"--data-dir", nil, []string{"silence", "list", "--data-dir", store}, 0, "kind=\"x\"", ""},
		{"PLUMB_DATA_DIR", map[string]string{"PLUMB_DATA_DIR": store}, []string{"silence", "list"}, 0, "kind=\"x\"", ""},
		{"--server", nil, []string{"silence", "list", "--server", base, "--token", serveToken}, 0, "ID", ""},
		{"PLUMB_SERVER", map[string]string{"PLUMB_SERVER": base, "PLUMB_API_TOKEN": serveToken}, []string{"silence", "list"}, 0, "ID", ""},
		{"a flag beats the other variable", map[string]string{"PLUMB_SERVER": base}, []string{"silence", "list", "--data-dir", store}, 0, "kind=\"x\"", ""},
		{"list on a missing store", nil, []string{"silence", "list", "--data-dir", missing}, exitError, "", "no plumb store in " + missing},
		{"expire on a missing store", nil, []string{"silence", "expire", "abc", "--data-dir", missing}, exitError, "", "no plumb store in " + missing},
		{"expire unknown id", nil, []string{"silence", "expire", "abc", "--data-dir", store}, exitError, "", "silence abc not found in " + store},
		{"bad duration", nil, []string{"silence", "add", "-m", `kind="x"`, "--duration", "soon", "--data-dir", store}, exitError, "", `duration "soon"`},
		{"bad matcher", nil, []string{"silence", "add", "-m", "kind", "--data-dir", store}, exitError, "", "matcher"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"PLUMB_SERVER", "PLUMB_DATA_DIR", "PLUMB_API_TOKEN"} {
				t.Setenv(k, tc.env[k])
			}
			code, out, errOut := cli(tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantError) {
				t.Errorf("exit %d (want %d), stdout %q (want %q in it), stderr %q (want %q in it)", code, tc.wantCode, out, tc.wantOut, errOut, tc.wantError)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("listing a missing store created %s", missing)
	}
}
