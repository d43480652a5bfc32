package tfrevert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/enforce"
)

// The plans in testdata were made by terraform 1.11 with the AWS provider
// 5.100 against moto (terraform plan -target=... -out, terraform show
// -json): a VPC whose env tag was edited by hand; the same with the
// security group targeted while the code also changed the VPC; and the
// group targeted after its description changed in code (a replacement).
func loadPlan(t testing.TB, name string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name, file, address string
		verb                enforce.Verb
		allowReplace        bool
		refusal             []string // "" parts: accepted
		summary             []string
		changes             int
	}{
		{name: "the drifted tag only", file: "plan_update.json", address: "aws_vpc.main", verb: enforce.VerbRevert,
			summary: []string{"aws_vpc.main will be updated in-place", `tags.env: "prod" -> "test"`}, changes: 1},
		{name: "another resource dragged in", file: "plan_touches_other.json", address: "aws_security_group.web", verb: enforce.VerbRevert,
			refusal: []string{"aws_vpc.main would be changed too (update) but is not the drifted resource"}},
		{name: "replacement without allow_replace", file: "plan_replace.json", address: "aws_security_group.web", verb: enforce.VerbRevert,
			refusal: []string{"aws_security_group.web would be replaced", "allow_replace: true", "aws_vpc.main would be changed too"}},
		{name: "replacement allowed, other resource still refused", file: "plan_replace.json", address: "aws_security_group.web", verb: enforce.VerbRevert,
			allowReplace: true, refusal: []string{"aws_vpc.main would be changed too"}},
		{name: "update where a recreate was asked", file: "plan_update.json", address: "aws_vpc.main", verb: enforce.VerbRecreate,
			refusal: []string{"aws_vpc.main would be updated, not created: it is not missing"}},
		{name: "target not in the plan", file: "plan_update.json", address: "aws_vpc.other", verb: enforce.VerbRevert,
			refusal: []string{"aws_vpc.main would be changed too"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, refusal, err := Judge(loadPlan(t, tc.file), tc.address, tc.verb, tc.allowReplace)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.refusal) == 0 && refusal != "" {
				t.Fatalf("refused: %s", refusal)
			}
			if len(tc.refusal) > 0 && refusal == "" {
				t.Fatalf("accepted:\n%s", p.Summary)
			}
			for _, w := range tc.refusal {
				if !strings.Contains(refusal, w) {
					t.Errorf("refusal lacks %q: %s", w, refusal)
				}
			}
			if tc.allowReplace && strings.Contains(refusal, "would be replaced") {
				t.Errorf("allow_replace did not allow the replacement: %s", refusal)
			}
			for _, w := range tc.summary {
				if !strings.Contains(p.Summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, p.Summary)
				}
			}
			if tc.changes > 0 && len(p.Changes) != tc.changes {
				t.Errorf("changes = %+v", p.Changes)
			}
			if p.Hash == "" || p.Method != enforce.MethodTerraform || p.Address != tc.address {
				t.Errorf("plan = %+v", p)
			}
		})
	}
}

// TestJudgeHash: the hash is the plan's content. The same plan read twice
// hashes the same; a different drifted value, or another action, does not.
func TestJudgeHash(t *testing.T) {
	a, _, _ := Judge(loadPlan(t, "plan_update.json"), "aws_vpc.main", enforce.VerbRevert, false)
	b, _, _ := Judge(loadPlan(t, "plan_update.json"), "aws_vpc.main", enforce.VerbRevert, false)
	if a.Hash != b.Hash {
		t.Fatal("the same plan hashed differently")
	}
	p := loadPlan(t, "plan_update.json")
	p.ResourceChanges[0].Change.Before.(map[string]any)["tags"].(map[string]any)["env"] = "qa"
	c, _, _ := Judge(p, "aws_vpc.main", enforce.VerbRevert, false)
	if c.Hash == a.Hash {
		t.Error("a different drift hashed the same")
	}
	p = loadPlan(t, "plan_update.json")
	p.Timestamp = "2030-01-01T00:00:00Z"
	if d, _, _ := Judge(p, "aws_vpc.main", enforce.VerbRevert, false); d.Hash != a.Hash {
		t.Error("the plan's timestamp changed the hash")
	}
}

// TestAttributeChangesRedact: values Terraform marks sensitive never
// reach the plan shown to approvers; unknown values say so.
func TestAttributeChangesRedact(t *testing.T) {
	c := &tfjson.Change{
		Before:          map[string]any{"password": "hunter2", "tags": map[string]any{"a": "1"}, "size": 10.0},
		After:           map[string]any{"password": "s3cret", "tags": map[string]any{"a": "2", "b": "3"}},
		AfterUnknown:    map[string]any{"size": true},
		BeforeSensitive: map[string]any{"password": true},
		AfterSensitive:  map[string]any{"password": true},
	}
	got := attributeChanges(c)
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "s3cret") {
		t.Fatalf("sensitive value shown: %s", b)
	}
	want := `[{"path":"size","from":10,"to":"(known after apply)"},{"path":"tags.a","from":"1","to":"2"},{"path":"tags.b","from":null,"to":"3"}]`
	if string(b) != want {
		t.Errorf("changes = %s\nwant      %s", b, want)
	}
}

// FuzzJudge: any plan JSON is judged without panicking, and a plan with a
// change at another address is never accepted.
func FuzzJudge(f *testing.F) {
	for _, name := range []string{"plan_update.json", "plan_touches_other.json", "plan_replace.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "aws_vpc.main")
	}
	f.Fuzz(func(t *testing.T, data []byte, address string) {
		var p tfjson.Plan
		if json.Unmarshal(data, &p) != nil {
			return
		}
		plan, refusal, err := Judge(&p, address, enforce.VerbRevert, false)
		if err != nil {
			return
		}
		if refusal != "" {
			return
		}
		for _, rc := range plan.Resources {
			if rc.Address != address {
				t.Fatalf("accepted a plan changing %s while targeting %s", rc.Address, address)
			}
			for _, a := range rc.Actions {
				if a == "delete" {
					t.Fatalf("accepted a delete: %+v", rc)
				}
			}
		}
	})
}
