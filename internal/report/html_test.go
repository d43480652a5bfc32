package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// externalRefs lists every reference in an HTML document to something
// outside it: elements that load or run things, attributes holding URLs
// other than in-page anchors, and url()/@import in styles.
func externalRefs(t *testing.T, doc []byte) []string {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	var refs []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "iframe", "object", "embed", "base", "img", "video", "audio", "source", "form":
				refs = append(refs, "<"+n.Data+">")
			}
			for _, a := range n.Attr {
				switch strings.ToLower(a.Key) {
				case "src", "srcset", "href", "action", "xlink:href", "poster", "data", "formaction", "background":
					if !strings.HasPrefix(a.Val, "#") {
						refs = append(refs, fmt.Sprintf("%s=%q on <%s>", a.Key, a.Val, n.Data))
					}
				case "style":
					refs = append(refs, "inline style attribute on <"+n.Data+">")
				}
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					refs = append(refs, "event handler "+a.Key)
				}
			}
			if n.Data == "meta" {
				for _, a := range n.Attr {
					if strings.EqualFold(a.Key, "http-equiv") {
						refs = append(refs, "<meta http-equiv>")
					}
				}
			}
			if n.Data == "style" && n.FirstChild != nil {
				css := strings.ToLower(n.FirstChild.Data)
				if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
					refs = append(refs, "url() or @import in <style>")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return refs
}

// TestHTMLSelfContained renders every test report, the hostile one
// included, and finds nothing that would be fetched or run: the file
// opens offline and cannot reach anywhere.
func TestHTMLSelfContained(t *testing.T) {
	for name, mk := range map[string]func() *Report{"empty": emptyReport, "kinds": kindsReport, "tricky": trickyReport, "conflict": conflictReport} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, FormatHTML, mk()); err != nil {
				t.Fatal(err)
			}
			if refs := externalRefs(t, buf.Bytes()); len(refs) > 0 {
				t.Errorf("external references: %s", strings.Join(refs, "; "))
			}
			if !bytes.Contains(buf.Bytes(), []byte("<style>")) {
				t.Error("no inline stylesheet")
			}
		})
	}
	// The checker itself finds what it must.
	bad := []byte(`<html><head><link rel=stylesheet href="https://cdn.example/x.css"><style>@import "x.css";</style></head>
<body><script src="/a.js"></script><img src="data:x"><a href="https://example.com">x</a><a href="#ok">y</a><p style="color:red" onclick="x()">z</p></body></html>`)
	if refs := externalRefs(t, bad); len(refs) != 10 {
		t.Errorf("checker found %d references in the bad page, want 10: %v", len(refs), refs)
	}
}

// TestHTMLEscapesHostileText checks that text from the cloud reaches the
// page as text: the tricky report's markup never becomes elements.
func TestHTMLEscapesHostileText(t *testing.T) {
	r := trickyReport()
	r.Findings[0].Message = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	var buf bytes.Buffer
	if err := Render(&buf, FormatHTML, r); err != nil {
		t.Fatal(err)
	}
	if refs := externalRefs(t, buf.Bytes()); len(refs) > 0 {
		t.Errorf("hostile text became markup: %v", refs)
	}
	if !strings.Contains(buf.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile message is not shown escaped")
	}
}

// largeReport is a scan of 10,000 resources in which every one is a
// finding (the largest report such a scan can give): a third changed with
// two attribute changes each, a third unmanaged, a third missing.
func largeReport() *Report {
	r := &Report{Version: Version, Environment: "prod", StartedAt: time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC), DurationMS: 61000,
		Summary: model.Summary{Managed: 6667, Changed: 3334, Missing: 3333, Unmanaged: 3333}, Findings: []model.Finding{}, Errors: []inventory.ScopeError{}}
	r.Summary.SetCoverage()
	kinds := []model.Kind{model.KindChanged, model.KindUnmanaged, model.KindMissing}
	sevs := []model.Severity{model.SeverityLow, model.SeverityMedium, model.SeverityHigh}
	for i := range 10000 {
		k := kinds[i%3]
		id := fmt.Sprintf("i-%017x", i)
		f := model.Finding{Kind: k, Severity: sevs[i%3], Environment: "prod",
			Resource: model.Resource{Provider: "aws", Type: "aws_instance", ID: id, Region: "eu-west-1", Tags: map[string]string{"Name": fmt.Sprintf("web-%d", i)}},
			Changes:  []model.Change{}}
		f.Fingerprint = model.Fingerprint(k, "prod", "aws", "aws_instance", "eu-west-1", id, "")
		switch k {
		case model.KindChanged:
			addr := fmt.Sprintf("module.fleet.aws_instance.web[%d]", i)
			f.Address = &addr
			f.Message = fmt.Sprintf("Resource changed outside code (web-%d)", i)
			f.Changes = []model.Change{{Path: "instance_type", Before: "t3.micro", After: "t3.large"}, {Path: "tags.env", Before: "prod", After: "hotfix"}}
		case model.KindUnmanaged:
			f.Message = fmt.Sprintf("Undefined resource exists (web-%d)", i)
		default:
			addr := fmt.Sprintf("module.fleet.aws_instance.web[%d]", i)
			f.Address = &addr
			f.Message = fmt.Sprintf("Defined resource doesn't exist (web-%d)", i)
		}
		r.Findings = append(r.Findings, f)
	}
	return r
}

// TestHTMLLargeReport: the report of a 10,000-resource scan stays under
// 5 MB and Chromium opens it (the load event) in under 2 seconds.
func TestHTMLLargeReport(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	if err := Render(&buf, FormatHTML, largeReport()); err != nil {
		t.Fatal(err)
	}
	t.Logf("rendered %d findings in %s: %.2f MB", 10000, time.Since(start).Round(time.Millisecond), float64(buf.Len())/(1<<20))
	if buf.Len() >= 5<<20 {
		t.Errorf("report is %d bytes, want under 5 MB", buf.Len())
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.StartBrowser(t)
	// The first open warms the browser up (process, fonts); the second
	// is measured, as a person opening a second report would see it.
	var took float64
	for range 2 {
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := chromedp.Do(tctx, chromedp.Navigate("about:blank"), chromedp.Navigate("file://"+path), chromedp.WaitReady(chromedp.CSS("tbody tr:last-child")))
		if err == nil {
			took, err = chromedp.Run(tctx, chromedp.Evaluate[float64](`(() => { const n = performance.getEntriesByType("navigation")[0]; return n.loadEventEnd > 0 ? n.loadEventEnd : performance.now(); })()`))
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Chromium loaded the report in %.0f ms (%d rows)", took, rows)
	if rows != 10000 {
		t.Errorf("%d rows in the page, want 10000", rows)
	}
	if took >= 2000 {
		t.Errorf("Chromium took %.0f ms to load the report, want under 2000", took)
	}
}

// TestHTMLPlanCheck: a plumb check report speaks of planned resources and
// violations, not of drift.
func TestHTMLPlanCheck(t *testing.T) {
	r := emptyReport()
	r.PlanCheck = true
	r.Summary = model.Summary{Managed: 7}
	var buf bytes.Buffer
	if err := Render(&buf, FormatHTML, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plumb check report", "No violations: 7 planned resources checked.", "planned resources checked"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("check report lacks %q", want)
		}
	}
	if strings.Contains(buf.String(), "No drift") || strings.Contains(buf.String(), "in sync") {
		t.Error("a check report speaks of drift")
	}
}
