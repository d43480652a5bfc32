package tfdrift

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"plumb/internal/model"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadPlan(t *testing.T) {
	tests := []struct {
		file string
		want []wantDrift
	}{
		// Captured with `terraform show -json` from the TestRunAWS
		// scenario.
		{"aws-drift.json", awsDriftWant("sg-6a2b1eec9fefb2c7c", "vpc-bf15516da9287fc01")},
		// Captured from the local provider scenario: a.txt deleted, b.txt
		// edited (which the provider also reads as deleted). The random
		// password in prior_state was replaced before committing.
		{"local-deleted.json", []wantDrift{
			{"local_file.a", "local_file", "local", "d046cd9b7ffb7661e449683313d41f6fc33e3130", true, nil},
			{"local_file.b", "local_file", "local", "bb596efe9e3023a502013767a0559a94a5eea4bc", true, nil},
		}},
		// Lists that change length report per index; map keys with dots
		// or brackets are quoted; null and empty containers are equal.
		{"nested.json", []wantDrift{
			{`module.net.aws_security_group.web["a"]`, "aws_security_group", "aws", "sg-1", false, []model.Change{
				{Path: "ingress[1].cidr_blocks[1]", Before: "192.168.0.0/16", After: nil},
				{Path: "ingress[1].from_port", Before: float64(80), After: float64(8080)},
				{Path: "ingress[2].cidr_blocks", Before: []any{}, After: nil},
				{Path: "ingress[2].from_port", Before: float64(22), After: nil},
				{Path: "settings.retention.days", Before: float64(30), After: float64(7)},
				{Path: "tags.env", Before: "test", After: "prod"},
				{Path: `tags["kubernetes.io/role"]`, Before: "elb", After: "nlb"},
				{Path: "tags.owner", Before: nil, After: "ops"},
				{Path: "tags.team", Before: "core", After: nil},
			}},
		}},
		// Sensitive values: changed ones show as Redacted on their
		// sensitive side, an unchanged hidden one is no change, a
		// sensitive map is compared whole so its keys stay hidden.
		{"sensitive.json", []wantDrift{
			{"aws_db_instance.main", "aws_db_instance", "aws", "db-1", false, []model.Change{
				{Path: "api_key", Before: nil, After: Redacted},
				{Path: "connection", Before: Redacted, After: "plain-conn"},
				{Path: "engine_version", Before: "16.1", After: "16.4"},
				{Path: "labels", Before: Redacted, After: Redacted},
				{Path: "password", Before: Redacted, After: Redacted},
				{Path: "users[0].secret", Before: Redacted, After: Redacted},
			}},
		}},
		// Data sources are skipped, a deleted resource is missing,
		// `tags: null -> {}` alone is no drift, and resource_changes
		// (code not applied yet) is never read.
		{"data-source.json", []wantDrift{
			{"aws_sqs_queue.jobs", "aws_sqs_queue", "aws", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", true, nil},
		}},
		{"no-drift.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ReadPlan(tt.file, readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != tt.file || res.TerraformVersion != "1.11.4" {
				t.Errorf("Source %q, TerraformVersion %q", res.Source, res.TerraformVersion)
			}
			checkDrift(t, res, tt.want)
		})
	}
}

func TestReadPlanSensitiveNeverShown(t *testing.T) {
	res, err := ReadPlan("sensitive.json", readFixture(t, "sensitive.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Every secret in the fixture contains "s3cr3t".
	assertSecretAbsent(t, res, "s3cr3t")
	raw := res.Drift[0].Desired.Raw
	want := map[string]any{
		"id":             "db-1",
		"password":       Redacted,
		"master_token":   Redacted,
		"engine_version": "16.1",
		"users": []any{
			map[string]any{"name": "app", "secret": Redacted},
			map[string]any{"name": "ro", "secret": Redacted},
		},
		"labels":     Redacted,
		"connection": Redacted,
		"api_key":    nil,
	}
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("Raw:\n got %#v\nwant %#v", raw, want)
	}

	local, err := ReadPlan("local-deleted.json", readFixture(t, "local-deleted.json"))
	if err != nil {
		t.Fatal(err)
	}
	assertSecretAbsent(t, local, "FAKE-password-redacted-for-git")
}

func TestReadPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"malformed.json", readFixture(t, "malformed.json"), []string{"read plan malformed.json", "invalid JSON at line 5, column 6 (byte offset 91)", "after object key:value pair"}},
		{"truncated.json", readFixture(t, "truncated.json"), []string{"read plan truncated.json", "line 4, column 36", "unexpected end of JSON input"}},
		{"empty", nil, []string{"read plan empty", "line 1, column 1 (byte offset 0)"}},
		{"wrong-type.json", readFixture(t, "wrong-type.json"), []string{"read plan wrong-type.json", "line 5, column 78 (byte offset 152)", "resource_drift[0].change.actions is a JSON string"}},
		{"array", []byte("\n  [1, 2]"), []string{"line 2, column 3", "the document is a JSON array"}},
		{"format-2.json", readFixture(t, "format-2.json"), []string{"read plan format-2.json", `unsupported plan format_version "2.0"`}},
		{"format-0.json", readFixture(t, "format-0.json"), []string{`unsupported plan format_version "0.2"`}},
		{"tfstate.json", readFixture(t, "tfstate.json"), []string{"read plan tfstate.json: not a Terraform plan: no format_version"}},
		{"state-show.json", readFixture(t, "state-show.json"), []string{"JSON of a state, not of a plan"}},
		{"no address", []byte(`{"format_version":"1.2","resource_drift":[{"type":"x","change":{}}]}`), []string{"resource_drift[0]: address and type are required"}},
		{"no change", []byte(`{"format_version":"1.2","resource_drift":[{"address":"x.y","type":"x"}]}`), []string{"resource_drift[0] (x.y): no change object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadPlan(tt.name, tt.data)
			if err == nil {
				t.Fatalf("no error, result %+v", res)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDiffValues(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		bm, am        string
		want          []model.Change
	}{
		{"equal", `{"a":1,"b":[1,{"c":"x"}]}`, `{"a":1,"b":[1,{"c":"x"}]}`, `{}`, `{}`, nil},
		{"null is empty", `{"a":null,"b":[],"c":{}}`, `{"a":[],"b":null,"c":null}`, `{}`, `{}`, nil},
		{"list grows", `{"l":["a"]}`, `{"l":["a","b","c"]}`, `{}`, `{}`, []model.Change{
			{Path: "l[1]", After: "b"}, {Path: "l[2]", After: "c"},
		}},
		{"index order is numeric", `{"l":[0,0,0,0,0,0,0,0,0,0,0]}`, `{"l":[0,0,1,0,0,0,0,0,0,0,1]}`, `{}`, `{}`, []model.Change{
			{Path: "l[2]", Before: float64(0), After: float64(1)}, {Path: "l[10]", Before: float64(0), After: float64(1)},
		}},
		{"null to map", `{"tags":null}`, `{"tags":{"b":"2","a":"1"}}`, `{}`, `{}`, []model.Change{
			{Path: "tags.a", After: "1"}, {Path: "tags.b", After: "2"},
		}},
		{"map to null", `{"tags":{"a":"1"}}`, `{"tags":null}`, `{}`, `{}`, []model.Change{
			{Path: "tags.a", Before: "1"},
		}},
		{"type change", `{"v":"1"}`, `{"v":{"x":1}}`, `{}`, `{}`, []model.Change{
			{Path: "v", Before: "1", After: map[string]any{"x": float64(1)}},
		}},
		{"quoted keys", `{"m":{"a.b":1,"":2,"x y":3,"q\"":4}}`, `{"m":{}}`, `{}`, `{}`, []model.Change{
			{Path: `m[""]`, Before: float64(2)},
			{Path: `m["a.b"]`, Before: float64(1)},
			{Path: `m["q\""]`, Before: float64(4)},
			{Path: `m["x y"]`, Before: float64(3)},
		}},
		{"quoted root key", `{"a.b":1}`, `{"a.b":2}`, `{}`, `{}`, []model.Change{
			{Path: `["a.b"]`, Before: float64(1), After: float64(2)},
		}},
		{"whole object sensitive", `{"a":1}`, `{"a":2}`, `true`, `true`, []model.Change{
			{Path: "", Before: Redacted, After: Redacted},
		}},
		{"sensitive equal hidden", `{"p":"x","l":["s"]}`, `{"p":"x","l":["s"]}`, `{"p":true,"l":true}`, `{"p":true,"l":[true]}`, nil},
		{"sensitive list element added", `{"l":["s"]}`, `{"l":["s","t"]}`, `{"l":[true]}`, `{"l":[true,true]}`, []model.Change{
			{Path: "l[1]", Before: nil, After: Redacted},
		}},
		{"sensitive whole list", `{"l":["s"]}`, `{"l":["s","t"]}`, `{"l":true}`, `{"l":true}`, []model.Change{
			{Path: "l", Before: Redacted, After: Redacted},
		}},
		{"nested mark in added element", `{"u":[]}`, `{"u":[{"n":"a","s":"k"}]}`, `{}`, `{"u":[{"s":true}]}`, []model.Change{
			{Path: "u[0].n", After: "a"}, {Path: "u[0].s", After: Redacted},
		}},
		{"false marks", `{"a":"x"}`, `{"a":"y"}`, `false`, `{"a":false}`, []model.Change{
			{Path: "a", Before: "x", After: "y"},
		}},
		{"sensitive became null", `{"a":"x"}`, `{"a":null}`, `{"a":true}`, `{"a":true}`, []model.Change{
			{Path: "a", Before: Redacted, After: nil},
		}},
	}
	decode := func(t *testing.T, s string) any {
		t.Helper()
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffValues(decode(t, tt.before), decode(t, tt.after), decode(t, tt.bm), decode(t, tt.am))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestReadPlanRefreshed: the addresses Terraform judged are the managed
// resources of the prior (refreshed) state, in nested modules too, plus
// those the refresh found deleted; data sources are not resources.
func TestReadPlanRefreshed(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"aws-drift.json", []string{"aws_cloudwatch_log_group.app", "aws_security_group.web", "aws_vpc.main"}},
		{"local-deleted.json", []string{"local_file.a", "local_file.b", "random_password.db"}},
	}
	for _, tc := range tests {
		res, err := ReadPlan(tc.file, readFixture(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Refreshed, tc.want) {
			t.Errorf("%s: refreshed = %v, want %v", tc.file, res.Refreshed, tc.want)
		}
	}
	nested := []byte(`{"format_version":"1.2","planned_values":{"root_module":{}},"resource_drift":[],
"prior_state":{"values":{"root_module":{"resources":[{"address":"data.aws_region.r","mode":"data"},{"address":"aws_vpc.a","mode":"managed"}],
 "child_modules":[{"resources":[{"address":"module.net.aws_subnet.b","mode":"managed"}],
  "child_modules":[{"resources":[{"address":"module.net.module.x.aws_eip.c","mode":"managed"}]}]}]}}}}`)
	res, err := ReadPlan("nested", nested)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"aws_vpc.a", "module.net.aws_subnet.b", "module.net.module.x.aws_eip.c"}; !slices.Equal(res.Refreshed, want) {
		t.Errorf("refreshed = %v, want %v", res.Refreshed, want)
	}
}
