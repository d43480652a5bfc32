package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Handlers that act on the cloud or report failed operations.
const (
	// HandlerEnforce applies the environment's enforcement to the
	// resources an event created outside the code, seconds after the
	// event.
	HandlerEnforce = "enforce"
	// HandlerTag stamps tags (created-by, created-at) on resources
	// created outside the pipeline.
	HandlerTag = "tag"
	// HandlerGrant attaches a policy to a group when a resource of a
	// configured type appears.
	HandlerGrant = "grant"
	// HandlerOperationFailed reports failed cloud operations as findings.
	HandlerOperationFailed = "operation-failed"
)

// handlerTypes lists every handler type, for error messages.
const handlerTypes = "validate, audit, drift-check, runbook, enforce, tag, grant or operation-failed"

// TagPlaceholders are the values a tag handler's templates may use.
var TagPlaceholders = []string{"principal", "time", "event_id", "operation", "account", "region"}

var (
	placeholderRe = regexp.MustCompile(`\{([^{}]*)\}`)
	iamPolicyARN  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]+$`)
	iamGroupName  = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	tfTypeName    = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]+$`)
)

// actHandler validates the settings of enforce, tag, grant and
// operation-failed handlers.
func (v *validator) actHandler(hf string, h *Handler) {
	for i, t := range h.ResourceTypes {
		if !tfTypeName.MatchString(t) {
			v.errf(fmt.Sprintf("%s.resource_types[%d]", hf, i), "%q: want a Terraform type such as aws_s3_bucket", t)
		}
	}
	switch h.Type {
	case HandlerTag:
		if len(h.Tags) == 0 {
			v.errf(hf+".tags", "tag needs tags: {created-by: \"{principal}\", created-at: \"{time}\"}")
		}
		for k, val := range h.Tags {
			kf := hf + ".tags." + k
			switch {
			case strings.TrimSpace(k) == "" || len(k) > 128:
				v.errf(kf, "a tag key is 1 to 128 characters")
			case strings.HasPrefix(strings.ToLower(k), "aws:"):
				v.errf(kf, "tag keys starting with aws: are reserved by AWS")
			}
			for _, m := range placeholderRe.FindAllStringSubmatch(val, -1) {
				if !contains(TagPlaceholders, m[1]) {
					v.errf(kf, "unknown placeholder {%s}: want {%s}", m[1], strings.Join(TagPlaceholders, "}, {"))
				}
			}
		}
	case HandlerGrant:
		if len(h.ResourceTypes) == 0 {
			v.errf(hf+".resource_types", "grant needs the resource types that trigger it (resource_types: [aws_s3_bucket])")
		}
		switch {
		case h.Policy == "":
			v.errf(hf+".policy", "grant needs the IAM policy ARN to attach (arn:aws:iam::123456789012:policy/NAME)")
		case !iamPolicyARN.MatchString(h.Policy):
			v.errf(hf+".policy", "%q: want an IAM policy ARN (arn:aws:iam::123456789012:policy/NAME)", h.Policy)
		}
		switch {
		case h.Group == "":
			v.errf(hf+".group", "grant needs the IAM group to attach the policy to")
		case !iamGroupName.MatchString(h.Group):
			v.errf(hf+".group", "%q: want an IAM group name", h.Group)
		}
	}
	if h.Type != HandlerTag && h.Type != HandlerGrant && len(h.ResourceTypes) > 0 {
		v.errf(hf+".resource_types", "only tag and grant take resource_types")
	}
	if h.Type != HandlerTag && len(h.Tags) > 0 {
		v.errf(hf+".tags", "only tag takes tags")
	}
	if h.Type != HandlerGrant && (h.Policy != "" || h.Group != "") {
		v.errf(hf, "only grant takes policy and group")
	}
}

// actHandlerEnvironments checks the handlers that act against their
// subscription's environment: every write needs the account allow-list,
// enforce needs a verb to apply, and grant is AWS only for now.
func (v *validator) actHandlerEnvironments(c *Config) {
	for i, s := range c.Subscriptions {
		env, ok := c.Environment(s.Environment)
		if !ok {
			continue // reported by the subscription check
		}
		for j, h := range s.Handlers {
			hf := fmt.Sprintf("subscriptions[%d].handlers[%d]", i, j)
			switch h.Type {
			case HandlerEnforce, HandlerTag, HandlerGrant:
			default:
				continue
			}
			if len(env.Accounts) == 0 {
				v.errf(hf+".type", "%s changes the cloud, so environment %s needs accounts: [...] (nothing is ever changed outside them)", h.Type, env.Name)
			}
			if h.Type == HandlerEnforce && env.Enforcement.Unmanaged == ActionReport {
				v.errf(hf+".type", "enforce applies environment %s's enforcement, which is report: set enforcement.unmanaged to quarantine or delete", env.Name)
			}
			if h.Type == HandlerGrant && env.Cloud == "azure" {
				v.errf(hf+".type", "grant attaches IAM policies and is not available on Azure yet")
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
