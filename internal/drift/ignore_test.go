package drift

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"tmp-*", "tmp-1", true},
		{"tmp-*", "xtmp-1", false},
		{"*-tmp", "logs-tmp", true},
		{"*-tmp", "logs-tmp2", false},
		{"a*b*c", "abxbc", true},
		{"a*b*c", "acb", false},
		{"a**c", "ac", true},
		{`a\*c`, "a*c", true},
		{`a\*c`, "abc", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tc := range tests {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestIgnoreRules(t *testing.T) {
	src := `
# resources
aws_s3_bucket.tmp-*
!aws_s3_bucket.tmp-keep
aws_route53_zone.example\.com
aws_iam_role.*

# attributes
aws_instance.*.tags.LastScanned
aws_security_group.sg-1.tags
!aws_security_group.sg-1.tags.owner
`
	ig, err := ParseIgnore(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	resources := []struct {
		typ, id string
		want    bool
	}{
		{"aws_s3_bucket", "tmp-1", true},
		{"aws_s3_bucket", "tmp-keep", false},
		{"aws_s3_bucket", "prod", false},
		{"aws_route53_zone", "example.com", true},
		{"aws_route53_zone", "exampleXcom", false},
		{"aws_iam_role", "anything", true},
		{"aws_instance", "i-1", false},
	}
	for _, tc := range resources {
		if got := ig.Resource(tc.typ, tc.id); got != tc.want {
			t.Errorf("Resource(%s, %s) = %v, want %v", tc.typ, tc.id, got, tc.want)
		}
	}
	paths := []struct {
		typ, id, path string
		want          bool
	}{
		{"aws_instance", "i-1", "tags.LastScanned", true},
		{"aws_instance", "i-1", "tags.Name", false},
		{"aws_instance", "i-1", "instance_type", false},
		{"aws_security_group", "sg-1", "tags.env", true},
		{"aws_security_group", "sg-1", "tags.owner", false},
		{"aws_security_group", "sg-2", "tags.env", false},
	}
	for _, tc := range paths {
		if got := ig.Path(tc.typ, tc.id, tc.path); got != tc.want {
			t.Errorf("Path(%s, %s, %s) = %v, want %v", tc.typ, tc.id, tc.path, got, tc.want)
		}
	}
	if ig.Len() != 7 {
		t.Errorf("Len = %d, want 7", ig.Len())
	}
}

// TestIgnoreAccounts checks rules that name an account: they apply to
// resources of a matching account only, never to a resource whose account
// is unknown, and rules without an account apply in every account.
func TestIgnoreAccounts(t *testing.T) {
	src := `
111111111111:aws_s3_bucket.extra-*
2222*:aws_iam_role.*
!222233334444:aws_iam_role.keep
aws_sqs_queue.tmp-*
111111111111:aws_instance.*.tags.LastScanned
arn-like.arn:aws:iam::1:role/x
`
	ig, err := ParseIgnore(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		account, typ, id string
		want             bool
	}{
		{"111111111111", "aws_s3_bucket", "extra-a", true},
		{"222222222222", "aws_s3_bucket", "extra-a", false},
		{"", "aws_s3_bucket", "extra-a", false},
		{"222233334444", "aws_iam_role", "ci", true},
		{"222233334444", "aws_iam_role", "keep", false},
		{"222299990000", "aws_iam_role", "keep", true},
		{"311111111111", "aws_iam_role", "ci", false},
		{"999999999999", "aws_sqs_queue", "tmp-1", true},
		{"", "aws_sqs_queue", "tmp-1", true},
		// A colon after the type's dot is part of the id, not an account.
		{"", "arn-like", "arn:aws:iam::1:role/x", true},
	}
	for _, tc := range tests {
		if got := ig.ResourceIn(tc.account, tc.typ, tc.id); got != tc.want {
			t.Errorf("ResourceIn(%q, %s, %s) = %v, want %v", tc.account, tc.typ, tc.id, got, tc.want)
		}
	}
	for _, tc := range []struct {
		account string
		want    bool
	}{{"111111111111", true}, {"222222222222", false}, {"", false}} {
		if got := ig.PathIn(tc.account, "aws_instance", "i-1", "tags.LastScanned"); got != tc.want {
			t.Errorf("PathIn(%q) = %v, want %v", tc.account, got, tc.want)
		}
	}
}

func TestIgnoreErrors(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"aws_s3_bucket\n", "1: \"aws_s3_bucket\" is not TYPE.ID"},
		{"# ok\n\naws_s3_bucket.\n", "3: "},
		{"aws_instance.i-1..tags\n", "1: empty attribute path segment"},
		{"aws_instance.i-1\\", "1: trailing backslash"},
	}
	for _, tc := range tests {
		_, err := ParseIgnore(strings.NewReader(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseIgnore(%q) error = %v, want containing %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadIgnore(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadIgnore(filepath.Join(dir, ".plumbignore"), true); err != nil {
		t.Errorf("optional missing file: %v", err)
	}
	if _, err := LoadIgnore(filepath.Join(dir, "nope"), false); err == nil {
		t.Error("explicit missing file must be an error")
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("ok.one\nbroken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadIgnore(bad, false)
	if err == nil || !strings.Contains(err.Error(), bad+":2:") {
		t.Errorf("error = %v, want file:line", err)
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add("aws_s3_bucket.tmp-*\n!aws_s3_bucket.keep\naws_instance.*.tags.X\n")
	f.Add(`a\.b.c\*d.e`)
	f.Fuzz(func(t *testing.T, src string) {
		ig, err := ParseIgnore(strings.NewReader(src))
		if err != nil {
			return
		}
		_ = ig.Resource("aws_s3_bucket", "tmp-1")
		_ = ig.Path("aws_instance", "i-1", "tags.X")
	})
}
