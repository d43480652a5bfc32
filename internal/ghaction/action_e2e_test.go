package ghaction_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/testenv"
)

const ghToken = "ghp_actiontest0123456789"

// repoRoot is the action's directory: the repository root.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantOutputs(t *testing.T, run actionRun, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := run.outputs[k]; got != v {
			t.Errorf("output %s = %q, want %q", k, got, v)
		}
	}
}

func wantFile(t *testing.T, path string) []byte {
	t.Helper()
	if path == "" {
		t.Fatal("empty path output")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("output file: %v", err)
	}
	return data
}

// TestActionEndToEnd uses the action the way workflows do, through its
// action.yml: built from source with go, then installed from a release
// (checksums checked, the tool cache reused), against moto and the GitHub
// test server. The subtests share the binary built by the first one.
func TestActionEndToEnd(t *testing.T) {
	testenv.Require(t, "bash")
	testenv.Require(t, "curl")
	root := repoRoot(t)
	m := testenv.StartMoto(t)
	s3c := s3.NewFromConfig(m.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	bucket := func(name string, create bool) {
		t.Helper()
		var err error
		if create {
			_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		} else {
			_, err = s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
		}
		if err != nil {
			t.Fatalf("bucket %s: %v", name, err)
		}
	}
	bucket("plumb-declared", true)
	bucket("plumb-stray", true)

	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken(ghToken)

	var binData []byte // the plumb built by the first subtest

	// A nightly drift job: plumb built from the action's source, scan
	// --notify opens an issue for the stray bucket; the next night, with
	// the bucket gone and the data directory kept, the issue is closed.
	t.Run("scan with notify, built from source", func(t *testing.T) {
		j := newJob(t, root)
		j.env["PLUMB_TEST_GH_TOKEN"] = ghToken
		copyFile(t, filepath.Join(root, "cmd/plumb/testdata/notify/declared-bucket.tfstate"), filepath.Join(j.workspace, "infra/prod.tfstate"))
		cfg := fmt.Sprintf(`route:
  receiver: issues
receivers:
  - name: issues
    github_issue:
      repository: acme/infra
      base_url: %s
      auth:
        token: {env: PLUMB_TEST_GH_TOKEN}
`, fake.BaseURL())
		if err := os.WriteFile(filepath.Join(j.workspace, "plumb.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		with := map[string]string{
			"states":           "infra/*.tfstate",
			"env":              "prod",
			"config":           "plumb.yaml",
			"notify":           "true",
			"data-dir":         ".plumb",
			"fail-on-findings": "false",
			"args":             "--type aws_s3_bucket --region us-east-1 --notify-wait 60s",
		}
		run := j.use(with)
		if run.failedStep != "" {
			t.Fatalf("step %s failed with exit %d", run.failedStep, run.exitCode)
		}
		if strings.Join(run.skipped, ",") != "actions/setup-go@v5" {
			t.Errorf("skipped uses steps %v, want only setup-go for a source build", run.skipped)
		}
		plumbBin := run.outputs["plumb-path"]
		if plumbBin != filepath.Join(j.temp, "plumb-bin", "plumb") {
			t.Errorf("plumb-path = %q", plumbBin)
		}
		binData = wantFile(t, plumbBin)
		if !strings.Contains(run.log, "plumb v0.0.0-test") {
			t.Errorf("the built plumb does not report the action's ref as its version")
		}
		if path, _ := os.ReadFile(j.pathFile); strings.TrimSpace(string(path)) != filepath.Dir(plumbBin) {
			t.Errorf("GITHUB_PATH = %q, want the binary's directory", path)
		}
		wantOutputs(t, run, map[string]string{"exit-code": "2", "findings": "1", "errors": "0", "sarif-file": ""})
		var rep struct {
			Environment string
			Findings    []struct {
				Kind     string
				Resource struct{ ID string }
			}
		}
		if err := json.Unmarshal(wantFile(t, run.outputs["report-json"]), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Environment != "prod" || len(rep.Findings) != 1 || rep.Findings[0].Kind != "drift.unmanaged" || rep.Findings[0].Resource.ID != "plumb-stray" {
			t.Errorf("report = %+v", rep)
		}
		md := string(wantFile(t, run.outputs["report-markdown"]))
		if !strings.HasPrefix(run.summary, md) {
			t.Errorf("job summary does not start with the Markdown report:\n%s", run.summary)
		}
		if !strings.Contains(run.summary, "plumb-stray") || !strings.Contains(run.summary, "**Notifications** (plumb scan --notify): 1 opened") {
			t.Errorf("job summary:\n%s", run.summary)
		}
		if !strings.Contains(run.log, "::warning title=plumb scan::1 finding(s) (fail-on-findings is false)") {
			t.Error("no warning annotation for the finding")
		}
		issues := fake.Issues()
		if len(issues) != 1 || issues[0].State != "open" || issues[0].Title != "[DRIFT DETECTED] Undefined resource exists (plumb-stray)" {
			t.Fatalf("issues = %+v", issues)
		}
		if _, err := os.Stat(filepath.Join(j.workspace, ".plumb")); err != nil {
			t.Errorf("data-dir was not used: %v", err)
		}

		// The next night: the bucket is gone, the same workspace (a
		// restored cache of .plumb): the issue closes, nothing is found.
		bucket("plumb-stray", false)
		run = j.use(with)
		if run.failedStep != "" {
			t.Fatalf("step %s failed with exit %d", run.failedStep, run.exitCode)
		}
		wantOutputs(t, run, map[string]string{"exit-code": "0", "findings": "0", "errors": "0"})
		if !strings.Contains(run.summary, "0 opened, 0 reopened, 0 still open, 1 resolved") {
			t.Errorf("job summary:\n%s", run.summary)
		}
		if iss := fake.Issue(issues[0].Number); iss.State != "closed" {
			t.Errorf("issue #%d is %s after the drift went away", iss.Number, iss.State)
		}
		if _, n := fake.Counts(); n != 1 {
			t.Errorf("%d issues, want 1", n)
		}
	})
	if len(binData) == 0 {
		t.Fatal("no plumb binary built; the release subtests need it")
	}

	// A release server: plumb-OS-ARCH and SHA256SUMS under /v0.0.0-test/.
	asset := fmt.Sprintf("plumb-%s-%s", runtime.GOOS, runtime.GOARCH)
	sum := sha256.Sum256(binData)
	goodSums := fmt.Sprintf("%s  plumb-windows-amd64.exe\n%s  %s\n", strings.Repeat("0", 64), hex.EncodeToString(sum[:]), asset)
	var sums atomic.Value
	sums.Store(goodSums)
	var assetGets atomic.Int32
	release := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v0.0.0-test/SHA256SUMS":
			fmt.Fprint(w, sums.Load().(string))
		case "/v0.0.0-test/" + asset:
			assetGets.Add(1)
			_, _ = w.Write(binData)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(release.Close)

	// A pull-request job: plumb from a release, plumb check with SARIF,
	// failing on the two violations of the fixture plan.
	t.Run("check with sarif, installed from a release", func(t *testing.T) {
		j := newJob(t, root)
		// The root module in a subdirectory: the .tf files, the plan and
		// the policies under infra/prod.
		src := filepath.Join(root, "internal/tfplan/testdata/create")
		for _, f := range []string{"plan.json", "main.tf", "modules/storage/volumes.tf"} {
			copyFile(t, filepath.Join(src, f), filepath.Join(j.workspace, "infra/prod", f))
		}
		copyFile(t, filepath.Join(root, "cmd/plumb/testdata/check/rules.yaml"), filepath.Join(j.workspace, "infra/prod/policies/rules.yaml"))
		with := map[string]string{
			"command": "check", "working-directory": "infra/prod", "plan": "plan.json", "policies": "policies/", "sarif": "true",
			"version": "v0.0.0-test", "download-url": release.URL + "/v0.0.0-test/",
		}
		before := assetGets.Load()
		run := j.use(with)
		if run.failedStep != "run" || run.exitCode != 2 {
			t.Fatalf("failed step %q exit %d, want step run to fail with 2 (violations, fail-on-findings true)", run.failedStep, run.exitCode)
		}
		if got := strings.Join(run.skipped, ","); got != "actions/cache/restore@v4,actions/cache/save@v4" {
			t.Errorf("skipped uses steps %s", got)
		}
		if assetGets.Load() != before+1 {
			t.Errorf("asset downloaded %d times, want 1", assetGets.Load()-before)
		}
		wantBin := filepath.Join(j.toolCache, "plumb", "v0.0.0-test", runtime.GOOS+"-"+runtime.GOARCH, "plumb")
		wantOutputs(t, run, map[string]string{"exit-code": "2", "findings": "2", "errors": "0", "plumb-path": wantBin})
		var sarif struct {
			Version string
			Runs    []struct {
				Results []struct {
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI, URIBaseID string }
							Region           struct{ StartLine int }
						}
					}
				}
			}
		}
		if err := json.Unmarshal(wantFile(t, run.outputs["sarif-file"]), &sarif); err != nil {
			t.Fatal(err)
		}
		if sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 2 {
			t.Fatalf("SARIF version %s with %d runs", sarif.Version, len(sarif.Runs))
		}
		// File locations are relative to the repository root, where code
		// scanning looks for them.
		var locs []string
		for _, r := range sarif.Runs[0].Results {
			for _, l := range r.Locations {
				locs = append(locs, fmt.Sprintf("%s:%d", l.PhysicalLocation.ArtifactLocation.URI, l.PhysicalLocation.Region.StartLine))
			}
		}
		slices.Sort(locs)
		if strings.Join(locs, ",") != "infra/prod/main.tf:36,infra/prod/modules/storage/volumes.tf:3" {
			t.Errorf("SARIF locations %v", locs)
		}
		if !strings.Contains(run.summary, "aws_security_group.ssh") {
			t.Errorf("job summary lacks the violation:\n%s", run.summary)
		}
		if !strings.Contains(run.log, "::error title=plumb check::2 finding(s)") {
			t.Error("no error annotation")
		}

		// The same release again in the job (or from a restored cache):
		// checked against SHA256SUMS and reused without a download.
		run = j.use(with)
		if run.exitCode != 2 || !strings.Contains(run.log, "Using plumb v0.0.0-test from the tool cache") {
			t.Errorf("second use: exit %d, cached binary not reused", run.exitCode)
		}
		if assetGets.Load() != before+1 {
			t.Errorf("the cached binary was downloaded again")
		}
	})

	// A release whose SHA256SUMS does not match the asset: nothing is
	// installed and plumb never runs.
	t.Run("checksum mismatch", func(t *testing.T) {
		sums.Store(strings.Replace(goodSums, hex.EncodeToString(sum[:]), strings.Repeat("ab", 32), 1))
		defer sums.Store(goodSums)
		j := newJob(t, root)
		run := j.use(map[string]string{"states": "x.tfstate", "version": "v0.0.0-test", "download-url": release.URL + "/v0.0.0-test"})
		if run.failedStep != "install" {
			t.Fatalf("failed step %q, want install", run.failedStep)
		}
		if !strings.Contains(run.log, "::error title=plumb install::checksum mismatch for "+asset) {
			t.Errorf("no checksum error in the log")
		}
		if _, err := os.Stat(filepath.Join(j.toolCache, "plumb", "v0.0.0-test", runtime.GOOS+"-"+runtime.GOARCH, "plumb")); err == nil {
			t.Error("a binary that failed its checksum was installed")
		}
		if len(run.ran) != 1 {
			t.Errorf("steps after the failed install ran: %v", run.ran)
		}
	})

	// plumb fails (a state file that does not exist): the step fails with
	// 1, the summary says why, and the counts are empty, not 0.
	t.Run("plumb error", func(t *testing.T) {
		j := newJob(t, root)
		run := j.use(map[string]string{"states": "missing.tfstate", "version": "v0.0.0-test", "download-url": release.URL + "/v0.0.0-test"})
		if run.failedStep != "run" || run.exitCode != 1 {
			t.Fatalf("failed step %q exit %d, want run with 1", run.failedStep, run.exitCode)
		}
		wantOutputs(t, run, map[string]string{"exit-code": "1", "findings": "", "errors": ""})
		if !strings.Contains(run.summary, "### plumb scan failed (exit 1)") || !strings.Contains(run.summary, "missing.tfstate") {
			t.Errorf("job summary:\n%s", run.summary)
		}
	})

	// A typo in an input fails before plumb runs, naming the input.
	t.Run("bad input", func(t *testing.T) {
		j := newJob(t, root)
		run := j.use(map[string]string{"states": "x.tfstate", "notify": "yes", "version": "v0.0.0-test", "download-url": release.URL + "/v0.0.0-test"})
		if run.failedStep != "run" || run.exitCode != 1 {
			t.Fatalf("failed step %q exit %d", run.failedStep, run.exitCode)
		}
		if !strings.Contains(run.log, `input notify: \"yes\" is not a boolean`) && !strings.Contains(run.log, `input notify: "yes" is not a boolean`) {
			t.Errorf("log does not name the input")
		}
	})
}
