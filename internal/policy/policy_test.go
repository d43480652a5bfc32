package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"plumb/internal/model"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodRule = `rules:
  - id: ebs
    resource: aws_ebs_volume
    deny: '!has(resource.encrypted) || resource.encrypted != true'
    severity: high
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // substrings after "FILE:"
	}{
		{"syntax", "rules:\n  - id: a\n\t- id: b\n", []string{":2: invalid YAML: found a tab character"}},
		{"not a mapping", "- a\n- b\n", []string{":1: want a mapping"}},
		{"unknown top key", "rule: []\n", []string{`:1: unknown key "rule"`}},
		{"rules not list", "rules: {}\n", []string{":1: `rules` must be a list"}},
		{"unknown rule key", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n    severty: high\n", []string{`:5: unknown key "severty" in rule`}},
		{"missing id", "rules:\n  - resource: aws_s3_bucket\n    deny: 'true'\n", []string{":2: rule has no id"}},
		{"missing deny", "rules:\n  - id: a\n    resource: aws_s3_bucket\n", []string{":2: rule a: missing deny"}},
		{"missing resource", "rules:\n  - id: a\n    deny: 'true'\n", []string{":2: rule a: missing resource"}},
		{"bad severity", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n    severity: urgent\n", []string{`:5: severity "urgent"`}},
		{"bad type", "rules:\n  - id: a\n    resource: [aws_s3_bucket, S3]\n    deny: 'true'\n", []string{`:3: invalid Terraform type "S3"`}},
		{"duplicate id", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'false'\n", []string{`:5: duplicate rule id "a"`}},
		{"duplicate key", "rules:\n  - id: a\n    id: b\n    resource: aws_s3_bucket\n    deny: 'true'\n", []string{`:3: duplicate key "id"`}},
		{"security not bool", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n    security: maybe\n", []string{":5: security must be true or false"}},
		{"controls shape", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n    controls: [1.3.1]\n", []string{":5: controls must map"}},
		{"example not map", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'true'\n    examples: {pass: [1]}\n", []string{":5: each example must be a map"}},
		{"two errors", "rules:\n  - id: a\n    resource: aws_s3_bucket\n  - id: b\n    deny: 'true'\n", []string{":2: rule a: missing deny", ":4: rule b: missing resource"}},
		{"cel syntax", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    title: t\n    deny: 'resource.x =='\n", []string{":5: rule a: ERROR: <input>:1:"}},
		{"cel undeclared", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: 'bucket.acl == \"public\"'\n", []string{":4: rule a: ", "undeclared reference to 'bucket'"}},
		{"cel not bool", "rules:\n  - id: a\n    resource: aws_s3_bucket\n    deny: '1 + 2'\n", []string{":4: rule a: deny must be a boolean expression, got int"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "rules.yaml", tt.body)
			_, err := Load([]string{p})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), p+w) && !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), p+":") {
				t.Errorf("error %q does not start with %s:", err, p)
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != p || le.Line == 0 {
				t.Errorf("error %v is not a *LoadError with file and line", err)
			}
		})
	}
}

func TestLoadDirectoryAndDuplicatesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", goodRule)
	writeFile(t, dir, "notes.txt", "not rules")
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, sub, "b.yml", strings.Replace(goodRule, "id: ebs", "id: ebs2", 1))
	s, err := Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != 2 || s.Rule("ebs") == nil || s.Rule("ebs2") == nil {
		t.Fatalf("rules = %v", s.Rules)
	}
	if s.Rule("ebs").DenyLine != 4 || s.Rule("ebs").Line != 2 {
		t.Errorf("lines = %d/%d, want rule 2, deny 4", s.Rule("ebs").Line, s.Rule("ebs").DenyLine)
	}
	writeFile(t, dir, "c.yaml", goodRule)
	_, err = Load([]string{dir})
	if err == nil || !strings.Contains(err.Error(), `c.yaml:2: duplicate rule id "ebs" (first defined at `+filepath.Join(dir, "a.yaml")+":2)") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestOverridePackRule(t *testing.T) {
	pack, err := Builtin("pci-dss-4.0")
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, t.TempDir(), "override.yaml", `rules:
  - id: aws-ebs-volume-encrypted
    title: Only gp3 volumes must be encrypted here
    resource: aws_ebs_volume
    deny: 'has(resource.type) && resource.type == "gp3" && resource.encrypted != true'
    severity: low
  - id: team-extra
    resource: aws_s3_bucket
    deny: 'false'
`)
	s, err := LoadPacks([]string{"pci-dss-4.0"}, []string{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != len(pack.Rules)+1 {
		t.Errorf("rules = %d, want pack %d + 1", len(s.Rules), len(pack.Rules))
	}
	r := s.Rule("aws-ebs-volume-encrypted")
	if r.File != p || r.Severity != model.SeverityLow {
		t.Fatalf("override not applied: %+v", r)
	}
	v, err := s.Check(r, map[string]any{"type": "gp2", "encrypted": false})
	if err != nil || v {
		t.Errorf("override rule: violated=%v err=%v, want the user's logic", v, err)
	}
	if _, err := LoadPacks([]string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), "unknown pack") {
		t.Errorf("unknown pack: %v", err)
	}
}

// TestPackExamples holds every built-in rule to the examples written next
// to it: pass examples must not violate, fail examples must, and neither
// may error.
func TestPackExamples(t *testing.T) {
	if got := Packs(); !reflect.DeepEqual(got, []string{"cis-aws-3.0", "pci-dss-4.0"}) {
		t.Fatalf("Packs() = %v", got)
	}
	all, err := embeddedRules()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 30 {
		t.Errorf("%d built-in rules, want at least 30", len(all))
	}
	for _, name := range Packs() {
		s, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%s): %v", name, err)
		}
		for _, r := range s.Rules {
			t.Run(name+"/"+r.ID, func(t *testing.T) {
				if len(r.Examples.Pass) == 0 || len(r.Examples.Fail) == 0 {
					t.Errorf("rule needs at least one pass and one fail example")
				}
				if len(r.Controls[name]) == 0 || r.Title == "" || r.Message == "" || r.Remediation == "" {
					t.Errorf("rule lacks controls for %s, title, message or remediation", name)
				}
				for i, ex := range r.Examples.Pass {
					if v, err := s.CheckExample(r, ex); err != nil || v {
						t.Errorf("pass example %d: violated=%v err=%v", i, v, err)
					}
				}
				for i, ex := range r.Examples.Fail {
					if v, err := s.CheckExample(r, ex); err != nil || !v {
						t.Errorf("fail example %d: violated=%v err=%v", i, v, err)
					}
				}
			})
		}
	}
	// Every rule sits in the file of a standard it implements.
	for _, r := range all {
		std := strings.TrimSuffix(filepath.Base(r.File), ".yaml")
		if len(r.Controls[std]) == 0 {
			t.Errorf("%s (%s) has no %s control", r.ID, r.File, std)
		}
	}
}

func compileOne(t *testing.T, deny string, types ...string) *Set {
	t.Helper()
	if len(types) == 0 {
		types = []string{"aws_thing"}
	}
	s, err := Compile([]*Rule{{ID: "r1", Resources: types, Deny: deny, Severity: model.SeverityMedium, File: "x.yaml", Line: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEvaluationErrors(t *testing.T) {
	tests := []struct {
		name, deny string
		attrs      map[string]any
		violated   bool
		errWant    string
	}{
		{"violated", `resource.encrypted != true`, map[string]any{"encrypted": false}, true, ""},
		{"passes", `resource.encrypted != true`, map[string]any{"encrypted": true}, false, ""},
		{"missing key is an error", `resource.encrypted != true`, map[string]any{}, false, "rule r1 on aws_thing.a: no such key: encrypted"},
		{"has guards", `has(resource.encrypted) && resource.encrypted != true`, map[string]any{}, false, ""},
		{"nil attributes", `has(resource.encrypted)`, nil, false, ""},
		{"null value", `resource.encrypted != true`, map[string]any{"encrypted": nil}, true, ""},
		{"dyn not bool", `resource.size`, map[string]any{"size": 3.0}, false, "deny returned double, want bool"},
		{"bad json", `json(resource.policy).Statement == []`, map[string]any{"policy": "{"}, false, "json: unexpected end of JSON input"},
		{"wrong overload", `resource.size > "a"`, map[string]any{"size": 3.0}, false, "no such overload"},
		{"json works", `json(resource.policy).Statement.exists(s, s.Action == "*")`, map[string]any{"policy": `{"Statement":[{"Action":"*"}]}`}, true, ""},
		{"numbers compare across types", `resource.port == 22 && resource.port <= 22.5`, map[string]any{"port": 22.0}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := compileOne(t, tt.deny)
			out, err := s.Evaluate(context.Background(), []Subject{{Type: "aws_thing", Address: "aws_thing.a", Attributes: tt.attrs}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 {
				t.Fatalf("%d outcomes", len(out))
			}
			o := out[0]
			if o.Violated != tt.violated {
				t.Errorf("violated = %v, want %v", o.Violated, tt.violated)
			}
			switch {
			case tt.errWant == "" && o.Err != nil:
				t.Errorf("unexpected error %v", o.Err)
			case tt.errWant != "" && (o.Err == nil || !strings.Contains(o.Err.Error(), tt.errWant)):
				t.Errorf("err = %v, want %q", o.Err, tt.errWant)
			}
		})
	}
}

func TestCostLimitStopsPathologicalRule(t *testing.T) {
	// Three nested loops over 200 items: 8,000,000 iterations.
	s := compileOne(t, `resource.items.exists(a, resource.items.exists(b, resource.items.exists(c, a + b + c < 0)))`)
	items := make([]any, 200)
	for i := range items {
		items[i] = float64(i)
	}
	out, err := s.Evaluate(context.Background(), []Subject{{Type: "aws_thing", ID: "big", Attributes: map[string]any{"items": items}}})
	if err != nil {
		t.Fatal(err)
	}
	o := out[0]
	if !errors.Is(o.Err, ErrCostLimit) || o.Violated {
		t.Fatalf("outcome = %+v, want a cost limit error", o)
	}
	if !strings.Contains(o.Err.Error(), "rule r1 on big") {
		t.Errorf("error %q does not name the rule and the resource", o.Err)
	}
	// The same rule on a small list finishes.
	out, _ = s.Evaluate(context.Background(), []Subject{{Type: "aws_thing", ID: "small", Attributes: map[string]any{"items": items[:5]}}})
	if out[0].Err != nil {
		t.Errorf("small input: %v", out[0].Err)
	}
}

func TestEvaluateIndexesOrdersAndParallelises(t *testing.T) {
	rules := []*Rule{
		{ID: "a", Resources: []string{"t1", "t2"}, Deny: `resource.n > 5`, Severity: "low"},
		{ID: "b", Resources: []string{"t1"}, Deny: `resource.n % 2 == 0`, Severity: "low"},
		{ID: "c", Resources: []string{"t3"}, Deny: `true`, Severity: "low"},
	}
	s, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	var subs []Subject
	for i := range 3000 {
		subs = append(subs, Subject{Type: []string{"t1", "t2", "t9"}[i%3], Attributes: map[string]any{"n": i % 10}})
	}
	one, err := s.EvaluateWorkers(context.Background(), subs, 1)
	if err != nil {
		t.Fatal(err)
	}
	many, err := s.EvaluateWorkers(context.Background(), subs, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 3000 { // t1: 2 rules, t2: 1, t9: none
		t.Fatalf("%d outcomes, want 3000", len(one))
	}
	for i := range one {
		if one[i].Rule != many[i].Rule || one[i].Subject != many[i].Subject || one[i].Violated != many[i].Violated || one[i].Err != nil {
			t.Fatalf("outcome %d differs: %+v vs %+v", i, one[i], many[i])
		}
	}
	if one[0].Rule.ID != "a" || one[1].Rule.ID != "b" || one[2].Subject != &subs[1] {
		t.Errorf("order: %s %s", one[0].Rule.ID, one[1].Rule.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Evaluate(ctx, subs); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	// A Set literal compiles on first use, and reports compile errors.
	lit := &Set{Rules: []*Rule{{ID: "x", Resources: []string{"t1"}, Deny: `resource.`, Severity: "low", File: "f.yaml", Line: 7}}}
	if _, err := lit.Evaluate(context.Background(), subs); err == nil || !strings.HasPrefix(err.Error(), "f.yaml:7: rule x:") {
		t.Errorf("literal set: %v", err)
	}
}

func TestFindings(t *testing.T) {
	rule := &Rule{
		ID: "aws-ebs-volume-encrypted", Resources: []string{"aws_ebs_volume"},
		Deny: `resource.encrypted != true`, Message: "EBS volume is not encrypted",
		Severity: model.SeverityHigh, Security: true,
		Controls: map[string][]string{"pci-dss-4.0": {"3.5.1"}},
	}
	s, err := Compile([]*Rule{rule})
	if err != nil {
		t.Fatal(err)
	}
	subs := []Subject{
		{Provider: "aws", Type: "aws_ebs_volume", Address: "aws_ebs_volume.data", Region: "us-east-1",
			Attributes: map[string]any{"encrypted": false}, File: "main.tf", Line: 12},
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-0abc", Name: "logs", Region: "us-east-1",
			Tags: map[string]string{"Name": "logs"}, Attributes: map[string]any{"encrypted": false}},
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-ok", Attributes: map[string]any{"encrypted": true}},
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-unknown", Attributes: map[string]any{}},
	}
	out, err := s.Evaluate(context.Background(), subs)
	if err != nil {
		t.Fatal(err)
	}
	fs := Findings(out, "prod")
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2 (no finding for a pass or an error)", len(fs))
	}
	planned := fs[0]
	if planned.Kind != model.KindPolicyViolation || planned.Severity != model.SeverityHigh || planned.Rule != rule.ID ||
		!planned.Security || planned.Environment != "prod" || planned.File != "main.tf" || planned.Line != 12 {
		t.Errorf("finding = %+v", planned)
	}
	if planned.Resource.ID != "aws_ebs_volume.data" || planned.Address == nil || *planned.Address != "aws_ebs_volume.data" {
		t.Errorf("planned resource id/address = %q/%v", planned.Resource.ID, planned.Address)
	}
	if planned.Message != "EBS volume is not encrypted (aws_ebs_volume.data)" {
		t.Errorf("message = %q", planned.Message)
	}
	if planned.Changes == nil || len(planned.Changes) != 0 {
		t.Errorf("changes = %#v, want an empty slice", planned.Changes)
	}
	if !reflect.DeepEqual(planned.Controls, rule.Controls) {
		t.Errorf("controls = %v", planned.Controls)
	}
	live := fs[1]
	if live.Address != nil || live.Resource.ID != "vol-0abc" || live.Message != "EBS volume is not encrypted (logs)" || live.Resource.Tags["Name"] != "logs" {
		t.Errorf("live finding = %+v", live)
	}
	want := model.Fingerprint(model.KindPolicyViolation, "prod", "aws", "aws_ebs_volume", "us-east-1", "vol-0abc", rule.ID)
	if live.Fingerprint != want {
		t.Errorf("fingerprint = %s, want %s", live.Fingerprint, want)
	}
	// Stable across runs and attribute values; different per rule and env.
	subs[1].Attributes = map[string]any{"encrypted": false, "size": 100.0}
	out2, _ := s.Evaluate(context.Background(), subs)
	if again := Findings(out2, "prod"); again[1].Fingerprint != live.Fingerprint {
		t.Error("fingerprint changed with attribute values")
	}
	if other := Findings(out, "staging"); other[1].Fingerprint == live.Fingerprint {
		t.Error("fingerprint ignores the environment")
	}
	if planned.Fingerprint == live.Fingerprint {
		t.Error("two resources share a fingerprint")
	}
}

func TestSummarize(t *testing.T) {
	rules := []*Rule{
		{ID: "enc", Resources: []string{"aws_ebs_volume"}, Deny: `resource.encrypted != true`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"3.5.1"}, "cis-aws-3.0": {"2.2.1"}}},
		{ID: "sg", Resources: []string{"aws_security_group"}, Deny: `false`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"1.3.1", "1.3.10"}}},
		{ID: "trail", Resources: []string{"aws_cloudtrail"}, Deny: `false`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"10.2.1"}}},
		{ID: "kms", Resources: []string{"aws_kms_key"}, Deny: `resource.enable_key_rotation != true`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"3.6.1"}}},
		{ID: "cis-only", Resources: []string{"aws_ebs_volume"}, Deny: `false`, Severity: "low",
			Controls: map[string][]string{"cis-aws-3.0": {"2.2.1"}}},
	}
	s, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	subs := []Subject{
		{Type: "aws_ebs_volume", ID: "vol-1", Attributes: map[string]any{"encrypted": true}},
		{Type: "aws_ebs_volume", ID: "vol-2", Attributes: map[string]any{"encrypted": false}},
		{Type: "aws_security_group", Address: "aws_security_group.web"},
		{Type: "aws_kms_key", ID: "key-1", Attributes: map[string]any{}},
	}
	out, err := s.Evaluate(context.Background(), subs)
	if err != nil {
		t.Fatal(err)
	}
	c := Summarize("pci-dss-4.0", s, out)
	got := map[string]string{}
	var order []string
	for _, cr := range c.Controls {
		got[cr.Control] = cr.Status
		order = append(order, cr.Control)
		if cr.Standard != "pci-dss-4.0" {
			t.Errorf("standard = %s", cr.Standard)
		}
	}
	want := map[string]string{"1.3.1": StatusPass, "1.3.10": StatusPass, "3.5.1": StatusFail, "3.6.1": StatusError, "10.2.1": StatusNotEvaluated}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(order, []string{"1.3.1", "1.3.10", "3.5.1", "3.6.1", "10.2.1"}) {
		t.Errorf("order = %v", order)
	}
	enc := c.Controls[2]
	if len(enc.Failing) != 1 || enc.Failing[0].Label != "vol-2" || len(enc.Passing) != 1 || enc.Passing[0].Label != "vol-1" {
		t.Errorf("3.5.1 evidence = %+v", enc)
	}
	if n := c.Counts(); n[StatusPass] != 2 || n[StatusFail] != 1 || n[StatusError] != 1 || n[StatusNotEvaluated] != 1 {
		t.Errorf("counts = %v", n)
	}
	cis := Summarize("cis-aws-3.0", s, out)
	if len(cis.Controls) != 1 || cis.Controls[0].Status != StatusFail || !reflect.DeepEqual(cis.Controls[0].Rules, []string{"cis-only", "enc"}) {
		t.Errorf("cis = %+v", cis.Controls)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodRule))
	f.Add([]byte("rules: []\n"))
	f.Add([]byte("rules:\n  - id: a\n    resource: [aws_s3_bucket]\n    deny: 'resource.x.exists(y, y == 1)'\n    controls: {pci-dss-4.0: [\"1.3.1\"]}\n    examples: {pass: [{x: []}], fail: [{x: [1]}]}\n"))
	f.Add([]byte("rules: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := parseFile("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		s, err := Compile(rules)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("compile error without file name: %v", err)
			}
			return
		}
		for _, r := range s.Rules {
			for _, ex := range append(append([]Example{}, r.Examples.Pass...), r.Examples.Fail...) {
				_, _ = s.CheckExample(r, ex)
			}
		}
	})
}
