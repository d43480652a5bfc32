package aws

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func iamQuarantiners() map[string]quarantiner {
	return map[string]quarantiner{
		"aws_iam_user": {
			rank: rankIdentity, read: readUserQuarantine, check: checkUserQuarantine,
			quarantine: quarantineUser, release: releaseUser, notFound: []string{"NoSuchEntity"},
		},
		"aws_iam_role": {
			rank: rankIdentity, read: readRoleQuarantine, check: checkRoleQuarantine,
			quarantine: quarantineRole, release: releaseRole, notFound: []string{"NoSuchEntity"},
		},
	}
}

// accessKeyStatus is one access key and whether it was active.
type accessKeyStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// userQuarantine is what a user quarantine saves and release restores.
// A login profile's password cannot be read, so it is saved as "there
// was one" and whether a reset was required.
type userQuarantine struct {
	UserName     string            `json:"user_name"`
	AccessKeys   []accessKeyStatus `json:"access_keys"`
	LoginProfile *loginProfile     `json:"login_profile"`
	// InlinePolicy is a policy already named plumb-quarantine (nil: none).
	InlinePolicy *string           `json:"inline_policy"`
	Tags         map[string]string `json:"tags"`
}

type loginProfile struct {
	PasswordResetRequired bool `json:"password_reset_required"`
}

func readUserQuarantine(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(r.ID)
	u, err := client.GetUser(ctx, &iam.GetUserInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	q := userQuarantine{UserName: r.ID, AccessKeys: []accessKeyStatus{}, Tags: iamTags(u.User.Tags)}
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	if err != nil {
		return nil, false, err
	}
	for _, k := range keys.AccessKeyMetadata {
		q.AccessKeys = append(q.AccessKeys, accessKeyStatus{ID: aws.ToString(k.AccessKeyId), Status: string(k.Status)})
	}
	lp, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
	switch {
	case err == nil:
		q.LoginProfile = &loginProfile{PasswordResetRequired: lp.LoginProfile.PasswordResetRequired}
	case !isCode(err, []string{"NoSuchEntity"}):
		return nil, false, err
	}
	pol, err := client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(QuarantinePolicyName)})
	if q.InlinePolicy, err = savedPolicy(func() *string { return pol.PolicyDocument }, err); err != nil {
		return nil, false, err
	}
	return q, false, nil
}

func checkUserQuarantine(ctx context.Context, c *clients, e *Executor, r model.Resource) (string, error) {
	me, err := e.callerIdentity(ctx, c)
	if err != nil {
		return "", err
	}
	if me.user != "" && me.user == r.ID {
		return "plumb's own credentials belong to this user; quarantining it would lock plumb out before it could release it", nil
	}
	return "", nil
}

// quarantineUser deactivates the user's active access keys, removes its
// login profile, puts a deny-all inline policy on it and tags it.
func quarantineUser(ctx context.Context, c *clients, _ *Executor, a *enforce.Action, _ plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b userQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(b.UserName)
	off := 0
	for _, k := range b.AccessKeys {
		if k.Status != string(iamtypes.StatusTypeActive) {
			continue
		}
		if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: name, AccessKeyId: aws.String(k.ID),
			Status: iamtypes.StatusTypeInactive}); err != nil && !isCode(err, []string{"NoSuchEntity"}) {
			return "", err
		}
		off++
	}
	result := fmt.Sprintf("%d access key(s) deactivated", off)
	if b.LoginProfile != nil {
		if _, err := client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: name}); err != nil && !isCode(err, []string{"NoSuchEntity"}) {
			return "", err
		}
		result += ", login profile removed"
	}
	if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: aws.String(QuarantinePolicyName),
		PolicyDocument: aws.String(denyAllPolicy)}); err != nil {
		return "", err
	}
	if _, err := client.TagUser(ctx, &iam.TagUserInput{UserName: name, Tags: []iamtypes.Tag{{Key: aws.String(TagQuarantined), Value: aws.String(a.Fingerprint)}}}); err != nil {
		return "", err
	}
	return result + ", deny-all policy " + QuarantinePolicyName + " attached", nil
}

// releaseUser sets each saved access key back to its saved status,
// removes the deny-all policy (or puts back one that had its name),
// restores the tags and, where there was a login profile, creates a new
// one: AWS never reveals a password, so the old one cannot come back. The
// new password is random, never stored or shown, and must be reset: an
// administrator sets one (aws iam update-login-profile).
func releaseUser(ctx context.Context, c *clients, _ *enforce.Action, raw json.RawMessage) (string, error) {
	var b userQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(b.UserName)
	if b.InlinePolicy == nil {
		if _, err := client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: name, PolicyName: aws.String(QuarantinePolicyName)}); err != nil &&
			!isCode(err, []string{"NoSuchEntity"}) {
			return "", err
		}
	} else if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: aws.String(QuarantinePolicyName),
		PolicyDocument: b.InlinePolicy}); err != nil {
		return "", err
	}
	restored, missing := 0, 0
	for _, k := range b.AccessKeys {
		_, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: name, AccessKeyId: aws.String(k.ID), Status: iamtypes.StatusType(k.Status)})
		switch {
		case isCode(err, []string{"NoSuchEntity"}):
			missing++ // deleted since: nothing to restore
		case err != nil:
			return "", err
		default:
			restored++
		}
	}
	result := fmt.Sprintf("%d access key status(es) restored", restored)
	if missing > 0 {
		result += fmt.Sprintf(" (%d deleted since)", missing)
	}
	if b.LoginProfile != nil {
		_, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
		switch {
		case isCode(err, []string{"NoSuchEntity"}):
			pw, perr := randomPassword()
			if perr != nil {
				return "", perr
			}
			if _, err := client.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: name, Password: aws.String(pw),
				PasswordResetRequired: true}); err != nil && !isCode(err, []string{"EntityAlreadyExists"}) {
				return "", err
			}
			result += ", login profile recreated with a random password that must be reset (aws iam update-login-profile)"
		case err != nil:
			return "", err
		}
	}
	put, remove := restoreTags(b.Tags, TagQuarantined)
	if err := iamRestoreTags(ctx, client, b.UserName, "", put, remove); err != nil {
		return "", err
	}
	return result + ", deny-all policy removed, tags restored", nil
}

// roleQuarantine is what a role quarantine saves and release restores.
type roleQuarantine struct {
	RoleName     string            `json:"role_name"`
	InlinePolicy *string           `json:"inline_policy"`
	Tags         map[string]string `json:"tags"`
}

func readRoleQuarantine(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(r.ID)
	role, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
	if err != nil {
		return nil, false, err
	}
	q := roleQuarantine{RoleName: r.ID, Tags: iamTags(role.Role.Tags)}
	pol, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: aws.String(QuarantinePolicyName)})
	if q.InlinePolicy, err = savedPolicy(func() *string { return pol.PolicyDocument }, err); err != nil {
		return nil, false, err
	}
	return q, false, nil
}

func checkRoleQuarantine(ctx context.Context, c *clients, e *Executor, r model.Resource) (string, error) {
	me, err := e.callerIdentity(ctx, c)
	if err != nil {
		return "", err
	}
	if me.role != "" && me.role == r.ID {
		return "plumb's own credentials use this role; quarantining it would lock plumb out before it could release it", nil
	}
	return "", nil
}

// quarantineRole puts a deny-all inline policy on the role (every session
// of it is denied from the next request on) and tags it.
func quarantineRole(ctx context.Context, c *clients, _ *Executor, a *enforce.Action, _ plumbconfig.Enforcement, raw json.RawMessage) (string, error) {
	var b roleQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(b.RoleName)
	if _, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: name, PolicyName: aws.String(QuarantinePolicyName),
		PolicyDocument: aws.String(denyAllPolicy)}); err != nil {
		return "", err
	}
	if _, err := client.TagRole(ctx, &iam.TagRoleInput{RoleName: name, Tags: []iamtypes.Tag{{Key: aws.String(TagQuarantined), Value: aws.String(a.Fingerprint)}}}); err != nil {
		return "", err
	}
	return "deny-all policy " + QuarantinePolicyName + " attached", nil
}

func releaseRole(ctx context.Context, c *clients, _ *enforce.Action, raw json.RawMessage) (string, error) {
	var b roleQuarantine
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", enforce.Permanent(fmt.Errorf("decode the saved state: %w", err))
	}
	client := iam.NewFromConfig(c.cfg)
	name := aws.String(b.RoleName)
	if b.InlinePolicy == nil {
		if _, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name, PolicyName: aws.String(QuarantinePolicyName)}); err != nil &&
			!isCode(err, []string{"NoSuchEntity"}) {
			return "", err
		}
	} else if _, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: name, PolicyName: aws.String(QuarantinePolicyName),
		PolicyDocument: b.InlinePolicy}); err != nil {
		return "", err
	}
	put, remove := restoreTags(b.Tags, TagQuarantined)
	if err := iamRestoreTags(ctx, client, "", b.RoleName, put, remove); err != nil {
		return "", err
	}
	return "deny-all policy removed, tags restored", nil
}

// iamRestoreTags restores a user's (user != "") or role's tags.
func iamRestoreTags(ctx context.Context, client *iam.Client, user, role string, put map[string]string, remove []string) error {
	if len(remove) > 0 {
		var err error
		if user != "" {
			_, err = client.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(user), TagKeys: remove})
		} else {
			_, err = client.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(role), TagKeys: remove})
		}
		if err != nil {
			return err
		}
	}
	if len(put) > 0 {
		var ts []iamtypes.Tag
		for k, v := range put {
			ts = append(ts, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		var err error
		if user != "" {
			_, err = client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: ts})
		} else {
			_, err = client.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(role), Tags: ts})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func iamTags(ts []iamtypes.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// randomPassword makes a 32-character password from every character
// class, so any account password policy accepts it.
func randomPassword() (string, error) {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*()-_=+"}
	out := make([]byte, 0, 32)
	for i := 0; i < 32; i++ {
		set := classes[i%len(classes)]
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return "", err
		}
		out = append(out, set[n.Int64()])
	}
	return string(out), nil
}

// savedPolicy is what a user or role quarantine saves of an inline policy
// already named like plumb's: its decoded document (IAM returns it
// URL-encoded), or nil when there is none (NoSuchEntity). doc is read only
// when err is nil.
func savedPolicy(doc func() *string, err error) (*string, error) {
	switch {
	case isCode(err, []string{"NoSuchEntity"}):
		return nil, nil
	case err != nil:
		return nil, err
	}
	raw := aws.ToString(doc())
	decoded, derr := url.QueryUnescape(raw)
	if derr != nil {
		decoded = raw
	}
	return &decoded, nil
}
