package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionStamps checks what make release stamps with -ldflags
// (main.version, main.commit) is what plumb version prints.
func TestVersionStamps(t *testing.T) {
	tests := []struct {
		version, commit, want string
	}{
		{"v1.2.3", "0123456789abcdef0123456789abcdef01234567", "plumb v1.2.3 (0123456789ab) "},
		{"v1.2.3", "abc1234", "plumb v1.2.3 (abc1234) "},
		{"v1.2.3", "", "plumb v1.2.3 "},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			oldV, oldC := version, commit
			version, commit = tc.version, tc.commit
			defer func() { version, commit = oldV, oldC }()
			var stdout, stderr bytes.Buffer
			if code := run([]string{"version"}, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			got := stdout.String()
			if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, runtime.GOOS+"/"+runtime.GOARCH+"\n") {
				t.Errorf("plumb version = %q, want it to start with %q", got, tc.want)
			}
		})
	}
}

// TestActionCommandErrors covers plumb action outside a workflow and with
// a bad input; the action's end-to-end test (internal/ghaction) covers
// the rest.
func TestActionCommandErrors(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantStderr string
		wantStdout string
	}{
		{"outside a workflow", map[string]string{"GITHUB_OUTPUT": "", "RUNNER_TEMP": ""},
			"GITHUB_OUTPUT and RUNNER_TEMP not set", ""},
		{"bad boolean", map[string]string{"PLUMB_INPUT_SARIF": "yes"},
			`input sarif: "yes" is not a boolean`, "::error title=plumb action::input sarif"},
		{"check without a plan", map[string]string{"PLUMB_INPUT_COMMAND": "check", "PLUMB_INPUT_PACKS": "cis-aws-3.0"},
			"input plan: plumb check takes exactly one plan JSON, got 0", "::error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("GITHUB_OUTPUT", filepath.Join(dir, "out"))
			t.Setenv("RUNNER_TEMP", dir)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := run([]string{"action"}, &stdout, &stderr); code != exitError {
				t.Fatalf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) || !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q\nstderr %q", stdout.String(), stderr.String())
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "out")); len(data) > 0 {
				t.Errorf("outputs written for a run that never started: %s", data)
			}
		})
	}
	// Hidden from help: people run scan and check.
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	if strings.Contains(stdout.String(), "\n  action ") {
		t.Errorf("plumb --help lists the action command:\n%s", stdout.String())
	}
}
