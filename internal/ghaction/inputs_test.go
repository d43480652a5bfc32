package ghaction

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReadInputs(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(Inputs) bool
		wantErr string
	}{
		{"defaults", nil, func(in Inputs) bool {
			return in.Command == "scan" && in.Summary && in.FailOnFindings && !in.Notify && !in.SARIF && len(in.Args) == 0
		}, ""},
		{"lists", map[string]string{
			"PLUMB_INPUT_STATES":        "envs/prod/*.tfstate\n\n  s3://b/k.tfstate  \n",
			"PLUMB_INPUT_PACKS":         "cis-aws-3.0, pci-dss-4.0\nx",
			"PLUMB_INPUT_TERRAFORM_DIR": "infra/a b",
			"PLUMB_INPUT_ARGS":          `--region eu-west-1 --type 'aws_s3_bucket'`,
		}, func(in Inputs) bool {
			return slices.Equal(in.States, []string{"envs/prod/*.tfstate", "s3://b/k.tfstate"}) &&
				slices.Equal(in.Packs, []string{"cis-aws-3.0", "pci-dss-4.0", "x"}) &&
				slices.Equal(in.TerraformDirs, []string{"infra/a b"}) &&
				slices.Equal(in.Args, []string{"--region", "eu-west-1", "--type", "aws_s3_bucket"})
		}, ""},
		{"booleans", map[string]string{"PLUMB_INPUT_SARIF": "TRUE", "PLUMB_INPUT_SUMMARY": "False", "PLUMB_INPUT_FAIL_ON_FINDINGS": "false",
			"PLUMB_INPUT_NOTIFY": "true", "PLUMB_INPUT_CONFIG": "plumb.yaml"},
			func(in Inputs) bool { return in.SARIF && !in.Summary && !in.FailOnFindings && in.Notify }, ""},
		{"not a boolean", map[string]string{"PLUMB_INPUT_SARIF": "yes"}, nil, `input sarif: "yes" is not a boolean`},
		{"notify without config", map[string]string{"PLUMB_INPUT_NOTIFY": "true"}, nil, "input notify: true needs input config"},
		{"unknown command", map[string]string{"PLUMB_INPUT_COMMAND": "plan"}, nil, `input command: "plan" is not scan or check`},
		{"check", map[string]string{"PLUMB_INPUT_COMMAND": "Check", "PLUMB_INPUT_PLAN": "plan.json", "PLUMB_INPUT_POLICIES": "rules/"},
			func(in Inputs) bool { return in.Command == "check" && slices.Equal(in.Plans, []string{"plan.json"}) }, ""},
		{"check two plans", map[string]string{"PLUMB_INPUT_COMMAND": "check", "PLUMB_INPUT_PLAN": "a.json\nb.json", "PLUMB_INPUT_PACKS": "cis-aws-3.0"},
			nil, "plumb check takes exactly one plan JSON, got 2"},
		{"check without rules", map[string]string{"PLUMB_INPUT_COMMAND": "check", "PLUMB_INPUT_PLAN": "a.json"},
			nil, "needs at least one pack or policy file"},
		{"check with scan inputs", map[string]string{"PLUMB_INPUT_COMMAND": "check", "PLUMB_INPUT_PLAN": "a.json", "PLUMB_INPUT_PACKS": "cis-aws-3.0",
			"PLUMB_INPUT_STATES": "x.tfstate"}, nil, "input states is not used by plumb check"},
		{"bad args", map[string]string{"PLUMB_INPUT_ARGS": `--region 'eu`}, nil, "input args: unterminated single quote at character 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ReadInputs(envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(in) {
				t.Errorf("inputs = %+v", in)
			}
		})
	}
}

func TestArgv(t *testing.T) {
	r := Reports{JSON: "/t/r.json", Markdown: "/t/r.md"}
	tests := []struct {
		name string
		in   Inputs
		r    Reports
		want string
	}{
		{"scan", Inputs{Command: "scan", States: []string{"a.tfstate", "b c.tfstate"}, Env: "prod", Packs: []string{"cis-aws-3.0"},
			Config: "plumb.yaml", Notify: true, DataDir: ".plumb", Args: []string{"--region", "eu-west-1"}}, r,
			"scan|--state|a.tfstate|--state|b c.tfstate|--pack|cis-aws-3.0|--env|prod|--config|plumb.yaml|--notify|--data-dir|.plumb|-o|table|-o|json=/t/r.json|-o|markdown=/t/r.md|--region|eu-west-1"},
		{"scan sources", Inputs{Command: "scan", TerraformDirs: []string{"infra"}, Workspace: "prod", Plans: []string{"p.json"}, WhatIfs: []string{"w.json"}}, r,
			"scan|--terraform-dir|infra|--workspace|prod|--plan|p.json|--whatif|w.json|-o|table|-o|json=/t/r.json|-o|markdown=/t/r.md"},
		{"check with sarif", Inputs{Command: "check", Plans: []string{"plan.json"}, Policies: []string{"rules/"}},
			Reports{JSON: "/t/r.json", Markdown: "/t/r.md", SARIF: "/t/r.sarif"},
			"check|plan.json|--policy|rules/|-o|table|-o|json=/t/r.json|-o|markdown=/t/r.md|-o|sarif=/t/r.sarif"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.in.Argv(tc.r), "|"); got != tc.want {
				t.Errorf("argv\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"  \n ", nil, ""},
		{"--region eu-west-1", []string{"--region", "eu-west-1"}, ""},
		{"a\n\tb", []string{"a", "b"}, ""},
		{`'a b' "c d"`, []string{"a b", "c d"}, ""},
		{`''`, []string{""}, ""},
		{`x''y`, []string{"xy"}, ""},
		{`'$HOME' "$HOME"`, []string{"$HOME", "$HOME"}, ""},
		{`"a \"b\" \\ \$ \x"`, []string{`a "b" \ $ \x`}, ""},
		{`a\ b`, []string{"a b"}, ""},
		{"a\\\nb", []string{"ab"}, ""},
		{`it's`, nil, "unterminated single quote at character 3"},
		{`"open`, nil, "unterminated double quote at character 1"},
		{`end\`, nil, "trailing backslash at character 4"},
		{"ümlaut 'ß'", []string{"ümlaut", "ß"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SplitArgs(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzSplitArgs checks that splitting never panics and that quoting the
// words it returns and splitting again gives the same words.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"--region eu-west-1", `'a b' "c \" d"`, `a\ b`, "x\\\ny", `''`, `"unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitArgs(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = QuoteArg(w)
		}
		again, err := SplitArgs(strings.Join(quoted, " "))
		if err != nil {
			t.Fatalf("re-split of %q: %v", quoted, err)
		}
		if !slices.Equal(words, again) {
			t.Fatalf("round trip: %q -> %q", words, again)
		}
	})
}

// parseOutputs reads a GITHUB_OUTPUT file the way the runner does.
func parseOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ls := strings.Split(data, "\n")
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(ls) && ls[i] != delim; i++ {
				val = append(val, ls[i])
			}
			if i == len(ls) {
				t.Fatalf("delimiter %s never closes", delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, _ := strings.Cut(l, "=")
		out[name] = val
	}
	return out
}

func TestWriteOutputs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(p, []byte("earlier=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := "line1\nghadelimiter_x\nother=injected"
	if err := WriteOutputs(p, []Output{{"findings", "3"}, {"report-json", "/tmp/a b/r.json"}, {"multi", evil}, {"empty", ""}}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	got := parseOutputs(t, string(data))
	want := map[string]string{"earlier": "1", "findings": "3", "report-json": "/tmp/a b/r.json", "multi": evil, "empty": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("outputs %v", got)
	}
	if !regexp.MustCompile(`findings<<ghadelimiter_[0-9a-f]{32}\n3\n`).Match(data) {
		t.Errorf("not the delimiter syntax:\n%s", data)
	}
	if err := WriteOutputs(p, []Output{{"bad name", "x"}}); err == nil {
		t.Error("an output name with a space was accepted")
	}
	if err := WriteOutputs("", []Output{{"a", "b"}}); err == nil || !strings.Contains(err.Error(), "GITHUB_OUTPUT is not set") {
		t.Errorf("err = %v", err)
	}
}

func TestAppendSummaryCutsLongReports(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "summary.md")
	short := "# plumb\n\nnothing found\n"
	if err := AppendSummary(p, short, "/r.md"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("| aws_s3_bucket | bucket-with-a-long-name | Undefined resource exists |\n", 20000) // ~1.4 MB
	if err := AppendSummary(p, long, "/tmp/report.md"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if len(data) > SummaryLimit {
		t.Errorf("summary is %d bytes, over the %d limit", len(data), SummaryLimit)
	}
	s := string(data)
	if !strings.HasPrefix(s, short) || !strings.Contains(s, "more than a job summary holds") || !strings.Contains(s, "/tmp/report.md") {
		t.Errorf("summary head/tail: %q ... %q", s[:40], s[len(s)-200:])
	}
	// Cut at a line boundary: the last table row is whole.
	body := strings.TrimSuffix(s[:strings.LastIndex(s, "\n\n_The report")], "\n")
	if !strings.HasSuffix(body, "Undefined resource exists |") {
		t.Errorf("cut inside a line: %q", body[len(body)-60:])
	}
}

func TestRebaseSARIF(t *testing.T) {
	const log = `{"version":"2.1.0","runs":[{"results":[
 {"ruleId":"a","locations":[{"physicalLocation":{"artifactLocation":{"uri":"main.tf","uriBaseId":"%SRCROOT%"},"region":{"startLine":36}}}]},
 {"ruleId":"b","locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///abs.tf"}}}]},
 {"ruleId":"c","locations":[{"logicalLocations":[{"fullyQualifiedName":"aws_s3_bucket.x"}]}]}]}]}`
	tests := []struct {
		prefix  string
		n       int
		want    []string
		wantErr string
	}{
		{"infra/prod", 1, []string{`"uri": "infra/prod/main.tf"`, `"uri": "file:///abs.tf"`, `"startLine": 36`}, ""},
		{".", 0, []string{`"uri":"main.tf"`}, ""},
		{"", 0, []string{`"uri":"main.tf"`}, ""},
		{"../elsewhere", 0, nil, "outside the repository"},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.sarif")
			if err := os.WriteFile(p, []byte(log), 0o644); err != nil {
				t.Fatal(err)
			}
			n, err := RebaseSARIF(p, tc.prefix)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || n != tc.n {
				t.Fatalf("n = %d, err = %v", n, err)
			}
			data, _ := os.ReadFile(p)
			for _, w := range tc.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("SARIF lacks %s:\n%s", w, data)
				}
			}
		})
	}
}
