package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Ranks of a run: what uses something is deleted before it.
const (
	rankCompute  = 10 // instances, functions, database instances
	rankVolume   = 20 // volumes, after the instances they were attached to
	rankNetwork  = 30 // security groups, after what used them
	rankStorage  = 40 // buckets, queues, topics, tables, log groups
	rankIdentity = 50 // IAM users and roles
	rankPolicy   = 60 // IAM policies, after the users and roles using them
	rankKey      = 70 // KMS keys last: data of other resources may use them
)

func ec2Deleters() map[string]deleter {
	return map[string]deleter{
		"aws_instance": {
			rank: rankCompute, read: readInstance, check: checkInstance, delete: deleteInstance,
			notFound: []string{"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
		},
		"aws_ebs_volume": {
			rank: rankVolume, read: readVolume, check: checkVolume, delete: deleteVolume,
			notFound: []string{"InvalidVolume.NotFound"},
		},
		"aws_security_group": {
			rank: rankNetwork, read: readSecurityGroup, check: checkSecurityGroup, delete: deleteSecurityGroup,
			notFound: []string{"InvalidGroup.NotFound", "InvalidGroupId.Malformed"},
		},
	}
}

// instanceBefore is what an instance delete saves.
type instanceBefore struct {
	InstanceID     string            `json:"instance_id"`
	State          string            `json:"state"`
	InstanceType   string            `json:"instance_type"`
	ImageID        string            `json:"image_id"`
	SubnetID       string            `json:"subnet_id,omitempty"`
	SecurityGroups []string          `json:"security_groups"`
	Volumes        []string          `json:"volumes"`
	Tags           map[string]string `json:"tags"`
}

func describeInstance(ctx context.Context, c *clients, id string) (*ec2types.Instance, error) {
	out, err := ec2.NewFromConfig(c.cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, err
	}
	for _, res := range out.Reservations {
		for i := range res.Instances {
			if aws.ToString(res.Instances[i].InstanceId) == id {
				return &res.Instances[i], nil
			}
		}
	}
	return nil, nil
}

func readInstance(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	in, err := describeInstance(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if in == nil || in.State == nil || in.State.Name == ec2types.InstanceStateNameTerminated {
		return nil, true, nil
	}
	b := instanceBefore{InstanceID: r.ID, State: string(in.State.Name), InstanceType: string(in.InstanceType),
		ImageID: aws.ToString(in.ImageId), SubnetID: aws.ToString(in.SubnetId), SecurityGroups: []string{}, Volumes: []string{},
		Tags: ec2Tags(in.Tags)}
	for _, g := range in.SecurityGroups {
		b.SecurityGroups = append(b.SecurityGroups, aws.ToString(g.GroupId))
	}
	for _, m := range in.BlockDeviceMappings {
		if m.Ebs != nil {
			b.Volumes = append(b.Volumes, aws.ToString(m.Ebs.VolumeId))
		}
	}
	return b, false, nil
}

func checkInstance(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	out, err := ec2.NewFromConfig(c.cfg).DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
		InstanceId: aws.String(r.ID), Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
	if err != nil {
		return "", err
	}
	if out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value) {
		return "termination protection is on (disableApiTermination)", nil
	}
	return "", nil
}

func deleteInstance(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	client := ec2.NewFromConfig(c.cfg)
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{a.Resource.ID}}); err != nil {
		return "", err
	}
	w := ec2.NewInstanceTerminatedWaiter(client)
	if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{a.Resource.ID}}, c.wait); err != nil {
		return "", fmt.Errorf("wait for %s to terminate: %w", a.Resource.ID, err)
	}
	return "terminated", nil
}

// volumeBefore is what a volume delete saves.
type volumeBefore struct {
	VolumeID         string            `json:"volume_id"`
	State            string            `json:"state"`
	Size             int32             `json:"size"`
	VolumeType       string            `json:"volume_type"`
	AvailabilityZone string            `json:"availability_zone"`
	SnapshotID       string            `json:"snapshot_id,omitempty"`
	Encrypted        bool              `json:"encrypted"`
	Attachments      []string          `json:"attachments"`
	Tags             map[string]string `json:"tags"`
}

func describeVolume(ctx context.Context, c *clients, id string) (*ec2types.Volume, error) {
	out, err := ec2.NewFromConfig(c.cfg).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
	if err != nil {
		return nil, err
	}
	for i := range out.Volumes {
		if aws.ToString(out.Volumes[i].VolumeId) == id {
			return &out.Volumes[i], nil
		}
	}
	return nil, nil
}

func readVolume(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	v, err := describeVolume(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if v == nil || v.State == ec2types.VolumeStateDeleted || v.State == ec2types.VolumeStateDeleting {
		return nil, true, nil
	}
	b := volumeBefore{VolumeID: r.ID, State: string(v.State), Size: aws.ToInt32(v.Size), VolumeType: string(v.VolumeType),
		AvailabilityZone: aws.ToString(v.AvailabilityZone), SnapshotID: aws.ToString(v.SnapshotId), Encrypted: aws.ToBool(v.Encrypted),
		Attachments: []string{}, Tags: ec2Tags(v.Tags)}
	for _, at := range v.Attachments {
		b.Attachments = append(b.Attachments, aws.ToString(at.InstanceId))
	}
	return b, false, nil
}

// checkVolume refuses a volume attached to an instance the run does not
// terminate: deleting it would mean detaching it from a running machine.
func checkVolume(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, acting func(string, string) bool) (string, error) {
	v, err := describeVolume(ctx, c, r.ID)
	if err != nil || v == nil {
		return "", err
	}
	for _, at := range v.Attachments {
		inst := aws.ToString(at.InstanceId)
		if !acting("aws_instance", inst) {
			return fmt.Sprintf("attached to instance %s, which this run does not terminate (detach it first)", inst), nil
		}
	}
	return "", nil
}

// deleteVolume snapshots the volume first (found again by its tag if an
// earlier attempt made it), waits for the snapshot to complete, waits
// for the volume to be detached from an instance the run terminated, and
// deletes it.
func deleteVolume(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	client := ec2.NewFromConfig(c.cfg)
	id := a.Resource.ID
	// The action's snapshot, if an earlier attempt made it: found by the
	// action's tag, so a retried action snapshots once.
	ownSnapshot := func() (string, error) {
		snaps, err := client.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
			OwnerIds: []string{"self"},
			Filters:  []ec2types.Filter{{Name: aws.String("tag:" + tagAction), Values: []string{a.ID}}},
		})
		if err != nil {
			return "", err
		}
		for _, s := range snaps.Snapshots {
			if aws.ToString(s.VolumeId) == id && s.State != ec2types.SnapshotStateError {
				return aws.ToString(s.SnapshotId), nil
			}
		}
		return "", nil
	}
	snapID, err := ownSnapshot()
	if err != nil {
		return "", err
	}
	if snapID == "" {
		// CreateSnapshot has no idempotency token: the SDK's own retry of
		// an attempt whose answer was lost (a timeout) would make a second
		// snapshot. One attempt, then look for the snapshot by its tag;
		// the action's retry does the rest.
		out, err := client.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:    aws.String(id),
			Description: aws.String(fmt.Sprintf("plumb: before deleting unmanaged volume %s (action %s)", id, a.ID)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
				{Key: aws.String(tagAction), Value: aws.String(a.ID)},
				{Key: aws.String(tagVolume), Value: aws.String(id)},
			}}},
		}, func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
		if err != nil {
			if again, derr := ownSnapshot(); derr == nil && again != "" {
				snapID = again
			} else {
				return "", err
			}
		} else {
			snapID = aws.ToString(out.SnapshotId)
		}
	}
	if err := ec2.NewSnapshotCompletedWaiter(client).Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}}, c.wait); err != nil {
		return "", fmt.Errorf("wait for snapshot %s of %s: %w", snapID, id, err)
	}
	if err := ec2.NewVolumeAvailableWaiter(client).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}}, c.wait); err != nil {
		if v, derr := describeVolume(ctx, c, id); derr == nil && v == nil {
			return "deleted with its instance after snapshot " + snapID, nil
		}
		return "", fmt.Errorf("wait for %s to be detached: %w", id, err)
	}
	if _, err := client.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil {
		return "", err
	}
	return "deleted after snapshot " + snapID, nil
}

// Tags plumb puts on what it creates while enforcing.
const (
	tagAction = "plumb:action"
	tagVolume = "plumb:volume"
)

// securityGroupBefore is what a security group delete saves: enough to
// recreate it by hand.
type securityGroupBefore struct {
	GroupID     string                   `json:"group_id"`
	GroupName   string                   `json:"group_name"`
	Description string                   `json:"description"`
	VpcID       string                   `json:"vpc_id"`
	Ingress     []ec2types.IpPermission  `json:"ingress"`
	Egress      []ec2types.IpPermission  `json:"egress"`
	Tags        map[string]string        `json:"tags"`
	UsedBy      []securityGroupInterface `json:"used_by"`
}

type securityGroupInterface struct {
	NetworkInterface string `json:"network_interface"`
	Instance         string `json:"instance,omitempty"`
	Description      string `json:"description,omitempty"`
}

func readSecurityGroup(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := ec2.NewFromConfig(c.cfg)
	out, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{r.ID}})
	if err != nil {
		return nil, false, err
	}
	if len(out.SecurityGroups) == 0 {
		return nil, true, nil
	}
	g := out.SecurityGroups[0]
	used, err := groupInterfaces(ctx, client, r.ID)
	if err != nil {
		return nil, false, err
	}
	return securityGroupBefore{GroupID: r.ID, GroupName: aws.ToString(g.GroupName), Description: aws.ToString(g.Description),
		VpcID: aws.ToString(g.VpcId), Ingress: g.IpPermissions, Egress: g.IpPermissionsEgress, Tags: ec2Tags(g.Tags), UsedBy: used}, false, nil
}

func groupInterfaces(ctx context.Context, client *ec2.Client, id string) ([]securityGroupInterface, error) {
	used := []securityGroupInterface{}
	p := ec2.NewDescribeNetworkInterfacesPaginator(client, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{id}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, ni := range page.NetworkInterfaces {
			u := securityGroupInterface{NetworkInterface: aws.ToString(ni.NetworkInterfaceId), Description: aws.ToString(ni.Description)}
			if ni.Attachment != nil {
				u.Instance = aws.ToString(ni.Attachment.InstanceId)
			}
			used = append(used, u)
		}
	}
	return used, nil
}

// checkSecurityGroup refuses a group still used by a network interface
// other than one of an instance this run terminates (a managed instance,
// a load balancer, a database).
func checkSecurityGroup(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, acting func(string, string) bool) (string, error) {
	used, err := groupInterfaces(ctx, ec2.NewFromConfig(c.cfg), r.ID)
	if err != nil {
		return "", err
	}
	var busy []string
	for _, u := range used {
		if u.Instance != "" && acting("aws_instance", u.Instance) {
			continue
		}
		what := u.NetworkInterface
		if u.Instance != "" {
			what += " (instance " + u.Instance + ")"
		} else if u.Description != "" {
			what += " (" + u.Description + ")"
		}
		busy = append(busy, what)
	}
	if len(busy) > 0 {
		return "in use by " + strings.Join(busy, ", "), nil
	}
	return "", nil
}

func deleteSecurityGroup(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	if _, err := ec2.NewFromConfig(c.cfg).DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(a.Resource.ID)}); err != nil {
		// DependencyViolation: an instance terminated by this run has not
		// released its interface yet; the queue retries.
		return "", err
	}
	return "deleted", nil
}

func ec2Tags(ts []ec2types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}
