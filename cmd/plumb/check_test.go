package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"plumb/internal/testenv"
)

// These tests drive the real policy engine (internal/policy) through the
// CLI. They assert on findings, so an engine that evaluates nothing fails
// them rather than passing them vacuously.

const checkRules = "testdata/check/rules.yaml"

// checkSARIF is the part of the SARIF log the tests read.
type checkSARIF struct {
	Runs []struct {
		Results []struct {
			RuleID    string `json:"ruleId"`
			Level     string `json:"level"`
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					FullyQualifiedName string `json:"fullyQualifiedName"`
				} `json:"logicalLocations"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

// violation is one SARIF result reduced to what the tests compare.
type violation struct {
	rule, address, file string
	line                int
}

func readSARIF(t *testing.T, path string) []violation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	validateAgainstSARIFSchema(t, data)
	var doc checkSARIF
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(doc.Runs))
	}
	var out []violation
	for _, r := range doc.Runs[0].Results {
		v := violation{rule: r.RuleID}
		if len(r.Locations) > 0 {
			loc := r.Locations[0]
			if len(loc.LogicalLocations) > 0 {
				v.address = loc.LogicalLocations[0].FullyQualifiedName
			}
			if pl := loc.PhysicalLocation; pl != nil {
				v.file = pl.ArtifactLocation.URI
				if pl.Region != nil {
					v.line = pl.Region.StartLine
				}
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b violation) int { return strings.Compare(a.address, b.address) })
	return out
}

// validateAgainstSARIFSchema checks a log against the official SARIF
// 2.1.0 schema kept with the report package's test data.
func validateAgainstSARIFSchema(t *testing.T, data []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "report", "testdata", "sarif-2.1.0.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-2.1.0.schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-2.1.0.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("SARIF does not validate against the 2.1.0 schema:\n%v", err)
	}
}

func runCheckCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"check"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// copyTree copies a test configuration into a scratch directory, so that
// terraform init and plan write nothing into the source tree.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckRealPlans plans two small configurations with the real
// terraform and AWS provider against moto and checks the plans: the
// compliant one passes, the noncompliant one reports exactly its two
// violations, each pointing at the file and line of the resource block.
func TestCheckRealPlans(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rules, err := filepath.Abs(checkRules)
	if err != nil {
		t.Fatal(err)
	}

	plan := func(t *testing.T, name string) (dir, planJSON string) {
		t.Helper()
		dir = t.TempDir()
		copyTree(t, filepath.Join("testdata", "check", name), dir)
		if _, err := tf.Run(ctx, dir, "init", "-no-color"); err != nil {
			t.Fatal(err)
		}
		if _, err := tf.Run(ctx, dir, "plan", "-no-color", "-var", "endpoint="+moto.Endpoint, "-out=tfplan"); err != nil {
			t.Fatal(err)
		}
		js, err := tf.Run(ctx, dir, "show", "-json", "tfplan")
		if err != nil {
			t.Fatal(err)
		}
		// terraform show prints only the JSON document on stdout; Run
		// merges stderr, which stays empty on success.
		planJSON = filepath.Join(t.TempDir(), "plan.json")
		if err := os.WriteFile(planJSON, js, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, planJSON
	}

	t.Run("noncompliant", func(t *testing.T) {
		dir, planJSON := plan(t, "noncompliant")
		sarif := filepath.Join(t.TempDir(), "plumb.sarif")
		jsonOut := filepath.Join(t.TempDir(), "check.json")
		code, stdout, stderr := runCheckCLI(t, planJSON, "--policy", rules, "--config-dir", dir,
			"-o", "sarif="+sarif, "-o", "json="+jsonOut, "-o", "table")
		if code != exitFindings {
			t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
		}
		got := readSARIF(t, sarif)
		want := []violation{
			{rule: "test-sg-no-public-ssh", address: "aws_security_group.ssh", file: "main.tf", line: 36},
			{rule: "test-ebs-encrypted", address: "module.storage.aws_ebs_volume.data", file: "modules/storage/volumes.tf", line: 3},
		}
		if !slices.Equal(got, want) {
			t.Errorf("violations:\n got %+v\nwant %+v", got, want)
		}
		// The line must really be the resource block in the copied code.
		src, err := os.ReadFile(filepath.Join(dir, "main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		if line := strings.Split(string(src), "\n")[36-1]; !strings.HasPrefix(line, `resource "aws_security_group" "ssh"`) {
			t.Errorf("main.tf:36 is %q, not the security group block", line)
		}

		var rep struct {
			Summary struct {
				Managed int `json:"managed"`
			} `json:"summary"`
			Findings []struct {
				Kind     string              `json:"kind"`
				Rule     string              `json:"rule"`
				Severity string              `json:"severity"`
				Security bool                `json:"security"`
				Controls map[string][]string `json:"controls"`
				File     string              `json:"file"`
				Line     int                 `json:"line"`
			} `json:"findings"`
			Errors []any `json:"errors"`
		}
		data, err := os.ReadFile(jsonOut)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Managed != 3 || len(rep.Errors) != 0 || len(rep.Findings) != 2 {
			t.Fatalf("report = %s", data)
		}
		// Sorted by severity: the critical volume first.
		if f := rep.Findings[0]; f.Kind != "policy.violation" || f.Rule != "test-ebs-encrypted" || f.Severity != "critical" ||
			!f.Security || !slices.Equal(f.Controls["pci-dss-4.0"], []string{"3.5.1"}) || f.File != "modules/storage/volumes.tf" || f.Line != 3 {
			t.Errorf("first finding = %+v", f)
		}
		if !strings.Contains(stdout, "aws_security_group.ssh") {
			t.Errorf("table output does not name the security group:\n%s", stdout)
		}
	})

	t.Run("compliant", func(t *testing.T) {
		dir, planJSON := plan(t, "compliant")
		sarif := filepath.Join(t.TempDir(), "plumb.sarif")
		code, stdout, stderr := runCheckCLI(t, planJSON, "--policy", rules, "--config-dir", dir, "-o", "sarif="+sarif)
		if code != exitOK {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if got := readSARIF(t, sarif); len(got) != 0 {
			t.Errorf("compliant plan has violations: %+v", got)
		}
	})
}

// fixturePlan is a real plan captured for the tfplan tests (the
// noncompliant configuration), so these tests run without terraform.
const fixturePlan = "../../internal/tfplan/testdata/create/plan.json"

func TestCheckFixturePlan(t *testing.T) {
	out := filepath.Join(t.TempDir(), "check.sarif")
	code, stdout, stderr := runCheckCLI(t, fixturePlan, "--policy", checkRules, "-o", "sarif="+out)
	if code != exitFindings {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := readSARIF(t, out)
	if len(got) != 2 || got[0].address != "aws_security_group.ssh" || got[0].file != "main.tf" || got[0].line != 36 ||
		got[1].file != "modules/storage/volumes.tf" || got[1].line != 3 {
		t.Errorf("violations = %+v", got)
	}
}

func TestCheckEvaluationErrors(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "broken.yaml")
	body := `rules:
  - id: needs-missing-attr
    title: Uses an attribute the plan does not have
    resource: aws_vpc
    deny: resource.no_such_attribute == "x"
    message: never
    severity: low
`
	if err := os.WriteFile(rules, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonOut := filepath.Join(t.TempDir(), "check.json")
	code, _, stderr := runCheckCLI(t, fixturePlan, "--policy", rules, "-o", "json="+jsonOut)
	if code != exitError {
		t.Fatalf("exit %d, want 1 (a rule could not be evaluated)\nstderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "--allow-partial") {
		t.Errorf("stderr does not explain --allow-partial: %s", stderr)
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Errors []struct{ Scope, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Scope != "policy/needs-missing-attr/aws_vpc.main" {
		t.Errorf("errors = %+v", rep.Errors)
	}
	if code, _, stderr := runCheckCLI(t, fixturePlan, "--policy", rules, "--allow-partial", "-o", "json="+jsonOut); code != exitOK {
		t.Errorf("with --allow-partial exit %d, want 0\n%s", code, stderr)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no policies", []string{fixturePlan}, "no policies to check: give --pack NAME (built-in: "},
		{"unknown pack", []string{fixturePlan, "--pack", "nope"}, `--pack "nope": unknown pack`},
		{"no plan", []string{"--policy", checkRules}, "nothing to evaluate: give a plan (or state) file"},
		{"missing plan", []string{"does-not-exist.json", "--policy", checkRules}, "does-not-exist.json"},
		{"not a plan", []string{checkRules, "--policy", checkRules}, "malformed JSON"},
		{"bad output", []string{fixturePlan, "--policy", checkRules, "-o", "xml"}, `unknown format "xml"`},
		{"bad config dir", []string{fixturePlan, "--policy", checkRules, "--config-dir", "nope"}, "--config-dir nope: not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCheckCLI(t, c.args...)
			if code != exitError || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, c.want)
			}
		})
	}
	// The no-policies error lists the packs by name.
	_, _, stderr := runCheckCLI(t, fixturePlan)
	if !strings.Contains(stderr, "pci-dss-4.0") {
		t.Errorf("error does not list the built-in packs: %s", stderr)
	}
}

func TestCheckHelp(t *testing.T) {
	code, stdout, _ := runCheckCLI(t, "--help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"terraform show -json", "-o sarif=plumb.sarif", "upload-sarif", "--pack", "--config-dir", "Exit codes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
