package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// policyFinding builds a policy violation the way the policy engine does.
func policyFinding(rule string, sev model.Severity, security bool, controls map[string][]string, r model.Resource, addr, file string, line int, msg string) model.Finding {
	return model.Finding{
		Kind:        model.KindPolicyViolation,
		Severity:    sev,
		Fingerprint: model.Fingerprint(model.KindPolicyViolation, "ci", r.Provider, r.Type, r.Region, r.ID, rule),
		Environment: "ci",
		Resource:    r,
		Address:     ptr(addr),
		Changes:     []model.Change{},
		Message:     msg,
		Rule:        rule,
		Controls:    controls,
		Security:    security,
		File:        file,
		Line:        line,
	}
}

// policyReport is what plumb check produces for a plan with two security
// violations in two files, a non-security one without a known location,
// one drift finding (no rule) and one rule that found nothing.
func policyReport() *Report {
	pci := map[string][]string{"pci-dss-4.0": {"1.3.1", "1.3.2"}}
	return &Report{
		Version:     Version,
		Environment: "ci",
		StartedAt:   started,
		DurationMS:  120,
		ToolVersion: "1.2.3",
		Summary:     model.Summary{Managed: 4},
		Rules: []RuleInfo{
			{ID: "sg-no-public-ssh", Title: "Security groups do not allow SSH from the internet", Remediation: "Restrict ingress on port 22 to known CIDRs.", Severity: "high", Controls: pci, Security: true},
			{ID: "ebs-encrypted", Title: "EBS volumes are encrypted at rest", Remediation: "Set encrypted = true.", Severity: "critical", Controls: map[string][]string{"pci-dss-4.0": {"3.5.1"}}, Security: true},
			{ID: "tags-owner", Title: "Resources carry an owner tag", Severity: "low"},
			{ID: "s3-versioning", Title: "S3 buckets keep versions", Severity: "medium"},
		},
		Findings: []model.Finding{
			policyFinding("sg-no-public-ssh", model.SeverityHigh, true, pci, model.Resource{
				Provider: "aws", Type: "aws_security_group", ID: "aws_security_group.ssh", Region: "us-east-1", Name: "ssh", Tags: map[string]string{},
			}, "aws_security_group.ssh", "main.tf", 21, "Security group allows SSH from 0.0.0.0/0 (ssh)"),
			policyFinding("ebs-encrypted", model.SeverityCritical, true, map[string][]string{"pci-dss-4.0": {"3.5.1"}}, model.Resource{
				Provider: "aws", Type: "aws_ebs_volume", ID: `module.data.aws_ebs_volume.logs["a"]`, Region: "us-east-1", Name: "logs",
			}, `module.data.aws_ebs_volume.logs["a"]`, "modules/data/volumes.tf", 3, "EBS volume is not encrypted (logs)"),
			policyFinding("tags-owner", model.SeverityLow, false, nil, model.Resource{
				Provider: "aws", Type: "aws_sqs_queue", ID: "aws_sqs_queue.jobs", Region: "us-east-1", Name: "jobs",
			}, "aws_sqs_queue.jobs", "", 0, "Resource has no owner tag (jobs)"),
			finding(model.KindUnmanaged, model.SeverityMedium, "ci", model.Resource{
				Provider: "aws", Type: "aws_s3_bucket", ID: "logs-tmp", Region: "us-east-1", Tags: map[string]string{},
			}, nil, "Undefined resource exists (logs-tmp)"),
		},
		Errors: []inventory.ScopeError{
			{Scope: "policy/tags-owner/aws_sqs_queue.jobs", Message: "no such key: tags"},
		},
	}
}

func renderSARIFDoc(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, FormatSARIF, r); err != nil {
		t.Fatalf("Render sarif: %v", err)
	}
	return buf.Bytes()
}

func TestSARIFGolden(t *testing.T) {
	got := renderSARIFDoc(t, policyReport())
	path := filepath.Join("testdata", "golden", "policy.sarif.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("sarif differs from %s (run with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// sarifSchema compiles the official OASIS SARIF 2.1.0 schema shipped in
// testdata, with format assertions on, so uri and uri-reference values are
// checked too.
func sarifSchemaForTest(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-2.1.0.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func validateSARIF(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := sarifSchemaForTest(t)
	reports := map[string]func() *Report{
		"empty": emptyReport, "kinds": kindsReport, "tricky": trickyReport, "policy": policyReport,
	}
	for name, mk := range reports {
		t.Run(name, func(t *testing.T) {
			if err := validateSARIF(t, sch, renderSARIFDoc(t, mk())); err != nil {
				t.Errorf("SARIF output does not validate against the 2.1.0 schema:\n%v", err)
			}
		})
	}
	// The validator must be able to fail, or the test above proves
	// nothing: an unknown level and a zero startLine are both invalid.
	bad := strings.Replace(string(renderSARIFDoc(t, policyReport())), `"level": "error"`, `"level": "fatal"`, 1)
	bad = strings.Replace(bad, `"startLine": 21`, `"startLine": 0`, 1)
	err := validateSARIF(t, sch, []byte(bad))
	if err == nil {
		t.Fatal("schema accepted a document with level fatal and startLine 0")
	}
	for _, want := range []string{"level", "startLine"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("schema error does not mention %s:\n%v", want, err)
		}
	}
}

// sarifDoc is the part of a SARIF log the assertions below read.
type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Rules   []struct {
					ID               string `json:"id"`
					ShortDescription *struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful bool `json:"executionSuccessful"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					FullyQualifiedName string `json:"fullyQualifiedName"`
					Kind               string `json:"kind"`
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          map[string]any    `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func TestSARIFContent(t *testing.T) {
	r := policyReport()
	var doc sarifDoc
	if err := json.Unmarshal(renderSARIFDoc(t, r), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(doc.Runs))
	}
	run := doc.Runs[0]
	if run.Tool.Driver.Name != "plumb" || run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver = %s %s", run.Tool.Driver.Name, run.Tool.Driver.Version)
	}
	if len(run.Invocations) != 1 || run.Invocations[0].ExecutionSuccessful {
		t.Errorf("a report with errors must say executionSuccessful=false: %+v", run.Invocations)
	}
	// Every rule the report knows is listed, plus the synthetic drift rule.
	var ruleIDs []string
	for _, rule := range run.Tool.Driver.Rules {
		ruleIDs = append(ruleIDs, rule.ID)
	}
	if got, want := strings.Join(ruleIDs, ","), "drift.unmanaged,ebs-encrypted,s3-versioning,sg-no-public-ssh,tags-owner"; got != want {
		t.Errorf("rules = %s, want %s", got, want)
	}
	if len(run.Results) != 4 {
		t.Fatalf("results = %d, want 4", len(run.Results))
	}
	byRule := map[string]int{}
	for i, res := range run.Results {
		byRule[res.RuleID] = i
		if rule := run.Tool.Driver.Rules[res.RuleIndex]; rule.ID != res.RuleID {
			t.Errorf("result %s has ruleIndex %d pointing at %s", res.RuleID, res.RuleIndex, rule.ID)
		}
		if len(res.PartialFingerprints) != 1 {
			t.Errorf("result %s: partialFingerprints = %v", res.RuleID, res.PartialFingerprints)
		}
	}

	ssh := run.Results[byRule["sg-no-public-ssh"]]
	if ssh.Level != "error" {
		t.Errorf("high severity level = %s, want error", ssh.Level)
	}
	loc := ssh.Locations[0]
	if loc.PhysicalLocation == nil || loc.PhysicalLocation.ArtifactLocation.URI != "main.tf" ||
		loc.PhysicalLocation.ArtifactLocation.URIBaseID != "%SRCROOT%" || loc.PhysicalLocation.Region == nil ||
		loc.PhysicalLocation.Region.StartLine != 21 {
		t.Errorf("ssh location = %+v", loc.PhysicalLocation)
	}
	if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName != "aws_security_group.ssh" || loc.LogicalLocations[0].Kind != "resource" {
		t.Errorf("ssh logical location = %+v", loc.LogicalLocations)
	}
	if ssh.Properties["security-severity"] != "8.0" {
		t.Errorf("ssh security-severity = %v, want 8.0", ssh.Properties["security-severity"])
	}
	if ebs := run.Results[byRule["ebs-encrypted"]]; ebs.Properties["security-severity"] != "9.5" ||
		ebs.Locations[0].PhysicalLocation.ArtifactLocation.URI != "modules/data/volumes.tf" {
		t.Errorf("ebs result = %+v", ebs)
	}
	// A rule that is not about security carries no security-severity, and
	// a resource without a known file has only a logical location.
	owner := run.Results[byRule["tags-owner"]]
	if owner.Level != "note" || owner.Properties["security-severity"] != nil || owner.Locations[0].PhysicalLocation != nil {
		t.Errorf("owner result = %+v", owner)
	}
	drift := run.Results[byRule["drift.unmanaged"]]
	if drift.Level != "warning" || drift.Locations[0].LogicalLocations[0].FullyQualifiedName != "aws_s3_bucket/logs-tmp" {
		t.Errorf("drift result = %+v", drift)
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.ID == "sg-no-public-ssh" {
			if rule.ShortDescription == nil || rule.ShortDescription.Text != "Security groups do not allow SSH from the internet" {
				t.Errorf("rule shortDescription = %+v", rule.ShortDescription)
			}
			if rule.Properties["security-severity"] != "8.0" || !strings.Contains(formatValue(rule.Properties["tags"]), "security") {
				t.Errorf("rule properties = %v", rule.Properties)
			}
		}
	}
}

func TestSARIFLevels(t *testing.T) {
	for sev, want := range map[model.Severity]string{
		model.SeverityCritical: "error", model.SeverityHigh: "error",
		model.SeverityMedium: "warning", model.SeverityLow: "note", "bogus": "warning",
	} {
		if got := sarifLevel(sev); got != want {
			t.Errorf("sarifLevel(%s) = %s, want %s", sev, got, want)
		}
	}
}

// TestSARIFAndJSONPolicyFields checks the finding fields policy findings add to
// the JSON contract, and that drift findings still leave them out.
func TestSARIFAndJSONPolicyFields(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, FormatJSON, policyReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Findings {
		switch f["kind"] {
		case "drift.unmanaged":
			for _, k := range []string{"rule", "controls", "security", "file", "line"} {
				if _, ok := f[k]; ok {
					t.Errorf("drift finding has %s", k)
				}
			}
		case "policy.violation":
			if f["rule"] == "sg-no-public-ssh" {
				if f["file"] != "main.tf" || f["line"] != float64(21) || f["security"] != true {
					t.Errorf("ssh finding = %v", f)
				}
				if c, _ := f["controls"].(map[string]any); len(c) != 1 {
					t.Errorf("controls = %v", f["controls"])
				}
			}
		}
	}
}

func TestSARIFFileURIIsEscaped(t *testing.T) {
	loc := sarifLocationOf(model.Finding{File: "envs/prod east/main#1.tf", Line: 4, Address: ptr("aws_vpc.main")})
	if got := loc.PhysicalLocation.ArtifactLocation.URI; got != "envs/prod%20east/main%231.tf" {
		t.Errorf("uri = %q", got)
	}
}
