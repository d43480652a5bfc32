package handler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"plumb/internal/audit"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
	"plumb/internal/policy"
)

// ResourceReader reads one resource back from the cloud as the inventory
// presents it (Terraform type, import id, the attributes rules read).
// found is false when the resource no longer exists; an error means the
// answer is unknown and the delivery should be retried.
type ResourceReader interface {
	Read(ctx context.Context, r model.Resource) (live model.Resource, found bool, err error)
}

// PolicyRule is the check id of event-time policy evaluation.
const PolicyRule = "policy"

// PolicyCheck evaluates compliance rules (packs and rule files, the ones
// `plumb check` and `plumb scan --pack` run) on the resource an event
// touched, read back live. The event itself is not evaluated: a CloudTrail
// record describes one call (one added rule, one changed flag), not the
// resource's resulting state, and a rule judged on a fragment would be
// wrong both ways.
//
// Evaluation is policy.(*Set).EvaluateLive on the same subject the nightly
// scan builds, and findings carry the same fingerprint, so the violation
// caught at event time and the one the scan finds later are one finding.
type PolicyCheck struct {
	Set    *policy.Set
	Reader ResourceReader
}

// ID names the check in errors.
func (PolicyCheck) ID() string { return PolicyRule }

// Check reads the resource and reports the rules it violates. A resource
// of a type no rule covers costs no read; a resource that is gone gives
// nothing (it may have been deleted since the event); a read error is
// returned so the delivery retries. Evaluations the inventory cannot
// support (an attribute it does not read) are skipped as in the scan. A
// rule that fails to evaluate on the resource fails the delivery
// permanently: retrying cannot change a deterministic error, and the dead
// letter shows it to the operator, as the scan lists it under errors.
func (c PolicyCheck) Check(ctx context.Context, d Delivery, r model.Resource) ([]model.Finding, error) {
	if c.Set == nil || c.Reader == nil {
		return nil, Permanent(errors.New("policy check: no rule set or resource reader configured"))
	}
	if r.Provider != "aws" {
		// Only the AWS inventory presents resources under the attribute
		// names the packs are written for.
		return nil, nil
	}
	r = resolveAWSType(r)
	if r.Type == "" || !c.covers(r.Type) {
		return nil, nil
	}
	live, found, err := c.Reader.Read(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", r.Type, r.ID, err)
	}
	if !found || live.Default != "" {
		// Gone, or created by AWS itself: the scan does not judge
		// defaults either (nobody's code owns them).
		return nil, nil
	}
	// Only this resource was read: rules about its companions are decided
	// on what was read with it (an S3 bucket's sub-resources) and not
	// evaluated otherwise.
	res, err := c.Set.EvaluateLive(ctx, awsinv.PolicySubjects([]model.Resource{live}), awsinv.ReadCoverage([]model.Resource{live}))
	if err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		errs := make([]error, 0, len(res.Errors))
		for _, o := range res.Errors {
			errs = append(errs, o.Err)
		}
		return nil, Permanent(errors.Join(errs...))
	}
	fs := policy.Findings(res.Decided, d.Environment)
	for i := range fs {
		fs[i].Source = string(d.Event.Source) + "/" + d.Event.ID
	}
	return fs, nil
}

// covers reports whether any rule applies to a type, so events on types
// no rule checks cost no API call.
func (c PolicyCheck) covers(typ string) bool {
	for _, r := range c.Set.Rules {
		if slices.Contains(r.Resources, typ) {
			return true
		}
	}
	return false
}

// ec2ARNTypes maps the resource part of EC2 ARNs to Terraform types whose
// import id is the ARN's last segment. An event whose target is known only
// by its ARN (the EventBridge envelope's resources[0]; CloudTrail
// modification calls such as AuthorizeSecurityGroupIngress map to no
// created resource) still names the resource precisely enough to read it.
var ec2ARNTypes = map[string]string{
	"security-group":  "aws_security_group",
	"instance":        "aws_instance",
	"volume":          "aws_ebs_volume",
	"vpc":             "aws_vpc",
	"subnet":          "aws_subnet",
	"launch-template": "aws_launch_template",
}

// resolveAWSType fills in the Terraform type and import id of a target
// known only by an EC2 ARN. Other targets are returned unchanged.
func resolveAWSType(r model.Resource) model.Resource {
	if r.Type != "" {
		return r
	}
	arn := r.ARN
	if arn == "" && strings.HasPrefix(r.ID, "arn:") {
		arn = r.ID
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ec2" {
		return r
	}
	kind, id, ok := strings.Cut(parts[5], "/")
	typ, known := ec2ARNTypes[kind]
	if !ok || !known || id == "" || strings.Contains(id, "/") {
		return r
	}
	r.Type, r.ID, r.ARN = typ, id, arn
	if r.Region == "" {
		r.Region = parts[3]
	}
	if r.Account == "" {
		r.Account = parts[4]
	}
	return r
}

// ec2RequestTargets maps EC2 calls that change an existing resource to
// the request parameter holding its id and its Terraform type.
// EventBridge's CloudTrail envelope carries an empty resources list for
// these calls, and they create nothing, so without this the resource a
// rule change was made to (the group port 22 was just opened on) would
// not be validated at all.
var ec2RequestTargets = map[string]struct{ param, typ string }{
	"AuthorizeSecurityGroupIngress":              {"groupId", "aws_security_group"},
	"AuthorizeSecurityGroupEgress":               {"groupId", "aws_security_group"},
	"RevokeSecurityGroupIngress":                 {"groupId", "aws_security_group"},
	"RevokeSecurityGroupEgress":                  {"groupId", "aws_security_group"},
	"ModifySecurityGroupRules":                   {"groupId", "aws_security_group"},
	"ModifyInstanceMetadataOptions":              {"instanceId", "aws_instance"},
	"ModifyInstanceAttribute":                    {"instanceId", "aws_instance"},
	"ModifyVolume":                               {"volumeId", "aws_ebs_volume"},
	"ModifySubnetAttribute":                      {"subnetId", "aws_subnet"},
	"ModifyLaunchTemplate":                       {"launchTemplateId", "aws_launch_template"},
	"UpdateSecurityGroupRuleDescriptionsIngress": {"groupId", "aws_security_group"},
}

// requestTarget names the resource an EC2 modification call changed, from
// its request parameters. It returns a zero Resource for other events and
// for calls naming the resource another way (a group by name in the
// default VPC), which are then not validated rather than guessed.
func requestTarget(ev model.Event) model.Resource {
	rec, ok := audit.CloudTrail(ev)
	if !ok || rec.EventSource != "ec2.amazonaws.com" {
		return model.Resource{}
	}
	t, ok := ec2RequestTargets[rec.EventName]
	if !ok {
		return model.Resource{}
	}
	id, _ := rec.RequestParams[t.param].(string)
	if id == "" {
		return model.Resource{}
	}
	r := model.Resource{Provider: "aws", Type: t.typ, ID: id, Name: id, Region: rec.AWSRegion, Account: rec.RecipientAccountID}
	if r.Region == "" {
		r.Region = ev.Region
	}
	if r.Account == "" {
		r.Account = ev.Account
	}
	return r
}
