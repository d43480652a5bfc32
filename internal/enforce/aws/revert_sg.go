package aws

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// revertRules puts a security group's ingress or egress back to the rule
// set the code declares: rules live now but not in code are revoked,
// rules in code but not live are authorized. Rules are the inventory's
// canonical strings ("tcp 443:443 10.0.0.0/16").
func revertRules(ctx context.Context, c *clients, groupID, direction string, live, code []string) (string, error) {
	var revoke, authorize []ec2types.IpPermission
	var nRevoke, nAuth int
	for _, r := range live {
		if slices.Contains(code, r) {
			continue
		}
		p, err := parseRule(r)
		if err != nil {
			return "", err
		}
		revoke = append(revoke, p)
		nRevoke++
	}
	for _, r := range code {
		if slices.Contains(live, r) {
			continue
		}
		p, err := parseRule(r)
		if err != nil {
			return "", err
		}
		authorize = append(authorize, p)
		nAuth++
	}
	client := ec2.NewFromConfig(c.cfg)
	id := aws.String(groupID)
	if len(revoke) > 0 {
		var err error
		if direction == "egress" {
			_, err = client.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: id, IpPermissions: revoke})
		} else {
			_, err = client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: id, IpPermissions: revoke})
		}
		if err != nil {
			return "", err
		}
	}
	if len(authorize) > 0 {
		var err error
		if direction == "egress" {
			_, err = client.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: id, IpPermissions: authorize})
		} else {
			_, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: id, IpPermissions: authorize})
		}
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s: revoked %d rule(s), authorized %d", direction, nRevoke, nAuth), nil
}

// parseRule turns a canonical rule string back into one permission with
// one source.
func parseRule(s string) (ec2types.IpPermission, error) {
	parts := strings.Fields(s)
	if len(parts) != 3 {
		return ec2types.IpPermission{}, fmt.Errorf("security group rule %q: want PROTOCOL FROM:TO SOURCE", s)
	}
	proto, ports, src := parts[0], parts[1], parts[2]
	fromS, toS, ok := strings.Cut(ports, ":")
	from, err1 := strconv.ParseInt(fromS, 10, 32)
	to, err2 := strconv.ParseInt(toS, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return ec2types.IpPermission{}, fmt.Errorf("security group rule %q: bad port range %q", s, ports)
	}
	p := ec2types.IpPermission{IpProtocol: aws.String(proto)}
	switch proto {
	case "tcp", "udp", "icmp", "icmpv6":
		p.FromPort, p.ToPort = aws.Int32(int32(from)), aws.Int32(int32(to))
	}
	switch {
	case strings.HasPrefix(src, "sg-"):
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(src)}}
	case strings.HasPrefix(src, "pl-"):
		p.PrefixListIds = []ec2types.PrefixListId{{PrefixListId: aws.String(src)}}
	default:
		pfx, err := netip.ParsePrefix(src)
		if err != nil {
			return ec2types.IpPermission{}, fmt.Errorf("security group rule %q: source %q is not a CIDR, group or prefix list", s, src)
		}
		if pfx.Addr().Is4() {
			p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(src)}}
		} else {
			p.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(src)}}
		}
	}
	return p, nil
}
