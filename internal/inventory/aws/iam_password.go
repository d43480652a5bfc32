package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// iamPasswordPolicyID is the fixed id the provider gives the account's one
// password policy; importing takes any string and writes this one.
const iamPasswordPolicyID = "iam-account-password-policy"

// iamPasswordPolicyAttrs are the settings of a password policy, compared
// for drift and checked by the packs.
var iamPasswordPolicyAttrs = []string{
	"minimum_password_length", "password_reuse_prevention", "max_password_age",
	"require_symbols", "require_numbers", "require_uppercase_characters", "require_lowercase_characters",
	"allow_users_to_change_password", "hard_expiry",
}

// iamPasswordPolicyListers covers the account password policy, a
// singleton: an account has one or none.
func iamPasswordPolicyListers() []lister {
	return []lister{{
		Type: inventory.Type{
			Name:     "aws_iam_account_password_policy",
			Service:  "iam",
			Global:   true,
			Compared: iamPasswordPolicyAttrs,
		},
		list:      listPasswordPolicy,
		fromState: passwordPolicyFromState,
	}}
}

// listPasswordPolicy reads the policy with one GetAccountPasswordPolicy
// call. NoSuchEntity means the account has none (AWS then applies its
// default policy, which is not a resource).
//
// Unset numbers are 0, as the provider writes them to state: AWS leaves
// out max_password_age when passwords never expire and
// password_reuse_prevention when reuse is allowed, so 0 is what the
// account does, not a guess.
func listPasswordPolicy(ctx context.Context, s *session, _ string) ([]model.Resource, error) {
	out, err := iam.NewFromConfig(s.config("")).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if err != nil {
		if apiErrorCode(err) == "NoSuchEntity" {
			return nil, nil
		}
		return nil, fmt.Errorf("iam GetAccountPasswordPolicy: %w", err)
	}
	if out.PasswordPolicy == nil {
		return nil, nil
	}
	return []model.Resource{{
		ID:         iamPasswordPolicyID,
		Name:       iamPasswordPolicyID,
		Attributes: passwordPolicyAttributes(out.PasswordPolicy),
	}}, nil
}

func passwordPolicyAttributes(p *iamtypes.PasswordPolicy) map[string]any {
	num := func(v *int32) float64 {
		if v == nil {
			return 0
		}
		return float64(*v)
	}
	attrs := map[string]any{
		"minimum_password_length":        num(p.MinimumPasswordLength),
		"password_reuse_prevention":      num(p.PasswordReusePrevention),
		"max_password_age":               num(p.MaxPasswordAge),
		"require_symbols":                p.RequireSymbols,
		"require_numbers":                p.RequireNumbers,
		"require_uppercase_characters":   p.RequireUppercaseCharacters,
		"require_lowercase_characters":   p.RequireLowercaseCharacters,
		"allow_users_to_change_password": p.AllowUsersToChangePassword,
		"expire_passwords":               p.ExpirePasswords,
	}
	if p.HardExpiry != nil {
		attrs["hard_expiry"] = *p.HardExpiry
	}
	return attrs
}

// passwordPolicyFromState maps aws_iam_account_password_policy. Whatever
// id the state holds, there is only one policy per account.
func passwordPolicyFromState(attrs map[string]any) (model.Resource, bool) {
	r := model.Resource{ID: iamPasswordPolicyID, Name: iamPasswordPolicyID, Attributes: map[string]any{}}
	for _, k := range iamPasswordPolicyAttrs {
		if !appCopyBool(r.Attributes, attrs, k, k) {
			appCopyNumber(r.Attributes, attrs, k)
		}
	}
	return r, true
}
