package main

import (
	"bytes"
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

// TestRealTerraformStateAgainstMoto is the end-to-end check: real
// `terraform apply` with the real AWS provider against moto, then plumb
// reads the state Terraform wrote. A freshly applied estate must be
// reported fully in sync (the false-positive test that matters most), and
// after three out-of-band changes exactly those three findings appear.
func TestRealTerraformStateAgainstMoto(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir := t.TempDir()
	statePath, err := demo.Apply(ctx, tf, dir, moto.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	clean := scanJSON(t, 0, "scan", "--state", statePath)
	if len(clean.Findings) != 0 {
		t.Fatalf("freshly applied estate reported %d findings, want 0:\n%s", len(clean.Findings), describe(clean))
	}
	if clean.Summary.Managed != 18 || clean.Summary.InSync != clean.Summary.Managed || clean.Summary.Coverage != 1 {
		t.Fatalf("summary of clean estate = %+v", clean.Summary)
	}

	if err := demo.Drift(ctx, moto.Config(t, "us-east-1")); err != nil {
		t.Fatal(err)
	}
	drifted := scanJSON(t, 2, "scan", "--state", statePath)
	var got []string
	for _, f := range drifted.Findings {
		line := string(f.Kind) + " " + f.Resource.Type + " " + f.Message
		if f.Address != nil {
			line += " @" + *f.Address
		}
		for _, c := range f.Changes {
			line += " " + c.Path
		}
		got = append(got, line)
	}
	sort.Strings(got)
	want := []string{
		"drift.changed aws_vpc Resource changed outside code (plumb-demo) @aws_vpc.main tags.env",
		"drift.missing aws_sqs_queue Defined resource doesn't exist (plumb-demo-jobs) @aws_sqs_queue.jobs",
		"drift.unmanaged aws_s3_bucket Undefined resource exists (plumb-demo-unmanaged)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range drifted.Findings {
		if f.Kind == "drift.changed" {
			c := f.Changes[0]
			if c.Before != "demo" || c.After != "prod" {
				t.Errorf("tag change = %+v, want demo -> prod", c)
			}
		}
	}

	// The same scan as a table and as markdown names all three.
	var table bytes.Buffer
	if code := run([]string{"scan", "--state", statePath, "-o", "table", "-o", "markdown=" + filepath.Join(dir, "drift.md")}, &table, os.Stderr); code != 2 {
		t.Fatalf("table scan exit code %d", code)
	}
	md, err := os.ReadFile(filepath.Join(dir, "drift.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{table.String(), string(md)} {
		for _, name := range []string{"plumb-demo-unmanaged", "plumb-demo-jobs", "plumb-demo"} {
			if !strings.Contains(out, name) {
				t.Errorf("output lacks %s:\n%s", name, out)
			}
		}
	}

	// An ignore file silences the unmanaged bucket and the tag.
	if err := os.WriteFile(filepath.Join(dir, ".plumbignore"), []byte("aws_s3_bucket.plumb-demo-unmanaged\naws_vpc.*.tags.env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ignored := scanJSON(t, 2, "scan", "--state", statePath)
	if len(ignored.Findings) != 1 || ignored.Findings[0].Kind != "drift.missing" || ignored.Summary.Ignored != 1 {
		t.Fatalf("with .plumbignore: %s", describe(ignored))
	}
}

// scanJSON runs plumb with -o json and checks the exit code.
func scanJSON(t *testing.T, wantCode int, args ...string) *report.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append(args, "-o", "json"), &stdout, &stderr)
	if code != wantCode {
		t.Fatalf("plumb %v: exit code %d, want %d\nstderr: %s\nstdout: %s", args, code, wantCode, stderr.String(), stdout.String())
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, stdout.String())
	}
	return &rep
}

func describe(r *report.Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}
