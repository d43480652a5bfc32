package policy

import (
	"context"
	"reflect"
	"testing"

	"plumb/internal/model"
)

// TestEvaluateLiveAndSummarizeLive: an evaluation the inventory cannot
// support is skipped, never a pass, and a control whose only evidence
// beside passes is a skip is not evaluated.
func TestEvaluateLiveAndSummarizeLive(t *testing.T) {
	set, err := Compile([]*Rule{
		{ID: "enc", Resources: []string{"aws_ebs_volume"}, Deny: `!has(resource.encrypted) || resource.encrypted != true`, Severity: model.SeverityHigh, Controls: map[string][]string{"std": {"1"}}},
		{ID: "size", Resources: []string{"aws_ebs_volume"}, Deny: `resource.size > 100`, Severity: model.SeverityLow, Controls: map[string][]string{"std": {"2"}}},
		{ID: "kms", Resources: []string{"aws_ebs_volume"}, Deny: `resource.kms_key_id == ""`, Severity: model.SeverityLow, Controls: map[string][]string{"std": {"2"}}},
		{ID: "computed", Resources: []string{"aws_ebs_volume"}, Deny: `resource["si" + "ze"] > 0 && resource["x" + "y"] == 1`, Severity: model.SeverityLow, Controls: map[string][]string{"std": {"3"}}},
		{ID: "broken", Resources: []string{"aws_ebs_volume"}, Deny: `json(resource.type).a == 1`, Severity: model.SeverityLow, Controls: map[string][]string{"std": {"4"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subjects := []Subject{
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-plain", Attributes: map[string]any{"size": 8.0, "encrypted": false, "type": "gp3"}},
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-unread", Attributes: map[string]any{"size": 8.0, "type": "gp3"}},
	}
	res, err := set.EvaluateLive(context.Background(), subjects, nil)
	if err != nil {
		t.Fatal(err)
	}
	pairs := func(outcomes []Outcome) []string {
		var out []string
		for _, o := range outcomes {
			out = append(out, o.Rule.ID+"/"+o.Subject.ID)
		}
		return out
	}
	if got, want := pairs(res.Decided), []string{"enc/vol-plain", "size/vol-plain", "size/vol-unread"}; !reflect.DeepEqual(got, want) {
		t.Errorf("decided = %v, want %v", got, want)
	}
	if got, want := pairs(res.Skipped), []string{"kms/vol-plain", "computed/vol-plain", "enc/vol-unread", "kms/vol-unread", "computed/vol-unread"}; !reflect.DeepEqual(got, want) {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	if got, want := pairs(res.Errors), []string{"broken/vol-plain", "broken/vol-unread"}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}

	lc := SummarizeLive("std", set, res)
	status := map[string]string{}
	for _, c := range lc.Controls {
		status[c.Control] = c.Status
	}
	// 1: vol-plain fails, vol-unread skipped: the failure stands.
	// 2: size passes on both, kms skipped on both: not a pass.
	// 3: only skips. 4: only errors.
	want := map[string]string{"1": StatusFail, "2": StatusNotEvaluated, "3": StatusNotEvaluated, "4": StatusError}
	if !reflect.DeepEqual(status, want) {
		t.Errorf("status = %v, want %v", status, want)
	}
	notEvaluated := map[string][]ResourceResult{}
	for _, c := range lc.Controls {
		notEvaluated[c.Control] = c.NotEvaluated
	}
	if got := notEvaluated["2"]; len(got) != 2 || got[0].Label != "vol-plain" || got[0].Message != "kms_key_id is not read by the live inventory" {
		t.Errorf("not evaluated for 2 = %+v", got)
	}
	// The computed key names the attribute it could not read.
	if got := notEvaluated["3"]; len(got) != 2 || got[0].Message != "xy is not read by the live inventory" {
		t.Errorf("not evaluated for 3 = %+v", got)
	}
	// Without skips the plan-mode verdicts are unchanged.
	plain := SummarizeLive("std", set, &LiveResult{Decided: res.Decided})
	for _, c := range plain.Controls {
		if c.Control == "2" && c.Status != StatusPass {
			t.Errorf("control 2 without skips = %s, want pass", c.Status)
		}
	}
}
