package config

import (
	"fmt"
	"reflect"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Account is one entry of an environment's `accounts:` list. It plays two
// parts: the allow-list of accounts enforcement may act in (AWS account
// ids, Azure subscription ids), and, for AWS, the accounts a scan reads.
// Written as a bare id it is an account reached with plumb's own
// credentials; written as a mapping it can name a role to assume in it.
type Account struct {
	// ID is the 12-digit AWS account id or the Azure subscription id.
	ID string `yaml:"id"`
	// RoleARN is the IAM role plumb assumes (STS AssumeRole) to read the
	// account; empty means plumb's own credentials, which must then
	// belong to this account.
	RoleARN string `yaml:"role_arn"`
	// ExternalID is passed to AssumeRole when the role's trust policy
	// requires one (sts:ExternalId).
	ExternalID string `yaml:"external_id"`
	// SessionName names the assumed-role session, as CloudTrail shows
	// it (default "plumb-scan").
	SessionName string `yaml:"session_name"`
	// Regions overrides the environment's regions for this account.
	Regions []string `yaml:"regions"`
	// EnforceRoleARN is the IAM role plumb assumes to act in the account
	// (quarantine, delete, revert, tag, grant), with ExternalID and the
	// session name plumb-enforce. It is kept apart from RoleARN so the
	// scans' role stays read-only. Without it plumb acts only in the
	// account of its own credentials; an action elsewhere is blocked by
	// the account guard.
	EnforceRoleARN string `yaml:"enforce_role_arn"`
	// mapping records the mapping form, so errors point at its id field.
	mapping bool
}

// accountYAML is how the mapping form of an account is written; Account
// decodes through it so a scalar (the bare id) works too.
type accountYAML Account

// UnmarshalYAML takes an account id, quoted or not, or a mapping.
func (a *Account) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*a = Account{ID: n.Value}
		return nil
	case yaml.MappingNode:
		var m accountYAML
		if err := n.Decode(&m); err != nil {
			return err
		}
		*a = Account(m)
		a.mapping = true
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: accounts: an entry is an account id (123456789012), an Azure subscription id, or a mapping {id, role_arn, external_id, session_name, regions, enforce_role_arn}", n.Line)}}
}

// Organization discovers the accounts of an AWS Organization to scan:
// every active account (Organizations ListAccounts), or those under the
// given organizational units (ListAccountsForParent, nested units
// included), less the excluded ones. plumb assumes RoleName in each.
type Organization struct {
	// RoleName is the role plumb assumes in every discovered account
	// (arn:aws:iam::ACCOUNT:role/ROLE_NAME). Required.
	RoleName string `yaml:"role_name"`
	// OUs limits discovery to these organizational units (ou-...) or
	// roots (r-...) and the units below them; empty means the whole
	// organization.
	OUs []string `yaml:"ous"`
	// Exclude lists account ids never scanned (the management account,
	// a sandbox).
	Exclude []string `yaml:"exclude"`
	// ExternalID and SessionName are passed to every AssumeRole.
	ExternalID  string `yaml:"external_id"`
	SessionName string `yaml:"session_name"`
}

// ScanLimits bound how many parts (a service in a region) of one account
// a scan reads at once, so an account's API rate limits hold. A plumb scan
// holds them in its process; the scheduled scans of plumb serve hold them
// across all replicas (leases in the shared database).
type ScanLimits struct {
	// Account bounds parts of one account running at once (default 8).
	Account int `yaml:"account"`
	// Service bounds parts of one service in one account running at once
	// (default 3): AWS throttles per service.
	Service int `yaml:"service"`
}

// Defaults of ScanLimits and Server.RescueAfter.
const (
	DefaultAccountLimit = 8
	DefaultServiceLimit = 3
	DefaultRescueAfter  = 2 * time.Minute
	// DefaultSessionName names plumb's assumed-role sessions.
	DefaultSessionName = "plumb-scan"
)

// AccountIDs returns the ids of the accounts list.
func (e Environment) AccountIDs() []string {
	out := make([]string, len(e.Accounts))
	for i, a := range e.Accounts {
		out[i] = a.ID
	}
	return out
}

// MultiAccount reports whether scans of the environment read several AWS
// accounts through assumed roles (a role_arn on an account, or
// organization discovery), rather than the one account of plumb's
// credentials.
func (e Environment) MultiAccount() bool {
	if e.Organization != nil {
		return true
	}
	for _, a := range e.Accounts {
		if a.RoleARN != "" {
			return true
		}
	}
	return false
}

var (
	roleARN       = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$`)
	roleName      = regexp.MustCompile(`^[\w+=,.@-]{1,64}(/[\w+=,.@-]{1,64})*$`)
	sessionName   = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalID    = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	orgUnitID     = regexp.MustCompile(`^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$`)
	awsRegionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// accounts validates and completes an environment's accounts, its
// organization discovery and its scan limits.
func (v *validator) accounts(f string, e *Environment) {
	seen := map[string]int{}
	for i := range e.Accounts {
		a := &e.Accounts[i]
		af := fmt.Sprintf("%s.accounts[%d]", f, i)
		if !awsAccountID.MatchString(a.ID) && !azureSubID.MatchString(a.ID) {
			at := af
			if a.mapping {
				at = af + ".id"
			}
			if a.ID == "" {
				v.errf(at, "required: the 12-digit AWS account id")
			} else {
				v.errf(at, "%q: want a 12-digit AWS account id or an Azure subscription id", a.ID)
			}
			continue
		}
		if j, dup := seen[a.ID]; dup {
			v.errf(af, "account %s is listed twice (first at accounts[%d])", a.ID, j)
		}
		seen[a.ID] = i
		if a.RoleARN != "" {
			m := roleARN.FindStringSubmatch(a.RoleARN)
			switch {
			case m == nil:
				v.errf(af+".role_arn", "%q: want an IAM role ARN such as arn:aws:iam::%s:role/plumb-read", a.RoleARN, a.ID)
			case m[1] != a.ID:
				v.errf(af+".role_arn", "%q is a role of account %s, not of %s: plumb would read the wrong account", a.RoleARN, m[1], a.ID)
			}
		} else if a.ExternalID != "" || a.SessionName != "" {
			v.errf(af+".role_arn", "required by external_id and session_name, which are passed to AssumeRole")
		}
		if a.RoleARN != "" {
			v.sessionFields(af, a.ExternalID, &a.SessionName)
		}
		if a.EnforceRoleARN != "" {
			m := roleARN.FindStringSubmatch(a.EnforceRoleARN)
			switch {
			case m == nil:
				v.errf(af+".enforce_role_arn", "%q: want an IAM role ARN such as arn:aws:iam::%s:role/plumb-enforce", a.EnforceRoleARN, a.ID)
			case m[1] != a.ID:
				v.errf(af+".enforce_role_arn", "%q is a role of account %s, not of %s: plumb would act in the wrong account", a.EnforceRoleARN, m[1], a.ID)
			}
			if prev, ok := v.enforceRoles[a.ID]; ok && prev.arn != a.EnforceRoleARN {
				v.errf(af+".enforce_role_arn", "account %s already has enforce_role_arn %q (%s): plumb acts in an account through one role", a.ID, prev.arn, prev.at)
			} else if !ok {
				v.enforceRoles[a.ID] = enforceRole{arn: a.EnforceRoleARN, at: af}
			}
		}
		v.regions(af+".regions", a.Regions)
		if azureSubID.MatchString(a.ID) && (a.RoleARN != "" || a.EnforceRoleARN != "" || len(a.Regions) > 0) {
			v.errf(af, "%s is an Azure subscription id: role_arn, enforce_role_arn and regions are for AWS accounts", a.ID)
		}
	}
	if o := e.Organization; o != nil {
		of := f + ".organization"
		switch {
		case o.RoleName == "":
			v.errf(of+".role_name", "required: the role plumb assumes in each account (arn:aws:iam::ACCOUNT:role/ROLE_NAME)")
		case !roleName.MatchString(o.RoleName):
			v.errf(of+".role_name", "%q: want an IAM role name (with its path, if any), such as plumb-read", o.RoleName)
		}
		for i, ou := range o.OUs {
			if !orgUnitID.MatchString(ou) {
				v.errf(fmt.Sprintf("%s.ous[%d]", of, i), "%q: want an organizational unit id (ou-ab12-cdef3456) or a root id (r-ab12)", ou)
			}
		}
		for i, id := range o.Exclude {
			if !awsAccountID.MatchString(id) {
				v.errf(fmt.Sprintf("%s.exclude[%d]", of, i), "%q: want a 12-digit AWS account id", id)
			}
		}
		v.sessionFields(of, o.ExternalID, &o.SessionName)
		if e.Cloud == "azure" {
			v.errf(of, "organization discovery is for AWS; this environment is cloud: azure")
		}
	}
	l := &e.ScanLimits
	if l.Account == 0 {
		l.Account = DefaultAccountLimit
	} else if l.Account < 1 {
		v.errf(f+".scan_limits.account", "%d: want at least 1", l.Account)
	}
	if l.Service == 0 {
		l.Service = min(DefaultServiceLimit, l.Account)
	} else if l.Service < 1 {
		v.errf(f+".scan_limits.service", "%d: want at least 1", l.Service)
	} else if l.Account >= 1 && l.Service > l.Account {
		v.errf(f+".scan_limits.service", "%d is more than scan_limits.account (%d): a service's parts are parts of its account", l.Service, l.Account)
	}
	v.regions(f+".regions", e.Regions)
}

// sessionFields checks the AssumeRole settings shared by accounts and
// organization discovery, and fills in the default session name.
func (v *validator) sessionFields(f, ext string, session *string) {
	if ext != "" && (len(ext) < 2 || len(ext) > 1224 || !externalID.MatchString(ext)) {
		v.errf(f+".external_id", "want 2 to 1224 letters, digits or +=,.@:/-_ (what STS accepts)")
	}
	switch {
	case *session == "":
		*session = DefaultSessionName
	case !sessionName.MatchString(*session):
		v.errf(f+".session_name", "%q: want 2 to 64 letters, digits or +=,.@-_ (what STS accepts)", *session)
	}
}

// regions checks AWS region names, so a typo fails the load instead of
// every scan.
func (v *validator) regions(f string, regions []string) {
	for i, r := range regions {
		if !awsRegionName.MatchString(r) {
			v.errf(fmt.Sprintf("%s[%d]", f, i), "%q: want an AWS region name such as us-east-1", r)
		}
	}
}

// scale completes the server settings of scans as jobs.
func (v *validator) scale(s *Server) {
	if s.RescueAfter == 0 {
		s.RescueAfter = DefaultRescueAfter
	} else if s.RescueAfter < time.Second {
		v.errf("server.rescue_after", "%s: want at least 1s", s.RescueAfter)
	}
}

// accountSchema describes one accounts entry: a bare id or a mapping.
func accountSchema(g *schemaGen) map[string]any {
	obj := g.schemaFor(reflect.TypeOf(accountYAML{}))
	obj["required"] = []any{"id"}
	return map[string]any{
		"description": "an account: a 12-digit AWS account id, an Azure subscription id, or a mapping {id, role_arn, external_id, session_name, regions, enforce_role_arn} naming a role plumb assumes to read it",
		"anyOf": []any{
			map[string]any{"type": "string", "pattern": `^([0-9]{12}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`},
			map[string]any{"type": "integer", "minimum": 0, "maximum": 999999999999},
			obj,
		},
	}
}

// accountWords says what an accounts entry may be, for shape errors.
const accountWords = "an account id (123456789012), an Azure subscription id, or a mapping {id, role_arn, external_id, session_name, regions, enforce_role_arn}"

// accountShape checks one accounts entry's shape.
func (s *shapeChecker) accountShape(n *yaml.Node, at place) {
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.MappingNode:
		s.mapping(n, reflect.TypeOf(accountYAML{}), at)
	default:
		s.errf(n, at.path, "expected %s, found %s", accountWords, found(n))
	}
}

// enforceRole is an account's enforce_role_arn and where it was set: one
// role per account across environments.
type enforceRole struct{ arn, at string }

// EnforceRoles lists, once per account, the roles plumb acts through in
// accounts other than its own (enforce_role_arn), with their external ids.
func (c *Config) EnforceRoles() []Account {
	seen := map[string]bool{}
	var out []Account
	for _, e := range c.Environments {
		for _, a := range e.Accounts {
			if a.EnforceRoleARN != "" && !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
			}
		}
	}
	return out
}
