package aws

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

const ec2TestRegion = "us-east-1"

// ec2TypeNames lists the live types the EC2 listers produce.
func ec2TypeNames() []string {
	var out []string
	for _, l := range ec2Listers() {
		out = append(out, l.Name)
	}
	return out
}

// ec2Compared returns the compared attribute keys of an EC2 type.
func ec2Compared(typ string) []string {
	for _, l := range ec2Listers() {
		if l.Name == typ {
			return l.Compared
		}
	}
	return nil
}

// ec2Scan runs a real scan of the given types against moto and fails the
// test on any scope error.
func ec2Scan(t *testing.T, ctx context.Context, typeNames ...string) *inventory.Result {
	t.Helper()
	sc, err := New(ctx, Options{Regions: []string{ec2TestRegion}, Types: typeNames})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res, err := sc.Scan(ctx)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("scan errors: %+v", res.Errors)
	}
	for _, typ := range typeNames {
		if !res.Complete(typ, ec2TestRegion) {
			t.Fatalf("%s not marked complete", typ)
		}
	}
	return res
}

// ec2Find returns the live resource of a type and id.
func ec2Find(res *inventory.Result, typ, id string) (model.Resource, bool) {
	for _, r := range res.Resources {
		if r.Type == typ && r.ID == id {
			return r, true
		}
	}
	return model.Resource{}, false
}

// ec2Diff lists the paths where a live resource and its desired
// counterpart differ, the way the drift engine compares them: tags key by
// key (when both sides know them), compared attributes both sides fill in.
func ec2Diff(live, desired model.Resource, compared []string) []string {
	var paths []string
	if live.ID != desired.ID {
		paths = append(paths, "id")
	}
	if live.ARN != "" && desired.ARN != "" && live.ARN != desired.ARN {
		paths = append(paths, "arn")
	}
	if live.Tags != nil && desired.Tags != nil {
		keys := map[string]bool{}
		for k := range live.Tags {
			keys[k] = true
		}
		for k := range desired.Tags {
			keys[k] = true
		}
		for k := range keys {
			lv, lok := live.Tags[k]
			dv, dok := desired.Tags[k]
			if lv != dv || lok != dok {
				paths = append(paths, "tags."+k)
			}
		}
	}
	for _, k := range compared {
		lv, lok := live.Attributes[k]
		dv, dok := desired.Attributes[k]
		if lok && dok && !reflect.DeepEqual(lv, dv) {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	return paths
}

// ec2TagSpec tags a resource at creation, as the provider does.
func ec2TagSpec(rt types.ResourceType, tags map[string]string) []types.TagSpecification {
	if len(tags) == 0 {
		return nil // the provider sends no tag specification without tags
	}
	return []types.TagSpecification{{ResourceType: rt, Tags: ec2SDKTags(tags)}}
}

func ec2SDKTags(tags map[string]string) []types.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// ec2StateTags writes tags as state holds them (tags and tags_all alike,
// there being no provider default_tags in these fixtures).
func ec2StateTags(attrs map[string]any, tags map[string]string) map[string]any {
	m := map[string]any{}
	for k, v := range tags {
		m[k] = v
	}
	all := map[string]any{}
	for k, v := range tags {
		all[k] = v
	}
	attrs["tags"] = m
	attrs["tags_all"] = all
	return attrs
}

func ec2FixtureTags(name string) map[string]string {
	return map[string]string{"Name": name, "team": "core"}
}

func ec2Must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ec2Account asks moto's STS for the account id the provider would use in
// ARNs.
func ec2Account(t *testing.T, ctx context.Context, cfg aws.Config) string {
	t.Helper()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ec2Must(t, err, "GetCallerIdentity")
	return aws.ToString(out.Account)
}

func ec2TestARN(account, resource string) string {
	return "arn:aws:ec2:" + ec2TestRegion + ":" + account + ":" + resource
}

// ec2TagDrift adds a tag out of band: the change every type can show.
func ec2TagDrift(t *testing.T, ctx context.Context, cfg aws.Config, id string) string {
	t.Helper()
	_, err := ec2.NewFromConfig(cfg).CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{id},
		Tags:      []types.Tag{{Key: aws.String("env"), Value: aws.String("drifted")}},
	})
	ec2Must(t, err, "CreateTags")
	return "tags.env"
}

// ec2CreateVPC creates a VPC the way aws_vpc does and returns its state.
func ec2CreateVPC(t *testing.T, ctx context.Context, cfg aws.Config, cidr, name string) map[string]any {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	tags := ec2FixtureTags(name)
	out, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         aws.String(cidr),
		TagSpecifications: ec2TagSpec(types.ResourceTypeVpc, tags),
	})
	ec2Must(t, err, "CreateVpc")
	v := out.Vpc
	id := aws.ToString(v.VpcId)
	vpcFilter := []types.Filter{{Name: aws.String("vpc-id"), Values: []string{id}}}

	var sgID, rtID, aclID string
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: vpcFilter})
	ec2Must(t, err, "DescribeSecurityGroups")
	for _, g := range sgs.SecurityGroups {
		if aws.ToString(g.GroupName) == "default" {
			sgID = aws.ToString(g.GroupId)
		}
	}
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: vpcFilter})
	ec2Must(t, err, "DescribeRouteTables")
	for _, rt := range rts.RouteTables {
		for _, a := range rt.Associations {
			if aws.ToBool(a.Main) {
				rtID = aws.ToString(rt.RouteTableId)
			}
		}
	}
	acls, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: vpcFilter})
	ec2Must(t, err, "DescribeNetworkAcls")
	for _, a := range acls.NetworkAcls {
		if aws.ToBool(a.IsDefault) {
			aclID = aws.ToString(a.NetworkAclId)
		}
	}
	owner := aws.ToString(v.OwnerId)
	return ec2StateTags(map[string]any{
		"id":                                   id,
		"arn":                                  ec2TestARN(owner, "vpc/"+id),
		"assign_generated_ipv6_cidr_block":     false,
		"cidr_block":                           cidr,
		"default_network_acl_id":               aclID,
		"default_route_table_id":               rtID,
		"default_security_group_id":            sgID,
		"dhcp_options_id":                      aws.ToString(v.DhcpOptionsId),
		"enable_dns_hostnames":                 false,
		"enable_dns_support":                   true,
		"enable_network_address_usage_metrics": false,
		"instance_tenancy":                     "default",
		"ipv4_ipam_pool_id":                    nil,
		"ipv4_netmask_length":                  nil,
		"ipv6_association_id":                  "",
		"ipv6_cidr_block":                      "",
		"ipv6_cidr_block_network_border_group": "",
		"ipv6_ipam_pool_id":                    "",
		"ipv6_netmask_length":                  float64(0),
		"main_route_table_id":                  rtID,
		"owner_id":                             owner,
	}, tags)
}

// ec2CreateSubnet creates a subnet the way aws_subnet does and returns its
// state.
func ec2CreateSubnet(t *testing.T, ctx context.Context, cfg aws.Config, vpcID, cidr, name string) map[string]any {
	t.Helper()
	tags := ec2FixtureTags(name)
	out, err := ec2.NewFromConfig(cfg).CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId:             aws.String(vpcID),
		CidrBlock:         aws.String(cidr),
		AvailabilityZone:  aws.String(ec2TestRegion + "a"),
		TagSpecifications: ec2TagSpec(types.ResourceTypeSubnet, tags),
	})
	var sn *types.Subnet
	if apiErrorCode(err) == "InvalidSubnet.Conflict" {
		// Every test uses its own moto and distinct CIDRs, so a conflict
		// is this request's own first attempt: moto created the subnet,
		// the answer was lost on a dropped connection and the SDK retried.
		d, derr := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpcID}},
			{Name: aws.String("cidr-block"), Values: []string{cidr}},
		}})
		ec2Must(t, derr, "DescribeSubnets after a retried CreateSubnet")
		if len(d.Subnets) != 1 {
			t.Fatalf("CreateSubnet %s: %v, and %d subnets have that CIDR", cidr, err, len(d.Subnets))
		}
		sn = &d.Subnets[0]
	} else {
		ec2Must(t, err, "CreateSubnet")
		sn = out.Subnet
	}
	id := aws.ToString(sn.SubnetId)
	return ec2StateTags(map[string]any{
		"id":                              id,
		"arn":                             ec2TestARN(aws.ToString(sn.OwnerId), "subnet/"+id),
		"assign_ipv6_address_on_creation": false,
		"availability_zone":               aws.ToString(sn.AvailabilityZone),
		"availability_zone_id":            aws.ToString(sn.AvailabilityZoneId),
		"cidr_block":                      cidr,
		"customer_owned_ipv4_pool":        "",
		"enable_dns64":                    false,
		"enable_lni_at_device_index":      float64(0),
		"enable_resource_name_dns_a_record_on_launch":    false,
		"enable_resource_name_dns_aaaa_record_on_launch": false,
		"ipv6_cidr_block":                     "",
		"ipv6_cidr_block_association_id":      "",
		"ipv6_native":                         false,
		"map_customer_owned_ip_on_launch":     false,
		"map_public_ip_on_launch":             false,
		"outpost_arn":                         "",
		"owner_id":                            aws.ToString(sn.OwnerId),
		"private_dns_hostname_type_on_launch": "ip-name",
		"timeouts":                            nil,
		"vpc_id":                              vpcID,
	}, tags)
}

// ec2CreateEIP allocates a VPC address the way aws_eip does.
func ec2CreateEIP(t *testing.T, ctx context.Context, cfg aws.Config, name string) map[string]any {
	t.Helper()
	tags := ec2FixtureTags(name)
	out, err := ec2.NewFromConfig(cfg).AllocateAddress(ctx, &ec2.AllocateAddressInput{
		Domain:            types.DomainTypeVpc,
		TagSpecifications: ec2TagSpec(types.ResourceTypeElasticIp, tags),
	})
	ec2Must(t, err, "AllocateAddress")
	id := aws.ToString(out.AllocationId)
	return ec2StateTags(map[string]any{
		"id":                        id,
		"allocation_id":             id,
		"arn":                       ec2TestARN(ec2Account(t, ctx, cfg), "elastic-ip/"+id),
		"address":                   nil,
		"associate_with_private_ip": nil,
		"association_id":            "",
		"carrier_ip":                "",
		"customer_owned_ip":         "",
		"customer_owned_ipv4_pool":  "",
		"domain":                    "vpc",
		"instance":                  "",
		"ipam_pool_id":              nil,
		"network_border_group":      ec2TestRegion,
		"network_interface":         "",
		"private_dns":               nil,
		"private_ip":                "",
		"ptr_record":                "",
		"public_dns":                "ec2-" + strings.ReplaceAll(aws.ToString(out.PublicIp), ".", "-") + ".compute-1.amazonaws.com",
		"public_ip":                 aws.ToString(out.PublicIp),
		"public_ipv4_pool":          "amazon",
		"timeouts":                  nil,
		"vpc":                       true,
	}, tags)
}

// ec2SGState is one inline rule object of aws_security_group state.
func ec2SGState(protocol string, from, to int, cidrs, ipv6, prefixLists, groups []string, self bool, desc string) map[string]any {
	list := func(in []string) []any {
		out := make([]any, 0, len(in))
		for _, s := range in {
			out = append(out, s)
		}
		return out
	}
	return map[string]any{
		"cidr_blocks":      list(cidrs),
		"description":      desc,
		"from_port":        float64(from),
		"ipv6_cidr_blocks": list(ipv6),
		"prefix_list_ids":  list(prefixLists),
		"protocol":         protocol,
		"security_groups":  list(groups),
		"self":             self,
		"to_port":          float64(to),
	}
}

// ec2CreateTerraformSG creates a security group the way aws_security_group
// does: create (AWS adds an allow-all egress rule), revoke that rule, then
// authorize exactly the declared rules.
func ec2CreateTerraformSG(t *testing.T, ctx context.Context, cfg aws.Config, vpcID, name string, tags map[string]string, ingress, egress []types.IpPermission) string {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:         aws.String(name),
		Description:       aws.String("Managed by Terraform"),
		VpcId:             aws.String(vpcID),
		TagSpecifications: ec2TagSpec(types.ResourceTypeSecurityGroup, tags),
	})
	ec2Must(t, err, "CreateSecurityGroup")
	id := aws.ToString(out.GroupId)
	_, err = c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{
		GroupId: aws.String(id),
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("-1"), FromPort: aws.Int32(0), ToPort: aws.Int32(0),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}},
	})
	ec2Must(t, err, "RevokeSecurityGroupEgress default rule")
	if len(ingress) > 0 {
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: ingress})
		ec2Must(t, err, "AuthorizeSecurityGroupIngress")
	}
	if len(egress) > 0 {
		_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: egress})
		ec2Must(t, err, "AuthorizeSecurityGroupEgress")
	}
	return id
}

// ec2TestPublicKey is a fixed OpenSSH ed25519 public key, built by hand so
// the test needs no SSH library.
func ec2TestPublicKey() string {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	var blob []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " plumb@test"
}

// ec2TestImage picks an AMI moto knows.
func ec2TestImage(t *testing.T, ctx context.Context, c *ec2.Client) string {
	t.Helper()
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	ec2Must(t, err, "DescribeImages")
	if len(out.Images) == 0 {
		t.Fatal("moto offers no AMI")
	}
	return aws.ToString(out.Images[0].ImageId)
}

func ec2Fixtures() []fixture {
	return []fixture{
		{
			typ: "aws_vpc",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				return ec2CreateVPC(t, ctx, cfg, "10.10.0.0/16", "plumb-vpc"), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteVpc")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_subnet",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.11.0.0/16", "plumb-subnet-vpc")
				sn := ec2CreateSubnet(t, ctx, cfg, str(vpc, "id"), "10.11.1.0/24", "plumb-subnet")
				return sn, []extraResource{{typ: "aws_vpc", attrs: vpc}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteSubnet")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := ec2.NewFromConfig(cfg).ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{
					SubnetId:            aws.String(str(attrs, "id")),
					MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)},
				})
				ec2Must(t, err, "ModifySubnetAttribute")
				return "map_public_ip_on_launch"
			},
		},
		{
			typ: "aws_security_group",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.12.0.0/16", "plumb-sg-vpc")
				tags := ec2FixtureTags("plumb-sg")
				id := ec2CreateTerraformSG(t, ctx, cfg, str(vpc, "id"), "plumb-sg", tags,
					[]types.IpPermission{{
						IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
						IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16"), Description: aws.String("https")}},
					}},
					[]types.IpPermission{{
						IpProtocol: aws.String("-1"), FromPort: aws.Int32(0), ToPort: aws.Int32(0),
						IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
					}})
				owner := str(vpc, "owner_id")
				attrs := ec2StateTags(map[string]any{
					"id":                     id,
					"arn":                    ec2TestARN(owner, "security-group/"+id),
					"description":            "Managed by Terraform",
					"name":                   "plumb-sg",
					"name_prefix":            "",
					"owner_id":               owner,
					"revoke_rules_on_delete": false,
					"timeouts":               nil,
					"vpc_id":                 str(vpc, "id"),
					"ingress":                []any{ec2SGState("tcp", 443, 443, []string{"10.0.0.0/16"}, nil, nil, nil, false, "https")},
					"egress":                 []any{ec2SGState("-1", 0, 0, []string{"0.0.0.0/0"}, nil, nil, nil, false, "")},
				}, tags)
				return attrs, []extraResource{{typ: "aws_vpc", attrs: vpc}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteSecurityGroup")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := ec2.NewFromConfig(cfg).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
					GroupId: aws.String(str(attrs, "id")),
					IpPermissions: []types.IpPermission{{
						IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
						IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
					}},
				})
				ec2Must(t, err, "AuthorizeSecurityGroupIngress")
				return "ingress"
			},
		},
		{
			typ: "aws_internet_gateway",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.13.0.0/16", "plumb-igw-vpc")
				c := ec2.NewFromConfig(cfg)
				tags := ec2FixtureTags("plumb-igw")
				out, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: ec2TagSpec(types.ResourceTypeInternetGateway, tags)})
				ec2Must(t, err, "CreateInternetGateway")
				id := aws.ToString(out.InternetGateway.InternetGatewayId)
				_, err = c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(str(vpc, "id"))})
				ec2Must(t, err, "AttachInternetGateway")
				owner := str(vpc, "owner_id")
				return ec2StateTags(map[string]any{
					"id":       id,
					"arn":      ec2TestARN(owner, "internet-gateway/"+id),
					"owner_id": owner,
					"timeouts": nil,
					"vpc_id":   str(vpc, "id"),
				}, tags), []extraResource{{typ: "aws_vpc", attrs: vpc}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				c := ec2.NewFromConfig(cfg)
				_, err := c.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(str(attrs, "id")), VpcId: aws.String(str(attrs, "vpc_id"))})
				ec2Must(t, err, "DetachInternetGateway")
				_, err = c.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteInternetGateway")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_nat_gateway",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.14.0.0/16", "plumb-nat-vpc")
				sn := ec2CreateSubnet(t, ctx, cfg, str(vpc, "id"), "10.14.1.0/24", "plumb-nat-subnet")
				eip := ec2CreateEIP(t, ctx, cfg, "plumb-nat-eip")
				tags := ec2FixtureTags("plumb-nat")
				out, err := ec2.NewFromConfig(cfg).CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
					SubnetId:          aws.String(str(sn, "id")),
					AllocationId:      aws.String(str(eip, "id")),
					ConnectivityType:  types.ConnectivityTypePublic,
					TagSpecifications: ec2TagSpec(types.ResourceTypeNatgateway, tags),
				})
				ec2Must(t, err, "CreateNatGateway")
				g := out.NatGateway
				attrs := map[string]any{
					"id":                                 aws.ToString(g.NatGatewayId),
					"allocation_id":                      str(eip, "id"),
					"association_id":                     "",
					"connectivity_type":                  "public",
					"network_interface_id":               "",
					"private_ip":                         "",
					"public_ip":                          str(eip, "public_ip"),
					"secondary_allocation_ids":           []any{},
					"secondary_private_ip_address_count": float64(0),
					"secondary_private_ip_addresses":     []any{},
					"subnet_id":                          str(sn, "id"),
					"timeouts":                           nil,
				}
				if len(g.NatGatewayAddresses) > 0 {
					a := g.NatGatewayAddresses[0]
					attrs["association_id"] = aws.ToString(a.AssociationId)
					attrs["network_interface_id"] = aws.ToString(a.NetworkInterfaceId)
					attrs["private_ip"] = aws.ToString(a.PrivateIp)
				}
				return ec2StateTags(attrs, tags), []extraResource{
					{typ: "aws_vpc", attrs: vpc}, {typ: "aws_subnet", attrs: sn}, {typ: "aws_eip", attrs: eip},
				}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteNatGateway")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_route_table",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.15.0.0/16", "plumb-rt-vpc")
				tags := ec2FixtureTags("plumb-rt")
				out, err := ec2.NewFromConfig(cfg).CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
					VpcId:             aws.String(str(vpc, "id")),
					TagSpecifications: ec2TagSpec(types.ResourceTypeRouteTable, tags),
				})
				ec2Must(t, err, "CreateRouteTable")
				id := aws.ToString(out.RouteTable.RouteTableId)
				owner := str(vpc, "owner_id")
				return ec2StateTags(map[string]any{
					"id":               id,
					"arn":              ec2TestARN(owner, "route-table/"+id),
					"owner_id":         owner,
					"propagating_vgws": []any{},
					"route":            []any{},
					"timeouts":         nil,
					"vpc_id":           str(vpc, "id"),
				}, tags), []extraResource{{typ: "aws_vpc", attrs: vpc}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteRouteTable")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_network_acl",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				vpc := ec2CreateVPC(t, ctx, cfg, "10.16.0.0/16", "plumb-acl-vpc")
				tags := ec2FixtureTags("plumb-acl")
				out, err := ec2.NewFromConfig(cfg).CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{
					VpcId:             aws.String(str(vpc, "id")),
					TagSpecifications: ec2TagSpec(types.ResourceTypeNetworkAcl, tags),
				})
				ec2Must(t, err, "CreateNetworkAcl")
				id := aws.ToString(out.NetworkAcl.NetworkAclId)
				owner := str(vpc, "owner_id")
				return ec2StateTags(map[string]any{
					"id":         id,
					"arn":        ec2TestARN(owner, "network-acl/"+id),
					"egress":     []any{},
					"ingress":    []any{},
					"owner_id":   owner,
					"subnet_ids": []any{},
					"vpc_id":     str(vpc, "id"),
				}, tags), []extraResource{{typ: "aws_vpc", attrs: vpc}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteNetworkAcl")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_eip",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				return ec2CreateEIP(t, ctx, cfg, "plumb-eip"), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "ReleaseAddress")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "id"))
			},
		},
		{
			typ: "aws_instance",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				c := ec2.NewFromConfig(cfg)
				ami := ec2TestImage(t, ctx, c)
				tags := ec2FixtureTags("plumb-instance")
				out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
					ImageId:           aws.String(ami),
					InstanceType:      types.InstanceTypeT3Micro,
					MinCount:          aws.Int32(1),
					MaxCount:          aws.Int32(1),
					TagSpecifications: ec2TagSpec(types.ResourceTypeInstance, tags),
				})
				ec2Must(t, err, "RunInstances")
				in := out.Instances[0]
				id := aws.ToString(in.InstanceId)
				var sgIDs []any
				for _, g := range in.SecurityGroups {
					sgIDs = append(sgIDs, aws.ToString(g.GroupId))
				}
				return ec2StateTags(map[string]any{
					"id":                                   id,
					"arn":                                  ec2TestARN(aws.ToString(out.OwnerId), "instance/"+id),
					"ami":                                  ami,
					"associate_public_ip_address":          in.PublicIpAddress != nil,
					"availability_zone":                    aws.ToString(in.Placement.AvailabilityZone),
					"disable_api_stop":                     false,
					"disable_api_termination":              false,
					"ebs_optimized":                        false,
					"get_password_data":                    false,
					"hibernation":                          false,
					"instance_initiated_shutdown_behavior": "stop",
					"instance_state":                       "running",
					"instance_type":                        "t3.micro",
					"key_name":                             "",
					"monitoring":                           false,
					"private_ip":                           aws.ToString(in.PrivateIpAddress),
					"public_ip":                            aws.ToString(in.PublicIpAddress),
					"security_groups":                      []any{},
					"source_dest_check":                    true,
					"subnet_id":                            aws.ToString(in.SubnetId),
					"tenancy":                              "default",
					"user_data_replace_on_change":          false,
					"volume_tags":                          nil,
					"vpc_security_group_ids":               sgIDs,
				}, tags), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{str(attrs, "id")}})
				ec2Must(t, err, "TerminateInstances")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				c := ec2.NewFromConfig(cfg)
				id := str(attrs, "id")
				_, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
				ec2Must(t, err, "StopInstances")
				_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
					InstanceId:   aws.String(id),
					InstanceType: &types.AttributeValue{Value: aws.String("t3.large")},
				})
				ec2Must(t, err, "ModifyInstanceAttribute")
				return "instance_type"
			},
		},
		{
			typ: "aws_ebs_volume",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				tags := ec2FixtureTags("plumb-volume")
				out, err := ec2.NewFromConfig(cfg).CreateVolume(ctx, &ec2.CreateVolumeInput{
					AvailabilityZone:  aws.String(ec2TestRegion + "a"),
					Size:              aws.Int32(10),
					VolumeType:        types.VolumeTypeGp3,
					TagSpecifications: ec2TagSpec(types.ResourceTypeVolume, tags),
				})
				ec2Must(t, err, "CreateVolume")
				id := aws.ToString(out.VolumeId)
				return ec2StateTags(map[string]any{
					"id":                   id,
					"arn":                  ec2TestARN(ec2Account(t, ctx, cfg), "volume/"+id),
					"availability_zone":    ec2TestRegion + "a",
					"encrypted":            false,
					"final_snapshot":       false,
					"iops":                 float64(3000),
					"kms_key_id":           "",
					"multi_attach_enabled": false,
					"outpost_arn":          "",
					"size":                 float64(10),
					"snapshot_id":          "",
					"throughput":           float64(125),
					"timeouts":             nil,
					"type":                 "gp3",
				}, tags), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteVolume")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := ec2.NewFromConfig(cfg).ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(str(attrs, "id")), Size: aws.Int32(20)})
				ec2Must(t, err, "ModifyVolume")
				return "size"
			},
		},
		{
			typ: "aws_launch_template",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				tags := ec2FixtureTags("plumb-lt")
				out, err := ec2.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
					LaunchTemplateName: aws.String("plumb-lt"),
					LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Micro},
					TagSpecifications:  ec2TagSpec(types.ResourceTypeLaunchTemplate, tags),
				})
				ec2Must(t, err, "CreateLaunchTemplate")
				id := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
				return ec2StateTags(map[string]any{
					"id":                      id,
					"arn":                     ec2TestARN(ec2Account(t, ctx, cfg), "launch-template/"+id),
					"default_version":         float64(1),
					"description":             "",
					"disable_api_stop":        false,
					"disable_api_termination": false,
					"ebs_optimized":           "",
					"image_id":                "",
					"instance_type":           "t3.micro",
					"latest_version":          float64(1),
					"name":                    "plumb-lt",
					"name_prefix":             "",
					"security_group_names":    []any{},
					"update_default_version":  nil,
					"user_data":               "",
					"vpc_security_group_ids":  []any{},
				}, tags), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(str(attrs, "id"))})
				ec2Must(t, err, "DeleteLaunchTemplate")
			},
			// moto does not apply CreateTags to launch templates, so the
			// out-of-band change is a new version, which is real drift too.
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := ec2.NewFromConfig(cfg).CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
					LaunchTemplateId:   aws.String(str(attrs, "id")),
					LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Large},
				})
				ec2Must(t, err, "CreateLaunchTemplateVersion")
				return "latest_version"
			},
		},
		{
			typ: "aws_key_pair",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				tags := ec2FixtureTags("plumb-key")
				pub := ec2TestPublicKey()
				out, err := ec2.NewFromConfig(cfg).ImportKeyPair(ctx, &ec2.ImportKeyPairInput{
					KeyName:           aws.String("plumb-key"),
					PublicKeyMaterial: []byte(pub),
					TagSpecifications: ec2TagSpec(types.ResourceTypeKeyPair, tags),
				})
				ec2Must(t, err, "ImportKeyPair")
				return ec2StateTags(map[string]any{
					"id":              "plumb-key",
					"arn":             ec2TestARN(ec2Account(t, ctx, cfg), "key-pair/plumb-key"),
					"fingerprint":     aws.ToString(out.KeyFingerprint),
					"key_name":        "plumb-key",
					"key_name_prefix": "",
					"key_pair_id":     aws.ToString(out.KeyPairId),
					"key_type":        "ed25519",
					"public_key":      pub,
				}, tags), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ec2.NewFromConfig(cfg).DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(str(attrs, "key_name"))})
				ec2Must(t, err, "DeleteKeyPair")
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				return ec2TagDrift(t, ctx, cfg, str(attrs, "key_pair_id"))
			},
		},
	}
}

// TestEC2Fixtures runs every EC2 fixture through a real scan: the live
// resource must match its state, nothing else of the scanned types may be
// unmanaged, the out-of-band change must show at the promised path, and a
// removed resource must be gone from the listing.
func TestEC2Fixtures(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	mapper := NewMapper()
	covered := map[string]bool{}
	for _, fx := range ec2Fixtures() {
		covered[fx.typ] = true
		t.Run(fx.typ, func(t *testing.T) {
			m.Reset(t)
			cfg := m.Config(t, ec2TestRegion)
			attrs, extra := fx.create(t, ctx, cfg)

			desired := map[string]model.Resource{}
			scanTypes := []string{fx.typ}
			addDesired := func(typ string, a map[string]any) model.Resource {
				r, ok := mapper.FromState(typ, a)
				if !ok {
					t.Fatalf("FromState(%s) not ok for %v", typ, a)
				}
				if r.Region != ec2TestRegion && typ != "aws_nat_gateway" {
					t.Errorf("%s %s: state region %q, want %q", typ, r.ID, r.Region, ec2TestRegion)
				}
				desired[r.Type+"|"+r.ID] = r
				return r
			}
			want := addDesired(fx.typ, attrs)
			for _, e := range extra {
				addDesired(e.typ, e.attrs)
				scanTypes = append(scanTypes, e.typ)
			}
			scanTypes = ec2Unique(scanTypes)

			res := ec2Scan(t, ctx, scanTypes...)
			seen := map[string]bool{}
			for _, live := range res.Resources {
				key := live.Type + "|" + live.ID
				d, ok := desired[key]
				if !ok {
					if live.Default == "" {
						t.Errorf("unexpected unmanaged %s %s", live.Type, live.ID)
					}
					continue
				}
				seen[key] = true
				if diff := ec2Diff(live, d, ec2Compared(live.Type)); len(diff) > 0 {
					t.Errorf("%s %s differs from state at %v\nlive:  %+v\nstate: %+v", live.Type, live.ID, diff, live, d)
				}
				if live.Default != "" {
					t.Errorf("%s %s created like Terraform does is marked default (%s)", live.Type, live.ID, live.Default)
				}
				if live.Tags == nil {
					t.Errorf("%s %s: live tags are nil", live.Type, live.ID)
				}
				if live.Name != d.Name {
					t.Errorf("%s %s: live name %q, state name %q", live.Type, live.ID, live.Name, d.Name)
				}
			}
			for key := range desired {
				if !seen[key] {
					t.Errorf("%s missing from the live listing", key)
				}
			}

			if fx.change != nil {
				path := fx.change(t, ctx, cfg, attrs)
				res = ec2Scan(t, ctx, fx.typ)
				live, ok := ec2Find(res, fx.typ, want.ID)
				if !ok {
					t.Fatalf("%s %s gone after change", fx.typ, want.ID)
				}
				diff := ec2Diff(live, want, ec2Compared(fx.typ))
				if !reflect.DeepEqual(diff, []string{path}) {
					t.Errorf("after change: diff %v, want [%s]", diff, path)
				}
			}

			fx.remove(t, ctx, cfg, attrs)
			res = ec2Scan(t, ctx, fx.typ)
			if r, ok := ec2Find(res, fx.typ, want.ID); ok {
				t.Errorf("%s %s still listed after removal: %+v", fx.typ, want.ID, r)
			}
		})
	}
	for _, typ := range ec2TypeNames() {
		if !covered[typ] {
			t.Errorf("no fixture for %s", typ)
		}
	}
}

func ec2Unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestEC2FreshAccountAllDefault checks that an account nobody has touched
// shows nothing unmanaged: every EC2 resource AWS creates by itself is
// marked Default, including those of a VPC the code creates.
func TestEC2FreshAccountAllDefault(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()

	t.Run("fresh account", func(t *testing.T) {
		m.Reset(t)
		res := ec2Scan(t, ctx, ec2TypeNames()...)
		if len(res.Resources) == 0 {
			t.Fatal("fresh account lists no EC2 resources; the default VPC should be there")
		}
		count := map[string]int{}
		for _, r := range res.Resources {
			count[r.Type]++
			if r.Default == "" {
				t.Errorf("%s %s would be reported unmanaged in a fresh account", r.Type, r.ID)
			}
			if r.Tags == nil {
				t.Errorf("%s %s: tags nil", r.Type, r.ID)
			}
		}
		for _, typ := range []string{"aws_vpc", "aws_subnet", "aws_security_group", "aws_route_table", "aws_network_acl"} {
			if count[typ] == 0 {
				t.Errorf("fresh account has no %s; the default VPC brings one", typ)
			}
		}
	})

	t.Run("defaults of a new VPC", func(t *testing.T) {
		m.Reset(t)
		cfg := m.Config(t, ec2TestRegion)
		vpc := ec2CreateVPC(t, ctx, cfg, "10.20.0.0/16", "plumb-new")
		res := ec2Scan(t, ctx, ec2TypeNames()...)
		byID := map[string]model.Resource{}
		for _, r := range res.Resources {
			byID[r.ID] = r
		}
		if r := byID[str(vpc, "id")]; r.ID == "" || r.Default != "" {
			t.Errorf("new VPC: %+v, want listed and not default", r)
		}
		for _, k := range []string{"default_security_group_id", "main_route_table_id", "default_network_acl_id"} {
			id := str(vpc, k)
			r, ok := byID[id]
			if !ok {
				t.Errorf("%s %s not listed", k, id)
				continue
			}
			if r.Default == "" {
				t.Errorf("%s %s (%s) not marked default", k, id, r.Type)
			}
		}
	})

	t.Run("internet gateway of the default VPC", func(t *testing.T) {
		m.Reset(t)
		cfg := m.Config(t, ec2TestRegion)
		c := ec2.NewFromConfig(cfg)
		vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		ec2Must(t, err, "DescribeVpcs")
		var defaultVPC string
		for _, v := range vpcs.Vpcs {
			if aws.ToBool(v.IsDefault) {
				defaultVPC = aws.ToString(v.VpcId)
			}
		}
		if defaultVPC == "" {
			t.Fatal("moto has no default VPC")
		}
		// Real accounts come with this gateway; moto does not create it.
		igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
		ec2Must(t, err, "CreateInternetGateway")
		id := aws.ToString(igw.InternetGateway.InternetGatewayId)
		_, err = c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(defaultVPC)})
		ec2Must(t, err, "AttachInternetGateway")
		res := ec2Scan(t, ctx, "aws_internet_gateway")
		r, ok := ec2Find(res, "aws_internet_gateway", id)
		if !ok || r.Default != ec2DefaultVPCIGWReason {
			t.Errorf("gateway of the default VPC: %+v (found %v), want Default %q", r, ok, ec2DefaultVPCIGWReason)
		}
	})
}

// TestEC2ListersScan checks listed ids, tags and attributes directly, and
// that listing costs one call per page rather than one per resource.
func TestEC2ListersScan(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, ec2TestRegion)
	c := ec2.NewFromConfig(cfg)
	account := ec2Account(t, ctx, cfg)

	vpc := ec2CreateVPC(t, ctx, cfg, "10.30.0.0/16", "scan-vpc")
	vpcID := str(vpc, "id")
	// A tag AWS itself sets (CloudFormation does) is not a user tag.
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vpcID}, Tags: []types.Tag{{Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String("stack")}}})
	ec2Must(t, err, "CreateTags aws:")
	var subnets []string
	for i := 0; i < 3; i++ {
		sn := ec2CreateSubnet(t, ctx, cfg, vpcID, fmt.Sprintf("10.30.%d.0/24", i), fmt.Sprintf("scan-subnet-%d", i))
		subnets = append(subnets, str(sn, "id"))
	}
	_, err = c.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(subnets[0]), MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}})
	ec2Must(t, err, "ModifySubnetAttribute")
	// An untagged route table: tags known to be empty, not unknown.
	rt, err := c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpcID)})
	ec2Must(t, err, "CreateRouteTable")
	rtID := aws.ToString(rt.RouteTable.RouteTableId)

	ami := ec2TestImage(t, ctx, c)
	run := func(tags map[string]string, typ types.InstanceType) string {
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(ami), InstanceType: typ, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId:          aws.String(subnets[1]),
			TagSpecifications: ec2TagSpec(types.ResourceTypeInstance, tags),
		})
		ec2Must(t, err, "RunInstances")
		return aws.ToString(out.Instances[0].InstanceId)
	}
	web := run(map[string]string{"Name": "web"}, types.InstanceTypeT3Small)
	asg := run(map[string]string{"aws:autoscaling:groupName": "workers"}, types.InstanceTypeT3Micro)
	gone := run(nil, types.InstanceTypeT3Micro)
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{gone}})
	ec2Must(t, err, "TerminateInstances")

	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(ec2TestRegion + "a"), Size: aws.Int32(42), VolumeType: types.VolumeTypeIo2, Iops: aws.Int32(1000)})
	ec2Must(t, err, "CreateVolume")
	volID := aws.ToString(vol.VolumeId)

	lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("scan-lt"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Micro},
	})
	ec2Must(t, err, "CreateLaunchTemplate")
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(ltID), LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Large}})
	ec2Must(t, err, "CreateLaunchTemplateVersion")

	_, err = c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("deploy"), PublicKeyMaterial: []byte(ec2TestPublicKey())})
	ec2Must(t, err, "ImportKeyPair")

	sc, err := New(ctx, Options{Regions: []string{ec2TestRegion}, Types: ec2TypeNames()})
	ec2Must(t, err, "New")
	res, err := sc.Scan(ctx)
	ec2Must(t, err, "Scan")
	if len(res.Errors) > 0 {
		t.Fatalf("scan errors: %+v", res.Errors)
	}

	// Root volumes of the instances belong to them, not to aws_ebs_volume.
	for _, r := range res.Resources {
		if r.Type == "aws_ebs_volume" && r.ID != volID && !strings.HasPrefix(r.Default, ec2InstanceVolumeReason) {
			t.Errorf("launch volume %s not attributed to its instance: %+v", r.ID, r)
		}
	}
	if _, ok := ec2Find(res, "aws_instance", gone); ok {
		t.Errorf("terminated instance %s listed", gone)
	}

	tests := []struct {
		typ, id string
		want    model.Resource
	}{
		{"aws_vpc", vpcID, model.Resource{
			ARN: ec2TestARN(account, "vpc/"+vpcID), Name: "scan-vpc",
			Tags:       map[string]string{"Name": "scan-vpc", "team": "core"},
			Attributes: map[string]any{"cidr_block": "10.30.0.0/16"},
		}},
		{"aws_subnet", subnets[0], model.Resource{
			ARN: ec2TestARN(account, "subnet/"+subnets[0]), Name: "scan-subnet-0",
			Tags:       map[string]string{"Name": "scan-subnet-0", "team": "core"},
			Attributes: map[string]any{"cidr_block": "10.30.0.0/24", "map_public_ip_on_launch": true},
		}},
		{"aws_subnet", subnets[2], model.Resource{
			ARN: ec2TestARN(account, "subnet/"+subnets[2]), Name: "scan-subnet-2",
			Tags:       map[string]string{"Name": "scan-subnet-2", "team": "core"},
			Attributes: map[string]any{"cidr_block": "10.30.2.0/24", "map_public_ip_on_launch": false},
		}},
		{"aws_route_table", rtID, model.Resource{
			ARN: ec2TestARN(account, "route-table/"+rtID), Tags: map[string]string{}, Attributes: map[string]any{},
		}},
		{"aws_instance", web, model.Resource{
			ARN: ec2TestARN(account, "instance/"+web), Name: "web",
			Tags: map[string]string{"Name": "web"}, Attributes: map[string]any{"instance_type": "t3.small", "associate_public_ip_address": false, "metadata_options": []any{map[string]any{"http_endpoint": "enabled", "http_tokens": "optional"}}},
		}},
		{"aws_instance", asg, model.Resource{
			ARN: ec2TestARN(account, "instance/"+asg), Default: ec2AutoScalingReason + "workers",
			Tags: map[string]string{}, Attributes: map[string]any{"instance_type": "t3.micro", "associate_public_ip_address": false, "metadata_options": []any{map[string]any{"http_endpoint": "enabled", "http_tokens": "optional"}}},
		}},
		{"aws_ebs_volume", volID, model.Resource{
			ARN: ec2TestARN(account, "volume/"+volID), Tags: map[string]string{},
			Attributes: map[string]any{"size": int64(42), "type": "io2", "encrypted": false},
		}},
		{"aws_launch_template", ltID, model.Resource{
			ARN: ec2TestARN(account, "launch-template/"+ltID), Name: "scan-lt", Tags: map[string]string{},
			Attributes: map[string]any{"default_version": int64(1), "latest_version": int64(2)},
		}},
		{"aws_key_pair", "deploy", model.Resource{
			ARN: ec2TestARN(account, "key-pair/deploy"), Name: "deploy", Tags: map[string]string{}, Attributes: map[string]any{},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.id, func(t *testing.T) {
			got, ok := ec2Find(res, tc.typ, tc.id)
			if !ok {
				t.Fatalf("%s %s not listed", tc.typ, tc.id)
			}
			want := tc.want
			want.Provider, want.Type, want.ID, want.Region, want.Account = "aws", tc.typ, tc.id, ec2TestRegion, account
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}

	// One call per page, never one per resource: STS, one page per type,
	// the default-VPC lookup for gateways and at most one instance page to
	// settle launch volumes whose attachment omits DeleteOnTermination.
	if max := int64(len(ec2Listers()) + 3); res.APICalls > max {
		t.Errorf("scan used %d API calls for %d resources, want at most %d", res.APICalls, len(res.Resources), max)
	}
}

// TestEC2FromState maps realistic provider 5.100 state attributes and
// checks the whole Resource, aliases of the aws_default_* types included.
func TestEC2FromState(t *testing.T) {
	const acct = "123456789012"
	arn := func(res string) string { return "arn:aws:ec2:eu-west-1:" + acct + ":" + res }
	tagsState := map[string]any{"Name": "main"}
	tagsAll := map[string]any{"Name": "main", "owner": "platform"}
	tagsWant := map[string]string{"Name": "main", "owner": "platform"}
	tests := []struct {
		name  string
		typ   string
		attrs map[string]any
		want  model.Resource
		ok    bool
	}{
		{
			name: "vpc", typ: "aws_vpc",
			attrs: map[string]any{"id": "vpc-1", "arn": arn("vpc/vpc-1"), "cidr_block": "10.0.0.0/16", "enable_dns_support": true, "tags": tagsState, "tags_all": tagsAll},
			want:  model.Resource{Type: "aws_vpc", ID: "vpc-1", ARN: arn("vpc/vpc-1"), Name: "main", Tags: tagsWant, Attributes: map[string]any{"cidr_block": "10.0.0.0/16"}},
			ok:    true,
		},
		{
			name: "default vpc alias", typ: "aws_default_vpc",
			attrs: map[string]any{"id": "vpc-d", "arn": arn("vpc/vpc-d"), "cidr_block": "172.31.0.0/16", "existing_default_vpc": true, "force_destroy": false, "tags": map[string]any{}, "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_vpc", ID: "vpc-d", ARN: arn("vpc/vpc-d"), Tags: map[string]string{}, Attributes: map[string]any{"cidr_block": "172.31.0.0/16"}},
			ok:    true,
		},
		{
			name: "subnet", typ: "aws_subnet",
			attrs: map[string]any{"id": "subnet-1", "arn": arn("subnet/subnet-1"), "availability_zone": "eu-west-1b", "cidr_block": "10.0.1.0/24", "map_public_ip_on_launch": true, "vpc_id": "vpc-1", "tags": nil, "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_subnet", ID: "subnet-1", ARN: arn("subnet/subnet-1"), Tags: map[string]string{}, Attributes: map[string]any{"cidr_block": "10.0.1.0/24", "map_public_ip_on_launch": true}},
			ok:    true,
		},
		{
			name: "default subnet alias", typ: "aws_default_subnet",
			attrs: map[string]any{"id": "subnet-d", "arn": arn("subnet/subnet-d"), "availability_zone": "eu-west-1a", "cidr_block": "172.31.0.0/20", "map_public_ip_on_launch": true, "existing_default_subnet": true},
			want:  model.Resource{Type: "aws_subnet", ID: "subnet-d", ARN: arn("subnet/subnet-d"), Attributes: map[string]any{"cidr_block": "172.31.0.0/20", "map_public_ip_on_launch": true}},
			ok:    true,
		},
		{
			name: "security group", typ: "aws_security_group",
			attrs: map[string]any{
				"id": "sg-1", "arn": arn("security-group/sg-1"), "name": "web", "vpc_id": "vpc-1", "tags": map[string]any{}, "tags_all": map[string]any{},
				"ingress": []any{
					ec2SGState("tcp", 443, 443, []string{"10.0.0.0/8", "192.168.0.0/16"}, []string{"2001:DB8::/32"}, nil, []string{"sg-2"}, true, "https"),
					ec2SGState("icmp", -1, -1, []string{"0.0.0.0/0"}, nil, nil, nil, false, ""),
				},
				"egress": []any{ec2SGState("-1", 0, 0, []string{"0.0.0.0/0"}, []string{"::/0"}, []string{"pl-1"}, nil, false, "")},
			},
			want: model.Resource{Type: "aws_security_group", ID: "sg-1", ARN: arn("security-group/sg-1"), Name: "web", Tags: map[string]string{},
				Attributes: map[string]any{
					"ingress": []string{"icmp -1:-1 0.0.0.0/0", "tcp 443:443 10.0.0.0/8", "tcp 443:443 192.168.0.0/16", "tcp 443:443 2001:db8::/32", "tcp 443:443 sg-1", "tcp 443:443 sg-2"},
					"egress":  []string{"-1 0:0 0.0.0.0/0", "-1 0:0 ::/0", "-1 0:0 pl-1"},
				}},
			ok: true,
		},
		{
			name: "default security group without rules", typ: "aws_default_security_group",
			attrs: map[string]any{"id": "sg-d", "arn": arn("security-group/sg-d"), "name": "default", "ingress": []any{}, "egress": []any{}, "tags_all": map[string]any{"Name": "default-sg"}},
			want: model.Resource{Type: "aws_security_group", ID: "sg-d", ARN: arn("security-group/sg-d"), Name: "default-sg", Tags: map[string]string{"Name": "default-sg"},
				Attributes: map[string]any{"ingress": []string{}, "egress": []string{}}},
			ok: true,
		},
		{
			name: "internet gateway", typ: "aws_internet_gateway",
			attrs: map[string]any{"id": "igw-1", "arn": arn("internet-gateway/igw-1"), "vpc_id": "vpc-1", "tags": tagsState, "tags_all": tagsAll},
			want:  model.Resource{Type: "aws_internet_gateway", ID: "igw-1", ARN: arn("internet-gateway/igw-1"), Name: "main", Tags: tagsWant, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "nat gateway has no arn", typ: "aws_nat_gateway",
			attrs: map[string]any{"id": "nat-1", "allocation_id": "eipalloc-1", "subnet_id": "subnet-1", "connectivity_type": "public", "tags": map[string]any{}, "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_nat_gateway", ID: "nat-1", Tags: map[string]string{}, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "default route table alias", typ: "aws_default_route_table",
			attrs: map[string]any{"id": "rtb-1", "arn": arn("route-table/rtb-1"), "default_route_table_id": "rtb-1", "route": []any{}, "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_route_table", ID: "rtb-1", ARN: arn("route-table/rtb-1"), Tags: map[string]string{}, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "default network acl alias", typ: "aws_default_network_acl",
			attrs: map[string]any{"id": "acl-1", "arn": arn("network-acl/acl-1"), "default_network_acl_id": "acl-1", "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_network_acl", ID: "acl-1", ARN: arn("network-acl/acl-1"), Tags: map[string]string{}, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "eip keyed by allocation id", typ: "aws_eip",
			attrs: map[string]any{"id": "eipalloc-1", "allocation_id": "eipalloc-1", "arn": arn("elastic-ip/eipalloc-1"), "domain": "vpc", "public_ip": "203.0.113.5", "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_eip", ID: "eipalloc-1", ARN: arn("elastic-ip/eipalloc-1"), Tags: map[string]string{}, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "instance", typ: "aws_instance",
			attrs: map[string]any{"id": "i-1", "arn": arn("instance/i-1"), "instance_type": "m5.large", "ami": "ami-1", "tags_all": map[string]any{"Name": "app"}},
			want:  model.Resource{Type: "aws_instance", ID: "i-1", ARN: arn("instance/i-1"), Name: "app", Tags: map[string]string{"Name": "app"}, Attributes: map[string]any{"instance_type": "m5.large"}},
			ok:    true,
		},
		{
			name: "ebs volume numbers become int64", typ: "aws_ebs_volume",
			attrs: map[string]any{"id": "vol-1", "arn": arn("volume/vol-1"), "size": float64(100), "type": "gp3", "iops": float64(3000), "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_ebs_volume", ID: "vol-1", ARN: arn("volume/vol-1"), Tags: map[string]string{}, Attributes: map[string]any{"size": int64(100), "type": "gp3"}},
			ok:    true,
		},
		{
			name: "launch template named by name", typ: "aws_launch_template",
			attrs: map[string]any{"id": "lt-1", "arn": arn("launch-template/lt-1"), "name": "workers", "default_version": float64(3), "latest_version": float64(4), "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_launch_template", ID: "lt-1", ARN: arn("launch-template/lt-1"), Name: "workers", Tags: map[string]string{}, Attributes: map[string]any{"default_version": int64(3), "latest_version": int64(4)}},
			ok:    true,
		},
		{
			name: "key pair keyed by name", typ: "aws_key_pair",
			attrs: map[string]any{"id": "deploy", "key_name": "deploy", "key_pair_id": "key-1", "arn": arn("key-pair/deploy"), "tags_all": map[string]any{}},
			want:  model.Resource{Type: "aws_key_pair", ID: "deploy", ARN: arn("key-pair/deploy"), Name: "deploy", Tags: map[string]string{}, Attributes: map[string]any{}},
			ok:    true,
		},
		{
			name: "no id", typ: "aws_vpc",
			attrs: map[string]any{"cidr_block": "10.0.0.0/16"},
		},
		{
			name: "rules are not a type of their own", typ: "aws_security_group_rule",
			attrs: map[string]any{"id": "sgrule-1", "security_group_id": "sg-1", "type": "ingress"},
		},
	}
	mapper := NewMapper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapper.FromState(tc.typ, tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, got)
			}
			if !ok {
				return
			}
			want := tc.want
			want.Provider = "aws"
			if want.Region == "" {
				want.Region = "eu-west-1"
				if want.ARN == "" {
					want.Region = "" // nothing in NAT gateway state names the region
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEC2ARNPartition(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "arn:aws:ec2:us-east-1:1:vpc/vpc-1"},
		{"cn-north-1", "arn:aws-cn:ec2:cn-north-1:1:vpc/vpc-1"},
		{"us-gov-west-1", "arn:aws-us-gov:ec2:us-gov-west-1:1:vpc/vpc-1"},
		{"us-iso-east-1", "arn:aws-iso:ec2:us-iso-east-1:1:vpc/vpc-1"},
		{"us-isob-east-1", "arn:aws-iso-b:ec2:us-isob-east-1:1:vpc/vpc-1"},
	}
	for _, tc := range tests {
		if got := ec2ARN(tc.region, "1", "vpc/vpc-1"); got != tc.want {
			t.Errorf("ec2ARN(%s) = %s, want %s", tc.region, got, tc.want)
		}
	}
	if got := ec2ARN("us-east-1", "", "vpc/vpc-1"); got != "" {
		t.Errorf("ARN without account = %q, want empty", got)
	}
}
