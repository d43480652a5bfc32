package aws

import "github.com/aws/aws-sdk-go-v2/aws"

// Credentials returns the cached credentials of the target's role,
// obtained with base (which signs the AssumeRole calls; its region must be
// set). Enforcement uses it to act in an account through its own role
// with the same caching and refresh as the scans' roles.
func (c *RoleCache) Credentials(base aws.Config, t Target) aws.CredentialsProvider {
	return c.provider(base, t)
}
