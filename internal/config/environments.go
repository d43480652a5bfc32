package config

import (
	"crypto/subtle"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"plumb/internal/policy"
)

// Approval levels of an environment (docs/environments.md). None is the
// default: the test environment's pipeline merely resets.
const (
	ApprovalNone       = "none"
	ApprovalPeer       = "peer"
	ApprovalManagement = "management"
)

// Missing-resource words of enforcement: report, or recreate through the
// environment's Terraform directory.
const ActionRecreate = "recreate"

// Approval defaults and limits.
const (
	DefaultApprovalTTL = 24 * time.Hour
	maxApprovalTTL     = 30 * 24 * time.Hour
)

// GitHubApproverPrefix marks an approver who approves by commenting
// `/plumb approve` on a finding's GitHub issue: github:LOGIN.
const GitHubApproverPrefix = "github:"

// Controls are the settings that make an environment more than a name:
// who must approve what plumb changes in it, where its Terraform code lives
// (so a changed resource is reverted through the code), which environment
// a change must pass first, and the policy packs its plans must pass. They
// sit inline in an environments[] entry.
type Controls struct {
	// Approval is none, peer or management: whether an action plumb takes
	// in the environment (and a change set promoted into it) waits for an
	// approver first.
	Approval string `yaml:"approval"`
	// Approvers are the identities that may approve: names of server
	// api_tokens (and console users, and --actor of the local CLI), or
	// github:LOGIN for a `/plumb approve` comment on the finding's issue.
	Approvers []string `yaml:"approvers"`
	// ApprovalTTL is how long an approval stays valid (default 24h).
	ApprovalTTL time.Duration `yaml:"approval_ttl"`
	// PromotesFrom names the environment every change set must have been
	// applied to (and stayed drift-free in) before plumb gate lets it
	// into this one.
	PromotesFrom string `yaml:"promotes_from"`
	// TerraformDir is the environment's initialised Terraform root
	// module: changed resources are reverted (and, with missing:
	// recreate, missing ones recreated) by a targeted plan and apply in
	// it. Relative to the config file.
	TerraformDir string `yaml:"terraform_dir"`
	// TerraformWorkspace selects the workspace in TerraformDir (empty:
	// the directory's current one).
	TerraformWorkspace string `yaml:"terraform_workspace"`
	// Packs and Policies are the policy rules plumb gate checks a plan of
	// this environment against (built-in pack names and rule files or
	// directories, relative to the config file).
	Packs    []string `yaml:"packs"`
	Policies []string `yaml:"policies"`
}

// NeedsApproval reports whether actions and change sets in the
// environment wait for an approver.
func (c Controls) NeedsApproval() bool {
	return c.Approval == ApprovalPeer || c.Approval == ApprovalManagement
}

// MayApprove reports whether identity is one of the environment's
// approvers. Identities compare exactly, except GitHub logins, which
// GitHub treats without case.
func (c Controls) MayApprove(identity string) bool {
	for _, a := range c.Approvers {
		if a == identity {
			return true
		}
		if login, ok := strings.CutPrefix(a, GitHubApproverPrefix); ok {
			if other, ok := strings.CutPrefix(identity, GitHubApproverPrefix); ok && strings.EqualFold(login, other) {
				return true
			}
		}
	}
	return false
}

// NamedToken is an API token with a name: the identity the server
// records for calls made with it (who approved, who opened a break-glass
// window) and checks against approvers. The token itself is a secret.
type NamedToken struct {
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
}

// Identity returns the name of the API token presented, or "" when no
// token matches. The shared server.api_token answers "api".
func (s Server) Identity(token string) string {
	if token == "" {
		return ""
	}
	for _, nt := range s.NamedTokens {
		if v := nt.Token.Value(); v != "" && constantTimeEqual(v, token) {
			return nt.Name
		}
	}
	if v := s.APITokens.Value(); v != "" && constantTimeEqual(v, token) {
		return SharedTokenIdentity
	}
	return ""
}

// SharedTokenIdentity is who calls with the shared server.api_token are.
const SharedTokenIdentity = "api"

// APIEnabled reports whether any API token is configured.
func (s Server) APIEnabled() bool {
	if s.APITokens.Value() != "" {
		return true
	}
	for _, nt := range s.NamedTokens {
		if nt.Token.Value() != "" {
			return true
		}
	}
	return false
}

var githubLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// namedTokens validates server.api_tokens.
func (v *validator) namedTokens(s *Server) {
	names := map[string]bool{}
	values := map[string]string{}
	if s.APITokens.Value() != "" {
		values[s.APITokens.Value()] = "server.api_token"
	}
	for i := range s.NamedTokens {
		nt := &s.NamedTokens[i]
		f := fmt.Sprintf("server.api_tokens[%d]", i)
		v.name(f+".name", nt.Name)
		switch {
		case nt.Name == SharedTokenIdentity:
			v.errf(f+".name", "%q is the identity of the shared server.api_token; pick another name", nt.Name)
		case strings.HasPrefix(nt.Name, GitHubApproverPrefix):
			v.errf(f+".name", "%q: github: names GitHub logins (approving by issue comment); pick another name", nt.Name)
		case names[nt.Name]:
			v.errf(f+".name", "token %q is defined twice", nt.Name)
		}
		names[nt.Name] = true
		v.secret(f+".token", &nt.Token, true)
		if val := nt.Token.Value(); val != "" {
			if other, ok := values[val]; ok {
				v.errf(f+".token", "the same token as %s: each identity needs its own token, or plumb cannot tell who called", other)
			}
			values[val] = f
		}
	}
}

// controls validates and completes the environments' controls. It runs
// after every environment is known (promotes_from names another).
func (v *validator) controls(c *Config) {
	known := map[string]bool{}
	var names []string
	for _, e := range c.Environments {
		if e.Name != "" && !known[e.Name] {
			known[e.Name] = true
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	for i := range c.Environments {
		e := &c.Environments[i]
		f := fmt.Sprintf("environments[%d]", i)
		ct := &e.Controls
		switch ct.Approval {
		case "":
			ct.Approval = ApprovalNone
		case ApprovalNone, ApprovalPeer, ApprovalManagement:
		default:
			v.errf(f+".approval", "%q: want none, peer or management", ct.Approval)
		}
		if ct.NeedsApproval() && len(ct.Approvers) == 0 {
			// The list is absent: point at the setting that needs it.
			v.errs = append(v.errs, &Error{File: v.file, Line: v.line(f + ".approval"), Field: f + ".approvers",
				Msg: fmt.Sprintf("required by approval: %s: name who may approve (identities such as alice: a server api_tokens name or --actor of the CLI)", ct.Approval)})
		}
		if !ct.NeedsApproval() && len(ct.Approvers) > 0 && ct.Approval == ApprovalNone {
			v.errf(f+".approvers", "approvers without approval: set approval: peer or approval: management, or remove the list")
		}
		seen := map[string]bool{}
		for j, a := range ct.Approvers {
			af := fmt.Sprintf("%s.approvers[%d]", f, j)
			switch {
			case strings.TrimSpace(a) == "":
				v.errf(af, "empty approver")
			case strings.TrimSpace(a) != a || strings.ContainsAny(a, " \t\n"):
				v.errf(af, "%q: an identity has no white space", a)
			case strings.HasPrefix(a, GitHubApproverPrefix) && !githubLogin.MatchString(strings.TrimPrefix(a, GitHubApproverPrefix)):
				v.errf(af, "%q: want github:LOGIN with a GitHub login (letters, digits and '-', at most 39)", a)
			case seen[strings.ToLower(a)]:
				v.errf(af, "%q is listed twice", a)
			}
			seen[strings.ToLower(a)] = true
		}
		if ct.Approval == ApprovalPeer && len(ct.Approvers) == 1 {
			// One approver can never approve their own request: say so
			// rather than let requests of that person wait forever.
			v.errf(f+".approvers", "approval: peer with one approver: %s could never approve their own actions; name at least two", ct.Approvers[0])
		}
		switch {
		case ct.ApprovalTTL == 0:
			ct.ApprovalTTL = DefaultApprovalTTL
		case ct.ApprovalTTL < time.Minute || ct.ApprovalTTL > maxApprovalTTL:
			v.errf(f+".approval_ttl", "%s: want 1m to 720h (an approval older than this must be given again)", ct.ApprovalTTL)
		}
		if p := ct.PromotesFrom; p != "" {
			switch {
			case p == e.Name:
				v.errf(f+".promotes_from", "%q: an environment cannot promote from itself", p)
			case !known[p]:
				v.errf(f+".promotes_from", "unknown environment %q (environments: %s)", p, strings.Join(names, ", "))
			}
		}
		en := &e.Enforcement
		if en.Missing == ActionRecreate && ct.TerraformDir == "" {
			v.errf(f+".enforcement.missing", "recreate needs terraform_dir on the environment: plumb recreates a missing resource only through a targeted Terraform apply of the code")
		}
		if en.AllowReplace && ct.TerraformDir == "" {
			v.errf(f+".enforcement.allow_replace", "allow_replace applies to Terraform reverts: set terraform_dir on the environment, or remove it")
		}
		if ct.TerraformWorkspace != "" && ct.TerraformDir == "" {
			v.errf(f+".terraform_workspace", "set terraform_dir too: the workspace is one of that directory's")
		}
		for j, p := range ct.Packs {
			if !slices.Contains(policy.Packs(), p) {
				v.errf(fmt.Sprintf("%s.packs[%d]", f, j), "%q: unknown pack (built-in: %s)", p, strings.Join(policy.Packs(), ", "))
			}
		}
		for j, p := range ct.Policies {
			if strings.TrimSpace(p) == "" {
				v.errf(fmt.Sprintf("%s.policies[%d]", f, j), "empty path")
			}
		}
	}
	// Promotion must be a chain, never a cycle (test -> staging -> prod).
	from := map[string]string{}
	for _, e := range c.Environments {
		from[e.Name] = e.PromotesFrom
	}
	for i, e := range c.Environments {
		seen := map[string]bool{e.Name: true}
		path := []string{e.Name}
		for cur := from[e.Name]; cur != ""; cur = from[cur] {
			path = append(path, cur)
			if seen[cur] {
				v.errf(fmt.Sprintf("environments[%d].promotes_from", i), "promotion order has a cycle: %s", strings.Join(path, " <- "))
				break
			}
			seen[cur] = true
		}
	}
}

// resolveControlPaths makes Terraform directories and policy paths
// relative to the config file.
func (c *Config) resolveControlPaths(rel func(string) string) {
	for i := range c.Environments {
		ct := &c.Environments[i].Controls
		ct.TerraformDir = rel(ct.TerraformDir)
		for j, p := range ct.Policies {
			ct.Policies[j] = rel(p)
		}
	}
}

// controlsSchema refines the generated schema of the inline controls.
func controlsSchema(props map[string]any) {
	if p, ok := props["approval"].(map[string]any); ok {
		p["enum"] = []any{ApprovalNone, ApprovalPeer, ApprovalManagement}
		p["description"] = "who must approve what plumb changes in the environment: none (default), peer or management (docs/environments.md)"
	}
	if p, ok := props["approvers"].(map[string]any); ok {
		p["description"] = "identities that may approve: api_tokens names, console users, --actor of the local CLI, or github:LOGIN"
	}
	if p, ok := props["packs"].(map[string]any); ok {
		p["items"] = map[string]any{"type": "string", "enum": toAny(policy.Packs())}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// constantTimeEqual compares tokens without leaking how much matched.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
