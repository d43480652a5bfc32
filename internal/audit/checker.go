// Package audit decides whether a change to the estate came from one of an
// environment's deployment pipelines, and describes the change as plumb's
// common model when it did not. Infrastructure code is only the source of
// truth if nothing else writes to the estate, so a write by anybody else is
// worth a security finding.
package audit

import (
	"fmt"
	"regexp"
	"strings"

	"plumb/internal/model"
)

// Checker holds the compiled pipeline identities of one environment. It is
// immutable after NewChecker, so one Checker can serve concurrent handlers.
//
// Matching rules:
//   - An identity is an exact principal or a glob: '*' matches any run of
//     characters except ':' (so a wildcard never spans ARN fields such as the
//     account), '?' matches one such character. Nothing else is special.
//   - Comparison is case-insensitive. Entra object and application ids are
//     GUIDs, and IAM names are unique regardless of case within an account,
//     so folding case can never make two different principals equal.
//   - An STS session ARN arn:P:sts::ACCT:assumed-role/ROLE/SESSION is also
//     tried as the role ARN arn:P:iam::ACCT:role/ROLE. STS drops the role's
//     path, but IAM role names are unique within an account whatever their
//     path, so for that comparison the path of a configured role ARN is
//     dropped too (arn:aws:iam::1:role/ci/deploy matches a session of role
//     "deploy" in account 1). A wildcard inside a configured path therefore
//     cannot be verified from a bare session ARN; IsPipelineEvent avoids the
//     problem by using the role ARN CloudTrail records in the session issuer,
//     which keeps the path, and then matches it in full.
type Checker struct {
	entries []entry
}

// entry is one configured identity: the full pattern, and for IAM role
// ARNs the pattern with the path removed (used for bare session ARNs).
type entry struct {
	raw      string
	full     *regexp.Regexp
	pathless *regexp.Regexp
}

// NewChecker compiles the pipeline identities from configuration. It
// rejects entries that would silently match nothing useful or everything,
// because a typo there either floods the findings or hides real writes.
func NewChecker(identities []string) (*Checker, error) {
	c := &Checker{}
	for i, id := range identities {
		e, err := compileEntry(id)
		if err != nil {
			return nil, fmt.Errorf("pipeline identity %d (%q): %w", i+1, id, err)
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

func compileEntry(id string) (entry, error) {
	s := strings.TrimSpace(id)
	if s == "" {
		return entry{}, fmt.Errorf("empty identity")
	}
	if s != id {
		return entry{}, fmt.Errorf("leading or trailing white space")
	}
	if strings.Trim(s, "*?") == "" {
		return entry{}, fmt.Errorf("pattern matches every principal")
	}
	s = canonicalGUID(s)
	if strings.HasPrefix(strings.ToLower(s), "arn:") {
		parts := strings.SplitN(s, ":", 6)
		if len(parts) < 6 || parts[5] == "" {
			return entry{}, fmt.Errorf("not an ARN (expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
		}
	}
	full, err := globRegexp(s)
	if err != nil {
		return entry{}, err
	}
	e := entry{raw: s, full: full}
	if p, ok := pathlessRole(s); ok {
		if e.pathless, err = globRegexp(p); err != nil {
			return entry{}, err
		}
	}
	return e, nil
}

// globRegexp turns an identity glob into an anchored, case-insensitive
// regular expression.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?i)^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString("[^:]*")
		case '?':
			b.WriteString("[^:]")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("compile pattern: %w", err)
	}
	return re, nil
}

// pathlessRole returns an IAM role ARN (or pattern) without its path:
// arn:aws:iam::1:role/a/b/name gives arn:aws:iam::1:role/name.
func pathlessRole(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || !strings.EqualFold(parts[2], "iam") {
		return "", false
	}
	res := parts[5]
	if !strings.HasPrefix(strings.ToLower(res), "role/") {
		return "", false
	}
	name := res[strings.LastIndexByte(res, '/')+1:]
	if name == "" {
		return "", false
	}
	parts[5] = "role/" + name
	return strings.Join(parts, ":"), true
}

// sessionRole turns an STS assumed-role session ARN into the pathless role
// ARN it was issued for.
func sessionRole(principal string) (string, bool) {
	parts := strings.SplitN(principal, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || !strings.EqualFold(parts[2], "sts") {
		return "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return "", false
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok || role == "" {
		return "", false
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role, true
}

// IsPipeline reports whether principal is one of the pipeline identities,
// so that writes made by the pipeline are not reported. An empty principal
// is never a pipeline.
func (c *Checker) IsPipeline(principal string) bool {
	if c == nil || principal == "" {
		return false
	}
	principal = canonicalGUID(principal)
	for _, e := range c.entries {
		if e.full.MatchString(principal) {
			return true
		}
	}
	role, ok := sessionRole(principal)
	if !ok {
		return false
	}
	for _, e := range c.entries {
		if e.pathless != nil && e.pathless.MatchString(role) {
			return true
		}
		// A configured pathless role pattern (role/github-*) is its own
		// pathless form.
		if e.full.MatchString(role) {
			return true
		}
	}
	return false
}

// IsPipelineEvent decides from the whole event rather than one principal
// string, because the payload often names the caller better than the
// normalized Principal: CloudTrail keeps the full role ARN (with its path)
// of an assumed-role session, and Azure app-only tokens carry the
// application id that configuration may list instead of the object id.
func (c *Checker) IsPipelineEvent(ev model.Event) bool {
	if c == nil {
		return false
	}
	if rec, ok := CloudTrail(ev); ok {
		issuer := rec.UserIdentity.SessionContext.SessionIssuer
		if issuer.ARN != "" && strings.EqualFold(issuer.Type, "Role") {
			// The issuer keeps the role's path, so it is matched in full
			// and the pathless comparison of the session ARN is not used.
			for _, p := range []string{issuer.ARN, rec.UserIdentity.ARN, ev.Principal} {
				if p != "" && c.matchFull(p) {
					return true
				}
			}
			return false
		}
		return c.IsPipeline(rec.UserIdentity.ARN) || c.IsPipeline(ev.Principal)
	}
	if c.IsPipeline(ev.Principal) {
		return true
	}
	if d, ok := parseAzure(ev); ok {
		for _, p := range d.principals() {
			if c.IsPipeline(p) {
				return true
			}
		}
	}
	return false
}

// matchFull matches a principal against the configured patterns as given.
func (c *Checker) matchFull(principal string) bool {
	for _, e := range c.entries {
		if e.full.MatchString(principal) {
			return true
		}
	}
	return false
}

// canonicalGUID writes an Entra object or application id in the dashed
// form. ARM events carry evidence.principalId as 32 bare hex digits while
// the portal, the CLI and the token claims show the dashed GUID; both must
// name the same pipeline. Anything that is not a GUID is returned as is.
func canonicalGUID(s string) string {
	bare := strings.ReplaceAll(s, "-", "")
	if len(bare) != 32 || (len(s) != 32 && len(s) != 36) {
		return s
	}
	for _, r := range bare {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return s
		}
	}
	if len(s) == 36 && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') {
		return s
	}
	bare = strings.ToLower(bare)
	return bare[:8] + "-" + bare[8:12] + "-" + bare[12:16] + "-" + bare[16:20] + "-" + bare[20:]
}
