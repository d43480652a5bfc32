package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Quarantine isolates a resource reversibly; release puts back exactly
// what the quarantine saved. Every step of both is safe to repeat: a
// quarantine resumed after a crash works from the before-state saved
// before its first write (the store keeps the first save), never from the
// half-changed resource.

// Tags and names plumb uses for quarantine.
const (
	// TagQuarantined marks every quarantined resource that takes tags;
	// its value is the finding's fingerprint.
	TagQuarantined = "plumb:quarantined"
	// TagIsolation marks the isolation security group of a VPC.
	TagIsolation = "plumb:isolation"
	// IsolationGroupName is the name of the isolation group in each VPC.
	IsolationGroupName = "plumb-isolation"
	// QuarantinePolicyName is the inline deny-all policy put on IAM users
	// and roles.
	QuarantinePolicyName = "plumb-quarantine"
)

// denyAllPolicy denies every action on every resource; an explicit deny
// wins over any allow, so the principal can do nothing while it is on.
const denyAllPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PlumbQuarantine","Effect":"Deny","Action":"*","Resource":"*"}]}`

// quarantiner is how one Terraform type is quarantined and released.
type quarantiner struct {
	rank int
	// read returns the state a quarantine changes (saved as the
	// before-state); gone is true when the resource no longer exists.
	read func(ctx context.Context, c *clients, r model.Resource) (state any, gone bool, err error)
	// check returns why the quarantine cannot run now, or "" (optional).
	check func(ctx context.Context, c *clients, e *Executor, r model.Resource) (string, error)
	// quarantine applies the quarantine from the saved before-state.
	quarantine func(ctx context.Context, c *clients, e *Executor, a *enforce.Action, s plumbconfig.Enforcement, before json.RawMessage) (string, error)
	// release restores a quarantine's saved before-state.
	release func(ctx context.Context, c *clients, a *enforce.Action, restore json.RawMessage) (string, error)
	// notFound are the error codes meaning the resource is gone.
	notFound []string
}

func quarantiners() map[string]quarantiner {
	out := map[string]quarantiner{}
	for _, group := range []map[string]quarantiner{ec2Quarantiners(), s3Quarantiners(), iamQuarantiners()} {
		for k, v := range group {
			out[k] = v
		}
	}
	return out
}

// supportsMore answers Supports for the verbs other than delete.
func (e *Executor) supportsMore(verb enforce.Verb, typ string) bool {
	switch verb {
	case enforce.VerbQuarantine, enforce.VerbRelease:
		_, ok := e.quarantiners[typ]
		return ok
	case enforce.VerbTag:
		_, ok := taggers()[typ]
		return ok
	case enforce.VerbGrant:
		return typ == "aws_iam_group"
	}
	return false
}

// rankMore answers Rank for the verbs other than delete.
func (e *Executor) rankMore(verb enforce.Verb, typ string) int {
	switch verb {
	case enforce.VerbQuarantine, enforce.VerbRelease:
		return e.quarantiners[typ].rank
	}
	return 0
}

// QuarantineTypes lists the types quarantine and release support.
func (e *Executor) QuarantineTypes() []string {
	out := make([]string, 0, len(e.quarantiners))
	for t := range e.quarantiners {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// checkMore answers Check for the verbs other than delete.
func (e *Executor) checkMore(ctx context.Context, a *enforce.Action, live model.Resource) (string, error) {
	if a.Verb != enforce.VerbQuarantine {
		return "", nil
	}
	q, ok := e.quarantiners[a.Resource.Type]
	if !ok {
		return fmt.Sprintf("plumb cannot %s %s", a.Verb, a.Resource.Type), nil
	}
	if q.check == nil {
		return "", nil
	}
	c, err := e.clientsIn(ctx, live.Account, live.Region)
	if err != nil {
		return err.Error(), nil
	}
	reason, err := q.check(ctx, c, e, live)
	if err != nil && isCode(err, q.notFound) {
		return "", nil
	}
	if err != nil {
		return "", errors.New(errorText(err))
	}
	return reason, nil
}

// executeMore carries out the verbs other than delete.
func (e *Executor) executeMore(ctx context.Context, a *enforce.Action, s plumbconfig.Enforcement, rec enforce.Recorder) (string, error) {
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	c, err := e.clientsIn(ctx, a.Resource.Account, a.Resource.Region)
	if err != nil {
		return "", enforce.Permanent(err)
	}
	switch a.Verb {
	case enforce.VerbTag:
		return e.tag(ctx, c, a, rec)
	case enforce.VerbGrant:
		return e.grant(ctx, c, a, rec)
	}
	q, ok := e.quarantiners[a.Resource.Type]
	if !ok || (a.Verb != enforce.VerbQuarantine && a.Verb != enforce.VerbRelease) {
		return "", enforce.Permanent(fmt.Errorf("plumb cannot %s %s", a.Verb, a.Resource.Type))
	}
	state, gone, err := q.read(ctx, c, a.Resource)
	if err != nil && !isCode(err, q.notFound) {
		return "", fmt.Errorf("read before acting: %s", errorText(err))
	}
	if gone || err != nil {
		return "already gone", nil
	}
	// For a quarantine the saved state is what release restores; for a
	// release it is the quarantined state, kept for the audit trail.
	stored, err := rec.SaveBefore(ctx, state)
	if err != nil {
		return "", err
	}
	var result string
	if a.Verb == enforce.VerbQuarantine {
		result, err = q.quarantine(ctx, c, e, a, s, stored)
	} else {
		if len(a.Restore) == 0 {
			return "", enforce.Permanent(errors.New("the release carries no saved state to restore"))
		}
		result, err = q.release(ctx, c, a, a.Restore)
	}
	if err != nil {
		if isCode(err, q.notFound) {
			return "already gone", nil
		}
		if enforce.IsPermanent(err) {
			return "", err
		}
		return "", errors.New(errorText(err))
	}
	return result, nil
}

// self is the principal plumb's credentials act as in one account: the
// ARN STS returns and, for an assumed role, the role's name.
type self struct {
	arn, role, user string
}

// callerIdentity is who plumb acts as where c acts (see identityIn).
func (e *Executor) callerIdentity(ctx context.Context, c *clients) (self, error) {
	return e.identityIn(ctx, c.account)
}

// principalPatterns are aws:PrincipalArn patterns matching plumb's own
// principal, whatever the path of its role.
func (s self) principalPatterns() []string {
	if s.role == "" {
		if s.arn == "" {
			return nil
		}
		return []string{s.arn}
	}
	parts := strings.SplitN(s.arn, ":", 6) // arn partition sts "" account assumed-role/...
	if len(parts) < 6 {
		return []string{s.arn}
	}
	base := "arn:" + parts[1] + ":iam::" + parts[4] + ":role/"
	return []string{base + s.role, base + "*/" + s.role}
}

// restoreTags returns the tags to add and the keys to remove so a
// resource's tags equal before again, given the keys quarantine added.
func restoreTags(before map[string]string, added ...string) (put map[string]string, remove []string) {
	put = map[string]string{}
	for _, k := range added {
		if v, ok := before[k]; ok {
			put[k] = v
		} else {
			remove = append(remove, k)
		}
	}
	return put, remove
}
