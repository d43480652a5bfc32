package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// EC2 and VPC listers. Every EC2 Describe* call returns tags with the
// resources, so each lister costs one call per page and never one per
// resource. Resources AWS creates on its own (the default VPC and its
// subnets, every VPC's default security group, main route table and
// default network ACL) carry model.Resource.Default so that an account
// nobody has touched yet shows nothing unmanaged.

// ec2Listers is the EC2/VPC part of the catalogue.
func ec2Listers() []lister {
	return []lister{
		{
			Type:      inventory.Type{Name: "aws_vpc", Service: "ec2", Compared: []string{"cidr_block"}},
			list:      listEC2VPCs,
			fromState: ec2VPCFromState,
			aliases:   []string{"aws_default_vpc"},
		},
		{
			Type:      inventory.Type{Name: "aws_subnet", Service: "ec2", Compared: []string{"cidr_block", "map_public_ip_on_launch"}},
			list:      listEC2Subnets,
			fromState: ec2SubnetFromState,
			aliases:   []string{"aws_default_subnet"},
		},
		{
			Type:      inventory.Type{Name: "aws_security_group", Service: "ec2", Compared: []string{"ingress", "egress"}},
			list:      listEC2SecurityGroups,
			get:       getEC2SecurityGroups,
			getGone:   []string{"InvalidGroup.NotFound", "InvalidGroupId.Malformed"},
			fromState: ec2SecurityGroupFromState,
			aliases:   []string{"aws_default_security_group"},
		},
		{
			Type:      inventory.Type{Name: "aws_internet_gateway", Service: "ec2"},
			list:      listEC2InternetGateways,
			fromState: ec2BaseFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_nat_gateway", Service: "ec2"},
			list:      listEC2NATGateways,
			fromState: ec2BaseFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_route_table", Service: "ec2"},
			list:      listEC2RouteTables,
			fromState: ec2BaseFromState,
			aliases:   []string{"aws_default_route_table"},
		},
		{
			Type:      inventory.Type{Name: "aws_network_acl", Service: "ec2"},
			list:      listEC2NetworkACLs,
			fromState: ec2BaseFromState,
			aliases:   []string{"aws_default_network_acl"},
		},
		{
			Type:      inventory.Type{Name: "aws_eip", Service: "ec2"},
			list:      listEC2EIPs,
			fromState: ec2BaseFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_instance", Service: "ec2", Compared: []string{"instance_type"}},
			list:      listEC2Instances,
			get:       getEC2Instances,
			getGone:   []string{"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
			fromState: ec2InstanceFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_ebs_volume", Service: "ec2", Compared: []string{"size", "type"}},
			list:      listEC2Volumes,
			fromState: ec2VolumeFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_launch_template", Service: "ec2", Compared: []string{"default_version", "latest_version"}},
			list:      listEC2LaunchTemplates,
			fromState: ec2LaunchTemplateFromState,
		},
		{
			Type:      inventory.Type{Name: "aws_key_pair", Service: "ec2"},
			list:      listEC2KeyPairs,
			fromState: ec2KeyPairFromState,
		},
	}
}

// Default reasons, tag keys and page sizes. The reasons are constants so
// tests and any future display of them use the same wording.
const (
	ec2DefaultVPCReason     = "default VPC"
	ec2DefaultSubnetReason  = "default subnet"
	ec2DefaultSGReason      = "default security group"
	ec2MainRouteTableReason = "main route table"
	ec2DefaultNACLReason    = "default network ACL"
	ec2DefaultVPCIGWReason  = "internet gateway of the default VPC"
	ec2InstanceVolumeReason = "volume of instance "
	ec2AutoScalingReason    = "instance of Auto Scaling group "
	ec2FleetReason          = "instance of EC2 fleet "
	ec2SpotFleetReason      = "instance of Spot fleet "
	ec2ServiceManagedPrefix = "managed by "
	ec2TagAutoScaling       = "aws:autoscaling:groupName"
	ec2TagFleet             = "aws:ec2:fleet-id"
	ec2TagSpotFleet         = "aws:ec2spot:fleet-request-id"
	ec2MaxResults           = 1000
	ec2MaxResultsSmall      = 100 // route tables and network ACLs allow at most 100
	ec2MaxResultsTemplate   = 200 // DescribeLaunchTemplates allows at most 200
)

func ec2Client(s *session, region string) *ec2.Client {
	return ec2.NewFromConfig(s.config(region))
}

// ec2Tags turns an EC2 tag list into user tags. It never returns nil: EC2
// always reports tags with the resource, so "no tags" is known for sure.
func ec2Tags(tags []types.Tag) map[string]string {
	return userTags(ec2RawTags(tags))
}

// ec2RawTags keeps the aws: tags too; they say which service launched a
// resource.
func ec2RawTags(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// ec2Partition returns the ARN partition of a region, so ARNs built for
// types whose Describe output carries none match the ones Terraform writes.
func ec2Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	}
	return "aws"
}

// ec2ARN builds the ARN Terraform records for an EC2 resource. Without an
// account id there is no valid ARN, so it returns "" rather than a
// malformed one.
func ec2ARN(region, account, resource string) string {
	if account == "" || region == "" {
		return ""
	}
	return "arn:" + ec2Partition(region) + ":ec2:" + region + ":" + account + ":" + resource
}

// ec2Owner prefers the owner the API reports over the scan's account, which
// is blank when STS could not be asked.
func ec2Owner(owner *string, s *session) string {
	if o := aws.ToString(owner); o != "" {
		return o
	}
	return s.account
}

// ec2Live assembles a live resource; the Name tag names it.
func ec2Live(id, arn string, tags map[string]string, attrs map[string]any) model.Resource {
	if attrs == nil {
		attrs = map[string]any{}
	}
	return model.Resource{ID: id, ARN: arn, Name: tags["Name"], Tags: tags, Attributes: attrs}
}

// ec2OperatorDefault reports resources another AWS service manages on the
// account's behalf (EKS Auto Mode and the like): they are never in code.
func ec2OperatorDefault(op *types.OperatorResponse) string {
	if op != nil && aws.ToBool(op.Managed) {
		return ec2ServiceManagedPrefix + aws.ToString(op.Principal)
	}
	return ""
}

// ec2BaseFromState maps what every EC2 type has in state: id, ARN and tags.
// Types that compare attributes add them on top.
func ec2BaseFromState(attrs map[string]any) (model.Resource, bool) {
	id := str(attrs, "id")
	if id == "" {
		return model.Resource{}, false
	}
	tags := stateTags(attrs)
	return model.Resource{ID: id, ARN: str(attrs, "arn"), Name: tags["Name"], Tags: tags, Attributes: map[string]any{}}, true
}

// ec2StateInt reads a whole number from state, where JSON numbers arrive as
// float64. Compared numbers are int64 on both sides.
func ec2StateInt(attrs map[string]any, key string) (int64, bool) {
	switch v := attrs[key].(type) {
	case float64:
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// ec2StateBool reads a boolean from state.
func ec2StateBool(attrs map[string]any, key string) (bool, bool) {
	switch v := attrs[key].(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

// ec2SetStateString copies a string attribute when state has it, so an
// attribute missing from an old state is not compared at all.
func ec2SetStateString(out, attrs map[string]any, key string) {
	if v, ok := attrs[key].(string); ok {
		out[key] = v
	}
}

func listEC2VPCs(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeVpcsPaginator(ec2Client(s, region), &ec2.DescribeVpcsInput{MaxResults: aws.Int32(ec2MaxResults)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe VPCs: %w", err)
		}
		for _, v := range page.Vpcs {
			id := aws.ToString(v.VpcId)
			r := ec2Live(id, ec2ARN(region, ec2Owner(v.OwnerId, s), "vpc/"+id), ec2Tags(v.Tags),
				map[string]any{"cidr_block": aws.ToString(v.CidrBlock)})
			if aws.ToBool(v.IsDefault) {
				r.Default = ec2DefaultVPCReason
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func ec2VPCFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if ok {
		ec2SetStateString(r.Attributes, attrs, "cidr_block")
	}
	return r, ok
}

func listEC2Subnets(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeSubnetsPaginator(ec2Client(s, region), &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(ec2MaxResults)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe subnets: %w", err)
		}
		for _, sn := range page.Subnets {
			id := aws.ToString(sn.SubnetId)
			arn := aws.ToString(sn.SubnetArn)
			if arn == "" {
				arn = ec2ARN(region, ec2Owner(sn.OwnerId, s), "subnet/"+id)
			}
			r := ec2Live(id, arn, ec2Tags(sn.Tags), map[string]any{
				"cidr_block":              aws.ToString(sn.CidrBlock),
				"map_public_ip_on_launch": aws.ToBool(sn.MapPublicIpOnLaunch),
			})
			if aws.ToBool(sn.DefaultForAz) {
				r.Default = ec2DefaultSubnetReason
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func ec2SubnetFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	ec2SetStateString(r.Attributes, attrs, "cidr_block")
	if b, ok := ec2StateBool(attrs, "map_public_ip_on_launch"); ok {
		r.Attributes["map_public_ip_on_launch"] = b
	}
	return r, true
}

// ec2DefaultVPCIDs returns the default VPC of a region (there is at most one),
// so the internet gateway AWS attached to it is not called unmanaged.
func ec2DefaultVPCIDs(ctx context.Context, client *ec2.Client) (map[string]bool, error) {
	p := ec2.NewDescribeVpcsPaginator(client, &ec2.DescribeVpcsInput{
		Filters:    []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}},
		MaxResults: aws.Int32(ec2MaxResults),
	})
	ids := map[string]bool{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe default VPC: %w", err)
		}
		for _, v := range page.Vpcs {
			if aws.ToBool(v.IsDefault) {
				ids[aws.ToString(v.VpcId)] = true
			}
		}
	}
	return ids, nil
}

func listEC2InternetGateways(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := ec2Client(s, region)
	defaults, err := ec2DefaultVPCIDs(ctx, client)
	if err != nil {
		return nil, err
	}
	p := ec2.NewDescribeInternetGatewaysPaginator(client, &ec2.DescribeInternetGatewaysInput{MaxResults: aws.Int32(ec2MaxResults)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe internet gateways: %w", err)
		}
		for _, g := range page.InternetGateways {
			id := aws.ToString(g.InternetGatewayId)
			r := ec2Live(id, ec2ARN(region, ec2Owner(g.OwnerId, s), "internet-gateway/"+id), ec2Tags(g.Tags), nil)
			for _, a := range g.Attachments {
				if defaults[aws.ToString(a.VpcId)] {
					r.Default = ec2DefaultVPCIGWReason
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func listEC2NATGateways(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeNatGatewaysPaginator(ec2Client(s, region), &ec2.DescribeNatGatewaysInput{MaxResults: aws.Int32(ec2MaxResults)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe NAT gateways: %w", err)
		}
		for _, g := range page.NatGateways {
			// Deleted and failed gateways stay visible for about an hour;
			// Terraform treats both as gone.
			if g.State == types.NatGatewayStateDeleted || g.State == types.NatGatewayStateFailed {
				continue
			}
			id := aws.ToString(g.NatGatewayId)
			// The provider records no ARN for NAT gateways; the live one
			// is still useful in reports and policies.
			out = append(out, ec2Live(id, ec2ARN(region, s.account, "natgateway/"+id), ec2Tags(g.Tags), nil))
		}
	}
	return out, nil
}

func listEC2RouteTables(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeRouteTablesPaginator(ec2Client(s, region), &ec2.DescribeRouteTablesInput{MaxResults: aws.Int32(ec2MaxResultsSmall)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe route tables: %w", err)
		}
		for _, t := range page.RouteTables {
			id := aws.ToString(t.RouteTableId)
			r := ec2Live(id, ec2ARN(region, ec2Owner(t.OwnerId, s), "route-table/"+id), ec2Tags(t.Tags), nil)
			for _, a := range t.Associations {
				if aws.ToBool(a.Main) {
					r.Default = ec2MainRouteTableReason
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func listEC2NetworkACLs(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeNetworkAclsPaginator(ec2Client(s, region), &ec2.DescribeNetworkAclsInput{MaxResults: aws.Int32(ec2MaxResultsSmall)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe network ACLs: %w", err)
		}
		for _, a := range page.NetworkAcls {
			id := aws.ToString(a.NetworkAclId)
			r := ec2Live(id, ec2ARN(region, ec2Owner(a.OwnerId, s), "network-acl/"+id), ec2Tags(a.Tags), nil)
			if aws.ToBool(a.IsDefault) {
				r.Default = ec2DefaultNACLReason
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// listEC2EIPs lists VPC Elastic IPs under their allocation id, Terraform's
// import id. DescribeAddresses has no paging: one call returns them all.
func listEC2EIPs(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	resp, err := ec2Client(s, region).DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return nil, fmt.Errorf("describe addresses: %w", err)
	}
	var out []model.Resource
	for _, a := range resp.Addresses {
		id := aws.ToString(a.AllocationId)
		if id == "" {
			continue // EC2-Classic address: retired, and not importable by allocation id
		}
		r := ec2Live(id, ec2ARN(region, s.account, "elastic-ip/"+id), ec2Tags(a.Tags), nil)
		if a.ServiceManaged != "" {
			r.Default = ec2ServiceManagedPrefix + string(a.ServiceManaged)
		}
		out = append(out, r)
	}
	return out, nil
}

func listEC2Instances(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	return describeEC2Instances(ctx, s, region, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(ec2MaxResults)})
}

// getEC2Instances reads the instances ids by id (DescribeInstances with
// InstanceIds), the same resources the listing gives for them.
func getEC2Instances(ctx context.Context, s *session, region string, ids []string) ([]model.Resource, error) {
	return describeEC2Instances(ctx, s, region, &ec2.DescribeInstancesInput{InstanceIds: ids})
}

func describeEC2Instances(ctx context.Context, s *session, region string, in *ec2.DescribeInstancesInput) ([]model.Resource, error) {
	p := ec2.NewDescribeInstancesPaginator(ec2Client(s, region), in)
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				// Terminated instances linger in the listing for a while;
				// Terraform treats them as gone.
				if in.State != nil && in.State.Name == types.InstanceStateNameTerminated {
					continue
				}
				id := aws.ToString(in.InstanceId)
				raw := ec2RawTags(in.Tags)
				r := ec2Live(id, ec2ARN(region, ec2Owner(res.OwnerId, s), "instance/"+id), userTags(raw),
					map[string]any{"instance_type": string(in.InstanceType)})
				ec2InstancePolicyAttrs(r.Attributes, in)
				r.Default = ec2InstanceDefault(raw, in.Operator)
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// ec2InstancePolicyAttrs adds the attributes compliance rules read that
// DescribeInstances already returns, so live policy evaluation costs no
// extra call. They are not compared for drift (not in Compared), because
// state holds them as configured, not as observed.
func ec2InstancePolicyAttrs(attrs map[string]any, in types.Instance) {
	attrs["associate_public_ip_address"] = aws.ToString(in.PublicIpAddress) != ""
	if mo := in.MetadataOptions; mo != nil {
		attrs["metadata_options"] = []any{map[string]any{
			"http_endpoint": string(mo.HttpEndpoint),
			"http_tokens":   string(mo.HttpTokens),
		}}
	}
}

// ec2InstanceDefault recognises instances another service launched: their
// owner in code is the Auto Scaling group or fleet, not an aws_instance.
func ec2InstanceDefault(raw map[string]string, op *types.OperatorResponse) string {
	switch {
	case raw[ec2TagAutoScaling] != "":
		return ec2AutoScalingReason + raw[ec2TagAutoScaling]
	case raw[ec2TagFleet] != "":
		return ec2FleetReason + raw[ec2TagFleet]
	case raw[ec2TagSpotFleet] != "":
		return ec2SpotFleetReason + raw[ec2TagSpotFleet]
	}
	return ec2OperatorDefault(op)
}

func ec2InstanceFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if ok {
		ec2SetStateString(r.Attributes, attrs, "instance_type")
	}
	return r, ok
}

// listEC2Volumes lists EBS volumes. A volume that goes away with its
// instance (the root volume and other launch-time volumes) belongs to the
// aws_instance that launched it, so it is marked Default instead of being
// reported as an unmanaged aws_ebs_volume.
func listEC2Volumes(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := ec2Client(s, region)
	p := ec2.NewDescribeVolumesPaginator(client, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(ec2MaxResults)})
	var (
		out []model.Resource
		// unsure holds volumes attached without a DeleteOnTermination
		// flag in the answer, keyed by index in out.
		unsure = map[int]string{}
	)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe volumes: %w", err)
		}
		for _, v := range page.Volumes {
			if v.State == types.VolumeStateDeleted {
				continue
			}
			id := aws.ToString(v.VolumeId)
			r := ec2Live(id, ec2ARN(region, s.account, "volume/"+id), ec2Tags(v.Tags), map[string]any{
				"size": int64(aws.ToInt32(v.Size)),
				"type": string(v.VolumeType),
				// For policy evaluation only (not in Compared).
				"encrypted": aws.ToBool(v.Encrypted),
			})
			r.Default = ec2OperatorDefault(v.Operator)
			for _, a := range v.Attachments {
				inst := aws.ToString(a.InstanceId)
				switch {
				case a.DeleteOnTermination == nil && inst != "":
					unsure[len(out)] = inst
				case aws.ToBool(a.DeleteOnTermination):
					r.Default = ec2InstanceVolumeReason + inst
				}
			}
			out = append(out, r)
		}
	}
	if len(unsure) > 0 {
		if err := ec2MarkLaunchVolumes(ctx, client, out, unsure); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ec2MarkLaunchVolumes settles attachments whose DeleteOnTermination flag the
// volume listing left out, from the instances' block device mappings. AWS
// always sends the flag; the fallback costs one paged call when it does
// not (some emulators), never one call per volume.
func ec2MarkLaunchVolumes(ctx context.Context, client *ec2.Client, vols []model.Resource, unsure map[int]string) error {
	deleteWith := map[string]string{} // volume id -> instance id
	p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(ec2MaxResults)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe instances for volume attachments: %w", err)
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				for _, m := range in.BlockDeviceMappings {
					if m.Ebs != nil && aws.ToBool(m.Ebs.DeleteOnTermination) {
						deleteWith[aws.ToString(m.Ebs.VolumeId)] = aws.ToString(in.InstanceId)
					}
				}
			}
		}
	}
	for i := range unsure {
		if inst, ok := deleteWith[vols[i].ID]; ok && vols[i].Default == "" {
			vols[i].Default = ec2InstanceVolumeReason + inst
		}
	}
	return nil
}

func ec2VolumeFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	if n, ok := ec2StateInt(attrs, "size"); ok {
		r.Attributes["size"] = n
	}
	ec2SetStateString(r.Attributes, attrs, "type")
	return r, true
}

func listEC2LaunchTemplates(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	p := ec2.NewDescribeLaunchTemplatesPaginator(ec2Client(s, region), &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(ec2MaxResultsTemplate)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe launch templates: %w", err)
		}
		for _, t := range page.LaunchTemplates {
			id := aws.ToString(t.LaunchTemplateId)
			tags := ec2Tags(t.Tags)
			r := ec2Live(id, ec2ARN(region, s.account, "launch-template/"+id), tags, map[string]any{
				"default_version": aws.ToInt64(t.DefaultVersionNumber),
				"latest_version":  aws.ToInt64(t.LatestVersionNumber),
			})
			if r.Name == "" {
				r.Name = aws.ToString(t.LaunchTemplateName)
			}
			r.Default = ec2OperatorDefault(t.Operator)
			out = append(out, r)
		}
	}
	return out, nil
}

func ec2LaunchTemplateFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	if r.Name == "" {
		r.Name = str(attrs, "name")
	}
	for _, k := range []string{"default_version", "latest_version"} {
		if n, ok := ec2StateInt(attrs, k); ok {
			r.Attributes[k] = n
		}
	}
	return r, true
}

// listEC2KeyPairs lists key pairs under their name, Terraform's import id.
// DescribeKeyPairs has no paging: one call returns them all.
func listEC2KeyPairs(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	resp, err := ec2Client(s, region).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		return nil, fmt.Errorf("describe key pairs: %w", err)
	}
	var out []model.Resource
	for _, k := range resp.KeyPairs {
		name := aws.ToString(k.KeyName)
		r := ec2Live(name, ec2ARN(region, s.account, "key-pair/"+name), ec2Tags(k.Tags), nil)
		if r.Name == "" {
			r.Name = name
		}
		out = append(out, r)
	}
	return out, nil
}

func ec2KeyPairFromState(attrs map[string]any) (model.Resource, bool) {
	r, ok := ec2BaseFromState(attrs)
	if !ok {
		return r, false
	}
	if r.Name == "" {
		r.Name = r.ID
	}
	return r, true
}
