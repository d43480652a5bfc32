package scan

import (
	"plumb/internal/config"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// Accounts is the multi-account part of a scan: the AWS accounts read
// through assumed roles, the organization whose accounts are discovered,
// and how many parts of one account are read at once.
type Accounts struct {
	Targets      []awsinv.Target
	Organization *awsinv.Discovery
	Limits       awsinv.Limits
	// Roles caches assumed-role credentials between scans of one process
	// (nil: one cache per scan).
	Roles *awsinv.RoleCache
}

// AccountsOf returns the multi-account settings of an environment, or nil
// when its scans read the one account of plumb's credentials (no
// role_arn and no organization).
func AccountsOf(env config.Environment) *Accounts {
	if !env.MultiAccount() {
		return nil
	}
	a := &Accounts{Limits: awsinv.Limits{Account: env.ScanLimits.Account, Service: env.ScanLimits.Service}}
	for _, acct := range env.Accounts {
		if !awsAccountID(acct.ID) {
			continue // an Azure subscription of the allow-list
		}
		a.Targets = append(a.Targets, awsinv.Target{Account: acct.ID, RoleARN: acct.RoleARN, ExternalID: acct.ExternalID,
			SessionName: acct.SessionName, Regions: acct.Regions})
	}
	if o := env.Organization; o != nil {
		a.Organization = &awsinv.Discovery{RoleName: o.RoleName, OUs: o.OUs, Exclude: o.Exclude, ExternalID: o.ExternalID, SessionName: o.SessionName}
	}
	return a
}

func awsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// inferAccounts gives declared AWS resources whose attributes do not name
// their account (a security group's id, a queue's URL) the account of
// their provider configuration: every resource one provider block of one
// state manages is in one account, so when the resources of that
// configuration that do name an account all name the same one, it is
// theirs too. Resources of a configuration naming several accounts, or
// none, keep an empty account and are matched in any account.
func inferAccounts(desired []model.DesiredResource) {
	type key struct{ source, provider string }
	seen := map[key]string{}
	mixed := map[key]bool{}
	for _, d := range desired {
		if d.Provider != "aws" || d.Account == "" || d.ProviderConfig == "" {
			continue
		}
		k := key{d.Source, d.ProviderConfig}
		if have, ok := seen[k]; ok && have != d.Account {
			mixed[k] = true
		}
		seen[k] = d.Account
	}
	for i := range desired {
		d := &desired[i]
		if d.Provider != "aws" || d.Account != "" {
			continue
		}
		k := key{d.Source, d.ProviderConfig}
		if acct, ok := seen[k]; ok && !mixed[k] {
			d.Account = acct
		}
	}
}
