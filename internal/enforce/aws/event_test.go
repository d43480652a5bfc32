package aws_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/model"
)

const eventYAML = `environments:
  - name: prod
    states: [prod.tfstate]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement: {unmanaged: quarantine, grace: 0s, max_actions: 10, max_fraction: 1, dry_run: false, stop_quarantined_instances: true}
`

// TestEventTimeLiveStageAtExecution: event-time enforcement plans from
// the event's finding without reading the resource (one STS call for the
// account guard, no other), and the runner reads it back right before
// the write: an instance someone tagged plumb:protect after the event is
// stopped there with no write to it, the other is quarantined.
func TestEventTimeLiveStageAtExecution(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	plain, protected := setupInstance(t, ctx, cfg), setupInstance(t, ctx, cfg)
	protectedBefore := instanceSnapshot(t, ctx, cfg, protected)
	h := newHarness(t, eventYAML, map[string]string{"prod.tfstate": emptyState})
	var fps []string
	fpOf := map[string]string{}
	for _, id := range []string{plain, protected} {
		r := model.Resource{Provider: "aws", Type: "aws_instance", ID: id, Region: "us-east-1", Account: "123456789012", Tags: map[string]string{}}
		f := model.Finding{Kind: model.KindUnmanaged, Severity: model.SeverityMedium, Environment: "prod", Resource: r,
			Fingerprint: model.Fingerprint(model.KindUnmanaged, "prod", "aws", r.Type, r.Region, id, ""), Source: "eventbridge/1",
			Changes: []model.Change{}, Message: "Undefined resource exists (" + id + ")"}
		if err := h.findings.Upsert(ctx, h.now, []model.Finding{f}); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, f.Fingerprint)
		fpOf[id] = f.Fingerprint
	}
	_, err := ec2.NewFromConfig(cfg).CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{protected},
		Tags: []ec2types.Tag{{Key: aws.String("plumb:protect"), Value: aws.String("yes")}}})
	must(t, err, "CreateTags")

	r0, w0 := h.ex.Calls()
	p, err := h.svc.EnforceEvent(ctx, enforce.EventRequest{Environment: "prod", Fingerprints: fps, RunID: "ev-test", Actor: "event:test"})
	if err != nil {
		t.Fatal(err)
	}
	r1, w1 := h.ex.Calls()
	if len(p.Runnable()) != 2 || len(h.queued) != 1 {
		t.Fatalf("plan: %s", describePlan(p))
	}
	if r1-r0 > 1 || w1 != w0 {
		t.Errorf("planning made %d reads and %d writes; want at most the one STS call", r1-r0, w1-w0)
	}
	h.dispatch()
	if a := h.action(p, fpOf[plain]); a.State != enforce.StateSucceeded {
		t.Errorf("plain instance: %s %s %s", a.State, a.Guard, a.Error)
	}
	instanceQuarantined(t, ctx, cfg, plain, fpOf[plain])
	a := h.action(p, fpOf[protected])
	if a.State != enforce.StateBlocked || a.Guard != enforce.GuardProtectTag {
		t.Errorf("protected instance: %s by %q (%s), want blocked by %s", a.State, a.Guard, a.Reason, enforce.GuardProtectTag)
	}
	for _, c := range a.Calls {
		if c.Write {
			t.Errorf("a write on the protected instance: %+v", c)
		}
	}
	after := instanceSnapshot(t, ctx, cfg, protected)
	// The protect tag is the only difference from before the event.
	if after == protectedBefore {
		t.Fatalf("the test's tag did not land")
	}
	in := describeInstanceSDK(t, ctx, ec2.NewFromConfig(cfg), protected)
	if len(in.SecurityGroups) != 2 {
		t.Errorf("the protected instance's groups changed: %+v", in.SecurityGroups)
	}
	for _, tg := range in.Tags {
		if aws.ToString(tg.Key) == enforceaws.TagQuarantined {
			t.Errorf("the protected instance was tagged quarantined")
		}
	}
}
