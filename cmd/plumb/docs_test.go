package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"plumb/internal/clidoc"
	"plumb/internal/inventory/aws"
)

// repoRoot is the repository root seen from this package's directory,
// where go test runs.
const repoRoot = "../.."

// freshTree is the command tree as the binary builds it at run time.
func freshTree() *cobra.Command {
	root := newRootCmd(io.Discard, io.Discard, enforceDeps{})
	root.InitDefaultCompletionCmd()
	return root
}

// TestCLIReferenceUpToDate keeps docs/cli.md equal to the command tree:
// a flag or command added without regenerating the reference fails here.
func TestCLIReferenceUpToDate(t *testing.T) {
	var want bytes.Buffer
	if err := renderCLIDoc(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(repoRoot, cliDocPath))
	if err != nil {
		t.Fatalf("%v: run %s", err, regenerateCLIDoc)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("%s is stale (first difference at line %d): run %s", cliDocPath, firstDiffLine(got, want.Bytes()), regenerateCLIDoc)
	}
	// The hidden generator writes the same bytes.
	code, out, errOut := cli("docs", "gen")
	if code != 0 || out != want.String() {
		t.Errorf("plumb docs gen: exit %d, %d bytes (want %d): %s", code, len(out), want.Len(), errOut)
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestEveryFlagDocumented reads docs/cli.md as a user would (sections by
// heading, flag tables by row) and checks that every command and every
// flag of the real tree is there, and that the README's table of scan
// flags lists every scan flag.
func TestEveryFlagDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, cliDocPath))
	if err != nil {
		t.Fatal(err)
	}
	sections := markdownSections(string(doc), "## ")
	root := freshTree()
	for _, c := range clidoc.Commands(root) {
		sec, ok := sections[c.CommandPath()]
		if !ok {
			t.Errorf("%s has no section %q", cliDocPath, "## "+c.CommandPath())
			continue
		}
		documented := tableFlags(sec)
		local, inherited := clidoc.Flags(c)
		for _, f := range append(local, inherited...) {
			if !documented[f.Name] {
				t.Errorf("%s: section %q does not list --%s", cliDocPath, c.CommandPath(), f.Name)
			}
		}
	}

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	scanTable, ok := markdownSections(string(readme), "### ")["`plumb scan` flags"]
	if !ok {
		t.Fatal("README.md has no section \"### `plumb scan` flags\"")
	}
	inREADME := tableFlags(scanTable)
	scanCmd, _, err := root.Find([]string{"scan"})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := clidoc.Flags(scanCmd)
	var scanFlags []string
	for _, f := range local {
		scanFlags = append(scanFlags, f.Name)
		if !inREADME[f.Name] {
			t.Errorf("README.md's table of plumb scan flags lacks --%s", f.Name)
		}
	}
	for name := range inREADME {
		if !slices.Contains(scanFlags, name) {
			t.Errorf("README.md's table of plumb scan flags lists --%s, which plumb scan does not have", name)
		}
	}
}

// markdownSections splits a Markdown document at headings with the given
// prefix ("## "), keyed by heading text.
func markdownSections(doc, prefix string) map[string]string {
	out := map[string]string{}
	var name string
	var body strings.Builder
	flush := func() {
		if name != "" {
			out[name] = body.String()
		}
	}
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if !inFence && strings.HasPrefix(line, prefix) {
			flush()
			name, body = strings.TrimPrefix(line, prefix), strings.Builder{}
			continue
		}
		if !inFence && name != "" && strings.HasPrefix(line, "#") && len(line)-len(strings.TrimLeft(line, "#")) < len(strings.TrimSpace(prefix)) {
			// A higher-level heading ends the section.
			flush()
			name = ""
		}
		body.WriteString(line + "\n")
	}
	flush()
	return out
}

var tableFlagName = regexp.MustCompile("^\\| `(?:-[a-zA-Z], )?--([a-z0-9-]+)")

// tableFlags returns the flags named in the first cell of table rows.
func tableFlags(section string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if m := tableFlagName.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// TestDocExamplesParse runs every plumb command of the README's and
// docs' shell blocks through the real command tree: an example naming a
// command or flag that does not exist, or with the wrong number of
// arguments, fails with its file and line.
func TestDocExamplesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(repoRoot, "README.md")}, files...)
	total := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, file)
		for _, ex := range shellExamples(string(data)) {
			total++
			if err := parseAgainstTree(ex.args); err != nil {
				t.Errorf("%s:%d: plumb %s: %v", rel, ex.line, strings.Join(ex.args, " "), err)
			}
		}
	}
	if total < 20 {
		t.Errorf("found only %d plumb examples in README.md and docs/*.md; the extraction is broken", total)
	}
}

// TestDocExampleParser checks the checker: what must fail fails.
func TestDocExampleParser(t *testing.T) {
	tests := []struct {
		line    string
		wantErr string // "" = parses
	}{
		{"plumb scan --state 'envs/**/*.tfstate' -o json=drift.json -o table", ""},
		{`plumb scan --state "s3://b/**.tfstate" -o markdown >> "$GITHUB_STEP_SUMMARY"`, ""},
		{"terraform show -json tfplan > plan.json && plumb check plan.json --pack pci-dss-4.0", ""},
		{"plumb events list --state dead        # a comment --bogus", ""},
		{"plumb scna --state x", `unknown command "scna"`},
		{"plumb scan --sate x", "unknown flag: --sate"},
		{"plumb events list -o json", "unknown shorthand flag: 'o'"},
		{"plumb events lst", `unknown command "lst" for "plumb events"`},
		{"plumb findings suppress", "accepts 1 arg(s), received 0"},
		{"plumb version extra", `unknown command "extra"`},
	}
	for _, tc := range tests {
		exs := shellExamples("```sh\n" + tc.line + "\n```\n")
		if len(exs) != 1 {
			t.Fatalf("%q: %d examples found, want 1", tc.line, len(exs))
		}
		err := parseAgainstTree(exs[0].args)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.line, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: err = %v, want %q", tc.line, err, tc.wantErr)
		}
	}
}

type shellExample struct {
	line int
	args []string // after "plumb"
}

// shellExamples returns the plumb commands of a document's ```sh (bash,
// shell, console) blocks: lines joined at trailing backslashes, split at
// && || ; and |, up to a redirection or a comment.
func shellExamples(doc string) []shellExample {
	var out []shellExample
	inBlock := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	lineNo, start := 0, 0
	var pending strings.Builder
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			lang := strings.TrimPrefix(trimmed, "```")
			if !inBlock {
				inBlock = lang == "sh" || lang == "bash" || lang == "shell" || lang == "console"
			} else {
				inBlock = false
			}
			pending.Reset()
			continue
		}
		if !inBlock {
			continue
		}
		if pending.Len() == 0 {
			start = lineNo
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		pending.WriteString(trimmed)
		cmdline := strings.TrimPrefix(pending.String(), "$ ")
		pending.Reset()
		for _, words := range shellCommands(cmdline) {
			if len(words) > 0 && words[0] == "plumb" {
				out = append(out, shellExample{line: start, args: words[1:]})
			}
		}
	}
	return out
}

// shellCommands splits a command line into its simple commands' words,
// honouring quotes and backslashes as sh does, dropping redirections and
// comments. Variables are kept as written ("$SUB").
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord, redirect := false, false
	endWord := func() {
		if inWord && !redirect {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		cmds = append(cmds, words)
		words, redirect = nil, false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				w.WriteByte(line[i])
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		case c == '#' && !inWord:
			endCmd()
			return cmds
		case c == ' ' || c == '\t':
			endWord()
		case c == ';':
			endCmd()
		case c == '|' || c == '&':
			endCmd()
			if i+1 < len(line) && line[i+1] == c {
				i++
			}
		case c == '>' || c == '<':
			// A redirection: the rest of this command is its target.
			if inWord && strings.Trim(w.String(), "0123456789") == "" {
				w.Reset()
				inWord = false
			}
			endWord()
			redirect = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

// parseAgainstTree resolves a command line (without "plumb") as cobra
// would run it, without running it: the command must exist, its flags
// parse, and its positional arguments satisfy its Args rule.
func parseAgainstTree(args []string) error {
	root := freshTree()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil
	}
	positional := cmd.Flags().Args()
	if cmd.HasAvailableSubCommands() && !cmd.Runnable() {
		if len(positional) > 0 {
			return fmt.Errorf("unknown command %q for %q", positional[0], cmd.CommandPath())
		}
		return fmt.Errorf("%q needs a subcommand", cmd.CommandPath())
	}
	if !cmd.Runnable() {
		return fmt.Errorf("%q does not run anything", cmd.CommandPath())
	}
	return cmd.ValidateArgs(positional)
}

// TestREADMEListsSupportedTypes: every AWS type the inventory lists is
// named in the README and in docs/resources.md.
func TestREADMEListsSupportedTypes(t *testing.T) {
	readme := mustReadFile(t, filepath.Join(repoRoot, "README.md"))
	resources := mustReadFile(t, filepath.Join(repoRoot, "docs", "resources.md"))
	for _, typ := range aws.NewMapper().Types() {
		word := "`" + typ.Name + "`"
		if !strings.Contains(readme, word) {
			t.Errorf("README.md does not list the supported type %s", word)
		}
		if !strings.Contains(resources, word) {
			t.Errorf("docs/resources.md does not list the supported type %s", word)
		}
	}
}

// TestREADMEPointsAtReferences: the README leads to what a newcomer
// needs: the set-up commands first, the CLI reference, the schema, the
// example configs and every report format.
func TestREADMEPointsAtReferences(t *testing.T) {
	readme := mustReadFile(t, filepath.Join(repoRoot, "README.md"))
	for _, want := range []string{"(docs/cli.md)", "(docs/plumb.schema.json)", "(examples/plumb.yaml)", "(examples/plumb.reference.yaml)", "`sarif`", "plumb config validate"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	for _, link := range regexp.MustCompile(`\]\(((?:docs|examples|internal|bench|cmd)/[^)#]+)`).FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.Join(repoRoot, link[1])); err != nil {
			t.Errorf("README.md links to %s: %v", link[1], err)
		}
	}
	// The three commands come before anything else the reader must do.
	setup, demo, test := strings.Index(readme, "make setup"), strings.Index(readme, "make demo"), strings.Index(readme, "make test")
	firstSection := strings.Index(readme, "\n## ")
	if nextSection := strings.Index(readme[firstSection+1:], "\n## "); nextSection >= 0 {
		firstSection += 1 + nextSection
	}
	if setup < 0 || demo < 0 || test < 0 || !(setup < demo && demo < test) || test > firstSection {
		t.Errorf("README.md must state make setup, make demo and make test first, in that order (at %d, %d, %d)", setup, demo, test)
	}
}

// TestREADMEDemoCounts: the README's numbers for the demo estate are the
// demo configuration's.
func TestREADMEDemoCounts(t *testing.T) {
	readme := mustReadFile(t, filepath.Join(repoRoot, "README.md"))
	main := mustReadFile(t, filepath.Join(repoRoot, "internal", "demo", "terraform", "main.tf"))
	resources := len(regexp.MustCompile(`(?m)^resource "`).FindAllString(main, -1))
	rules := len(regexp.MustCompile(`(?m)^resource "aws_(security_group_rule|vpc_security_group_(ingress|egress)_rule)"`).FindAllString(main, -1))
	want := fmt.Sprintf("%d Terraform resources, which plumb counts as %d managed resources", resources, resources-rules)
	if !strings.Contains(strings.Join(strings.Fields(readme), " "), want) {
		t.Errorf("README.md does not say %q", want)
	}
}

// TestVersionFlag: plumb --version prints what plumb version prints.
func TestVersionFlag(t *testing.T) {
	code1, v1, _ := cli("version")
	code2, v2, errOut := cli("--version")
	if code1 != 0 || code2 != 0 || v1 != v2 || !strings.HasPrefix(v1, "plumb ") {
		t.Errorf("plumb version = %d %q, plumb --version = %d %q %q", code1, v1, code2, v2, errOut)
	}
}

// TestEnvDefaultsDoNotLeakIntoDocs: defaults read from the environment
// are applied, but help and the reference show the fixed default.
func TestEnvDefaultsDoNotLeakIntoDocs(t *testing.T) {
	t.Setenv("PLUMB_SERVER", "http://plumb.example:9999")
	t.Setenv("USER", "someone-else")
	root := freshTree()
	for _, tc := range []struct {
		path  []string
		flag  string
		value string
		def   string
	}{
		{[]string{"events", "list"}, "server", "http://plumb.example:9999", "http://127.0.0.1:8080"},
		{[]string{"silence", "add"}, "author", "someone-else", ""},
	} {
		cmd, _, err := root.Find(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var f *pflag.Flag
		if f = cmd.Flags().Lookup(tc.flag); f == nil {
			f = cmd.InheritedFlags().Lookup(tc.flag)
		}
		if f == nil {
			t.Fatalf("%v has no --%s", tc.path, tc.flag)
		}
		if f.Value.String() != tc.value || f.DefValue != tc.def {
			t.Errorf("--%s: value %q (want %q from the environment), documented default %q (want %q)", tc.flag, f.Value, tc.value, f.DefValue, tc.def)
		}
	}
	var doc bytes.Buffer
	if err := renderCLIDoc(&doc); err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"plumb.example", "someone-else"} {
		if strings.Contains(doc.String(), leak) {
			t.Errorf("the reference contains %q from the environment", leak)
		}
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
