package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"plumb/internal/testenv"
)

// iamPasswordPolicyFixtures sets the account password policy as
// aws_iam_account_password_policy does. The policy has no tags, so it is
// checked by TestEveryTypeThreeWays and TestPasswordPolicyListing rather
// than appCheckFixtures, which wants tags known on both sides.
func iamPasswordPolicyFixtures() []fixture {
	return []fixture{{
		typ: "aws_iam_account_password_policy",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			iamSetPasswordPolicy(t, ctx, cfg, &iam.UpdateAccountPasswordPolicyInput{
				MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24), MaxPasswordAge: aws.Int32(90),
				RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true,
				AllowUsersToChangePassword: true,
			})
			return map[string]any{
				"id":                             iamPasswordPolicyID,
				"minimum_password_length":        float64(14),
				"password_reuse_prevention":      float64(24),
				"max_password_age":               float64(90),
				"require_symbols":                true,
				"require_numbers":                true,
				"require_uppercase_characters":   true,
				"require_lowercase_characters":   true,
				"allow_users_to_change_password": true,
				"hard_expiry":                    false,
				"expire_passwords":               true,
			}, nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, _ map[string]any) {
			_, err := iam.NewFromConfig(cfg).DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{})
			storageIAMErr(t, "delete password policy", err)
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, _ map[string]any) string {
			iamSetPasswordPolicy(t, ctx, cfg, &iam.UpdateAccountPasswordPolicyInput{
				MinimumPasswordLength: aws.Int32(8), PasswordReusePrevention: aws.Int32(24), MaxPasswordAge: aws.Int32(90),
				RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true,
				AllowUsersToChangePassword: true,
			})
			return "minimum_password_length"
		},
	}}
}

func iamSetPasswordPolicy(t *testing.T, ctx context.Context, cfg aws.Config, in *iam.UpdateAccountPasswordPolicyInput) {
	t.Helper()
	_, err := iam.NewFromConfig(cfg).UpdateAccountPasswordPolicy(ctx, in)
	storageIAMErr(t, "update password policy", err)
}

// TestPasswordPolicyListing: an account without a policy lists nothing
// (and is complete); one with a policy lists it with every setting, unset
// numbers as 0.
func TestPasswordPolicyListing(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	const typ = "aws_iam_account_password_policy"
	if res := appScan(t, ctx, []string{"us-east-1"}, typ); len(res.Resources) != 0 {
		t.Fatalf("fresh account: %+v", res.Resources)
	}
	iamSetPasswordPolicy(t, ctx, m.Config(t, "us-east-1"), &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(10), RequireNumbers: true})
	res := appScan(t, ctx, []string{"us-east-1"}, typ)
	if len(res.Resources) != 1 {
		t.Fatalf("listed %d policies", len(res.Resources))
	}
	r := res.Resources[0]
	if r.ID != iamPasswordPolicyID || r.Region != "" {
		t.Errorf("id %q region %q", r.ID, r.Region)
	}
	want := map[string]any{
		"minimum_password_length": float64(10), "password_reuse_prevention": float64(0), "max_password_age": float64(0),
		"require_numbers": true, "require_symbols": false,
	}
	for k, v := range want {
		if r.Attributes[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r.Attributes[k], v)
		}
	}
}
