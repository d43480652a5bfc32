package main

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"plumb/internal/config"
)

func TestConsoleHashPassword(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"a password", "correct horse battery\n", nil, 0, ""},
		{"no newline", "correct horse battery", nil, 0, ""},
		{"lower cost", "correct horse battery\n", []string{"--cost", "4"}, 0, ""},
		{"empty", "", nil, 1, "no password on standard input"},
		{"short", "hunter2\n", nil, 1, "the password has 7 characters: use at least 12"},
		{"too long", strings.Repeat("x", 73) + "\n", nil, 1, "longer than 72 bytes"},
		{"bad cost", "correct horse battery\n", []string{"--cost", "99"}, 1, "--cost 99: want 4 to 31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := cliStdin(tc.stdin, append([]string{"console", "hash-password"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errb, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb, tc.code, tc.stderr)
			}
			if tc.code != 0 {
				return
			}
			h := strings.TrimSpace(out)
			if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery")) != nil {
				t.Errorf("%q is not a hash of the password", h)
			}
			// The hash is what the config accepts.
			if _, err := config.Parse("plumb.yaml", []byte("console:\n  users:\n    - name: a\n      password_hash: \""+h+"\"\n"), func(string) string { return "" }); err != nil {
				t.Errorf("the config refuses the hash: %v", err)
			}
		})
	}
}
