package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Git Data, repository and pull request endpoints plumb codify uses.
// Objects are hashed the way git hashes them (blobs and trees), so the
// same content always gets the same id, as on GitHub.

// gitRepo is the repository's object store and refs.
type gitRepo struct {
	defaultBranch string
	blobs         map[string][]byte
	// trees maps a root tree id to its files (path -> blob id).
	trees   map[string]map[string]string
	commits map[string]*gitCommit
	refs    map[string]string // "heads/main" -> commit id
	made    int               // commits created through the API
	seq     int
}

type gitCommit struct {
	sha, tree, message string
	parents            []string
	date               time.Time
}

// PullRequest is a pull request as the fake stores it.
type PullRequest struct {
	Number              int
	Title, Body         string
	Head, Base          string
	State               string
	Labels              []string
	MaintainerCanModify bool
	Created, Updated    time.Time
}

func newGitRepo() *gitRepo {
	return &gitRepo{blobs: map[string][]byte{}, trees: map[string]map[string]string{}, commits: map[string]*gitCommit{}, refs: map[string]string{}}
}

func blobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// treeSHA hashes a tree of files as git does: one tree object per
// directory, entries sorted with directories compared as "name/".
func treeSHA(files map[string]string) string {
	type entry struct {
		name, mode, sha string
		dir             bool
	}
	sub := map[string]map[string]string{}
	var entries []entry
	for p, sha := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]string{}
			}
			sub[dir][rest] = sha
			continue
		}
		entries = append(entries, entry{name: p, mode: "100644", sha: sha})
	}
	for dir, fs := range sub {
		entries = append(entries, entry{name: dir, mode: "40000", sha: treeSHA(fs), dir: true})
	}
	key := func(e entry) string {
		if e.dir {
			return e.name + "/"
		}
		return e.name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	var body []byte
	for _, e := range entries {
		raw, _ := hex.DecodeString(e.sha)
		body = append(body, e.mode+" "+e.name+"\x00"...)
		body = append(body, raw...)
	}
	h := sha1.New()
	fmt.Fprintf(h, "tree %d\x00", len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func (g *gitRepo) putTree(files map[string]string) string {
	sha := treeSHA(files)
	cp := make(map[string]string, len(files))
	for k, v := range files {
		cp[k] = v
	}
	g.trees[sha] = cp
	return sha
}

func (g *gitRepo) putCommit(tree, message string, parents []string) *gitCommit {
	g.seq++
	h := sha1.New()
	fmt.Fprintf(h, "tree %s\n%s\n%d\n%s", tree, strings.Join(parents, ","), g.seq, message)
	c := &gitCommit{sha: hex.EncodeToString(h.Sum(nil)), tree: tree, message: message, parents: parents, date: time.Now().UTC()}
	g.commits[c.sha] = c
	return c
}

// SeedRepo gives the repository a default branch holding files, in one
// commit. Call it before the code under test runs.
func (f *Fake) SeedRepo(defaultBranch string, files map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := newGitRepo()
	g.defaultBranch = defaultBranch
	tree := map[string]string{}
	for p, content := range files {
		sha := blobSHA([]byte(content))
		g.blobs[sha] = []byte(content)
		tree[p] = sha
	}
	c := g.putCommit(g.putTree(tree), "initial commit", nil)
	g.refs["heads/"+defaultBranch] = c.sha
	f.git = g
}

// PushFile commits one file onto a branch, as someone merging other work
// would.
func (f *Fake) PushFile(branch, path, content string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.git
	head := g.refs["heads/"+branch]
	files := map[string]string{}
	for k, v := range g.trees[g.commits[head].tree] {
		files[k] = v
	}
	sha := blobSHA([]byte(content))
	g.blobs[sha] = []byte(content)
	files[path] = sha
	c := g.putCommit(g.putTree(files), "update "+path, []string{head})
	g.refs["heads/"+branch] = c.sha
}

// BranchFiles returns the files on a branch and its head commit's
// parents; ok is false when there is no such branch.
func (f *Fake) BranchFiles(branch string) (files map[string]string, parents []string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.git == nil {
		return nil, nil, false
	}
	head, ok := f.git.refs["heads/"+branch]
	if !ok {
		return nil, nil, false
	}
	c := f.git.commits[head]
	files = map[string]string{}
	for p, sha := range f.git.trees[c.tree] {
		files[p] = string(f.git.blobs[sha])
	}
	return files, append([]string(nil), c.parents...), true
}

// BranchHead returns a branch's head commit id, "" when there is none.
func (f *Fake) BranchHead(branch string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.git == nil {
		return ""
	}
	return f.git.refs["heads/"+branch]
}

// CommitsMade counts commits created through the API.
func (f *Fake) CommitsMade() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.git == nil {
		return 0
	}
	return f.git.made
}

// PullRequests returns copies of all pull requests, oldest first.
func (f *Fake) PullRequests() []PullRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]PullRequest, 0, len(f.pulls))
	for _, p := range f.pulls {
		c := *p
		c.Labels = append([]string(nil), p.Labels...)
		out = append(out, c)
	}
	return out
}

// nextNumber numbers issues and pull requests from one sequence, as
// GitHub does.
func (f *Fake) nextNumber() int {
	f.lastNumber++
	return f.lastNumber
}

var (
	refGetRe    = regexp.MustCompile(`^/git/ref/(heads/.+)$`)
	refUpdateRe = regexp.MustCompile(`^/git/refs/(heads/.+)$`)
	commitRe    = regexp.MustCompile(`^/git/commits/([0-9a-f]{40})$`)
	treeRe      = regexp.MustCompile(`^/git/trees/([0-9a-f]{40})$`)
	pullRe      = regexp.MustCompile(`^/pulls/(\d+)$`)
	labelsRe    = regexp.MustCompile(`^/issues/(\d+)/labels$`)
)

// gitRoute serves the repository, Git Data and pull request endpoints;
// it reports whether sub was one of them.
func (f *Fake) gitRoute(w http.ResponseWriter, r *http.Request, sub string) bool {
	if strings.HasPrefix(sub, "/git/") || sub == "" || strings.HasPrefix(sub, "/pulls") {
		if f.git == nil {
			f.violation(r, "repository content used but the test did not SeedRepo")
			basicError(w, 409, "Git Repository is empty.", "https://docs.github.com/rest/git")
			return true
		}
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		f.getRepo(w)
	case refGetRe.MatchString(sub) && r.Method == http.MethodGet:
		f.getRef(w, r, refGetRe.FindStringSubmatch(sub)[1])
	case sub == "/git/refs" && r.Method == http.MethodPost:
		f.createRef(w, r)
	case refUpdateRe.MatchString(sub) && r.Method == http.MethodPatch:
		f.updateRef(w, r, refUpdateRe.FindStringSubmatch(sub)[1])
	case commitRe.MatchString(sub) && r.Method == http.MethodGet:
		f.getCommit(w, commitRe.FindStringSubmatch(sub)[1])
	case sub == "/git/commits" && r.Method == http.MethodPost:
		f.createCommit(w, r)
	case treeRe.MatchString(sub) && r.Method == http.MethodGet:
		f.getTree(w, r, treeRe.FindStringSubmatch(sub)[1])
	case sub == "/git/trees" && r.Method == http.MethodPost:
		f.createTree(w, r)
	case sub == "/pulls" && r.Method == http.MethodGet:
		f.listPulls(w, r)
	case sub == "/pulls" && r.Method == http.MethodPost:
		f.createPull(w, r)
	case pullRe.MatchString(sub) && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
		n, _ := strconv.Atoi(pullRe.FindStringSubmatch(sub)[1])
		f.onePull(w, r, n)
	case labelsRe.MatchString(sub) && r.Method == http.MethodPost:
		n, _ := strconv.Atoi(labelsRe.FindStringSubmatch(sub)[1])
		f.addLabels(w, r, n)
	default:
		return false
	}
	return true
}

func (f *Fake) apiRepo() string { return f.srv.URL + apiPrefix + "/repos/" + f.owner + "/" + f.repo }

func (f *Fake) repoJSON() map[string]any {
	return map[string]any{
		"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": f.repo, "full_name": f.owner + "/" + f.repo,
		"owner":   map[string]any{"login": f.owner, "id": 1, "type": "Organization"},
		"private": true, "html_url": f.srv.URL + "/" + f.owner + "/" + f.repo, "url": f.apiRepo(),
		"default_branch": f.git.defaultBranch, "visibility": "private", "fork": false, "archived": false,
	}
}

func (f *Fake) getRepo(w http.ResponseWriter) {
	writeJSON(w, 200, f.repoJSON())
}

func (f *Fake) refJSON(name, sha string) map[string]any {
	return map[string]any{
		"ref": "refs/" + name, "node_id": "MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlQQ==", "url": f.apiRepo() + "/git/refs/" + name,
		"object": map[string]any{"type": "commit", "sha": sha, "url": f.apiRepo() + "/git/commits/" + sha},
	}
}

func (f *Fake) getRef(w http.ResponseWriter, r *http.Request, name string) {
	const doc = "https://docs.github.com/rest/git/refs#get-a-reference"
	sha, ok := f.git.refs[name]
	if !ok {
		basicError(w, 404, "Not Found", doc)
		return
	}
	writeJSON(w, 200, f.refJSON(name, sha))
}

func (f *Fake) createRef(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/refs#create-a-reference"
	body, ok := f.decodeBody(r, "ref", "sha", "key")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	ref, _ := body["ref"].(string)
	sha, _ := body["sha"].(string)
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		f.violation(r, "ref %q must start with refs/ and contain at least two slashes", ref)
		basicError(w, 422, "Reference name is invalid", doc)
		return
	}
	if _, ok := f.git.commits[sha]; !ok {
		basicError(w, 422, "Object does not exist", doc)
		return
	}
	name := strings.TrimPrefix(ref, "refs/")
	if _, exists := f.git.refs[name]; exists {
		basicError(w, 422, "Reference already exists", doc)
		return
	}
	f.git.refs[name] = sha
	writeJSON(w, 201, f.refJSON(name, sha))
}

func (f *Fake) updateRef(w http.ResponseWriter, r *http.Request, name string) {
	const doc = "https://docs.github.com/rest/git/refs#update-a-reference"
	body, ok := f.decodeBody(r, "sha", "force")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	sha, _ := body["sha"].(string)
	if sha == "" {
		validationFailed(w, "Reference", "sha", "missing_field", doc)
		return
	}
	if v, present := body["force"]; present {
		if _, isBool := v.(bool); !isBool {
			f.violation(r, "force must be a boolean")
		}
	}
	old, exists := f.git.refs[name]
	if !exists {
		basicError(w, 422, "Reference does not exist", doc)
		return
	}
	if _, ok := f.git.commits[sha]; !ok {
		basicError(w, 422, "Object does not exist", doc)
		return
	}
	force, _ := body["force"].(bool)
	if !force && !f.git.descends(sha, old) {
		basicError(w, 422, "Update is not a fast forward", doc)
		return
	}
	f.git.refs[name] = sha
	writeJSON(w, 200, f.refJSON(name, sha))
}

// descends reports whether commit c has ancestor a (or is a).
func (g *gitRepo) descends(c, a string) bool {
	seen := map[string]bool{}
	stack := []string{c}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == a {
			return true
		}
		if seen[x] {
			continue
		}
		seen[x] = true
		if cm := g.commits[x]; cm != nil {
			stack = append(stack, cm.parents...)
		}
	}
	return false
}

func (f *Fake) commitJSON(c *gitCommit) map[string]any {
	parents := []map[string]any{}
	for _, p := range c.parents {
		parents = append(parents, map[string]any{"sha": p, "url": f.apiRepo() + "/git/commits/" + p, "html_url": f.srv.URL + "/" + f.owner + "/" + f.repo + "/commit/" + p})
	}
	who := map[string]any{"name": "plumb[bot]", "email": "plumb@example.com", "date": c.date.Format(time.RFC3339)}
	return map[string]any{
		"sha": c.sha, "node_id": "MDY6Q29tbWl0", "url": f.apiRepo() + "/git/commits/" + c.sha,
		"html_url": f.srv.URL + "/" + f.owner + "/" + f.repo + "/commit/" + c.sha,
		"author":   who, "committer": who, "message": c.message,
		"tree":         map[string]any{"sha": c.tree, "url": f.apiRepo() + "/git/trees/" + c.tree},
		"parents":      parents,
		"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
	}
}

func (f *Fake) getCommit(w http.ResponseWriter, sha string) {
	c, ok := f.git.commits[sha]
	if !ok {
		basicError(w, 404, "Not Found", "https://docs.github.com/rest/git/commits#get-a-commit-object")
		return
	}
	writeJSON(w, 200, f.commitJSON(c))
}

func (f *Fake) createCommit(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/commits#create-a-commit"
	body, ok := f.decodeBody(r, "message", "tree", "parents", "author", "committer", "signature")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	msg, _ := body["message"].(string)
	tree, _ := body["tree"].(string)
	if msg == "" || tree == "" {
		validationFailed(w, "Commit", "message/tree", "missing_field", doc)
		return
	}
	if _, ok := f.git.trees[tree]; !ok {
		basicError(w, 422, "Tree SHA does not exist", doc)
		return
	}
	parents, good := stringList(body["parents"])
	if !good {
		f.violation(r, "parents must be an array of commit ids")
	}
	for _, p := range parents {
		if _, ok := f.git.commits[p]; !ok {
			basicError(w, 422, "Parent SHA does not exist or is not a commit object", doc)
			return
		}
	}
	c := f.git.putCommit(tree, msg, parents)
	f.git.made++
	writeJSON(w, 201, f.commitJSON(c))
}

func (f *Fake) treeJSON(sha string, recursive bool) map[string]any {
	files := f.git.trees[sha]
	var entries []map[string]any
	dirs := map[string]map[string]string{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if dirs[d] == nil {
				dirs[d] = map[string]string{}
			}
			dirs[d][strings.Join(parts[i:], "/")] = files[p]
		}
		if len(parts) > 1 && !recursive {
			continue
		}
		entries = append(entries, map[string]any{
			"path": p, "mode": "100644", "type": "blob", "sha": files[p], "size": len(f.git.blobs[files[p]]),
			"url": f.apiRepo() + "/git/blobs/" + files[p],
		})
	}
	for d, fs := range dirs {
		if strings.Contains(d, "/") && !recursive {
			continue
		}
		ts := treeSHA(fs)
		entries = append(entries, map[string]any{"path": d, "mode": "040000", "type": "tree", "sha": ts, "url": f.apiRepo() + "/git/trees/" + ts})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i]["path"].(string) < entries[j]["path"].(string) })
	if entries == nil {
		entries = []map[string]any{}
	}
	return map[string]any{"sha": sha, "url": f.apiRepo() + "/git/trees/" + sha, "tree": entries, "truncated": false}
}

func (f *Fake) getTree(w http.ResponseWriter, r *http.Request, sha string) {
	if _, ok := f.git.trees[sha]; !ok {
		basicError(w, 404, "Not Found", "https://docs.github.com/rest/git/trees#get-a-tree")
		return
	}
	rec := r.URL.Query().Get("recursive")
	writeJSON(w, 200, f.treeJSON(sha, rec != "" && rec != "0" && rec != "false"))
}

func (f *Fake) createTree(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/trees#create-a-tree"
	body, ok := f.decodeBody(r, "tree", "base_tree")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	files := map[string]string{}
	if b, present := body["base_tree"]; present {
		base, _ := b.(string)
		tree, ok := f.git.trees[base]
		if !ok {
			basicError(w, 422, "base_tree is not a valid tree oid", doc)
			return
		}
		for k, v := range tree {
			files[k] = v
		}
	}
	entries, isList := body["tree"].([]any)
	if !isList {
		validationFailed(w, "Tree", "tree", "missing_field", doc)
		return
	}
	for _, raw := range entries {
		e, isObj := raw.(map[string]any)
		if !isObj {
			f.violation(r, "tree entries must be objects")
			continue
		}
		for k := range e {
			switch k {
			case "path", "mode", "type", "sha", "content":
			default:
				f.violation(r, "undocumented tree entry field %q", k)
			}
		}
		path, _ := e["path"].(string)
		mode, _ := e["mode"].(string)
		typ, _ := e["type"].(string)
		switch {
		case path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "//"):
			basicError(w, 422, "tree.path contains a malformed path component", doc)
			return
		case mode != "100644" && mode != "100755" && mode != "040000" && mode != "160000" && mode != "120000":
			basicError(w, 422, "tree.mode must be one of 100644, 100755, 040000, 160000, 120000", doc)
			return
		case typ != "blob" && typ != "tree" && typ != "commit":
			basicError(w, 422, "tree.type must be blob, tree or commit", doc)
			return
		}
		if typ != "blob" {
			f.violation(r, "the fake supports blob entries only")
			continue
		}
		content, hasContent := e["content"].(string)
		sha, hasSHA := e["sha"]
		switch {
		case hasContent && hasSHA && sha != nil:
			basicError(w, 422, "tree entry may not set both sha and content", doc)
			return
		case hasContent:
			s := blobSHA([]byte(content))
			f.git.blobs[s] = []byte(content)
			files[path] = s
		case hasSHA && sha == nil:
			delete(files, path)
		case hasSHA:
			s, _ := sha.(string)
			if _, ok := f.git.blobs[s]; !ok {
				basicError(w, 422, "tree.sha "+s+" is not a valid blob", doc)
				return
			}
			files[path] = s
		default:
			basicError(w, 422, "tree entry needs sha or content", doc)
			return
		}
	}
	sha := f.git.putTree(files)
	writeJSON(w, 201, f.treeJSON(sha, true))
}

func (f *Fake) pullJSON(p *PullRequest) map[string]any {
	labels := []map[string]any{}
	for k, l := range p.Labels {
		labels = append(labels, map[string]any{"id": 308045946 + k, "name": l, "color": "ededed", "default": false, "url": f.apiRepo() + "/labels/" + l})
	}
	branch := func(name string) map[string]any {
		return map[string]any{"label": f.owner + ":" + name, "ref": name, "sha": f.git.refs["heads/"+name], "repo": f.repoJSON(), "user": map[string]any{"login": f.owner}}
	}
	return map[string]any{
		"url": f.apiRepo() + "/pulls/" + strconv.Itoa(p.Number), "id": 5000 + p.Number, "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
		"html_url": fmt.Sprintf("%s/%s/%s/pull/%d", f.srv.URL, f.owner, f.repo, p.Number),
		"number":   p.Number, "state": p.State, "locked": false, "title": p.Title, "body": p.Body,
		"user":   map[string]any{"login": "plumb[bot]", "id": 1, "type": "Bot"},
		"labels": labels, "created_at": p.Created.UTC().Format(time.RFC3339), "updated_at": p.Updated.UTC().Format(time.RFC3339),
		"closed_at": nil, "merged_at": nil, "head": branch(p.Head), "base": branch(p.Base), "draft": false, "merged": false,
		"maintainer_can_modify": p.MaintainerCanModify, "author_association": "NONE",
	}
}

func (f *Fake) listPulls(w http.ResponseWriter, r *http.Request) {
	f.listRequests++
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var head string
	if h := q.Get("head"); h != "" {
		owner, branch, ok := strings.Cut(h, ":")
		if !ok {
			f.violation(r, "head %q must be user:ref-name", h)
		} else if owner != f.owner {
			writeJSON(w, 200, []any{})
			return
		}
		head = branch
	}
	var match []*PullRequest
	for _, p := range f.pulls {
		if (state == "all" || p.State == state) && (head == "" || p.Head == head) && (q.Get("base") == "" || p.Base == q.Get("base")) {
			match = append(match, p)
		}
	}
	lo, hi := f.paginate(w, r, len(match))
	out := []map[string]any{}
	for _, p := range match[lo:hi] {
		out = append(out, f.pullJSON(p))
	}
	writeJSON(w, 200, out)
}

func (f *Fake) createPull(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	body, ok := f.decodeBody(r, "title", "head", "head_repo", "base", "body", "maintainer_can_modify", "draft", "issue")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	title, _ := body["title"].(string)
	head, _ := body["head"].(string)
	base, _ := body["base"].(string)
	if _, hasIssue := body["issue"]; title == "" && !hasIssue {
		validationFailed(w, "PullRequest", "title", "missing_field", doc)
		return
	}
	if head == "" || base == "" {
		validationFailed(w, "PullRequest", "head/base", "missing_field", doc)
		return
	}
	if o, b, ok := strings.Cut(head, ":"); ok {
		if o != f.owner {
			validationFailed(w, "PullRequest", "head", "invalid", doc)
			return
		}
		head = b
	}
	headSHA, okHead := f.git.refs["heads/"+head]
	baseSHA, okBase := f.git.refs["heads/"+base]
	switch {
	case !okBase:
		validationFailed(w, "PullRequest", "base", "invalid", doc)
		return
	case !okHead:
		validationFailed(w, "PullRequest", "head", "invalid", doc)
		return
	case f.git.descends(baseSHA, headSHA):
		writeJSON(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "No commits between " + base + " and " + head}}, "documentation_url": doc})
		return
	}
	for _, p := range f.pulls {
		if p.State == "open" && p.Head == head && p.Base == base {
			writeJSON(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + f.owner + ":" + head + "."}}, "documentation_url": doc})
			return
		}
	}
	text, isStr := body["body"].(string)
	if body["body"] != nil && !isStr {
		f.violation(r, "body must be a string")
	}
	mcm, _ := body["maintainer_can_modify"].(bool)
	now := time.Now()
	p := &PullRequest{Number: f.nextNumber(), Title: title, Body: text, Head: head, Base: base, State: "open", MaintainerCanModify: mcm, Created: now, Updated: now}
	f.pulls = append(f.pulls, p)
	writeJSON(w, 201, f.pullJSON(p))
}

func (f *Fake) findPull(n int) *PullRequest {
	for _, p := range f.pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

func (f *Fake) onePull(w http.ResponseWriter, r *http.Request, n int) {
	const doc = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
	p := f.findPull(n)
	if p == nil {
		basicError(w, 404, "Not Found", doc)
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, 200, f.pullJSON(p))
		return
	}
	body, ok := f.decodeBody(r, "title", "body", "state", "base", "maintainer_can_modify")
	if !ok {
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	if v, ok := body["title"].(string); ok {
		p.Title = v
	}
	if v, ok := body["body"].(string); ok {
		p.Body = v
	}
	if v, ok := body["base"].(string); ok {
		if _, exists := f.git.refs["heads/"+v]; !exists {
			validationFailed(w, "PullRequest", "base", "invalid", doc)
			return
		}
		p.Base = v
	}
	if v, present := body["state"]; present {
		s, _ := v.(string)
		if s != "open" && s != "closed" {
			validationFailed(w, "PullRequest", "state", "invalid", doc)
			return
		}
		p.State = s
	}
	p.Updated = time.Now()
	writeJSON(w, 200, f.pullJSON(p))
}

// addLabels implements POST /repos/{o}/{r}/issues/{n}/labels for issues
// and pull requests (which share numbers). The body is an array of names
// or {"labels": [...]}, both documented.
func (f *Fake) addLabels(w http.ResponseWriter, r *http.Request, n int) {
	const doc = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue"
	var raw any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		f.violation(r, "body is not JSON: %v", err)
		basicError(w, 400, "Problems parsing JSON", doc)
		return
	}
	if obj, ok := raw.(map[string]any); ok {
		for k := range obj {
			if k != "labels" {
				f.violation(r, "undocumented body field %q", k)
			}
		}
		raw = obj["labels"]
	}
	names, good := stringList(raw)
	if !good || len(names) == 0 {
		validationFailed(w, "Label", "labels", "invalid", doc)
		return
	}
	var target *[]string
	if p := f.findPull(n); p != nil {
		target = &p.Labels
	} else if i := f.findIssue(n); i != nil {
		target = &i.Labels
	} else {
		basicError(w, 404, "Not Found", doc)
		return
	}
	for _, l := range names {
		if !hasAll(*target, []string{l}) {
			*target = append(*target, l)
		}
	}
	out := []map[string]any{}
	for k, l := range *target {
		out = append(out, map[string]any{"id": 408045946 + k, "name": l, "color": "ededed", "default": false, "url": f.apiRepo() + "/labels/" + l})
	}
	writeJSON(w, 200, out)
}
