package clidoc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func testTree() *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "A tool"}
	root.PersistentFlags().String("server", "http://x", "server URL")
	run := func(*cobra.Command, []string) error { return nil }
	b := &cobra.Command{Use: "b ARG", Short: "Second", Args: cobra.ExactArgs(1), RunE: run,
		Example: "  tool b x\n  tool b y | grep z"}
	b.Flags().StringArrayP("output", "o", nil, "format table|json")
	b.Flags().Bool("all", false, "everything")
	a := &cobra.Command{Use: "a", Short: "First", RunE: run}
	a.Flags().Int("limit", 100, "at most `N` items")
	hidden := &cobra.Command{Use: "secret", Hidden: true, RunE: run}
	root.AddCommand(b, a, hidden)
	return root
}

func TestCommandsSkipHiddenAndSortByName(t *testing.T) {
	var got []string
	for _, c := range Commands(testTree()) {
		got = append(got, c.CommandPath())
	}
	if strings.Join(got, ",") != "tool,tool a,tool b" {
		t.Errorf("Commands = %v", got)
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, testTree(), "make docs"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Generated from the command tree by `make docs`",
		"- [`tool a`](#tool-a): First",
		"## tool b\n\nSecond.\n\n```text\ntool b ARG [flags]\n```",
		"```sh\ntool b x\ntool b y | grep z\n```",
		"| `-o, --output string` |  | format table\\|json (repeatable) |",
		"| `--all` |  | everything |",
		"| `--limit N` | `100` | at most `N` items |",
		"Inherited flags:\n\n| Flag | Default | Description |\n|---|---|---|\n| `--server string` | `http://x` | server URL |",
		"## tool\n\nA tool.\n\n```text\ntool COMMAND\n```",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reference lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("hidden command documented:\n%s", out)
	}
	if strings.Contains(out, "--help") && !strings.Contains(out, "`-h, --help`") {
		t.Errorf("--help listed per command:\n%s", out)
	}
}
