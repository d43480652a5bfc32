package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// IAM resources cannot be deleted while anything hangs on them: a user's
// access keys and policies, a role's instance profiles, a policy's
// attachments. The deleters remove those first, in the order AWS
// documents, and save all of it as the before-state.

var iamNotFound = []string{"NoSuchEntity"}

func iamDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_iam_user":   {rank: rankIdentity, read: readUser, delete: deleteUser, notFound: iamNotFound},
		"aws_iam_role":   {rank: rankIdentity, read: readRole, delete: deleteRole, notFound: iamNotFound},
		"aws_iam_policy": {rank: rankPolicy, read: readPolicy, check: checkPolicy, delete: deletePolicy, notFound: iamNotFound},
	}
}

func iamClient(c *clients) *iam.Client { return iam.NewFromConfig(c.cfg) }

// inlinePolicy is an inline policy with its document, decoded from the
// URL encoding IAM returns.
type inlinePolicy struct {
	Name     string `json:"name"`
	Document string `json:"document"`
}

// userBefore is everything a user delete removes.
type userBefore struct {
	UserName           string            `json:"user_name"`
	ARN                string            `json:"arn"`
	Path               string            `json:"path"`
	Tags               map[string]string `json:"tags"`
	AccessKeys         []string          `json:"access_keys"`
	LoginProfile       bool              `json:"login_profile"`
	MFADevices         []string          `json:"mfa_devices"`
	SigningCerts       []string          `json:"signing_certificates"`
	SSHKeys            []string          `json:"ssh_public_keys"`
	ServiceCredentials []string          `json:"service_specific_credentials"`
	AttachedPolicies   []string          `json:"attached_policies"`
	InlinePolicies     []inlinePolicy    `json:"inline_policies"`
	Groups             []string          `json:"groups"`
	// Unread lists dependents that could not be listed, with why.
	Unread []string `json:"unread,omitempty"`
}

func readUser(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := iamClient(c)
	name := aws.String(r.ID)
	u, err := client.GetUser(ctx, &iam.GetUserInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	b := userBefore{UserName: r.ID, ARN: aws.ToString(u.User.Arn), Path: aws.ToString(u.User.Path), Tags: map[string]string{},
		AccessKeys: []string{}, MFADevices: []string{}, SigningCerts: []string{}, SSHKeys: []string{}, ServiceCredentials: []string{},
		AttachedPolicies: []string{}, InlinePolicies: []inlinePolicy{}, Groups: []string{}}
	for _, t := range u.User.Tags {
		b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	for _, k := range keys.AccessKeyMetadata {
		b.AccessKeys = append(b.AccessKeys, aws.ToString(k.AccessKeyId))
	}
	if _, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name}); err == nil {
		b.LoginProfile = true
	} else if !isCode(err, iamNotFound) {
		return nil, false, err
	}
	// The less common credentials: a list that cannot be read (an API
	// an endpoint does not offer, a permission missing) is noted and the
	// delete goes on; DeleteUser then refuses with DeleteConflict if such
	// a credential exists, so nothing is deleted unseen.
	if mfa, err := client.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: name}); err == nil {
		for _, d := range mfa.MFADevices {
			b.MFADevices = append(b.MFADevices, aws.ToString(d.SerialNumber))
		}
	} else {
		b.Unread = append(b.Unread, "mfa_devices: "+errorText(err))
	}
	if certs, err := client.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: name}); err == nil {
		for _, cert := range certs.Certificates {
			b.SigningCerts = append(b.SigningCerts, aws.ToString(cert.CertificateId))
		}
	} else {
		b.Unread = append(b.Unread, "signing_certificates: "+errorText(err))
	}
	if ssh, err := client.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: name}); err == nil {
		for _, k := range ssh.SSHPublicKeys {
			b.SSHKeys = append(b.SSHKeys, aws.ToString(k.SSHPublicKeyId))
		}
	} else {
		b.Unread = append(b.Unread, "ssh_public_keys: "+errorText(err))
	}
	if creds, err := client.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: name}); err == nil {
		for _, sc := range creds.ServiceSpecificCredentials {
			b.ServiceCredentials = append(b.ServiceCredentials, aws.ToString(sc.ServiceSpecificCredentialId))
		}
	} else {
		b.Unread = append(b.Unread, "service_specific_credentials: "+errorText(err))
	}
	attached, err := client.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	for _, p := range attached.AttachedPolicies {
		b.AttachedPolicies = append(b.AttachedPolicies, aws.ToString(p.PolicyArn))
	}
	inline, err := client.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	for _, pn := range inline.PolicyNames {
		doc, err := client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(pn)})
		if err != nil {
			return nil, false, err
		}
		b.InlinePolicies = append(b.InlinePolicies, inlinePolicy{Name: pn, Document: decodeDoc(aws.ToString(doc.PolicyDocument))})
	}
	groups, err := client.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	for _, g := range groups.Groups {
		b.Groups = append(b.Groups, aws.ToString(g.GroupName))
	}
	return b, false, nil
}

// deleteUser removes what hangs on the user, from the saved list (each
// step tolerates "already gone"), then the user.
func deleteUser(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b userBefore
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode before-state: %w", err))
	}
	// A resumed run saw the user as it was before the first attempt; what
	// was added since is read now.
	cur, gone, err := readUser(ctx, c, a.Resource)
	if err != nil {
		return "", err
	}
	if gone {
		return "already gone", nil
	}
	now := cur.(userBefore)
	client := iamClient(c)
	name := aws.String(a.Resource.ID)
	steps := []func() error{}
	for _, k := range now.AccessKeys {
		steps = append(steps, func() error {
			_, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: name, AccessKeyId: aws.String(k)})
			return err
		})
	}
	if now.LoginProfile {
		steps = append(steps, func() error {
			_, err := client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: name})
			return err
		})
	}
	for _, d := range now.MFADevices {
		steps = append(steps, func() error {
			_, err := client.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: name, SerialNumber: aws.String(d)})
			return err
		})
	}
	for _, id := range now.SigningCerts {
		steps = append(steps, func() error {
			_, err := client.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: name, CertificateId: aws.String(id)})
			return err
		})
	}
	for _, id := range now.SSHKeys {
		steps = append(steps, func() error {
			_, err := client.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: name, SSHPublicKeyId: aws.String(id)})
			return err
		})
	}
	for _, id := range now.ServiceCredentials {
		steps = append(steps, func() error {
			_, err := client.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: name, ServiceSpecificCredentialId: aws.String(id)})
			return err
		})
	}
	for _, arn := range now.AttachedPolicies {
		steps = append(steps, func() error {
			_, err := client.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: name, PolicyArn: aws.String(arn)})
			return err
		})
	}
	for _, p := range now.InlinePolicies {
		steps = append(steps, func() error {
			_, err := client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: name, PolicyName: aws.String(p.Name)})
			return err
		})
	}
	for _, g := range now.Groups {
		steps = append(steps, func() error {
			_, err := client.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: name, GroupName: aws.String(g)})
			return err
		})
	}
	steps = append(steps, func() error {
		_, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name})
		return err
	})
	if err := runSteps(steps); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted with %d access keys, %d attached and %d inline policies, %d group memberships",
		len(b.AccessKeys), len(b.AttachedPolicies), len(b.InlinePolicies), len(b.Groups)), nil
}

// runSteps runs steps in order; a dependent already gone is fine.
func runSteps(steps []func() error) error {
	for _, step := range steps {
		if err := step(); err != nil && !isCode(err, iamNotFound) {
			return err
		}
	}
	return nil
}

// roleBefore is everything a role delete removes.
type roleBefore struct {
	RoleName         string            `json:"role_name"`
	ARN              string            `json:"arn"`
	Path             string            `json:"path"`
	AssumeRolePolicy string            `json:"assume_role_policy"`
	Tags             map[string]string `json:"tags"`
	InstanceProfiles []string          `json:"instance_profiles"`
	AttachedPolicies []string          `json:"attached_policies"`
	InlinePolicies   []inlinePolicy    `json:"inline_policies"`
}

func readRole(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := iamClient(c)
	name := aws.String(r.ID)
	out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
	if err != nil {
		return nil, false, err
	}
	b := roleBefore{RoleName: r.ID, ARN: aws.ToString(out.Role.Arn), Path: aws.ToString(out.Role.Path),
		AssumeRolePolicy: decodeDoc(aws.ToString(out.Role.AssumeRolePolicyDocument)), Tags: map[string]string{},
		InstanceProfiles: []string{}, AttachedPolicies: []string{}, InlinePolicies: []inlinePolicy{}}
	for _, t := range out.Role.Tags {
		b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	ips, err := client.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: name})
	if err != nil {
		return nil, false, err
	}
	for _, ip := range ips.InstanceProfiles {
		b.InstanceProfiles = append(b.InstanceProfiles, aws.ToString(ip.InstanceProfileName))
	}
	attached, err := client.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
	if err != nil {
		return nil, false, err
	}
	for _, p := range attached.AttachedPolicies {
		b.AttachedPolicies = append(b.AttachedPolicies, aws.ToString(p.PolicyArn))
	}
	inline, err := client.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: name})
	if err != nil {
		return nil, false, err
	}
	for _, pn := range inline.PolicyNames {
		doc, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: aws.String(pn)})
		if err != nil {
			return nil, false, err
		}
		b.InlinePolicies = append(b.InlinePolicies, inlinePolicy{Name: pn, Document: decodeDoc(aws.ToString(doc.PolicyDocument))})
	}
	return b, false, nil
}

func deleteRole(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	cur, gone, err := readRole(ctx, c, a.Resource)
	if err != nil {
		return "", err
	}
	if gone {
		return "already gone", nil
	}
	now := cur.(roleBefore)
	client := iamClient(c)
	name := aws.String(a.Resource.ID)
	var steps []func() error
	for _, ip := range now.InstanceProfiles {
		steps = append(steps, func() error {
			_, err := client.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{RoleName: name, InstanceProfileName: aws.String(ip)})
			return err
		})
	}
	for _, arn := range now.AttachedPolicies {
		steps = append(steps, func() error {
			_, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: name, PolicyArn: aws.String(arn)})
			return err
		})
	}
	for _, p := range now.InlinePolicies {
		steps = append(steps, func() error {
			_, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name, PolicyName: aws.String(p.Name)})
			return err
		})
	}
	steps = append(steps, func() error {
		_, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: name})
		return err
	})
	if err := runSteps(steps); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted after removing it from %d instance profiles, %d attached and %d inline policies",
		len(now.InstanceProfiles), len(now.AttachedPolicies), len(now.InlinePolicies)), nil
}

// policyBefore is a customer managed policy with its versions and where
// it was attached.
type policyBefore struct {
	ARN           string          `json:"arn"`
	Name          string          `json:"name"`
	Path          string          `json:"path"`
	DefaultDoc    string          `json:"default_document"`
	Versions      []policyVersion `json:"versions"`
	AttachedUsers []string        `json:"attached_users"`
	AttachedRoles []string        `json:"attached_roles"`
	AttachedGrps  []string        `json:"attached_groups"`
}

type policyVersion struct {
	ID      string `json:"id"`
	Default bool   `json:"default"`
}

func readPolicy(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := iamClient(c)
	arn := aws.String(r.ID)
	p, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
	if err != nil {
		return nil, false, err
	}
	b := policyBefore{ARN: r.ID, Name: aws.ToString(p.Policy.PolicyName), Path: aws.ToString(p.Policy.Path),
		Versions: []policyVersion{}, AttachedUsers: []string{}, AttachedRoles: []string{}, AttachedGrps: []string{}}
	vs, err := client.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: arn})
	if err != nil {
		return nil, false, err
	}
	for _, v := range vs.Versions {
		b.Versions = append(b.Versions, policyVersion{ID: aws.ToString(v.VersionId), Default: v.IsDefaultVersion})
		if v.IsDefaultVersion {
			doc, err := client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: v.VersionId})
			if err != nil {
				return nil, false, err
			}
			b.DefaultDoc = decodeDoc(aws.ToString(doc.PolicyVersion.Document))
		}
	}
	ents, err := client.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: arn})
	if err != nil {
		return nil, false, err
	}
	for _, u := range ents.PolicyUsers {
		b.AttachedUsers = append(b.AttachedUsers, aws.ToString(u.UserName))
	}
	for _, rl := range ents.PolicyRoles {
		b.AttachedRoles = append(b.AttachedRoles, aws.ToString(rl.RoleName))
	}
	for _, g := range ents.PolicyGroups {
		b.AttachedGrps = append(b.AttachedGrps, aws.ToString(g.GroupName))
	}
	return b, false, nil
}

// checkPolicy refuses AWS managed policies (they cannot be deleted; the
// inventory never reports them, this is a second line).
func checkPolicy(_ context.Context, _ *clients, r model.Resource, _ plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	if strings.Contains(r.ID, ":iam::aws:policy/") {
		return "an AWS managed policy", nil
	}
	return "", nil
}

func deletePolicy(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	cur, gone, err := readPolicy(ctx, c, a.Resource)
	if err != nil {
		return "", err
	}
	if gone {
		return "already gone", nil
	}
	now := cur.(policyBefore)
	client := iamClient(c)
	arn := aws.String(a.Resource.ID)
	var steps []func() error
	old := 0
	for _, v := range now.Versions {
		if !v.Default {
			old++
		}
	}
	for _, u := range now.AttachedUsers {
		steps = append(steps, func() error {
			_, err := client.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(u), PolicyArn: arn})
			return err
		})
	}
	for _, rl := range now.AttachedRoles {
		steps = append(steps, func() error {
			_, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(rl), PolicyArn: arn})
			return err
		})
	}
	for _, g := range now.AttachedGrps {
		steps = append(steps, func() error {
			_, err := client.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String(g), PolicyArn: arn})
			return err
		})
	}
	for _, v := range now.Versions {
		if v.Default {
			continue
		}
		steps = append(steps, func() error {
			_, err := client.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: arn, VersionId: aws.String(v.ID)})
			return err
		})
	}
	steps = append(steps, func() error {
		_, err := client.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
		return err
	})
	if err := runSteps(steps); err != nil {
		return "", err
	}
	n := len(now.AttachedUsers) + len(now.AttachedRoles) + len(now.AttachedGrps)
	return fmt.Sprintf("deleted after detaching it from %d users, roles and groups and deleting %d old versions", n, old), nil
}

// decodeDoc undoes the URL encoding of IAM policy documents.
func decodeDoc(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
