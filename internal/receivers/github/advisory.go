package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v92/github"

	"plumb/internal/config"
	"plumb/internal/model"
	"plumb/internal/receivers"
)

// maxSummary bounds an advisory summary; GitHub refuses very long ones.
const maxSummary = 1024

// AdvisoryReceiver drafts repository security advisories for security
// findings, so a security team gets a private, embargoed place to work on
// an unexpected write or a security-relevant drift before anyone else
// sees it. It never publishes or closes an advisory: that stays a human
// decision.
type AdvisoryReceiver struct {
	name    string
	repo    repoRef
	minRank int
	state   receivers.State
	gh      *gh.Client
}

var _ receivers.Receiver = (*AdvisoryReceiver)(nil)

// NewAdvisoryReceiver builds the receiver from its validated config. Only
// GitHub App credentials are accepted (the config enforces it too):
// advisories need the repository's security permissions, which plumb
// should hold as a scoped, short-lived installation token rather than a
// personal admin token.
func NewAdvisoryReceiver(name string, cfg config.GitHubAdvisoryConfig, state receivers.State, httpClient *http.Client) (*AdvisoryReceiver, error) {
	repo, err := parseRepo(cfg.Repository)
	if err != nil {
		return nil, fmt.Errorf("github_advisory receiver %s: %w", name, err)
	}
	if state == nil {
		return nil, fmt.Errorf("github_advisory receiver %s: no state store", name)
	}
	creds := credentialsFrom(cfg.Auth)
	if !creds.isApp() || creds.token != "" {
		return nil, fmt.Errorf("github_advisory receiver %s: auth must be a GitHub App (app_id, installation_id, private_key)", name)
	}
	minSev := cfg.MinSeverity
	if minSev == "" {
		minSev = string(model.SeverityHigh)
	}
	rank := severityRank(model.Severity(minSev))
	if rank == 0 {
		return nil, fmt.Errorf("github_advisory receiver %s: min_severity %q: want low, medium, high or critical", name, minSev)
	}
	c, err := newClient(cfg.BaseURL, creds, httpClient)
	if err != nil {
		return nil, fmt.Errorf("github_advisory receiver %s: %w", name, err)
	}
	return &AdvisoryReceiver{name: name, repo: repo, minRank: rank, state: state, gh: c}, nil
}

// Name is the configured receiver name, the namespace of its state.
func (r *AdvisoryReceiver) Name() string { return r.name }

// eligible reports whether a finding belongs in an advisory: security
// relevant and severe enough.
func (r *AdvisoryReceiver) eligible(f receivers.Finding) bool {
	return (f.Security || f.Kind == model.KindUnexpectedWrite) && severityRank(f.Severity) >= r.minRank
}

// Deliver drafts, updates or marks resolved one advisory per eligible
// finding; other findings are ignored. Idempotent like every receiver.
func (r *AdvisoryReceiver) Deliver(ctx context.Context, n receivers.Notification) error {
	lk := &advisoryLookup{r: r}
	var errs []error
	for _, f := range n.Findings {
		if !r.eligible(f) {
			continue
		}
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

// repoAdvisory is the part of GitHub's repository advisory object plumb
// reads.
type repoAdvisory struct {
	GHSAID      string `json:"ghsa_id"`
	HTMLURL     string `json:"html_url"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	State       string `json:"state"`
	CVSS        *struct {
		VectorString *string `json:"vector_string"`
	} `json:"cvss"`
}

// advisoryPackage names what is affected. Cloud resources are not
// packages of any ecosystem GitHub knows, so they go under "other" with
// provider/type/id as the name.
type advisoryPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

type advisoryVulnerability struct {
	Package                advisoryPackage `json:"package"`
	VulnerableVersionRange *string         `json:"vulnerable_version_range"`
	PatchedVersions        *string         `json:"patched_versions"`
	VulnerableFunctions    []string        `json:"vulnerable_functions"`
}

type advisoryCreate struct {
	Summary string `json:"summary"`
	// CVEID names the vulnerability an isolation was requested for.
	CVEID           *string                 `json:"cve_id,omitempty"`
	Description     string                  `json:"description"`
	Severity        string                  `json:"severity"`
	Vulnerabilities []advisoryVulnerability `json:"vulnerabilities"`
}

type advisoryUpdate struct {
	Summary     *string `json:"summary,omitempty"`
	Description *string `json:"description,omitempty"`
	Severity    *string `json:"severity,omitempty"`
}

func (r *AdvisoryReceiver) deliverFinding(ctx context.Context, n receivers.Notification, f receivers.Finding, lk *advisoryLookup) error {
	if f.Fingerprint == "" {
		return receivers.Permanent(errors.New("finding has no fingerprint"))
	}
	if f.Status == "" {
		f.Status = statusOpen
	}
	key := f.Fingerprint
	adv, err := r.locate(ctx, key, findingMarker(f.Fingerprint), lk)
	if err != nil {
		return err
	}
	hash := contentHash(f)
	desc := advisoryDescription(f, n.ExternalURL, hash)
	summary := truncate(receivers.Title(f), maxSummary)

	if adv == nil {
		if f.Status != statusOpen {
			return nil // resolved before anyone drafted it: nothing to say.
		}
		var cve *string
		if f.Isolation != nil && f.Isolation.CVE != "" {
			cve = &f.Isolation.CVE
		}
		created, err := r.create(ctx, advisoryCreate{
			CVEID:       cve,
			Summary:     summary,
			Description: desc,
			Severity:    string(f.Severity),
			Vulnerabilities: []advisoryVulnerability{{
				Package: advisoryPackage{Ecosystem: "other", Name: packageName(f.Resource)},
			}},
		})
		if err != nil {
			return err
		}
		lk.add(findingMarker(f.Fingerprint), created)
		return r.remember(ctx, key, created.GHSAID, hash)
	}

	// Published or closed advisories belong to the people who moved them.
	if adv.State != "draft" && adv.State != "triage" {
		return nil
	}
	prev, ok, err := r.state.Get(ctx, r.name, key+"#hash")
	if err != nil {
		return fmt.Errorf("read receiver state %s#hash: %w", key, err)
	}
	if !ok {
		prev = bodyHash(adv.Description)
	}
	if prev == hash {
		return nil
	}
	upd := advisoryUpdate{Description: &desc}
	if f.Status == statusOpen {
		upd.Summary = &summary
		if adv.Severity != string(f.Severity) && (adv.CVSS == nil || adv.CVSS.VectorString == nil || *adv.CVSS.VectorString == "") {
			upd.Severity = new(string(f.Severity))
		}
	}
	if err := r.update(ctx, adv.GHSAID, upd); err != nil {
		return err
	}
	return r.remember(ctx, key, adv.GHSAID, hash)
}

// packageName is provider/type/id, the resource's identity in plumb.
func packageName(res model.Resource) string {
	return res.Provider + "/" + res.Type + "/" + res.ID
}

// advisoryDescription is the finding's report; a resolved finding gets a
// note on top instead of a state change, because publishing or closing an
// advisory is the security team's call.
func advisoryDescription(f receivers.Finding, externalURL, hash string) string {
	body := findingBody(f, externalURL, hash)
	switch f.Status {
	case statusResolved:
		at := f.LastSeen
		if f.ResolvedAt != nil {
			at = *f.ResolvedAt
		}
		return fmt.Sprintf("> **Resolved**: plumb no longer detects this finding (resolved %s). This draft was left as it is; publish or close it as you see fit.\n\n%s", fmtTime(at), body)
	case statusSuppressed:
		return "> **Suppressed** in plumb: this finding is no longer reported.\n\n" + body
	}
	return body
}

func (r *AdvisoryReceiver) advisoriesPath() string {
	return fmt.Sprintf("repos/%s/%s/security-advisories", url.PathEscape(r.repo.owner), url.PathEscape(r.repo.name))
}

func (r *AdvisoryReceiver) create(ctx context.Context, body advisoryCreate) (*repoAdvisory, error) {
	req, err := r.gh.NewRequest(ctx, http.MethodPost, r.advisoriesPath(), body)
	if err != nil {
		return nil, fmt.Errorf("build advisory request: %w", err)
	}
	var adv repoAdvisory
	if _, err := r.gh.Do(req, &adv); err != nil {
		return nil, classify("create security advisory in "+r.repo.String(), err)
	}
	if adv.GHSAID == "" {
		return nil, fmt.Errorf("create security advisory in %s: response has no ghsa_id", r.repo)
	}
	return &adv, nil
}

func (r *AdvisoryReceiver) update(ctx context.Context, ghsa string, body advisoryUpdate) error {
	req, err := r.gh.NewRequest(ctx, http.MethodPatch, r.advisoriesPath()+"/"+url.PathEscape(ghsa), body)
	if err != nil {
		return fmt.Errorf("build advisory request: %w", err)
	}
	if _, err := r.gh.Do(req, nil); err != nil {
		return classify(fmt.Sprintf("update security advisory %s in %s", ghsa, r.repo), err)
	}
	return nil
}

func (r *AdvisoryReceiver) get(ctx context.Context, ghsa string) (*repoAdvisory, error) {
	req, err := r.gh.NewRequest(ctx, http.MethodGet, r.advisoriesPath()+"/"+url.PathEscape(ghsa), nil)
	if err != nil {
		return nil, fmt.Errorf("build advisory request: %w", err)
	}
	var adv repoAdvisory
	if _, err := r.gh.Do(req, &adv); err != nil {
		return nil, err
	}
	return &adv, nil
}

func (r *AdvisoryReceiver) remember(ctx context.Context, key, ghsa, hash string) error {
	if err := r.state.Put(ctx, r.name, key, ghsa); err != nil {
		return fmt.Errorf("store advisory id of %s: %w", key, err)
	}
	if err := r.state.Put(ctx, r.name, key+"#hash", hash); err != nil {
		return fmt.Errorf("store content hash of %s: %w", key, err)
	}
	return nil
}

// locate finds the advisory of a finding: the stored GHSA id first, then
// the marker in the repository's advisories.
func (r *AdvisoryReceiver) locate(ctx context.Context, key, marker string, lk *advisoryLookup) (*repoAdvisory, error) {
	id, ok, err := r.state.Get(ctx, r.name, key)
	if err != nil {
		return nil, fmt.Errorf("read receiver state %s: %w", key, err)
	}
	if ok && id != "" {
		adv, err := r.get(ctx, id)
		if err == nil {
			return adv, nil
		}
		if !isGone(err) {
			return nil, classify(fmt.Sprintf("get security advisory %s in %s", id, r.repo), err)
		}
	}
	adv, err := lk.find(ctx, marker)
	if err != nil || adv == nil {
		return nil, err
	}
	if err := r.state.Put(ctx, r.name, key, adv.GHSAID); err != nil {
		return nil, fmt.Errorf("store advisory id of %s: %w", key, err)
	}
	return adv, nil
}

// advisoryLookup indexes the repository's advisories by marker, listed
// once per delivery. Every state is listed, not only drafts: an advisory
// a person already published must not be drafted again after the
// database is lost.
type advisoryLookup struct {
	r     *AdvisoryReceiver
	index map[string]*repoAdvisory
}

func (lk *advisoryLookup) add(marker string, adv *repoAdvisory) {
	if lk.index != nil {
		lk.index[marker] = adv
	}
}

func (lk *advisoryLookup) find(ctx context.Context, marker string) (*repoAdvisory, error) {
	if lk.index == nil {
		if err := lk.list(ctx); err != nil {
			return nil, err
		}
	}
	return lk.index[marker], nil
}

func (lk *advisoryLookup) list(ctx context.Context) error {
	r := lk.r
	idx := map[string]*repoAdvisory{}
	opts := &gh.ListRepositorySecurityAdvisoriesOptions{ListCursorOptions: gh.ListCursorOptions{PerPage: perPage}}
	for {
		page, resp, err := r.gh.SecurityAdvisories.ListRepositorySecurityAdvisories(ctx, r.repo.owner, r.repo.name, opts)
		if err != nil {
			return classify("list security advisories in "+r.repo.String(), err)
		}
		for _, a := range page {
			for _, m := range markerRe.FindAllString(a.GetDescription(), -1) {
				if _, dup := idx[m]; dup && a.GetState() != "draft" {
					continue
				}
				adv := &repoAdvisory{
					GHSAID: a.GetGHSAID(), HTMLURL: a.GetHTMLURL(), Summary: a.GetSummary(),
					Description: a.GetDescription(), Severity: a.GetSeverity(), State: a.GetState(),
				}
				if a.CVSS != nil && a.CVSS.VectorString != nil {
					adv.CVSS = &struct {
						VectorString *string `json:"vector_string"`
					}{VectorString: a.CVSS.VectorString}
				}
				idx[m] = adv
			}
		}
		if resp == nil || resp.After == "" || strings.TrimSpace(resp.After) == opts.After {
			break
		}
		opts.After = resp.After
	}
	lk.index = idx
	return nil
}
