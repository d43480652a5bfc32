package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v92/github"

	"plumb/internal/config"
	"plumb/internal/receivers"
)

// Finding statuses as receivers.Finding carries them.
const (
	statusOpen       = "open"
	statusResolved   = "resolved"
	statusSuppressed = "suppressed"
)

// perPage is the page size of listings: GitHub's maximum, so the marker
// scan costs as few requests as possible.
const perPage = 100

// IssueReceiver keeps one GitHub issue per finding (or per routing group
// with per_group), because that is where teams already track work: the
// issue opens when plumb detects a problem, follows its changes, closes
// when it is fixed and reopens when it comes back.
type IssueReceiver struct {
	name     string
	repo     repoRef
	labels   []string
	perGroup bool
	state    receivers.State
	gh       *gh.Client
}

var _ receivers.Receiver = (*IssueReceiver)(nil)

// NewIssueReceiver builds the receiver from its validated config. state
// remembers issue numbers and content hashes; httpClient (nil for a
// default with a timeout) lets tests and proxies supply the transport.
func NewIssueReceiver(name string, cfg config.GitHubIssueConfig, state receivers.State, httpClient *http.Client) (*IssueReceiver, error) {
	repo, err := parseRepo(cfg.Repository)
	if err != nil {
		return nil, fmt.Errorf("github_issue receiver %s: %w", name, err)
	}
	if state == nil {
		return nil, fmt.Errorf("github_issue receiver %s: no state store", name)
	}
	c, err := newClient(cfg.BaseURL, credentialsFrom(cfg.Auth), httpClient)
	if err != nil {
		return nil, fmt.Errorf("github_issue receiver %s: %w", name, err)
	}
	return &IssueReceiver{
		name: name, repo: repo, labels: cfg.Labels, perGroup: cfg.PerGroup,
		state: state, gh: c,
	}, nil
}

// Name is the configured receiver name, the namespace of its state.
func (r *IssueReceiver) Name() string { return r.name }

// Deliver brings the repository's issues in line with the notification.
// It is idempotent: an unchanged finding causes reads only, never writes.
// A rate limit stops the delivery at once with a RetryAfterError; other
// failures of one finding do not stop the others.
func (r *IssueReceiver) Deliver(ctx context.Context, n receivers.Notification) error {
	lk := &issueLookup{r: r}
	if r.perGroup {
		return r.deliverGroup(ctx, n, lk)
	}
	var errs []error
	for _, f := range n.Findings {
		if err := r.deliverFinding(ctx, n, f, lk); err != nil {
			var ra *receivers.RetryAfterError
			if errors.As(err, &ra) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("finding %s: %w", f.Fingerprint, err))
		}
	}
	return combine(errs)
}

// combine returns one error for several findings: permanent only when
// every failure is permanent, so one bad finding does not dead-letter
// others that a retry would deliver.
func combine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var retryable []error
	for _, e := range errs {
		if !receivers.IsPermanent(e) {
			retryable = append(retryable, e)
		}
	}
	if len(retryable) == 0 {
		return errors.Join(errs...)
	}
	if len(retryable) < len(errs) {
		// Keep the permanent failures' text, but not their mark.
		retryable = append(retryable, fmt.Errorf("also failed permanently: %d finding(s)", len(errs)-len(retryable)))
	}
	return errors.Join(retryable...)
}

// issueContent is what an issue should look like now.
type issueContent struct {
	title, body string
	labels      []string
	hash        string
}

func (r *IssueReceiver) deliverFinding(ctx context.Context, n receivers.Notification, f receivers.Finding, lk *issueLookup) error {
	if f.Fingerprint == "" {
		return receivers.Permanent(errors.New("finding has no fingerprint"))
	}
	key := f.Fingerprint
	marker := findingMarker(f.Fingerprint)
	iss, err := r.locate(ctx, key, marker, lk)
	if err != nil {
		return err
	}
	switch f.Status {
	case statusOpen, "":
		f.Status = statusOpen
		hash := contentHash(f)
		want := issueContent{
			title:  truncate(receivers.Title(f), maxTitle),
			body:   findingBody(f, n.ExternalURL, hash),
			labels: issueLabels(r.labels, []receivers.Finding{f}),
			hash:   hash,
		}
		if iss == nil {
			return r.create(ctx, key, marker, want, lk)
		}
		recur := fmt.Sprintf("Recurred: plumb detects this finding again (last seen %s). Reopening.", fmtTime(f.LastSeen))
		return r.syncOpen(ctx, key, iss, want, changeSummary(f), recur)
	case statusResolved:
		at := f.LastSeen
		if f.ResolvedAt != nil {
			at = *f.ResolvedAt
		}
		msg := fmt.Sprintf("Resolved: %s is no longer detected (resolved %s). Closing.", codeCell(f.Resource.DisplayName()), fmtTime(at))
		if e := f.Enforcement; e != nil && e.Verb == "delete" {
			msg = fmt.Sprintf("Deleted by plumb enforce: %s %s (%s, action %s). Closing.", codeCell(f.Resource.DisplayName()),
				safeText(e.Result), fmtTime(e.At), codeCell(e.ActionID))
		}
		return r.close(ctx, iss, "completed", msg)
	case statusSuppressed:
		return r.close(ctx, iss, "not_planned", "Suppressed in plumb: this finding is no longer reported. Closing as not planned.")
	}
	return receivers.Permanent(fmt.Errorf("unknown finding status %q", f.Status))
}

func (r *IssueReceiver) deliverGroup(ctx context.Context, n receivers.Notification, lk *issueLookup) error {
	if len(n.Findings) == 0 {
		return nil
	}
	if n.GroupKey == "" {
		return receivers.Permanent(errors.New("per_group issue: notification has no group key"))
	}
	fs := append([]receivers.Finding(nil), n.Findings...)
	for i := range fs {
		if fs[i].Status == "" {
			fs[i].Status = statusOpen
		}
	}
	// Order must not depend on how the router listed them, or the hash
	// would change with nothing changed.
	sort.Slice(fs, func(i, j int) bool { return fs[i].Fingerprint < fs[j].Fingerprint })
	n.Findings = fs

	key := "group:" + n.GroupKey
	marker := groupMarker(n.GroupKey)
	iss, err := r.locate(ctx, key, marker, lk)
	if err != nil {
		return err
	}
	open, closed := splitOpen(fs)
	if len(open) == 0 {
		reason := "not_planned"
		for _, f := range closed {
			if f.Status == statusResolved {
				reason = "completed"
			}
		}
		names := make([]string, 0, len(closed))
		for _, f := range closed {
			names = append(names, codeCell(f.Resource.DisplayName())+" ("+f.Status+")")
		}
		msg := "Resolved: no finding of this group is detected any more: " + strings.Join(names, ", ") + ". Closing."
		return r.close(ctx, iss, reason, msg)
	}
	hash := contentHash(fs...)
	want := issueContent{
		title:  groupTitle(n),
		body:   groupBody(n, hash),
		labels: issueLabels(r.labels, open),
		hash:   hash,
	}
	if iss == nil {
		return r.create(ctx, key, marker, want, lk)
	}
	titles := make([]string, 0, len(open))
	for _, f := range open {
		titles = append(titles, "- "+safeText(receivers.Title(f)))
	}
	change := fmt.Sprintf("plumb saw this group change: %d open, %d resolved or suppressed. Open now:\n\n%s\n\nThe description above is updated.",
		len(open), len(closed), strings.Join(titles, "\n"))
	recur := fmt.Sprintf("Recurred: %d finding(s) of this group are detected again. Reopening.", len(open))
	return r.syncOpen(ctx, key, iss, want, change, recur)
}

// create opens a new issue and remembers it.
func (r *IssueReceiver) create(ctx context.Context, key, marker string, want issueContent, lk *issueLookup) error {
	iss, _, err := r.gh.Issues.Create(ctx, r.repo.owner, r.repo.name, gh.CreateIssueRequest{
		Title:  want.title,
		Body:   new(want.body),
		Labels: want.labels,
	})
	if err != nil {
		return classify("create issue in "+r.repo.String(), err)
	}
	lk.add(marker, iss)
	if err := r.remember(ctx, key, iss.GetNumber(), want.hash); err != nil {
		return err
	}
	return nil
}

// syncOpen makes an existing issue match an open finding: rewrite the body
// when the content changed, reopen when it was closed, and say why in a
// comment. Nothing changed and still open means no write at all.
func (r *IssueReceiver) syncOpen(ctx context.Context, key string, iss *gh.Issue, want issueContent, changeComment, recurComment string) error {
	prev, ok, err := r.state.Get(ctx, r.name, key+"#hash")
	if err != nil {
		return fmt.Errorf("read receiver state %s#hash: %w", key, err)
	}
	if !ok {
		prev = bodyHash(iss.GetBody())
	}
	changed := prev != want.hash
	reopen := iss.GetState() == "closed"
	if !changed && !reopen {
		return nil
	}
	num := iss.GetNumber()
	var upd gh.UpdateIssueRequest
	if changed {
		upd.Title = new(want.title)
		upd.Body = new(want.body)
		if labels, differ := mergeLabels(iss.Labels, want.labels); differ {
			upd.Labels = labels
		}
	}
	if reopen {
		upd.State = new("open")
		upd.StateReason = new("reopened")
	}
	if _, _, err := r.gh.Issues.Update(ctx, r.repo.owner, r.repo.name, num, upd); err != nil {
		return classify(fmt.Sprintf("update issue %s#%d", r.repo, num), err)
	}
	comment := changeComment
	if reopen {
		comment = recurComment
	}
	if err := r.comment(ctx, num, comment); err != nil {
		return err
	}
	return r.remember(ctx, key, num, want.hash)
}

// close comments and closes an open issue; a closed or absent one is left
// alone, which makes repeated resolutions free.
func (r *IssueReceiver) close(ctx context.Context, iss *gh.Issue, reason, comment string) error {
	if iss == nil || iss.GetState() != "open" {
		return nil
	}
	num := iss.GetNumber()
	if err := r.comment(ctx, num, comment); err != nil {
		return err
	}
	_, _, err := r.gh.Issues.Update(ctx, r.repo.owner, r.repo.name, num, gh.UpdateIssueRequest{
		State:       new("closed"),
		StateReason: new(reason),
	})
	if err != nil {
		return classify(fmt.Sprintf("close issue %s#%d", r.repo, num), err)
	}
	return nil
}

func (r *IssueReceiver) comment(ctx context.Context, num int, body string) error {
	_, _, err := r.gh.Issues.CreateComment(ctx, r.repo.owner, r.repo.name, num, gh.IssueCommentRequest{Body: body})
	if err != nil {
		return classify(fmt.Sprintf("comment on issue %s#%d", r.repo, num), err)
	}
	return nil
}

func (r *IssueReceiver) remember(ctx context.Context, key string, num int, hash string) error {
	if err := r.state.Put(ctx, r.name, key, strconv.Itoa(num)); err != nil {
		return fmt.Errorf("store issue number of %s: %w", key, err)
	}
	if hash != "" {
		if err := r.state.Put(ctx, r.name, key+"#hash", hash); err != nil {
			return fmt.Errorf("store content hash of %s: %w", key, err)
		}
	}
	return nil
}

// mergeLabels keeps labels people added and replaces plumb's severity
// label, so a severity change shows on the board. It reports whether the
// result differs from the issue's labels.
func mergeLabels(have []*gh.Label, want []string) ([]string, bool) {
	var out []string
	seen := map[string]bool{}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, l := range have {
		n := l.GetName()
		if strings.HasPrefix(n, "severity:") && !wantSet[n] {
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	differ := len(out) != len(have)
	for _, w := range want {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
			differ = true
		}
	}
	return out, differ
}

// locate finds the issue for key: the stored number first, then the
// marker. A stored number whose issue is gone (deleted, transferred) is
// forgotten rather than trusted.
func (r *IssueReceiver) locate(ctx context.Context, key, marker string, lk *issueLookup) (*gh.Issue, error) {
	v, ok, err := r.state.Get(ctx, r.name, key)
	if err != nil {
		return nil, fmt.Errorf("read receiver state %s: %w", key, err)
	}
	if ok {
		if num, convErr := strconv.Atoi(v); convErr == nil && num > 0 {
			iss, _, err := r.gh.Issues.Get(ctx, r.repo.owner, r.repo.name, num)
			switch {
			case err == nil && iss.GetNumber() == num:
				return iss, nil
			case err != nil && !isGone(err):
				return nil, classify(fmt.Sprintf("get issue %s#%d", r.repo, num), err)
			}
		}
	}
	iss, err := lk.find(ctx, marker)
	if err != nil || iss == nil {
		return nil, err
	}
	if err := r.state.Put(ctx, r.name, key, strconv.Itoa(iss.GetNumber())); err != nil {
		return nil, fmt.Errorf("store issue number of %s: %w", key, err)
	}
	return iss, nil
}

// issueLookup finds issues by marker for one delivery. Search is cheap but
// eventually consistent (a just-created issue may not be indexed), so a
// miss falls back to listing every plumb-labelled issue once per delivery;
// after that the listing answers all further lookups.
type issueLookup struct {
	r     *IssueReceiver
	index map[string]*gh.Issue
}

var markerRe = regexp.MustCompile(`<!-- plumb:(?:fingerprint|group)=[^ ]+ -->`)

func (lk *issueLookup) add(marker string, iss *gh.Issue) {
	if lk.index != nil {
		lk.index[marker] = iss
	}
}

func (lk *issueLookup) find(ctx context.Context, marker string) (*gh.Issue, error) {
	if lk.index != nil {
		return lk.index[marker], nil
	}
	r := lk.r
	term := strings.TrimSuffix(strings.TrimPrefix(marker, "<!-- "), " -->")
	q := fmt.Sprintf(`repo:%s "%s" in:body is:issue`, r.repo, term)
	res, _, err := r.gh.Search.Issues(ctx, q, &gh.SearchOptions{ListOptions: gh.ListOptions{PerPage: perPage}})
	if err != nil {
		// The search quota is separate and small: when only it is spent,
		// the listing below (core quota) still answers.
		var rl *gh.RateLimitError
		if !errors.As(err, &rl) || rl.Rate.Resource != "search" {
			return nil, classify("search issues in "+r.repo.String(), err)
		}
	} else {
		var best *gh.Issue
		for _, iss := range res.Issues {
			if iss.PullRequestLinks == nil && strings.Contains(iss.GetBody(), marker) {
				best = better(best, iss)
			}
		}
		if best != nil {
			return best, nil
		}
	}
	if err := lk.list(ctx); err != nil {
		return nil, err
	}
	return lk.index[marker], nil
}

// list indexes every plumb-labelled issue, open and closed, by marker.
func (lk *issueLookup) list(ctx context.Context) error {
	r := lk.r
	idx := map[string]*gh.Issue{}
	opts := &gh.IssueListByRepoOptions{
		State:       "all",
		Labels:      []string{plumbLabel},
		ListOptions: gh.ListOptions{PerPage: perPage},
	}
	for {
		page, resp, err := r.gh.Issues.ListByRepo(ctx, r.repo.owner, r.repo.name, opts)
		if err != nil {
			return classify("list plumb issues in "+r.repo.String(), err)
		}
		for _, iss := range page {
			if iss.PullRequestLinks != nil {
				continue
			}
			for _, m := range markerRe.FindAllString(iss.GetBody(), -1) {
				idx[m] = better(idx[m], iss)
			}
		}
		// Classic page numbers, or the cursors GitHub uses on some
		// large repositories.
		switch {
		case resp == nil:
			lk.index = idx
			return nil
		case resp.NextPage != 0:
			opts.ListOptions.Page = resp.NextPage
		case resp.After != "" && resp.After != opts.After:
			opts.After = resp.After
		default:
			lk.index = idx
			return nil
		}
	}
}

// better picks among duplicates for one marker: an open issue over a
// closed one, then the oldest, so every run settles on the same issue.
func better(a, b *gh.Issue) *gh.Issue {
	switch {
	case a == nil:
		return b
	case (a.GetState() == "open") != (b.GetState() == "open"):
		if b.GetState() == "open" {
			return b
		}
		return a
	case b.GetNumber() < a.GetNumber():
		return b
	}
	return a
}
