package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// iamListers lists the global IAM types.
//
// Roles, users, groups and customer managed policies come from
// GetAccountAuthorizationDetails, one call per thousand entities of a kind,
// which also carries role and user tags, paths, trust policies and policy
// documents. Each lister asks only for its own kind (the Filter parameter),
// so the four listers never fetch the same data twice.
//
// Two kinds have no bulk source for their tags: AWS documents that
// ListInstanceProfiles does not return tags, and neither it, ListPolicies
// nor GetAccountAuthorizationDetails carry managed policy tags. Those tags
// are read per resource (GetInstanceProfile, ListPolicyTags) with
// bounded concurrency; a failed tag read leaves that resource's tags nil
// (unknown) instead of failing the listing. moto 5.2 does return instance
// profile tags in listings, but relying on that would report false drift
// against real AWS.
func iamListers() []lister {
	return []lister{
		{
			Type:      inventory.Type{Name: "aws_iam_role", Service: "iam", Global: true, Compared: []string{"path", "assume_role_policy"}},
			list:      listIAMRoles,
			fromState: iamRoleFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_iam_user", Service: "iam", Global: true, Compared: []string{"path"}},
			list:      listIAMUsers,
			fromState: iamUserFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_iam_group", Service: "iam", Global: true, Compared: []string{"path"}},
			list:      listIAMGroups,
			fromState: iamGroupFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_iam_policy", Service: "iam", Global: true, Compared: []string{"path", "policy"}},
			list:      listIAMPolicies,
			fromState: iamPolicyFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_iam_instance_profile", Service: "iam", Global: true, Compared: []string{"path", "role"}},
			list:      listIAMInstanceProfiles,
			fromState: iamInstanceProfileFromState,
		},
	}
}

// iamPageSize is the largest page the IAM list operations accept.
const iamPageSize = 1000

// iamAuthDetails pages through GetAccountAuthorizationDetails for one kind
// of entity.
func iamAuthDetails(ctx context.Context, s *session, kind iamtypes.EntityType, visit func(*iam.GetAccountAuthorizationDetailsOutput)) error {
	client := iam.NewFromConfig(s.config(""))
	p := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []iamtypes.EntityType{kind},
		MaxItems: aws.Int32(iamPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("IAM GetAccountAuthorizationDetails (%s): %w", kind, err)
		}
		visit(page)
	}
	return nil
}

func listIAMRoles(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	var out []model.Resource
	err := iamAuthDetails(ctx, s, iamtypes.EntityTypeRole, func(page *iam.GetAccountAuthorizationDetailsOutput) {
		for _, r := range page.RoleDetailList {
			arn := aws.ToString(r.Arn)
			name := aws.ToString(r.RoleName)
			path := aws.ToString(r.Path)
			attrs := map[string]any{"path": path}
			if doc := aws.ToString(r.AssumeRolePolicyDocument); doc != "" {
				attrs["assume_role_policy"] = iamCanonicalPolicy(iamDecodeDocument(doc), arnField(arn, 1))
			}
			out = append(out, model.Resource{
				ID:         name,
				Account:    arnField(arn, 4),
				Name:       name,
				ARN:        arn,
				Tags:       iamTags(r.Tags),
				Attributes: attrs,
				Default:    iamRoleDefault(name, path),
			})
		}
	})
	return out, err
}

// iamRoleDefault says why a role belongs to AWS rather than to the code:
// service-linked roles are created and deleted by the service that owns
// them, and IAM Identity Center creates one AWSReservedSSO_ role per
// permission set in every assigned account.
func iamRoleDefault(name, path string) string {
	switch {
	case strings.HasPrefix(path, "/aws-service-role/"):
		return "service-linked role, managed by its AWS service"
	case strings.HasPrefix(name, "AWSReservedSSO_") || strings.HasPrefix(path, "/aws-reserved/"):
		return "IAM Identity Center permission set role"
	}
	return ""
}

func iamRoleFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := iamNamedFromState(attrs)
	if !ok {
		return r, false
	}
	if doc := str(attrs, "assume_role_policy"); doc != "" {
		r.Attributes["assume_role_policy"] = iamCanonicalPolicy(doc, arnField(r.ARN, 1))
	}
	return r, true
}

func listIAMUsers(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	var out []model.Resource
	err := iamAuthDetails(ctx, s, iamtypes.EntityTypeUser, func(page *iam.GetAccountAuthorizationDetailsOutput) {
		for _, u := range page.UserDetailList {
			arn := aws.ToString(u.Arn)
			name := aws.ToString(u.UserName)
			out = append(out, model.Resource{
				ID:         name,
				Account:    arnField(arn, 4),
				Name:       name,
				ARN:        arn,
				Tags:       iamTags(u.Tags),
				Attributes: map[string]any{"path": aws.ToString(u.Path)},
			})
		}
	})
	return out, err
}

func iamUserFromState(attrs map[string]any) (model.Resource, bool) {
	return iamNamedFromState(attrs)
}

func listIAMGroups(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	var out []model.Resource
	err := iamAuthDetails(ctx, s, iamtypes.EntityTypeGroup, func(page *iam.GetAccountAuthorizationDetailsOutput) {
		for _, g := range page.GroupDetailList {
			arn := aws.ToString(g.Arn)
			name := aws.ToString(g.GroupName)
			out = append(out, model.Resource{
				ID:      name,
				Account: arnField(arn, 4),
				Name:    name,
				ARN:     arn,
				// IAM groups cannot be tagged: known to have none.
				Tags:       map[string]string{},
				Attributes: map[string]any{"path": aws.ToString(g.Path)},
			})
		}
	})
	return out, err
}

func iamGroupFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := iamNamedFromState(attrs)
	if ok {
		// aws_iam_group has no tags attribute; both sides say "none".
		r.Tags = map[string]string{}
	}
	return r, ok
}

// listIAMPolicies lists customer managed policies only (the
// LocalManagedPolicy filter): AWS managed policies are never in anyone's
// code and never unmanaged.
func listIAMPolicies(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	var out []model.Resource
	err := iamAuthDetails(ctx, s, iamtypes.EntityTypeLocalManagedPolicy, func(page *iam.GetAccountAuthorizationDetailsOutput) {
		for _, p := range page.Policies {
			arn := aws.ToString(p.Arn)
			attrs := map[string]any{"path": aws.ToString(p.Path)}
			for _, v := range p.PolicyVersionList {
				if v.IsDefaultVersion && v.Document != nil {
					attrs["policy"] = iamCanonicalPolicy(iamDecodeDocument(*v.Document), arnField(arn, 1))
				}
			}
			out = append(out, model.Resource{
				ID:         arn,
				Account:    arnField(arn, 4),
				Name:       aws.ToString(p.PolicyName),
				ARN:        arn,
				Attributes: attrs,
			})
		}
	})
	if err != nil {
		return nil, err
	}
	client := iam.NewFromConfig(s.config(""))
	err = parallelDo(ctx, len(out), s.parallel, func(ctx context.Context, i int) error {
		if !s.wantsDetail("aws_iam_policy", out[i].ID) {
			return nil // tags unknown: not declared, so not compared
		}
		tags, err := iamReadTags(ctx, func(ctx context.Context, marker *string) ([]iamtypes.Tag, *string, error) {
			o, err := client.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: aws.String(out[i].ARN), Marker: marker})
			if err != nil {
				return nil, nil, err
			}
			return o.Tags, iamNextMarker(o.IsTruncated, o.Marker), nil
		})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		out[i].Tags = tags
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("IAM ListPolicyTags: %w", err)
	}
	return out, nil
}

func iamPolicyFromState(attrs map[string]any) (model.Resource, bool) {
	arn := str(attrs, "arn")
	if arn == "" {
		arn = str(attrs, "id")
	}
	if arn == "" {
		return model.Resource{}, false
	}
	out := map[string]any{"path": iamPathOrRoot(attrs)}
	if doc := str(attrs, "policy"); doc != "" {
		out["policy"] = iamCanonicalPolicy(doc, arnField(arn, 1))
	}
	return model.Resource{
		ID:         arn,
		Account:    arnField(arn, 4),
		Name:       str(attrs, "name"),
		ARN:        arn,
		Tags:       stateTags(attrs),
		Attributes: out,
	}, true
}

// listIAMInstanceProfiles uses ListInstanceProfiles rather than the
// profiles nested in role details, which leave out profiles without a role.
func listIAMInstanceProfiles(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	client := iam.NewFromConfig(s.config(""))
	p := iam.NewListInstanceProfilesPaginator(client, &iam.ListInstanceProfilesInput{MaxItems: aws.Int32(iamPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("IAM ListInstanceProfiles: %w", err)
		}
		for _, ip := range page.InstanceProfiles {
			arn := aws.ToString(ip.Arn)
			name := aws.ToString(ip.InstanceProfileName)
			role := ""
			if len(ip.Roles) > 0 {
				role = aws.ToString(ip.Roles[0].RoleName)
			}
			out = append(out, model.Resource{
				ID:         name,
				Account:    arnField(arn, 4),
				Name:       name,
				ARN:        arn,
				Attributes: map[string]any{"path": aws.ToString(ip.Path), "role": role},
			})
		}
	}
	// GetInstanceProfile rather than ListInstanceProfileTags: the same one
	// call per profile against AWS, and moto 5.2 implements only the former.
	err := parallelDo(ctx, len(out), s.parallel, func(ctx context.Context, i int) error {
		if !s.wantsDetail("aws_iam_instance_profile", out[i].ID) {
			return nil // tags unknown: not declared, so not compared
		}
		o, err := client.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(out[i].ID)})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // tags unknown for this profile
		}
		if o.InstanceProfile != nil {
			out[i].Tags = iamTags(o.InstanceProfile.Tags)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("IAM GetInstanceProfile: %w", err)
	}
	return out, nil
}

func iamInstanceProfileFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := iamNamedFromState(attrs)
	if ok {
		r.Attributes["role"] = str(attrs, "role")
	}
	return r, ok
}

// iamNamedFromState maps the IAM types whose import id is their name.
func iamNamedFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	arn := str(attrs, "arn")
	return model.Resource{
		ID:         name,
		Account:    arnField(arn, 4),
		Name:       name,
		ARN:        arn,
		Tags:       stateTags(attrs),
		Attributes: map[string]any{"path": iamPathOrRoot(attrs)},
	}, true
}

// iamPathOrRoot is the state's path, "/" (IAM's default, which the provider
// also defaults to) when the state does not hold one.
func iamPathOrRoot(attrs map[string]any) string {
	if p := str(attrs, "path"); p != "" {
		return p
	}
	return "/"
}

// iamReadTags pages through one resource's tag listing. On error it
// returns nil tags (unknown) with the error.
func iamReadTags(ctx context.Context, page func(ctx context.Context, marker *string) ([]iamtypes.Tag, *string, error)) (map[string]string, error) {
	out := map[string]string{}
	var marker *string
	for {
		tags, next, err := page(ctx, marker)
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			out[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if next == nil {
			return userTags(out), nil
		}
		marker = next
	}
}

func iamNextMarker(truncated bool, marker *string) *string {
	if !truncated || aws.ToString(marker) == "" {
		return nil
	}
	return marker
}

// iamTags converts the tags IAM returns with an entity.
func iamTags(tags []iamtypes.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return userTags(out)
}

// iamDecodeDocument undoes the URL encoding (RFC 3986) AWS applies to the
// policy documents GetAccountAuthorizationDetails returns. A document that
// is already plain JSON, as moto returns it, is kept as is.
func iamDecodeDocument(doc string) string {
	trimmed := strings.TrimSpace(doc)
	if strings.HasPrefix(trimmed, "{") {
		return trimmed
	}
	if dec, err := url.PathUnescape(trimmed); err == nil {
		return dec
	}
	return trimmed
}

// iamIsAccountID reports whether an AWS principal is a bare account id.
func iamIsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// iamCanonicalPolicy rewrites a policy document into one canonical JSON
// string so that documents IAM treats as equal compare equal. Terraform
// keeps the document as written when AWS returns an equivalent one, and
// AWS returns it reformatted, so comparing raw strings would report drift
// that is not there. The rewrite: a single Statement becomes a list and
// statements are sorted; Action, NotAction, Resource, NotResource and
// every principal and condition value become sorted lists of strings; a
// "*" principal becomes {"AWS": ["*"]}; a bare account id principal
// becomes its root ARN (IAM stores it that way); an empty Sid is dropped;
// keys are sorted. A document that is not JSON is returned trimmed.
func iamCanonicalPolicy(doc, partition string) string {
	var v any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return strings.TrimSpace(doc)
	}
	if partition == "" {
		partition = "aws"
	}
	return iamJSON(iamNormPolicy(v, partition))
}

func iamNormPolicy(v any, partition string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[k] = val
	}
	var list []any
	switch st := m["Statement"].(type) {
	case []any:
		list = st
	case map[string]any:
		list = []any{st}
	default:
		return out
	}
	norm := make([]any, len(list))
	keys := make([]string, len(list))
	for i, s := range list {
		norm[i] = iamNormStatement(s, partition)
		keys[i] = iamJSON(norm[i])
	}
	sort.Sort(iamByKey{norm, keys})
	out["Statement"] = norm
	return out
}

func iamNormStatement(v any, partition string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		switch k {
		case "Sid":
			if s, ok := val.(string); ok && s == "" {
				continue
			}
			out[k] = val
		case "Action", "NotAction", "Resource", "NotResource":
			out[k] = iamStringSet(val)
		case "Principal", "NotPrincipal":
			out[k] = iamNormPrincipal(val, partition)
		case "Condition":
			out[k] = iamNormCondition(val)
		default:
			out[k] = val
		}
	}
	return out
}

func iamNormPrincipal(v any, partition string) any {
	if s, ok := v.(string); ok && s == "*" {
		return map[string]any{"AWS": []any{"*"}}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		set := iamStringSet(val)
		if k == "AWS" {
			if list, ok := set.([]any); ok {
				for i, p := range list {
					if s, ok := p.(string); ok && iamIsAccountID(s) {
						list[i] = fmt.Sprintf("arn:%s:iam::%s:root", partition, s)
					}
				}
				set = iamStringSet(list)
			}
		}
		out[k] = set
	}
	return out
}

func iamNormCondition(v any) any {
	ops, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(ops))
	for op, body := range ops {
		keys, ok := body.(map[string]any)
		if !ok {
			out[op] = body
			continue
		}
		nk := make(map[string]any, len(keys))
		for k, val := range keys {
			nk[k] = iamStringSet(val)
		}
		out[op] = nk
	}
	return out
}

// iamStringSet turns a scalar or a list of scalars into a sorted,
// de-duplicated list of strings. Anything else is returned unchanged.
func iamStringSet(v any) any {
	var items []any
	switch t := v.(type) {
	case []any:
		items = t
	default:
		items = []any{t}
	}
	set := map[string]bool{}
	for _, it := range items {
		switch s := it.(type) {
		case string:
			set[s] = true
		case bool:
			set[fmt.Sprintf("%t", s)] = true
		case json.Number:
			set[s.String()] = true
		default:
			return v
		}
	}
	strs := make([]string, 0, len(set))
	for s := range set {
		strs = append(strs, s)
	}
	sort.Strings(strs)
	out := make([]any, len(strs))
	for i, s := range strs {
		out[i] = s
	}
	return out
}

// iamJSON encodes with sorted keys and without HTML escaping, so the
// canonical form stays readable in reports.
func iamJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// iamByKey sorts statements by their canonical encoding.
type iamByKey struct {
	items []any
	keys  []string
}

func (b iamByKey) Len() int           { return len(b.keys) }
func (b iamByKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b iamByKey) Swap(i, j int) {
	b.items[i], b.items[j] = b.items[j], b.items[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}
