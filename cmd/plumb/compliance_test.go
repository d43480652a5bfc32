package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCompliance(t *testing.T) {
	plan := filepath.Join("..", "..", "internal", "tfplan", "testdata", "create", "plan.json")
	out := filepath.Join(t.TempDir(), "pci.html")
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "-o", "html=" + out, "-o", "markdown"}, &stdout, &stderr)
	if code != exitFindings {
		t.Fatalf("exit code %d, want 2 (failing controls); stderr %s", code, stderr.String())
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "pci-dss-4.0", "3.5.1", "module.storage.aws_ebs_volume.data", "aws-ebs-volume-encrypted"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	md := stdout.String()
	if !strings.Contains(md, "| `3.5.1` | Fail |") || !strings.Contains(md, "Not evaluated") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestReportComplianceUsage(t *testing.T) {
	plan := filepath.Join("..", "..", "internal", "tfplan", "testdata", "create", "plan.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no pack", []string{"report", "compliance", "--plan", plan}, "--pack"},
		{"unknown pack", []string{"report", "compliance", "--pack", "sox", "--plan", plan}, "choose one of"},
		{"no plan", []string{"report", "compliance", "--pack", "pci-dss-4.0"}, "--plan is required"},
		{"bad format", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "-o", "pdf"}, "markdown or html"},
		{"missing plan", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", "nope.json"}, "nope.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitError {
				t.Fatalf("exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}
