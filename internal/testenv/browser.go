package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the names Debian's and other distributions' Chromium
// binaries go by.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium returns the path of a Chromium binary. Missing, it fails the
// test under CI=true (make setup, .ci/setup.sh, installs Debian's package)
// and skips it elsewhere.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PLUMB_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return Require(t, "chromium")
}

// ChromiumFlags are the flags a headless Chromium needs on a build
// machine: no sandbox (tests run as root), no GPU, and none of the
// background connections (updates, sync, QUIC probes) that otherwise make
// it refuse local connections in bursts on a machine without internet.
func ChromiumFlags(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
}

// StartBrowser starts a headless Chromium for one test, with a fresh
// profile, and returns a chromedp context for its first tab. The browser
// is closed when the test ends.
func StartBrowser(t testing.TB) context.Context {
	t.Helper()
	bin := Chromium(t)
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(bin)}, ChromiumFlags(t.TempDir())...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first call binds the browser's life to its context, so it gets
	// the test's context, not a timeout (chromedp.NewContext).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium (%s): %v", bin, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}
