package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

func ec2Quarantiners() map[string]quarantiner {
	return map[string]quarantiner{
		"aws_instance": {
			rank: rankCompute, read: readInstanceQuarantine, check: checkInstanceQuarantine,
			quarantine: quarantineInstance, release: releaseInstance,
			notFound: []string{"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
		},
		"aws_security_group": {
			rank: rankNetwork, read: readGroupQuarantine, quarantine: quarantineGroup, release: releaseGroup,
			notFound: []string{"InvalidGroup.NotFound", "InvalidGroupId.Malformed"},
		},
	}
}

// instanceQuarantine is what an instance quarantine saves and release
// restores: the security groups of the instance and of each of its
// network interfaces, whether it ran, and its tags.
type instanceQuarantine struct {
	InstanceID     string            `json:"instance_id"`
	State          string            `json:"state"`
	VpcID          string            `json:"vpc_id"`
	SecurityGroups []string          `json:"security_groups"`
	Interfaces     []interfaceGroups `json:"interfaces"`
	Tags           map[string]string `json:"tags"`
}

type interfaceGroups struct {
	ID     string   `json:"id"`
	Groups []string `json:"groups"`
}

func readInstanceQuarantine(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	in, err := describeInstance(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if in == nil || in.State == nil || in.State.Name == ec2types.InstanceStateNameTerminated || in.State.Name == ec2types.InstanceStateNameShuttingDown {
		return nil, true, nil
	}
	q := instanceQuarantine{InstanceID: r.ID, State: string(in.State.Name), VpcID: aws.ToString(in.VpcId),
		SecurityGroups: []string{}, Interfaces: []interfaceGroups{}, Tags: ec2Tags(in.Tags)}
	for _, g := range in.SecurityGroups {
		q.SecurityGroups = append(q.SecurityGroups, aws.ToString(g.GroupId))
	}
	for _, ni := range in.NetworkInterfaces {
		ig := interfaceGroups{ID: aws.ToString(ni.NetworkInterfaceId), Groups: []string{}}
		for _, g := range ni.Groups {
			ig.Groups = append(ig.Groups, aws.ToString(g.GroupId))
		}
		q.Interfaces = append(q.Interfaces, ig)
	}
	return q, false, nil
}

func checkInstanceQuarantine(ctx context.Context, c *clients, _ *Executor, r model.Resource) (string, error) {
	in, err := describeInstance(ctx, c, r.ID)
	if err != nil || in == nil {
		return "", err
	}
	if aws.ToString(in.VpcId) == "" {
		return "the instance is not in a VPC, so its security groups cannot be replaced", nil
	}
	return "", nil
}

// quarantineInstance replaces the instance's security groups by the
// VPC's isolation group (one network interface: ModifyInstanceAttribute;
// several: ModifyNetworkInterfaceAttribute on each), stops it when the
// settings say so, and tags it.
func quarantineInstance(ctx context.Context, c *clients, _ *Executor, a *enforce.Action, s plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b instanceQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := ec2.NewFromConfig(c.cfg)
	iso, err := isolationGroup(ctx, client, b.VpcID)
	if err != nil {
		return "", err
	}
	if len(b.Interfaces) > 1 {
		for _, ni := range b.Interfaces {
			if _, err := client.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
				NetworkInterfaceId: aws.String(ni.ID), Groups: []string{iso}}); err != nil {
				return "", err
			}
		}
	} else if _, err := client.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
		InstanceId: aws.String(b.InstanceID), Groups: []string{iso}}); err != nil {
		return "", err
	}
	result := fmt.Sprintf("security groups %s replaced by the isolation group %s of %s", listOrNone(b.SecurityGroups), iso, b.VpcID)
	if s.StopQuarantinedInstances && (b.State == string(ec2types.InstanceStateNameRunning) || b.State == string(ec2types.InstanceStateNamePending)) {
		if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{b.InstanceID}}); err != nil {
			return "", err
		}
		result += ", stopped"
	}
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{b.InstanceID},
		Tags: []ec2types.Tag{{Key: aws.String(TagQuarantined), Value: aws.String(a.Fingerprint)}}}); err != nil {
		return "", err
	}
	return result, nil
}

// releaseInstance puts the saved security groups back, starts the
// instance if it ran before and is stopped now, and restores its tags.
func releaseInstance(ctx context.Context, c *clients, _ *enforce.Action, raw json.RawMessage) (string, error) {
	var b instanceQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := ec2.NewFromConfig(c.cfg)
	if len(b.Interfaces) > 1 {
		for _, ni := range b.Interfaces {
			if _, err := client.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
				NetworkInterfaceId: aws.String(ni.ID), Groups: ni.Groups}); err != nil {
				return "", err
			}
		}
	} else if len(b.SecurityGroups) > 0 {
		if _, err := client.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(b.InstanceID), Groups: b.SecurityGroups}); err != nil {
			return "", err
		}
	}
	result := "security groups " + listOrNone(b.SecurityGroups) + " restored"
	in, err := describeInstance(ctx, c, b.InstanceID)
	if err != nil {
		return "", err
	}
	if b.State == string(ec2types.InstanceStateNameRunning) && in != nil && in.State != nil {
		switch in.State.Name {
		case ec2types.InstanceStateNameStopped:
			if _, err := client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{b.InstanceID}}); err != nil {
				return "", err
			}
			result += ", started"
		case ec2types.InstanceStateNameStopping:
			// Start refuses a stopping instance; the queue retries.
			return "", fmt.Errorf("%s is still stopping; it is started on the next attempt", b.InstanceID)
		}
	}
	put, remove := restoreTags(b.Tags, TagQuarantined)
	if err := ec2RestoreTags(ctx, client, b.InstanceID, put, remove); err != nil {
		return "", err
	}
	return result, nil
}

func ec2RestoreTags(ctx context.Context, client *ec2.Client, id string, put map[string]string, remove []string) error {
	if len(remove) > 0 {
		var ts []ec2types.Tag
		for _, k := range remove {
			ts = append(ts, ec2types.Tag{Key: aws.String(k)})
		}
		if _, err := client.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: ts}); err != nil {
			return err
		}
	}
	if len(put) > 0 {
		var ts []ec2types.Tag
		for k, v := range put {
			ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ts}); err != nil {
			return err
		}
	}
	return nil
}

// isolationGroup returns the VPC's isolation group, creating it the first
// time: a security group with no rules at all (its default allow-all
// egress removed), tagged plumb:isolation and plumb:protect so no
// enforcement ever acts on it. Whatever rules someone added to it since
// are revoked: an isolation group that lets traffic through isolates
// nothing.
func isolationGroup(ctx context.Context, client *ec2.Client, vpc string) (string, error) {
	find := func() (*ec2types.SecurityGroup, error) {
		out, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpc}},
			{Name: aws.String("group-name"), Values: []string{IsolationGroupName}},
		}})
		if err != nil {
			return nil, err
		}
		for i := range out.SecurityGroups {
			return &out.SecurityGroups[i], nil
		}
		return nil, nil
	}
	g, err := find()
	if err != nil {
		return "", err
	}
	if g == nil {
		_, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(IsolationGroupName), VpcId: aws.String(vpc),
			Description: aws.String("plumb quarantine: no rules, nothing in or out"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{
				{Key: aws.String(TagIsolation), Value: aws.String("quarantine")},
				{Key: aws.String(plumbconfig.DefaultProtectTag), Value: aws.String("isolation group of plumb quarantine")},
			}}},
		})
		if err != nil && !isCode(err, []string{"InvalidGroup.Duplicate"}) {
			return "", err
		}
		// Read it back either way: a concurrent quarantine may have made it.
		if g, err = find(); err != nil {
			return "", err
		}
		if g == nil {
			return "", fmt.Errorf("isolation group %s of %s was created but cannot be found", IsolationGroupName, vpc)
		}
	}
	id := aws.ToString(g.GroupId)
	if len(g.IpPermissions) > 0 {
		if _, err := client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: g.IpPermissions}); err != nil {
			return "", err
		}
	}
	if len(g.IpPermissionsEgress) > 0 {
		if _, err := client.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: g.IpPermissionsEgress}); err != nil {
			return "", err
		}
	}
	return id, nil
}

// groupQuarantine is what a security group quarantine saves and release
// restores: every rule, as AWS describes it (descriptions included), and
// the tags.
type groupQuarantine struct {
	GroupID string                  `json:"group_id"`
	VpcID   string                  `json:"vpc_id"`
	Ingress []ec2types.IpPermission `json:"ingress"`
	Egress  []ec2types.IpPermission `json:"egress"`
	Tags    map[string]string       `json:"tags"`
}

func readGroupQuarantine(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	out, err := ec2.NewFromConfig(c.cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{r.ID}})
	if err != nil {
		return nil, false, err
	}
	if len(out.SecurityGroups) == 0 {
		return nil, true, nil
	}
	g := out.SecurityGroups[0]
	return groupQuarantine{GroupID: r.ID, VpcID: aws.ToString(g.VpcId), Ingress: nonNil(g.IpPermissions), Egress: nonNil(g.IpPermissionsEgress),
		Tags: ec2Tags(g.Tags)}, false, nil
}

func nonNil(p []ec2types.IpPermission) []ec2types.IpPermission {
	if p == nil {
		return []ec2types.IpPermission{}
	}
	return p
}

// quarantineGroup revokes the rules the code does not declare (for an
// unmanaged group: every rule), one source at a time so a permission
// holding a declared and an undeclared source keeps the declared one, and
// tags the group. Revoking a rule already gone is a success.
func quarantineGroup(ctx context.Context, c *clients, _ *Executor, a *enforce.Action, _ plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b groupQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := ec2.NewFromConfig(c.cfg)
	revoked := 0
	for _, dir := range []struct {
		name  string
		perms []ec2types.IpPermission
	}{{"ingress", b.Ingress}, {"egress", b.Egress}} {
		var drop []ec2types.IpPermission
		for _, p := range splitPermissions(dir.perms) {
			if !slices.Contains(a.Keep[dir.name], p.rule) {
				drop = append(drop, p.perm)
			}
		}
		if len(drop) == 0 {
			continue
		}
		var err error
		if dir.name == "ingress" {
			_, err = client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(b.GroupID), IpPermissions: drop})
		} else {
			_, err = client.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(b.GroupID), IpPermissions: drop})
		}
		if err != nil && !isCode(err, []string{"InvalidPermission.NotFound"}) {
			return "", err
		}
		revoked += len(drop)
	}
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{b.GroupID},
		Tags: []ec2types.Tag{{Key: aws.String(TagQuarantined), Value: aws.String(a.Fingerprint)}}}); err != nil {
		return "", err
	}
	kept := len(a.Keep["ingress"]) + len(a.Keep["egress"])
	if kept > 0 {
		return fmt.Sprintf("%d rule(s) the code does not declare revoked, %d declared kept", revoked, kept), nil
	}
	return fmt.Sprintf("all %d rule(s) revoked", revoked), nil
}

// releaseGroup authorizes again every saved rule the group lacks now, and
// restores its tags. Rules added since the quarantine stay.
func releaseGroup(ctx context.Context, c *clients, _ *enforce.Action, raw json.RawMessage) (string, error) {
	var b groupQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := ec2.NewFromConfig(c.cfg)
	out, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{b.GroupID}})
	if err != nil {
		return "", err
	}
	if len(out.SecurityGroups) == 0 {
		return "already gone", nil
	}
	now := out.SecurityGroups[0]
	restored := 0
	for _, dir := range []struct {
		name       string
		saved, has []ec2types.IpPermission
	}{{"ingress", b.Ingress, now.IpPermissions}, {"egress", b.Egress, now.IpPermissionsEgress}} {
		present := map[string]bool{}
		for _, p := range splitPermissions(dir.has) {
			present[p.rule] = true
		}
		var add []ec2types.IpPermission
		for _, p := range splitPermissions(dir.saved) {
			if !present[p.rule] {
				add = append(add, p.perm)
			}
		}
		if len(add) == 0 {
			continue
		}
		if dir.name == "ingress" {
			_, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(b.GroupID), IpPermissions: add})
		} else {
			_, err = client.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(b.GroupID), IpPermissions: add})
		}
		if err != nil && !isCode(err, []string{"InvalidPermission.Duplicate"}) {
			return "", err
		}
		restored += len(add)
	}
	put, remove := restoreTags(b.Tags, TagQuarantined)
	if err := ec2RestoreTags(ctx, client, b.GroupID, put, remove); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rule(s) restored", restored), nil
}

// onePermission is a permission reduced to one source, with its canonical
// rule string (the inventory's form, which declared rules use).
type onePermission struct {
	rule string
	perm ec2types.IpPermission
}

// splitPermissions splits permissions into one per source, keeping each
// source's description, so rules can be revoked and restored one by one.
func splitPermissions(perms []ec2types.IpPermission) []onePermission {
	var out []onePermission
	for _, p := range perms {
		proto := aws.ToString(p.IpProtocol)
		from, to := permPorts(proto, p.FromPort, p.ToPort)
		base := ec2types.IpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort}
		for _, r := range p.IpRanges {
			q := base
			q.IpRanges = []ec2types.IpRange{r}
			out = append(out, onePermission{awsinv.SecurityGroupRule(proto, from, to, aws.ToString(r.CidrIp)), q})
		}
		for _, r := range p.Ipv6Ranges {
			q := base
			q.Ipv6Ranges = []ec2types.Ipv6Range{r}
			out = append(out, onePermission{awsinv.SecurityGroupRule(proto, from, to, aws.ToString(r.CidrIpv6)), q})
		}
		for _, pl := range p.PrefixListIds {
			q := base
			q.PrefixListIds = []ec2types.PrefixListId{pl}
			out = append(out, onePermission{awsinv.SecurityGroupRule(proto, from, to, aws.ToString(pl.PrefixListId)), q})
		}
		for _, g := range p.UserIdGroupPairs {
			q := base
			q.UserIdGroupPairs = []ec2types.UserIdGroupPair{g}
			src := aws.ToString(g.GroupId)
			if src == "" {
				src = aws.ToString(g.GroupName)
			}
			out = append(out, onePermission{awsinv.SecurityGroupRule(proto, from, to, src), q})
		}
	}
	return out
}

// permPorts reads a permission's ports as the inventory does: absent
// ports are -1 for ICMP and 0 otherwise.
func permPorts(proto string, from, to *int32) (int64, int64) {
	def := int64(0)
	if p := strings.ToLower(proto); p == "icmp" || p == "icmpv6" || p == "1" || p == "58" {
		def = -1
	}
	f, t := def, def
	if from != nil {
		f = int64(*from)
	}
	if to != nil {
		t = int64(*to)
	}
	return f, t
}

func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "(none)"
	}
	return strings.Join(ids, ", ")
}
