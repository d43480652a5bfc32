package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// rdsListers covers RDS DB instances and DB subnet groups. The RDS API also
// serves Aurora, DocumentDB and Neptune, whose instances and subnet groups
// come back from the same Describe calls; their Terraform types are aliases
// of these live types, so an Aurora instance declared as
// aws_rds_cluster_instance is recognised as managed instead of being
// reported as an unmanaged aws_db_instance.
func rdsListers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_db_instance",
				Service:  "rds",
				Compared: []string{"instance_class"},
			},
			list:      listDBInstances,
			fromState: dbInstanceFromState,
			aliases:   []string{"aws_rds_cluster_instance", "aws_docdb_cluster_instance", "aws_neptune_cluster_instance"},
		},
		{
			Type: inventory.Type{
				Name:     "aws_db_subnet_group",
				Service:  "rds",
				Compared: []string{"description", "subnet_ids"},
			},
			list:      listDBSubnetGroups,
			fromState: dbSubnetGroupFromState,
			aliases:   []string{"aws_docdb_subnet_group", "aws_neptune_subnet_group"},
		},
	}
}

// rdsPageSize is the largest MaxRecords the RDS Describe calls accept.
const rdsPageSize = 100

// listDBInstances pages through DescribeDBInstances, which returns each
// instance's tags inline: one call per hundred instances, nothing per
// instance.
func listDBInstances(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := rds.NewFromConfig(s.config(region))
	p := rds.NewDescribeDBInstancesPaginator(client, &rds.DescribeDBInstancesInput{MaxRecords: aws.Int32(rdsPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("rds DescribeDBInstances in %s: %w", region, err)
		}
		for _, db := range page.DBInstances {
			id := aws.ToString(db.DBInstanceIdentifier)
			if id == "" {
				continue
			}
			out = append(out, model.Resource{
				ID:   id,
				Name: id,
				ARN:  aws.ToString(db.DBInstanceArn),
				Tags: rdsTags(db.TagList),
				Attributes: map[string]any{
					"instance_class": aws.ToString(db.DBInstanceClass),
					// For policy evaluation only (not in Compared): the
					// describe call returns them anyway.
					"storage_encrypted":          aws.ToBool(db.StorageEncrypted),
					"publicly_accessible":        aws.ToBool(db.PubliclyAccessible),
					"auto_minor_version_upgrade": aws.ToBool(db.AutoMinorVersionUpgrade),
				},
			})
		}
	}
	return out, nil
}

// dbInstanceFromState maps aws_db_instance (and the cluster instance types
// aliased to it). Provider 5.x stores the DbiResourceId ("db-...") as id,
// but imports by the DB identifier, which it keeps in "identifier"; the
// identifier is what the live side uses, so it is preferred. States written
// by provider 4.x and the cluster instance types hold the identifier in id.
func dbInstanceFromState(attrs map[string]any) (model.Resource, bool) {
	id := str(attrs, "identifier")
	if id == "" {
		id = str(attrs, "id")
	}
	if id == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         id,
		Name:       id,
		ARN:        str(attrs, "arn"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "instance_class")
	return r, true
}

// listDBSubnetGroups pages through DescribeDBSubnetGroups. That call does
// not return tags (and the tagging API in moto does not cover subnet
// groups), so tags are read with one ListTagsForResource per group, at
// most s.parallel at a time. Subnet groups are few per account, so this is
// cheap in practice.
func listDBSubnetGroups(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := rds.NewFromConfig(s.config(region))
	p := rds.NewDescribeDBSubnetGroupsPaginator(client, &rds.DescribeDBSubnetGroupsInput{MaxRecords: aws.Int32(rdsPageSize)})
	var groups []rdstypes.DBSubnetGroup
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("rds DescribeDBSubnetGroups in %s: %w", region, err)
		}
		groups = append(groups, page.DBSubnetGroups...)
	}

	out := make([]model.Resource, len(groups))
	for i, g := range groups {
		name := aws.ToString(g.DBSubnetGroupName)
		subnets := make([]string, 0, len(g.Subnets))
		for _, sn := range g.Subnets {
			if id := aws.ToString(sn.SubnetIdentifier); id != "" {
				subnets = append(subnets, id)
			}
		}
		sort.Strings(subnets)
		out[i] = model.Resource{
			ID:   name,
			Name: name,
			ARN:  aws.ToString(g.DBSubnetGroupArn),
			Attributes: map[string]any{
				"description": aws.ToString(g.DBSubnetGroupDescription),
				"subnet_ids":  subnets,
			},
			Default: rdsDefaultSubnetGroup(name),
		}
	}
	kept, err := s.readTagsEach(ctx, "aws_db_subnet_group", "DBSubnetGroupNotFoundFault", out,
		func(ctx context.Context, r *model.Resource) (map[string]string, error) {
			resp, err := client.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(r.ARN)})
			if err != nil {
				return nil, err
			}
			return rdsTags(resp.TagList), nil
		})
	if err != nil {
		return nil, fmt.Errorf("rds ListTagsForResource in %s: %w", region, err)
	}
	return kept, nil
}

// rdsDefaultSubnetGroup says why RDS itself created a subnet group: RDS
// makes "default" (and the console "default-vpc-..." groups) when an
// instance is launched without one. Users cannot name a group "default".
func rdsDefaultSubnetGroup(name string) string {
	if name == "default" || strings.HasPrefix(name, "default-vpc-") {
		return "default DB subnet group created by RDS"
	}
	return ""
}

// dbSubnetGroupFromState maps aws_db_subnet_group and the DocumentDB and
// Neptune subnet groups, which are the same RDS object; all use the name
// as id.
func dbSubnetGroupFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         name,
		Name:       name,
		ARN:        str(attrs, "arn"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "description")
	appCopyStringSet(r.Attributes, attrs, "subnet_ids")
	return r, true
}

// rdsTags converts an RDS tag list to user tags.
func rdsTags(in []rdstypes.Tag) map[string]string {
	out := make(map[string]string, len(in))
	for _, t := range in {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return userTags(out)
}

// The helpers below are shared by the rds, lambda, kms, ecr, logs and
// route53 listers. They copy a state attribute into a Resource's
// Attributes only when the state holds it, because the drift engine
// compares only attributes both sides fill in: an absent attribute must
// stay absent rather than become a zero value that reads as drift.

// appCopyString copies a string attribute.
func appCopyString(dst, attrs map[string]any, key string) {
	if v, ok := attrs[key].(string); ok {
		dst[key] = v
	}
}

// appCopyNumber copies a numeric attribute as float64, the shape JSON
// decoding gives state numbers and the shape listers use.
func appCopyNumber(dst, attrs map[string]any, key string) {
	if v, ok := appNumber(attrs[key]); ok {
		dst[key] = v
	}
}

// appCopyBool copies a boolean attribute under another key, for types
// aliased to one live type whose attribute names differ.
func appCopyBool(dst, attrs map[string]any, from, to string) bool {
	if v, ok := attrs[from].(bool); ok {
		dst[to] = v
		return true
	}
	return false
}

// appCopyStringSet copies a list or set of strings as a sorted []string, so
// order never reads as drift.
func appCopyStringSet(dst, attrs map[string]any, key string) {
	raw, ok := attrs[key].([]any)
	if !ok {
		if ss, ok := attrs[key].([]string); ok {
			raw = make([]any, len(ss))
			for i, s := range ss {
				raw[i] = s
			}
		} else {
			return
		}
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	dst[key] = out
}

// appNumber reads a state number whichever way it was decoded.
func appNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// apiErrorCode returns the AWS error code of err, "" when it is not an
// API error.
func apiErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// appIndexTags returns a copy of a resource's user tags from a region's
// tag index, trying each ARN form given. idx is nil when the index could
// not be loaded: the tags are then unknown (nil) and never compared, but
// the resource itself is still reported.
func appIndexTags(idx *tagIndex, arns ...string) map[string]string {
	if idx == nil {
		return nil
	}
	for _, arn := range arns {
		if t, ok := idx.byARN[arn]; ok {
			return userTags(t)
		}
	}
	return map[string]string{}
}

// appTagIndex loads a service's tag index in a region, nil when it cannot
// be read.
func appTagIndex(ctx context.Context, s *session, region, service string) *tagIndex {
	idx, err := s.tagsFor(ctx, region, service)
	if err != nil {
		return nil
	}
	return idx
}
