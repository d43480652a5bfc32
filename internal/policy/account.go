package policy

import "strings"

// Account and region subjects.
//
// Some controls are about the account rather than any one resource: IAM
// Access Analyzer runs in every region, Security Hub is enabled, a role
// holds AWS support access, a trail logs S3 data events. Such a rule
// needs a subject that exists whether or not the configuration declares
// anything, so the readers add one subject per AWS account and one per
// region the evaluation covers: at plan time one per AWS provider
// configuration (its region, its alias), live one per scanned region.
// Their types start with "plumb_": they are plumb's, not Terraform's.
const (
	// AccountType is the subject standing for an AWS account.
	AccountType = "plumb_aws_account"
	// RegionType is the subject standing for one region of an AWS
	// account. Its Region is the region.
	RegionType = "plumb_aws_region"
)

// Synthetic reports whether typ is one of plumb's account or region
// subject types rather than a Terraform type.
func Synthetic(typ string) bool { return strings.HasPrefix(typ, "plumb_") }

// baselineReason is why a lookup of an account setting that a plan does
// not declare is not evaluated (see EvalOptions.AccountBaseline).
const baselineReason = "not declared in this plan (account settings are often managed in a configuration of their own: check the live account, or pass --account-baseline if this configuration manages them)"
