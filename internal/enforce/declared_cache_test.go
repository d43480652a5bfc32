package enforce

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/config"
)

// bucketsState is a Terraform state declaring buckets.
func bucketsState(lineage string, serial int, buckets ...string) string {
	var rs []string
	for i, b := range buckets {
		rs = append(rs, `{"mode": "managed", "type": "aws_s3_bucket", "name": "b`+string(rune('a'+i))+`", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
  "instances": [{"schema_version": 0, "attributes": {"arn": "arn:aws:s3:::`+b+`", "bucket": "`+b+`", "id": "`+b+`", "region": "us-east-1"}}]}`)
	}
	return `{"version": 4, "terraform_version": "1.11.4", "serial": ` + string(rune('0'+serial)) + `, "lineage": "` + lineage + `", "outputs": {}, "resources": [` + strings.Join(rs, ",") + `]}`
}

// TestDeclaredCache: the declared set is built once while no state
// changes, and a state written a moment ago (in another environment) is
// seen by the very next load, so the declared-anywhere guard stops an
// action on what it now declares; a state that cannot be read fails the
// load, as LoadDeclared does.
func TestDeclaredCache(t *testing.T) {
	dir := t.TempDir()
	prod, staging := filepath.Join(dir, "prod.tfstate"), filepath.Join(dir, "staging.tfstate")
	old := time.Now().Add(-time.Hour)
	for path, body := range map[string]string{prod: bucketsState("l-prod", 1, "prod-logs"), staging: bucketsState("l-stg", 1, "stg-logs")} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse(filepath.Join(dir, "plumb.yaml"), []byte(`environments:
  - name: prod
    states: [`+prod+`]
  - name: staging
    states: [`+staging+`]
`), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var c DeclaredCache
	ctx := context.Background()
	load := func(t *testing.T) *Declared {
		t.Helper()
		d, err := c.Load(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	blocked := func(d *Declared, bucket string) string {
		cd := cand("aws_s3_bucket", bucket, nil)
		return check(t, DeclaredAnywhere{Set: d}, &Run{}, cd)[bucket]
	}
	first := load(t)
	if got := blocked(first, "stg-logs"); !strings.Contains(got, "staging: aws_s3_bucket.ba") {
		t.Errorf("stg-logs: %q", got)
	}
	if got := blocked(first, "by-hand"); got != "" {
		t.Errorf("by-hand blocked before it is declared: %q", got)
	}
	if again := load(t); again != first {
		t.Errorf("unchanged states: the declared set was built again")
	}
	if err := os.WriteFile(staging, []byte(bucketsState("l-stg", 2, "stg-logs", "by-hand")), 0o644); err != nil {
		t.Fatal(err)
	}
	now := load(t)
	if now == first {
		t.Fatalf("a state written a moment ago was not read")
	}
	if got := blocked(now, "by-hand"); !strings.Contains(got, "declared in staging") {
		t.Errorf("by-hand, declared a moment ago: %q, want the declared guard to stop it", got)
	}
	if err := os.Remove(prod); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, cfg); err == nil || !strings.Contains(err.Error(), "environment prod") {
		t.Errorf("a state gone: %v, want an error naming environment prod", err)
	}
}
