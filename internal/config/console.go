package config

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"plumb/internal/ownership"
)

// Console configures the web console plumb serve offers at /: who may log
// in and with which role. The API token always logs in as an operator;
// Users and TrustedHeader add people of their own.
type Console struct {
	// Users are named logins. Their passwords are stored as bcrypt hashes
	// (plumb console hash-password makes one): a hash is not the password,
	// so it may sit in the file, as in Prometheus's web configuration.
	Users []ConsoleUser `yaml:"users"`
	// TrustedHeader lets an authenticating proxy (oauth2-proxy, an
	// identity-aware load balancer) name the user.
	TrustedHeader *TrustedHeader `yaml:"trusted_header"`
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// ConsoleUser is one named login.
type ConsoleUser struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
	// Role is viewer (read only, the default) or operator (re-run,
	// suppress, silence, approve).
	Role string `yaml:"role"`
}

// TrustedHeader is a request header set by an authenticating proxy in
// front of plumb. It is believed only on connections from Proxies:
// anyone else could send it too.
type TrustedHeader struct {
	// Header carries the user name, e.g. X-Forwarded-User or
	// X-Forwarded-Email (oauth2-proxy's --set-xauthrequest headers).
	Header string `yaml:"header"`
	// Proxies are the addresses (IPs or CIDR prefixes) of the proxies.
	Proxies []string `yaml:"proxies"`
	// Operators are the user names given the operator role; every other
	// user the proxy names is a viewer.
	Operators []string `yaml:"operators"`
	// ProxyPrefixes is Proxies parsed.
	ProxyPrefixes []netip.Prefix `yaml:"-"`
}

// Console roles.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

// DefaultSessionTTL is how long a console login lasts unless configured.
const DefaultSessionTTL = 12 * time.Hour

// Ownership decides the team of each finding (the console's team pages and
// the owner label routes match on): the first of Tags the resource carries,
// else the first Rules entry that matches.
type Ownership struct {
	// Tags are the tag keys read, in order (default: owner, team).
	Tags  []string        `yaml:"tags"`
	Rules []OwnershipRule `yaml:"rules"`
}

// OwnershipRule maps resources by patterns (* and ?) to a team.
type OwnershipRule struct {
	Type        string `yaml:"type"`
	Name        string `yaml:"name"`
	Environment string `yaml:"environment"`
	Owner       string `yaml:"owner"`
}

// Resolver builds the ownership resolver of this configuration. The
// configuration was validated, so it cannot fail; a nil Config gives the
// default resolver (tags owner, team).
func (c *Config) Resolver() *ownership.Resolver {
	var o Ownership
	if c != nil {
		o = c.Ownership
	}
	rules := make([]ownership.Rule, 0, len(o.Rules))
	for _, r := range o.Rules {
		rules = append(rules, ownership.Rule{Type: r.Type, Name: r.Name, Environment: r.Environment, Owner: r.Owner})
	}
	res, err := ownership.New(o.Tags, rules)
	if err != nil {
		// Validation rejected such rules already; fall back to tags only
		// rather than losing ownership altogether.
		res, _ = ownership.New(o.Tags, nil)
	}
	return res
}

// consoleAndOwnership checks the console, ownership and per-environment
// policy settings.
func (v *validator) consoleAndOwnership(c *Config) {
	con := &c.Console
	if con.SessionTTL == 0 {
		con.SessionTTL = DefaultSessionTTL
	} else if con.SessionTTL < time.Minute {
		v.errf("console.session_ttl", "%s: want at least 1m", con.SessionTTL)
	}
	names := map[string]bool{}
	for i := range con.Users {
		u := &con.Users[i]
		f := fmt.Sprintf("console.users[%d]", i)
		switch {
		case strings.TrimSpace(u.Name) == "":
			v.errf(f+".name", "required")
		case names[u.Name]:
			v.errf(f+".name", "user %q is defined twice", u.Name)
		}
		names[u.Name] = true
		if u.PasswordHash == "" {
			v.errf(f+".password_hash", "required: a bcrypt hash (make one with: plumb console hash-password)")
		} else if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			v.errf(f+".password_hash", "not a bcrypt hash (it should start with $2a$, $2b$ or $2y$; make one with: plumb console hash-password)")
		}
		switch u.Role {
		case "":
			u.Role = RoleViewer
		case RoleViewer, RoleOperator:
		default:
			v.errf(f+".role", "%q: want viewer or operator", u.Role)
		}
	}
	if th := con.TrustedHeader; th != nil {
		f := "console.trusted_header"
		if th.Header == "" {
			v.errf(f+".header", "required: the header the proxy sets, e.g. X-Forwarded-User")
		} else {
			th.Header = textproto.CanonicalMIMEHeaderKey(th.Header)
		}
		if len(th.Proxies) == 0 {
			v.errf(f+".proxies", "required: the proxies' addresses (the header is believed only from them; anyone else could send it)")
		}
		for j, p := range th.Proxies {
			pf, err := parsePrefix(p)
			if err != nil {
				v.errf(fmt.Sprintf("%s.proxies[%d]", f, j), "%q: want an IP address or a CIDR prefix like 10.0.0.0/8", p)
				continue
			}
			th.ProxyPrefixes = append(th.ProxyPrefixes, pf)
		}
	}

	o := &c.Ownership
	for i, t := range o.Tags {
		if strings.TrimSpace(t) == "" {
			v.errf(fmt.Sprintf("ownership.tags[%d]", i), "empty tag key")
		}
	}
	for i, r := range o.Rules {
		f := fmt.Sprintf("ownership.rules[%d]", i)
		if strings.TrimSpace(r.Owner) == "" {
			v.errf(f+".owner", "required: the team these resources belong to")
		}
		if r.Type == "" && r.Name == "" && r.Environment == "" {
			v.errf(f, "give at least one of type, name and environment (a rule matching everything would hide the tags' absence)")
		}
	}

	// environments[].packs and policies are checked with the other
	// environment controls (environments.go); scheduled scans evaluate
	// them when the environment has a schedule.
}

// parsePrefix reads an address or a prefix; a bare address is a /32 or /128.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
