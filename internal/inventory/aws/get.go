package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"plumb/internal/model"
)

// getState is what Get keeps between calls: the session its reads share
// and the account of the credentials, asked once and only when an answer
// does not name its owner.
type getState struct {
	mu      sync.Mutex
	sess    *session
	account string
}

// CanGet reports whether typ has a read by id (Get): a caller about a few
// resources (enforcement re-reading the one it is about to change) need
// not list the whole region.
func (s *Scanner) CanGet(typ string) bool {
	l, ok := s.lister(typ)
	return ok && l.get != nil
}

func (s *Scanner) lister(typ string) (lister, bool) {
	for _, l := range allListers() {
		if l.Name == typ {
			return l, true
		}
	}
	return lister{}, false
}

// Get reads the resources ids of typ in region (ignored for global types)
// by id, each as the listing would give it: type, region, account, tags
// and Default marking. An id missing from the answer is gone. The account
// is the owner the answer names (an EC2 owner id, an ARN), else the
// credentials' own (STS, asked once per scanner). It fails for a type
// without a read by id (see CanGet).
func (s *Scanner) Get(ctx context.Context, typ, region string, ids []string) ([]model.Resource, error) {
	l, ok := s.lister(typ)
	if !ok || l.get == nil {
		return nil, fmt.Errorf("plumb cannot read %s resources by id", typ)
	}
	if l.Global {
		region = ""
	}
	sess := s.getSession()
	out, err := l.get(ctx, sess, region, ids)
	if err != nil && slices.Contains(l.getGone, apiErrorCode(err)) && len(ids) > 1 {
		// One of them is gone and the API refused the whole call: ask for
		// each, so the others are still read.
		out, err = nil, nil
		for _, id := range ids {
			one, err1 := l.get(ctx, sess, region, []string{id})
			if err1 != nil && slices.Contains(l.getGone, apiErrorCode(err1)) {
				continue
			}
			if err1 != nil {
				return nil, fmt.Errorf("%s %s: %s", typ, id, shortCause(err1))
			}
			out = append(out, one...)
		}
	} else if err != nil && slices.Contains(l.getGone, apiErrorCode(err)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s", typ, shortCause(err))
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	kept := out[:0]
	for _, r := range out {
		if !want[r.ID] {
			continue
		}
		r.Provider = "aws"
		r.Type = l.Name
		if r.Region == "" && !l.Global {
			r.Region = region
		}
		if r.Account == "" {
			r.Account = arnAccount(r.ARN)
		}
		if r.Account == "" {
			acct, err := s.getAccount(ctx)
			if err != nil {
				return nil, err
			}
			r.Account = acct
		}
		kept = append(kept, r)
	}
	return kept, nil
}

func (s *Scanner) getSession() *session {
	s.get.mu.Lock()
	defer s.get.mu.Unlock()
	if s.get.sess == nil {
		s.get.sess = newSession(s.cfg, s.opts.PerUnitConcurrency)
		s.get.sess.policyAttrs = s.opts.PolicyAttributes
		s.get.sess.declared = s.opts.Declared
	}
	return s.get.sess
}

func (s *Scanner) getAccount(ctx context.Context) (string, error) {
	s.get.mu.Lock()
	defer s.get.mu.Unlock()
	if s.get.account != "" {
		return s.get.account, nil
	}
	acct, err := s.CheckIdentity(ctx)
	if err != nil {
		return "", err
	}
	s.get.account = acct
	s.get.sess.account = acct
	return acct, nil
}

// arnAccount is the account field of an ARN, "" when it has none.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
