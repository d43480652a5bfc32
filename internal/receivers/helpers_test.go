package receivers

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/model"
)

// loadNotification reads testdata/notification.json: two findings of one
// group, one open and one resolved, with characters Slack must escape.
func loadNotification(t *testing.T) Notification {
	t.Helper()
	b, err := os.ReadFile("testdata/notification.json")
	if err != nil {
		t.Fatal(err)
	}
	var n Notification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatalf("decode testdata/notification.json: %v", err)
	}
	return n
}

// receiverConfig parses a plumb.yaml holding one receiver through the
// real config loader, so secrets are resolved the way production
// resolves them (Secret's value cannot be set from outside config).
func receiverConfig(t *testing.T, receiverYAML string, env map[string]string) config.ReceiverConfig {
	t.Helper()
	doc := "route:\n  receiver: r\nreceivers:\n  - name: r\n" + indent(receiverYAML, "    ")
	cfg, err := config.Parse("plumb.yaml", []byte(doc), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("parse receiver config:\n%s\n%v", doc, err)
	}
	if len(cfg.Receivers) != 1 {
		t.Fatalf("got %d receivers", len(cfg.Receivers))
	}
	return cfg.Receivers[0]
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// manyFindings makes n distinct findings, every fifth one resolved.
func manyFindings(n int, now time.Time) []Finding {
	fs := make([]Finding, n)
	for i := range fs {
		id := fmt.Sprintf("bucket-%03d", i)
		f := Finding{
			Finding: model.Finding{
				Kind:        model.KindUnmanaged,
				Severity:    model.SeverityMedium,
				Fingerprint: model.Fingerprint(model.KindUnmanaged, "prod", "aws", "aws_s3_bucket", "us-east-1", id, ""),
				Environment: "prod",
				Resource:    model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: id, Region: "us-east-1"},
				Message:     "Undefined resource exists (" + id + ")",
			},
			Status:    "open",
			FirstSeen: now.Add(-time.Hour),
			LastSeen:  now,
			Count:     1,
		}
		if i%5 == 4 {
			at := now
			f.Status = "resolved"
			f.ResolvedAt = &at
		}
		fs[i] = f
	}
	return fs
}
