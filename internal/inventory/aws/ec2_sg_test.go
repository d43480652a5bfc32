package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

func TestSecurityGroupRuleCanonicalForm(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		from, to int64
		source   string
		want     string
	}{
		{"tcp by name", "tcp", 443, 443, "10.0.0.0/8", "tcp 443:443 10.0.0.0/8"},
		{"tcp by number", "6", 443, 443, "10.0.0.0/8", "tcp 443:443 10.0.0.0/8"},
		{"udp by number", "17", 53, 53, "10.0.0.0/8", "udp 53:53 10.0.0.0/8"},
		{"icmp by number keeps type and code", "1", 8, -1, "0.0.0.0/0", "icmp 8:-1 0.0.0.0/0"},
		{"icmpv6 by number", "58", -1, -1, "::/0", "icmpv6 -1:-1 ::/0"},
		{"all as -1 drops ports", "-1", 0, 65535, "0.0.0.0/0", "-1 0:0 0.0.0.0/0"},
		{"all by name", "ALL", -1, -1, "0.0.0.0/0", "-1 0:0 0.0.0.0/0"},
		{"other protocols have no ports", "50", 10, 20, "10.0.0.0/8", "50 0:0 10.0.0.0/8"},
		{"ipv6 lowercased and compressed", "tcp", 22, 22, "2001:DB8:0:0::/64", "tcp 22:22 2001:db8::/64"},
		{"group with owner account", "tcp", 5432, 5432, "123456789012/sg-0abc", "tcp 5432:5432 sg-0abc"},
		{"prefix list", "tcp", 443, 443, "pl-63a5400a", "tcp 443:443 pl-63a5400a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SecurityGroupRule(tc.protocol, tc.from, tc.to, tc.source); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSecurityGroupInlineRules creates groups the way aws_security_group
// does and checks that the rules read from DescribeSecurityGroups and the
// rules read from the state Terraform writes are identical.
func TestSecurityGroupInlineRules(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, ec2TestRegion)
	c := ec2.NewFromConfig(cfg)
	mapper := NewMapper()

	vpc := ec2CreateVPC(t, ctx, cfg, "10.40.0.0/16", "sg-vpc")
	vpcID := str(vpc, "id")
	account := str(vpc, "owner_id")
	pl, err := c.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("offices"), AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(5),
	})
	ec2Must(t, err, "CreateManagedPrefixList")
	plID := aws.ToString(pl.PrefixList.PrefixListId)
	peer := ec2CreateTerraformSG(t, ctx, cfg, vpcID, "peer", nil, nil, nil)

	perm := func(proto string, from, to int32) types.IpPermission {
		return types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
	}
	cidrs := func(p types.IpPermission, v4 ...string) types.IpPermission {
		for _, c := range v4 {
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(c), Description: aws.String("described")})
		}
		return p
	}

	tests := []struct {
		name            string
		ingress, egress func(self string) []types.IpPermission
		stateIngress    func(self string) []any
		stateEgress     func(self string) []any
		wantIngress     func(self string) []string
		wantEgress      func(self string) []string
	}{
		{
			name: "every kind of source",
			ingress: func(self string) []types.IpPermission {
				https := cidrs(perm("tcp", 443, 443), "10.0.0.0/8", "192.168.0.0/16")
				// Terraform sends the IPv6 CIDR as written; AWS may echo
				// it in another case.
				https.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String("2001:DB8::/32")}}
				https.PrefixListIds = []types.PrefixListId{{PrefixListId: aws.String(plID)}}
				https.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(peer)}, {GroupId: aws.String(self)}}
				return []types.IpPermission{https, cidrs(perm("icmp", -1, -1), "0.0.0.0/0"), cidrs(perm("udp", 53, 53), "10.40.0.0/16"), cidrs(perm("50", 0, 0), "198.51.100.0/24")}
			},
			egress: func(string) []types.IpPermission {
				all := cidrs(perm("-1", 0, 0), "0.0.0.0/0")
				all.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}
				return []types.IpPermission{all}
			},
			stateIngress: func(self string) []any {
				return []any{
					ec2SGState("tcp", 443, 443, []string{"10.0.0.0/8", "192.168.0.0/16"}, []string{"2001:DB8::/32"}, []string{plID}, []string{account + "/" + peer}, true, "described"),
					ec2SGState("icmp", -1, -1, []string{"0.0.0.0/0"}, nil, nil, nil, false, "described"),
					ec2SGState("udp", 53, 53, []string{"10.40.0.0/16"}, nil, nil, nil, false, "described"),
					ec2SGState("50", 0, 0, []string{"198.51.100.0/24"}, nil, nil, nil, false, "described"),
				}
			},
			stateEgress: func(string) []any {
				return []any{ec2SGState("-1", 0, 0, []string{"0.0.0.0/0"}, []string{"::/0"}, nil, nil, false, "")}
			},
			wantIngress: func(self string) []string {
				return sgSet([]string{
					"tcp 443:443 10.0.0.0/8", "tcp 443:443 192.168.0.0/16", "tcp 443:443 2001:db8::/32",
					"tcp 443:443 " + plID, "tcp 443:443 " + peer, "tcp 443:443 " + self,
					"icmp -1:-1 0.0.0.0/0", "udp 53:53 10.40.0.0/16", "50 0:0 198.51.100.0/24",
				})
			},
			wantEgress: func(string) []string { return []string{"-1 0:0 0.0.0.0/0", "-1 0:0 ::/0"} },
		},
		{
			// The config declares no egress: Terraform removed AWS's
			// default rule, so both sides are empty.
			name: "no egress declared",
			ingress: func(string) []types.IpPermission {
				return []types.IpPermission{cidrs(perm("tcp", 22, 22), "10.0.0.0/8")}
			},
			egress: func(string) []types.IpPermission { return nil },
			stateIngress: func(string) []any {
				return []any{ec2SGState("tcp", 22, 22, []string{"10.0.0.0/8"}, nil, nil, nil, false, "")}
			},
			stateEgress: func(string) []any { return []any{} },
			wantIngress: func(string) []string { return []string{"tcp 22:22 10.0.0.0/8"} },
			wantEgress:  func(string) []string { return []string{} },
		},
		{
			// Several blocks with the same ports and protocol: AWS merges
			// them into one permission, state keeps them apart.
			name: "blocks AWS merges",
			ingress: func(string) []types.IpPermission {
				return []types.IpPermission{cidrs(perm("tcp", 80, 80), "10.1.0.0/16"), cidrs(perm("tcp", 80, 80), "10.2.0.0/16")}
			},
			egress: func(string) []types.IpPermission {
				return []types.IpPermission{cidrs(perm("tcp", 443, 443), "0.0.0.0/0")}
			},
			stateIngress: func(string) []any {
				return []any{
					ec2SGState("tcp", 80, 80, []string{"10.1.0.0/16"}, nil, nil, nil, false, "a"),
					ec2SGState("tcp", 80, 80, []string{"10.2.0.0/16"}, nil, nil, nil, false, "b"),
				}
			},
			stateEgress: func(string) []any {
				return []any{ec2SGState("tcp", 443, 443, []string{"0.0.0.0/0"}, nil, nil, nil, false, "")}
			},
			wantIngress: func(string) []string { return []string{"tcp 80:80 10.1.0.0/16", "tcp 80:80 10.2.0.0/16"} },
			wantEgress:  func(string) []string { return []string{"tcp 443:443 0.0.0.0/0"} },
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "inline-" + string(rune('a'+i))
			// Create first so the rules can reference the group itself.
			id := ec2CreateTerraformSG(t, ctx, cfg, vpcID, name, map[string]string{"Name": name}, nil, nil)
			if in := tc.ingress(id); len(in) > 0 {
				_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: in})
				ec2Must(t, err, "AuthorizeSecurityGroupIngress")
			}
			if eg := tc.egress(id); len(eg) > 0 {
				_, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: eg})
				ec2Must(t, err, "AuthorizeSecurityGroupEgress")
			}
			state := ec2StateTags(map[string]any{
				"id": id, "arn": ec2TestARN(account, "security-group/"+id), "name": name, "vpc_id": vpcID,
				"ingress": tc.stateIngress(id), "egress": tc.stateEgress(id),
			}, map[string]string{"Name": name})
			desired, ok := mapper.FromState("aws_security_group", state)
			if !ok {
				t.Fatal("FromState not ok")
			}
			res := ec2Scan(t, ctx, "aws_security_group")
			live, ok := ec2Find(res, "aws_security_group", id)
			if !ok {
				t.Fatalf("group %s not listed", id)
			}
			for _, side := range []struct {
				label string
				r     model.Resource
			}{{"live", live}, {"state", desired}} {
				if got := side.r.Attributes["ingress"]; !reflect.DeepEqual(got, tc.wantIngress(id)) {
					t.Errorf("%s ingress = %#v, want %#v", side.label, got, tc.wantIngress(id))
				}
				if got := side.r.Attributes["egress"]; !reflect.DeepEqual(got, tc.wantEgress(id)) {
					t.Errorf("%s egress = %#v, want %#v", side.label, got, tc.wantEgress(id))
				}
			}
			if diff := ec2Diff(live, desired, ec2Compared("aws_security_group")); len(diff) > 0 {
				t.Errorf("live and state differ at %v", diff)
			}
		})
	}

	t.Run("created outside Terraform keeps the default egress", func(t *testing.T) {
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("console"), Description: aws.String("by hand"), VpcId: aws.String(vpcID)})
		ec2Must(t, err, "CreateSecurityGroup")
		id := aws.ToString(out.GroupId)
		res := ec2Scan(t, ctx, "aws_security_group")
		live, _ := ec2Find(res, "aws_security_group", id)
		if got, want := live.Attributes["egress"], []string{"-1 0:0 0.0.0.0/0"}; !reflect.DeepEqual(got, want) {
			t.Errorf("egress = %#v, want %#v", got, want)
		}
		if live.Default != "" || live.Name != "console" {
			t.Errorf("console group: Default %q Name %q", live.Default, live.Name)
		}
	})
}

// ec2MergeFold merges folded children into their parent the way the drift
// engine does: a set union per attribute.
func ec2MergeFold(parent model.Resource, add map[string][]string) model.Resource {
	attrs := map[string]any{}
	for k, v := range parent.Attributes {
		attrs[k] = v
	}
	for k, v := range add {
		cur, _ := attrs[k].([]string)
		attrs[k] = sgSet(append(append([]string(nil), cur...), v...))
	}
	parent.Attributes = attrs
	return parent
}

func TestSecurityGroupFold(t *testing.T) {
	mapper := NewMapper()
	tests := []struct {
		name       string
		typ        string
		attrs      map[string]any
		wantParent string
		wantAdd    map[string][]string
		ok         bool
	}{
		{
			name: "rule with several cidrs", typ: "aws_security_group_rule",
			attrs: map[string]any{
				"id": "sgrule-1", "security_group_id": "sg-1", "type": "ingress", "protocol": "tcp", "from_port": float64(80), "to_port": float64(80),
				"cidr_blocks": []any{"10.0.0.0/8", "172.16.0.0/12"}, "ipv6_cidr_blocks": []any{"2001:DB8::/32"}, "prefix_list_ids": []any{"pl-1"},
				"self": false, "source_security_group_id": nil, "description": "web",
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"ingress": {"tcp 80:80 10.0.0.0/8", "tcp 80:80 172.16.0.0/12", "tcp 80:80 2001:db8::/32", "tcp 80:80 pl-1"}},
			ok:         true,
		},
		{
			name: "egress to all by number", typ: "aws_security_group_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "type": "egress", "protocol": "-1", "from_port": float64(0), "to_port": float64(65535),
				"cidr_blocks": []any{"0.0.0.0/0"}, "self": false,
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"egress": {"-1 0:0 0.0.0.0/0"}},
			ok:         true,
		},
		{
			name: "self", typ: "aws_security_group_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "type": "ingress", "protocol": "6", "from_port": float64(0), "to_port": float64(65535), "self": true,
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"ingress": {"tcp 0:65535 sg-1"}},
			ok:         true,
		},
		{
			name: "source group of another account", typ: "aws_security_group_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "type": "ingress", "protocol": "tcp", "from_port": float64(5432), "to_port": float64(5432),
				"source_security_group_id": "210987654321/sg-9", "self": false,
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"ingress": {"tcp 5432:5432 sg-9"}},
			ok:         true,
		},
		{
			name: "rule without type", typ: "aws_security_group_rule",
			attrs: map[string]any{"security_group_id": "sg-1", "protocol": "tcp"},
		},
		{
			name: "vpc ingress rule for all traffic has null ports", typ: "aws_vpc_security_group_ingress_rule",
			attrs: map[string]any{
				"id": "sgr-1", "security_group_id": "sg-1", "ip_protocol": "-1", "from_port": nil, "to_port": nil,
				"cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": nil, "prefix_list_id": nil, "referenced_security_group_id": nil,
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"ingress": {"-1 0:0 10.0.0.0/8"}},
			ok:         true,
		},
		{
			name: "vpc ingress rule from a group", typ: "aws_vpc_security_group_ingress_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "ip_protocol": "tcp", "from_port": float64(443), "to_port": float64(443),
				"referenced_security_group_id": "sg-2",
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"ingress": {"tcp 443:443 sg-2"}},
			ok:         true,
		},
		{
			name: "vpc egress rule to ipv6", typ: "aws_vpc_security_group_egress_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "ip_protocol": "icmpv6", "from_port": float64(-1), "to_port": float64(-1), "cidr_ipv6": "::/0",
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"egress": {"icmpv6 -1:-1 ::/0"}},
			ok:         true,
		},
		{
			name: "vpc egress rule to a prefix list", typ: "aws_vpc_security_group_egress_rule",
			attrs: map[string]any{
				"security_group_id": "sg-1", "ip_protocol": "udp", "from_port": float64(53), "to_port": float64(53), "prefix_list_id": "pl-2",
			},
			wantParent: "sg-1",
			wantAdd:    map[string][]string{"egress": {"udp 53:53 pl-2"}},
			ok:         true,
		},
		{
			name: "vpc rule without group", typ: "aws_vpc_security_group_ingress_rule",
			attrs: map[string]any{"ip_protocol": "tcp"},
		},
		{
			name: "not a child type", typ: "aws_security_group",
			attrs: map[string]any{"id": "sg-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parentType, parent, add, ok := mapper.Fold(tc.typ, tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if parentType != "aws_security_group" || parent != tc.wantParent {
				t.Errorf("parent = %s %s, want aws_security_group %s", parentType, parent, tc.wantParent)
			}
			if !reflect.DeepEqual(add, tc.wantAdd) {
				t.Errorf("add = %#v, want %#v", add, tc.wantAdd)
			}
		})
	}
}

// TestSecurityGroupFoldMatchesLive declares a group's rules as separate
// resources, applies them the way the provider does, and checks that the
// group plus its folded rules equals the live group, both for the state
// written at creation (parent lists empty) and after a refresh (parent
// lists already holding the rules).
func TestSecurityGroupFoldMatchesLive(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, ec2TestRegion)
	c := ec2.NewFromConfig(cfg)
	mapper := NewMapper()

	vpc := ec2CreateVPC(t, ctx, cfg, "10.50.0.0/16", "fold-vpc")
	account := str(vpc, "owner_id")
	id := ec2CreateTerraformSG(t, ctx, cfg, str(vpc, "id"), "fold", map[string]string{}, nil, nil)

	// aws_security_group_rule "ssh": ingress tcp 22 from two CIDRs and self.
	_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(id),
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			IpRanges:         []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}, {CidrIp: aws.String("192.168.0.0/16")}},
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(id)}},
		}},
	})
	ec2Must(t, err, "AuthorizeSecurityGroupIngress (rule)")
	// aws_vpc_security_group_ingress_rule "https": one CIDR per resource.
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(id),
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}},
	})
	ec2Must(t, err, "AuthorizeSecurityGroupIngress (vpc rule)")
	// aws_vpc_security_group_egress_rule "all": the provider sends -1 with
	// ports omitted; moto needs them, and they are ignored either way.
	_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{
		GroupId: aws.String(id),
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("-1"), FromPort: aws.Int32(0), ToPort: aws.Int32(0),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}},
	})
	ec2Must(t, err, "AuthorizeSecurityGroupEgress (vpc rule)")

	children := []struct {
		typ   string
		attrs map[string]any
	}{
		{"aws_security_group_rule", map[string]any{
			"security_group_id": id, "type": "ingress", "protocol": "tcp", "from_port": float64(22), "to_port": float64(22),
			"cidr_blocks": []any{"10.0.0.0/8", "192.168.0.0/16"}, "self": true,
		}},
		{"aws_vpc_security_group_ingress_rule", map[string]any{
			"security_group_id": id, "ip_protocol": "tcp", "from_port": float64(443), "to_port": float64(443), "cidr_ipv4": "0.0.0.0/0",
		}},
		{"aws_vpc_security_group_egress_rule", map[string]any{
			"security_group_id": id, "ip_protocol": "-1", "from_port": nil, "to_port": nil, "cidr_ipv4": "0.0.0.0/0",
		}},
	}

	res := ec2Scan(t, ctx, "aws_security_group")
	live, ok := ec2Find(res, "aws_security_group", id)
	if !ok {
		t.Fatalf("group %s not listed", id)
	}
	for _, r := range res.Resources {
		if r.ID != id && r.Default == "" {
			t.Errorf("rule or other group %s listed as its own resource", r.ID)
		}
	}

	parentStates := map[string]map[string]any{
		"at creation": {"ingress": []any{}, "egress": []any{}},
		"after refresh": {
			"ingress": []any{
				ec2SGState("tcp", 22, 22, []string{"10.0.0.0/8", "192.168.0.0/16"}, nil, nil, nil, true, ""),
				ec2SGState("tcp", 443, 443, []string{"0.0.0.0/0"}, nil, nil, nil, false, ""),
			},
			"egress": []any{ec2SGState("-1", 0, 0, []string{"0.0.0.0/0"}, nil, nil, nil, false, "")},
		},
	}
	for name, rules := range parentStates {
		t.Run(name, func(t *testing.T) {
			state := ec2StateTags(map[string]any{
				"id": id, "arn": ec2TestARN(account, "security-group/"+id), "name": "fold",
				"ingress": rules["ingress"], "egress": rules["egress"],
			}, map[string]string{})
			desired, ok := mapper.FromState("aws_security_group", state)
			if !ok {
				t.Fatal("FromState not ok")
			}
			for _, ch := range children {
				parentType, parent, add, ok := mapper.Fold(ch.typ, ch.attrs)
				if !ok || parentType != "aws_security_group" || parent != id {
					t.Fatalf("Fold(%s) = %s %s %v", ch.typ, parentType, parent, ok)
				}
				desired = ec2MergeFold(desired, add)
			}
			if diff := ec2Diff(live, desired, ec2Compared("aws_security_group")); len(diff) > 0 {
				t.Errorf("group with folded rules differs at %v\nlive:  %v\nstate: %v", diff, live.Attributes, desired.Attributes)
			}
		})
	}
}
