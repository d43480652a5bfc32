package aws

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/model"
)

// Security group rules are compared as sets of canonical strings, one per
// (protocol, from port, to port, source). AWS groups permissions one way,
// Terraform's inline blocks another, and the separate rule resources a
// third; exploding every permission to one string per source makes the
// three meet. Descriptions are left out: they do not change what traffic
// passes.
//
// Terraform removes the allow-all egress rule AWS adds to a new group and
// then writes exactly the egress the code declares, so the live egress set
// equals the declared one and needs no special casing. A group whose rules
// are declared as separate resources holds them both in its own refreshed
// state and in the folded children; the drift engine merges folded values
// as a set union, and these strings are what makes that union exact.

// foldListers lists child types folded into a parent.
func foldListers() []folder {
	return []folder{
		{childType: "aws_security_group_rule", parentType: "aws_security_group", fold: sgFoldRule},
		{childType: "aws_vpc_security_group_ingress_rule", parentType: "aws_security_group", fold: sgFoldVPCRule("ingress")},
		{childType: "aws_vpc_security_group_egress_rule", parentType: "aws_security_group", fold: sgFoldVPCRule("egress")},
	}
}

// SecurityGroupRule renders one security group permission for a single
// source in the canonical form both the live lister and the state mapper
// use, e.g. "tcp 443:443 10.0.0.0/16" or "-1 0:0 sg-0123". It is exported so
// that code building expected rule sets (remediation, tests) renders them
// exactly as the inventory does.
//
// protocol may be a name or an IANA number ("6", "all", "-1"); ports are
// dropped (0:0) for protocols that have none. source is an IPv4 or IPv6
// CIDR, a prefix list id or a security group id ("account/sg-id" is
// reduced to the group id, which is unique on its own).
func SecurityGroupRule(protocol string, from, to int64, source string) string {
	p := sgProtocol(protocol)
	if !sgHasPorts(p) {
		from, to = 0, 0
	}
	return fmt.Sprintf("%s %d:%d %s", p, from, to, sgSource(source))
}

// sgProtocol names protocols the way AWS answers DescribeSecurityGroups:
// tcp, udp, icmp and icmpv6 by name, everything else by number, and -1 for
// all traffic.
func sgProtocol(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	switch p {
	case "-1", "all":
		return "-1"
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	case "58":
		return "icmpv6"
	}
	return p
}

// sgHasPorts reports whether ports mean anything for a protocol; for any
// other AWS ignores them and allows every port.
func sgHasPorts(p string) bool {
	switch p {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}

// sgSource normalizes a rule source: CIDRs in their canonical text form
// (AWS lowercases and compresses IPv6), security group ids without the
// owning account.
func sgSource(s string) string {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.String()
	}
	if i := strings.LastIndex(s, "/"); i >= 0 && strings.Contains(s[i:], "sg-") {
		return s[i+1:]
	}
	return s
}

// sgPorts returns the port range of a permission; absent ports mean "all"
// for ICMP (-1) and nothing for protocols without ports.
func sgPorts(p string, from, to *int64) (int64, int64) {
	def := int64(0)
	if p == "icmp" || p == "icmpv6" {
		def = -1
	}
	f, t := def, def
	if from != nil {
		f = *from
	}
	if to != nil {
		t = *to
	}
	return f, t
}

// sgSet sorts and deduplicates rule strings. The result is never nil, so an
// empty live set and an empty declared set compare equal.
func sgSet(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// sgRulesFromPermissions renders the permissions DescribeSecurityGroups
// returns.
func sgRulesFromPermissions(perms []types.IpPermission) []string {
	var out []string
	for _, perm := range perms {
		proto := sgProtocol(aws.ToString(perm.IpProtocol))
		from, to := sgPorts(proto, ec2Int64Ptr(perm.FromPort), ec2Int64Ptr(perm.ToPort))
		add := func(src string) {
			if src != "" {
				out = append(out, SecurityGroupRule(proto, from, to, src))
			}
		}
		for _, r := range perm.IpRanges {
			add(aws.ToString(r.CidrIp))
		}
		for _, r := range perm.Ipv6Ranges {
			add(aws.ToString(r.CidrIpv6))
		}
		for _, pl := range perm.PrefixListIds {
			add(aws.ToString(pl.PrefixListId))
		}
		for _, g := range perm.UserIdGroupPairs {
			id := aws.ToString(g.GroupId)
			if id == "" {
				id = aws.ToString(g.GroupName)
			}
			add(id)
		}
	}
	return sgSet(out)
}

func ec2Int64Ptr(p *int32) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

// sgStateStrings reads a list or set of strings from state.
func sgStateStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sgStatePort reads a port from state; nil when absent or null (the
// aws_vpc_security_group_*_rule resources leave ports null for -1).
func sgStatePort(attrs map[string]any, key string) *int64 {
	n, ok := ec2StateInt(attrs, key)
	if !ok {
		return nil
	}
	return &n
}

// sgRulesFromStateRule renders one rule as state describes it, an inline
// ingress/egress object of aws_security_group or an aws_security_group_rule.
// The sources differ only in how another group is named: security_groups
// (a list) inline, source_security_group_id on the rule resource.
func sgRulesFromStateRule(groupID string, rule map[string]any) []string {
	proto := sgProtocol(str(rule, "protocol"))
	from, to := sgPorts(proto, sgStatePort(rule, "from_port"), sgStatePort(rule, "to_port"))
	var sources []string
	sources = append(sources, sgStateStrings(rule["cidr_blocks"])...)
	sources = append(sources, sgStateStrings(rule["ipv6_cidr_blocks"])...)
	sources = append(sources, sgStateStrings(rule["prefix_list_ids"])...)
	sources = append(sources, sgStateStrings(rule["security_groups"])...)
	if sg := str(rule, "source_security_group_id"); sg != "" {
		sources = append(sources, sg)
	}
	if self, _ := ec2StateBool(rule, "self"); self && groupID != "" {
		sources = append(sources, groupID)
	}
	out := make([]string, 0, len(sources))
	for _, src := range sources {
		out = append(out, SecurityGroupRule(proto, from, to, src))
	}
	return out
}

// sgRulesFromState renders an aws_security_group's ingress or egress list.
// ok is false when state does not hold the attribute, so it is not compared.
func sgRulesFromState(groupID string, v any) ([]string, bool) {
	if v == nil {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []string
	for _, x := range list {
		if rule, ok := x.(map[string]any); ok {
			out = append(out, sgRulesFromStateRule(groupID, rule)...)
		}
	}
	return sgSet(out), true
}

func listEC2SecurityGroups(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	return describeEC2SecurityGroups(ctx, s, region, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(ec2MaxResults)})
}

// getEC2SecurityGroups reads the groups ids by id (DescribeSecurityGroups
// with GroupIds), the same resources the listing gives for them.
func getEC2SecurityGroups(ctx context.Context, s *session, region string, ids []string) ([]model.Resource, error) {
	return describeEC2SecurityGroups(ctx, s, region, &ec2.DescribeSecurityGroupsInput{GroupIds: ids})
}

func describeEC2SecurityGroups(ctx context.Context, s *session, region string, in *ec2.DescribeSecurityGroupsInput) ([]model.Resource, error) {
	p := ec2.NewDescribeSecurityGroupsPaginator(ec2Client(s, region), in)
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe security groups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			id := aws.ToString(g.GroupId)
			arn := aws.ToString(g.SecurityGroupArn)
			if arn == "" {
				arn = ec2ARN(region, ec2Owner(g.OwnerId, s), "security-group/"+id)
			}
			r := ec2Live(id, arn, ec2Tags(g.Tags), map[string]any{
				"ingress": sgRulesFromPermissions(g.IpPermissions),
				"egress":  sgRulesFromPermissions(g.IpPermissionsEgress),
			})
			if r.Name == "" {
				r.Name = aws.ToString(g.GroupName)
			}
			if aws.ToString(g.GroupName) == "default" {
				r.Default = ec2DefaultSGReason
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func ec2SecurityGroupFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	if r.Name == "" {
		r.Name = str(attrs, "name")
	}
	for _, dir := range []string{"ingress", "egress"} {
		if rules, ok := sgRulesFromState(r.ID, attrs[dir]); ok {
			r.Attributes[dir] = rules
		}
	}
	return r, true
}

// sgFoldRule folds an aws_security_group_rule into its group.
func sgFoldRule(attrs map[string]any) (string, map[string][]string, bool) {
	group := str(attrs, "security_group_id")
	dir := str(attrs, "type")
	if group == "" || (dir != "ingress" && dir != "egress") {
		return "", nil, false
	}
	return group, map[string][]string{dir: sgSet(sgRulesFromStateRule(group, attrs))}, true
}

// sgFoldVPCRule folds the one-source rule resources
// (aws_vpc_security_group_ingress_rule, ..._egress_rule) into their group.
func sgFoldVPCRule(dir string) func(map[string]any) (string, map[string][]string, bool) {
	return func(attrs map[string]any) (string, map[string][]string, bool) {
		group := str(attrs, "security_group_id")
		if group == "" {
			return "", nil, false
		}
		proto := sgProtocol(str(attrs, "ip_protocol"))
		from, to := sgPorts(proto, sgStatePort(attrs, "from_port"), sgStatePort(attrs, "to_port"))
		var rules []string
		for _, k := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"} {
			if src := str(attrs, k); src != "" {
				rules = append(rules, SecurityGroupRule(proto, from, to, src))
			}
		}
		return group, map[string][]string{dir: sgSet(rules)}, true
	}
}
