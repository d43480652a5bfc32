package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"plumb/internal/demo"
	"plumb/internal/report"
	"plumb/internal/testenv"
)

// TestSameRootThroughStateAndDir applies the demo estate for real, puts a
// copy of its state and an older serial of it among other state files,
// drifts five resources out of band, then scans the root both through the
// state files (a glob reaching both copies and the older serial) and as
// --terraform-dir. Every resource must be declared once (every instance
// of the state counted exactly once, as in a scan of the directory alone)
// and every problem must be exactly one finding, the one the directory
// alone reports.
func TestSameRootThroughStateAndDir(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root := t.TempDir()
	statePath, err := demo.Apply(ctx, tf, root, moto.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", tf.CLIConfig)
	t.Setenv("TF_VAR_endpoint", moto.Endpoint)
	t.Chdir(root)

	raw, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Lineage   string `json:"lineage"`
		Serial    int64  `json:"serial"`
		Resources []struct {
			Mode      string            `json:"mode"`
			Type      string            `json:"type"`
			Instances []json.RawMessage `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Lineage == "" || st.Serial < 2 {
		t.Fatalf("terraform wrote lineage %q serial %d", st.Lineage, st.Serial)
	}
	instances := 0
	for _, r := range st.Resources {
		if r.Mode == "managed" {
			instances += len(r.Instances)
		}
	}

	// states/ holds the copy a pipeline archived, an older serial of the
	// same state (same lineage), and another root's state.
	states := t.TempDir()
	older := strings.Replace(string(raw), `"serial": `+itoa(st.Serial)+`,`, `"serial": `+itoa(st.Serial-1)+`,`, 1)
	if older == string(raw) {
		t.Fatal("could not write the older serial")
	}
	for rel, body := range map[string]string{
		"prod/terraform.tfstate":   string(raw),
		"archive/prod-old.tfstate": older,
		"other/terraform.tfstate":  `{"version": 4, "terraform_version": "1.11.4", "serial": 2, "lineage": "other-root", "outputs": {}, "resources": [{"mode": "managed", "type": "aws_sns_topic", "name": "other", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"attributes": {"id": "arn:aws:sns:us-east-1:123456789012:other-root-topic", "arn": "arn:aws:sns:us-east-1:123456789012:other-root-topic", "name": "other-root-topic", "tags": {}, "tags_all": {}}}]}]}`,
		"copies/prod.tfstate":      string(raw),
	} {
		p := filepath.Join(states, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	glob := filepath.Join(states, "**.tfstate")

	// Five problems out of band: a bucket nobody declares, a deleted
	// queue, a retagged VPC (the demo's three), a rule added to the web
	// security group and a log group's retention shortened.
	cfg := moto.Config(t, "us-east-1")
	if err := demo.Drift(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	driftDemoWebAndLogs(t, ctx, cfg)

	// The directory alone: the reference for the root's findings, and
	// every instance of its state counted once (Terraform refreshes the
	// types plumb cannot list, the rule folded into its group included).
	alone := scanJSON(t, 2, "scan", "--terraform-dir", root)
	if got := alone.Summary.Managed + alone.Summary.Unsupported; got != instances {
		t.Fatalf("directory alone: managed %d + unsupported %d, want the state's %d instances", alone.Summary.Managed, alone.Summary.Unsupported, instances)
	}

	rep := scanJSON(t, 2, "scan", "--state", glob, "--terraform-dir", root)
	want := []string{
		"drift.changed aws_cloudwatch_log_group",
		"drift.changed aws_security_group",
		"drift.changed aws_vpc",
		"drift.missing aws_sns_topic",
		"drift.missing aws_sqs_queue",
		"drift.unmanaged aws_s3_bucket",
	}
	if got := findingKeys(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant one per problem:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), describe(rep))
	}
	if rep.Summary.Managed != instances+1 || rep.Summary.Unsupported != 0 || rep.Summary.Changed != 3 || rep.Summary.Missing != 2 || rep.Summary.Unmanaged != 1 || rep.Summary.Conflicting != 0 {
		t.Errorf("summary = %+v, want managed %d (each of the root's %d instances once, and the other root's topic), changed 3, missing 2, unmanaged 1", rep.Summary, instances+1, instances)
	}
	for _, f := range rep.Findings {
		if f.Kind == "drift.changed" && f.Resource.Type == "aws_cloudwatch_log_group" && (len(f.Changes) != 1 || f.Changes[0].Path != "retention_in_days") {
			t.Errorf("log group changes = %+v, want retention_in_days once", f.Changes)
		}
	}
	// The note names every source of the state and the older serial.
	var note string
	for _, n := range rep.Notes {
		if strings.Contains(n, st.Lineage) {
			note = n
		}
	}
	for _, w := range []string{
		"reached through 4 sources and read once: serial " + itoa(st.Serial),
		filepath.Join(states, "prod", "terraform.tfstate"),
		filepath.Join(states, "copies", "prod.tfstate"),
		root,
		filepath.Join(states, "archive", "prod-old.tfstate") + " (serial " + itoa(st.Serial-1) + ")",
	} {
		if !strings.Contains(note, w) {
			t.Errorf("note %q lacks %q (notes: %q)", note, w, rep.Notes)
		}
	}

	// The directory alone found the same problems of the root, with the
	// same fingerprints.
	prints := func(r *report.Report, skipType string) []string {
		var out []string
		for _, f := range r.Findings {
			if f.Resource.Type != skipType {
				out = append(out, f.Fingerprint)
			}
		}
		sort.Strings(out)
		return out
	}
	if a, b := prints(alone, ""), prints(rep, "aws_sns_topic"); strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("fingerprints differ from the directory alone:\n%v\n%v", a, b)
	}
}

// TestTwoRootsOneBucket: root "web" creates a bucket; root "cdn" imports
// the same bucket (`import {}`), so its state, of another lineage,
// declares it too, with other tags. Terraform will fight itself over it.
// Through any mix of sources the bucket is one drift.conflict finding
// naming both addresses and both states, counted once, with no
// drift.changed for the tags each apply overwrites; the roots' other
// resources are compared as usual.
func TestTwoRootsOneBucket(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	provider := testenv.MotoProvider(moto.Endpoint)
	web, cdn := t.TempDir(), t.TempDir()
	configs := map[string]string{
		web: provider + `
resource "aws_s3_bucket" "assets" {
  bucket = "plumb-shared-assets"
  tags   = { owner = "web" }
}

resource "aws_sqs_queue" "jobs" {
  name = "plumb-web-jobs"
}
`,
		cdn: provider + `
import {
  to = module.origin.aws_s3_bucket.this
  id = "plumb-shared-assets"
}

module "origin" {
  source = "./origin"
}
`,
	}
	if err := os.MkdirAll(filepath.Join(cdn, "origin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cdn, "origin", "main.tf"), []byte(`
resource "aws_s3_bucket" "this" {
  bucket = "plumb-shared-assets"
  tags   = { owner = "cdn" }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{web, cdn} { // web first: cdn imports its bucket
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(configs[dir]), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
			t.Fatal(err)
		}
		if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
			t.Fatal(err)
		}
	}
	webState, cdnState := filepath.Join(web, "terraform.tfstate"), filepath.Join(cdn, "terraform.tfstate")
	lineage := func(p string) string {
		var st struct {
			Lineage string `json:"lineage"`
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		return st.Lineage
	}
	if a, b := lineage(webState), lineage(cdnState); a == "" || a == b {
		t.Fatalf("lineages %q and %q: want two different states", a, b)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", tf.CLIConfig)
	t.Chdir(web)

	for _, tc := range []struct {
		name      string
		args      []string
		cdnSource string
	}{
		{"two state files", []string{"--state", webState, "--state", cdnState}, cdnState},
		{"a state file and a Terraform directory", []string{"--state", webState, "--terraform-dir", cdn}, cdn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := scanJSON(t, 2, append([]string{"scan"}, tc.args...)...)
			if len(rep.Findings) != 1 {
				t.Fatalf("want one finding, got %s", describe(rep))
			}
			f := rep.Findings[0]
			if f.Kind != "drift.conflict" || f.Severity != "high" || f.Resource.Type != "aws_s3_bucket" || f.Resource.ID != "plumb-shared-assets" {
				t.Fatalf("finding = %s %s %s %s", f.Kind, f.Severity, f.Resource.Type, f.Resource.ID)
			}
			if f.Message != "Resource defined more than once (plumb-shared-assets)" {
				t.Errorf("message %q", f.Message)
			}
			got, _ := json.Marshal(f.Declarations)
			want, _ := json.Marshal([]map[string]string{
				{"address": "aws_s3_bucket.assets", "source": webState},
				{"address": "module.origin.aws_s3_bucket.this", "source": tc.cdnSource},
			})
			if string(got) != string(want) {
				t.Errorf("declarations %s, want %s", got, want)
			}
			// The live bucket carries the tags of the last apply (cdn's).
			if f.Resource.Tags["owner"] != "cdn" || len(f.Changes) != 0 {
				t.Errorf("resource tags %v, changes %v", f.Resource.Tags, f.Changes)
			}
			if s := rep.Summary; s.Managed != 2 || s.InSync != 1 || s.Conflicting != 1 || s.Changed+s.Missing+s.Unmanaged+s.NotEvaluated != 0 {
				t.Errorf("summary = %+v, want the bucket once (conflicting) and the queue in sync", s)
			}
		})
	}
}

// findingKeys lists "kind type" per finding, sorted.
func findingKeys(r *report.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Kind)+" "+f.Resource.Type)
	}
	sort.Strings(out)
	return out
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
