package codify

import (
	"strings"
	"testing"

	"plumb/internal/model"
)

const queueBlock = `resource "aws_sqs_queue" "legacy" {
  name                       = "legacy"
  max_message_size           = 1048576
  visibility_timeout_seconds = 30
  delay_seconds              = 0
}
`

var queueSchema = &schemaBlock{Attributes: map[string]schemaAttribute{
	"name": {Optional: true, Computed: true}, "max_message_size": {Optional: true},
	"visibility_timeout_seconds": {Optional: true}, "delay_seconds": {Optional: true},
}}

// TestNonConvergence walks the proof rounds of the queue moto creates:
// leaving max_message_size out changes the plan, so it is put back; then
// Terraform rejects the value, so the queue is left out and named, with
// both reasons. The other queue's default is proven and stays out.
func TestNonConvergence(t *testing.T) {
	a := &adoption{finding: model.Finding{Kind: model.KindUnmanaged}, typ: "aws_sqs_queue", name: "legacy", importID: "u", generated: []byte(queueBlock)}
	if err := a.clean(queueSchema); err != nil {
		t.Fatal(err)
	}
	c := &run{adoptions: []*adoption{a}, fileName: "adopted.tf"}

	// Round 1: the plan changes max_message_size (and visibility is fine).
	rc := &plannedChange{}
	rc.Change.Actions = []string{"update"}
	rc.Change.Importing = &struct {
		ID string `json:"id"`
	}{ID: "u"}
	rc.Change.Before = map[string]any{"max_message_size": 1048576.0, "visibility_timeout_seconds": 30.0}
	rc.Change.After = map[string]any{"max_message_size": 262144.0, "visibility_timeout_seconds": 30.0}
	if !c.evaluate(map[string]*plannedChange{"aws_sqs_queue.legacy": rc}, nil) {
		t.Fatal("a changing import was accepted")
	}
	if a.excluded != "" || a.restored["max_message_size"] == "" {
		t.Fatalf("after round 1: excluded %q restored %v", a.excluded, a.restored)
	}
	block, _, err := a.render(newRefIndex())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(block), "max_message_size = 1048576") || strings.Contains(string(block), "visibility_timeout_seconds") {
		t.Fatalf("round 2 block:\n%s", block)
	}

	// Round 2: Terraform rejects the value put back.
	c.rendered = append([]byte("# header\n\n"), block...)
	line := 0
	for i, l := range strings.Split(string(c.rendered), "\n") {
		if strings.Contains(l, "max_message_size") {
			line = i + 1
		}
	}
	d := diagnostic{Severity: "error", Summary: "expected max_message_size to be in the range (1024 - 262144), got 1048576", Address: "aws_sqs_queue.legacy"}
	d.Range = &struct {
		Filename string `json:"filename"`
		Start    struct {
			Line int `json:"line"`
		} `json:"start"`
	}{Filename: "adopted.tf"}
	d.Range.Start.Line = line
	progress, err := c.handleErrors([]diagnostic{d})
	if err != nil || !progress {
		t.Fatalf("handleErrors = %v, %v", progress, err)
	}
	want := "does not converge: max_message_size: Terraform rejects the value the provider reads (expected max_message_size to be in the range (1024 - 262144), got 1048576), and without it the plan changes max_message_size from 1048576 to 262144"
	if a.excluded != want {
		t.Errorf("reason = %q\nwant     %q", a.excluded, want)
	}
	if len(c.included()) != 0 {
		t.Error("the queue is still included")
	}
}

// TestUnattributedErrorRevertsEdits: a plan error no adoption explains
// takes back the edits (a deleted block may still be referenced), and
// with no edit left it is fatal.
func TestUnattributedErrorRevertsEdits(t *testing.T) {
	ch := &change{address: "aws_vpc.main", remove: true}
	c := &run{changes: []*change{ch}, fileName: "adopted.tf"}
	d := diagnostic{Severity: "error", Summary: "Reference to undeclared resource", Detail: `A managed resource "aws_vpc" "main" has not been declared in the root module.`}
	progress, err := c.handleErrors([]diagnostic{d})
	if err != nil || !progress || !strings.Contains(ch.reverted, "Reference to undeclared resource") {
		t.Fatalf("progress %v err %v reverted %q", progress, err, ch.reverted)
	}
	progress, _ = c.handleErrors([]diagnostic{d})
	if progress {
		t.Error("with nothing left to take back, the error must stop the run")
	}
}
