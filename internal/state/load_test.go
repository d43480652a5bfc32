package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCompileGlob(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		match   bool
	}{
		{"**.tfstate", "prod.tfstate", true},
		{"**.tfstate", "env/prod/terraform.tfstate", true},
		{"**.tfstate", "env/prod/terraform.tfstate.backup", false},
		{"**/*.tfstate", "prod.tfstate", true},
		{"**/*.tfstate", "a/b/c.tfstate", true},
		{"env/**/terraform.tfstate", "env/terraform.tfstate", true},
		{"env/**/terraform.tfstate", "env/a/b/terraform.tfstate", true},
		{"env/**/terraform.tfstate", "envx/terraform.tfstate", false},
		{"env/**", "env/a/b", true},
		{"*.tfstate", "a/b.tfstate", false},
		{"*/terraform.tfstate", "prod/terraform.tfstate", true},
		{"*/terraform.tfstate", "a/prod/terraform.tfstate", false},
		{"p?od.tfstate", "prod.tfstate", true},
		{"p?od.tfstate", "p/od.tfstate", false},
		{"[ps]*.tfstate", "staging.tfstate", true},
		{"[ps]*.tfstate", "dev.tfstate", false},
		{"[^d]*.tfstate", "dev.tfstate", false},
		{"[^d]*.tfstate", "prod.tfstate", true},
		{"[^d]x", "/x", false},
		{"[a-c]", "b", true},
		{"[a-c]", "d", false},
		{`\*.tfstate`, "*.tfstate", true},
		{`\*.tfstate`, "a.tfstate", false},
		{"a.b", "axb", false},
		{"env:/*/prod.tfstate", "env:/blue/prod.tfstate", true},
	}
	for _, tt := range tests {
		re, err := compileGlob(tt.pattern)
		if err != nil {
			t.Errorf("compileGlob(%q): %v", tt.pattern, err)
			continue
		}
		if got := re.MatchString(tt.name); got != tt.match {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.name, got, tt.match)
		}
	}
	for _, bad := range []string{"[", "[]", "[a", "[z-a]", `a\`, "[-]", "[a-]"} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("compileGlob(%q) accepted a bad pattern", bad)
		}
	}
}

func TestSplitGlob(t *testing.T) {
	tests := []struct {
		pattern       string
		onSlash       bool
		literal, rest string
	}{
		{"states/**/*.tfstate", true, "states", "**/*.tfstate"},
		{"/abs/dir/*.tfstate", true, "/abs/dir", "*.tfstate"},
		{"/*.tfstate", true, "/", "*.tfstate"},
		{"*.tfstate", true, "", "*.tfstate"},
		{"env/pro*/x", false, "env/pro", "*/x"},
		{"plain", true, "plain", ""},
	}
	for _, tt := range tests {
		l, r := splitGlob(tt.pattern, tt.onSlash)
		if l != tt.literal || r != tt.rest {
			t.Errorf("splitGlob(%q) = %q, %q; want %q, %q", tt.pattern, l, r, tt.literal, tt.rest)
		}
	}
}

// stateWith returns a minimal state holding one VPC with the given id.
// stateWith builds a state declaring one VPC; each id makes its own state
// (its own lineage), as separate roots have.
func stateWith(id string) []byte {
	return []byte(`{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "lineage-` + id + `", "outputs": {}, "resources": [` +
		`{"mode":"managed","type":"aws_vpc","name":"main","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"` + id + `"}}]}]}`)
}

// tree writes files (slash-separated paths relative to a new temp dir) and
// returns the dir.
func tree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ids(t *testing.T, dir string, sources []string) []string {
	t.Helper()
	rs, err := Load(context.Background(), sources, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		rel, err := filepath.Rel(dir, r.Source)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.ToSlash(rel) + "=" + r.ID
	}
	return out
}

func TestLoadGlobs(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"prod.tfstate":                          stateWith("vpc-root"),
		"env/prod/terraform.tfstate":            stateWith("vpc-prod"),
		"env/staging/terraform.tfstate":         stateWith("vpc-staging"),
		"env/staging/terraform.tfstate.backup":  stateWith("vpc-backup"),
		"env/dev/deep/er/terraform.tfstate":     stateWith("vpc-dev"),
		"env/prod/.terraform/terraform.tfstate": []byte(`{"version": 3, "backend": {"type": "s3"}}`),
		".git/x.tfstate":                        []byte(`garbage`),
		"notes.txt":                             []byte("not a state"),
	})
	in := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	tests := []struct {
		name    string
		sources []string
		want    []string
	}{
		{"double star over the tree, hidden dirs skipped", []string{in("**.tfstate")},
			[]string{"env/dev/deep/er/terraform.tfstate=vpc-dev", "env/prod/terraform.tfstate=vpc-prod", "env/staging/terraform.tfstate=vpc-staging", "prod.tfstate=vpc-root"}},
		{"single star is one directory", []string{in("env/*/terraform.tfstate")},
			[]string{"env/prod/terraform.tfstate=vpc-prod", "env/staging/terraform.tfstate=vpc-staging"}},
		{"class", []string{in("env/[ps]*/terraform.tfstate")},
			[]string{"env/prod/terraform.tfstate=vpc-prod", "env/staging/terraform.tfstate=vpc-staging"}},
		{"double star directory matches zero dirs", []string{in("env/**/terraform.tfstate")},
			[]string{"env/dev/deep/er/terraform.tfstate=vpc-dev", "env/prod/terraform.tfstate=vpc-prod", "env/staging/terraform.tfstate=vpc-staging"}},
		{"sources keep their order; duplicates are read once", []string{in("prod.tfstate"), in("env/**.tfstate"), in("env/prod/terraform.tfstate"), in("*.tfstate")},
			[]string{"prod.tfstate=vpc-root", "env/dev/deep/er/terraform.tfstate=vpc-dev", "env/prod/terraform.tfstate=vpc-prod", "env/staging/terraform.tfstate=vpc-staging"}},
		{"same file through different spellings", []string{in("prod.tfstate"), dir + "/./prod.tfstate", in("env/../prod.tfstate")},
			[]string{"prod.tfstate=vpc-root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(t, dir, tt.sources); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}

	t.Run("relative pattern", func(t *testing.T) {
		t.Chdir(dir)
		rs, err := Load(context.Background(), []string{"env/*/terraform.tfstate", "**/prod.tfstate"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Source)
		}
		want := []string{"env/prod/terraform.tfstate", "env/staging/terraform.tfstate", "prod.tfstate"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sources %q, want %q", got, want)
		}
	})

	t.Run("explicit dot-name in the pattern reaches hidden dirs", func(t *testing.T) {
		_, err := Load(context.Background(), []string{in("env/*/.terraform/*.tfstate")}, Options{})
		if err == nil || !strings.Contains(err.Error(), "unsupported state version 3") {
			t.Errorf("want the backend file to be read (and refused as v3), got %v", err)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"good.tfstate":   stateWith("vpc-good"),
		"empty.tfstate":  []byte(`{"version": 4, "serial": 1, "lineage": "lineage-empty", "outputs": {}, "resources": []}`),
		"broken.tfstate": []byte("{\n  \"version\": 4,\n  \"resources\": [\n"),
		"sub/a.txt":      []byte("x"),
	})
	in := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	ctx := context.Background()

	tests := []struct {
		name    string
		sources []string
		want    []string
	}{
		{"no sources", nil, []string{"no state sources given"}},
		{"missing file", []string{in("nope.tfstate")}, []string{"read state " + in("nope.tfstate"), "no such file"}},
		{"directory", []string{in("sub")}, []string{"read state " + in("sub") + ": is a directory", "**.tfstate"}},
		{"glob matching nothing names the pattern", []string{in("**/*.tf")}, []string{"read state " + in("**/*.tf") + ": no files match the pattern"}},
		{"glob under a missing directory", []string{in("missing/**.tfstate")}, []string{"read state " + in("missing/**.tfstate") + ": no files match: directory " + in("missing") + " does not exist"}},
		{"bad pattern", []string{in("[.tfstate")}, []string{"read state " + in("[.tfstate"), "bad character class"}},
		{"broken state among good ones", []string{in("good.tfstate"), in("broken.tfstate")},
			[]string{"read state " + in("broken.tfstate") + ": invalid JSON at line 4, column 1"}},
		{"every problem is reported", []string{in("nope.tfstate"), in("nothing*.tfstate")},
			[]string{in("nope.tfstate"), in("nothing*.tfstate")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Load(ctx, tt.sources, Options{})
			if err == nil {
				t.Fatalf("no error, %d resources", len(rs))
			}
			if rs != nil {
				t.Errorf("resources returned with a hard error: %d", len(rs))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if errors.Is(err, ErrNoResources) {
				t.Errorf("hard error matches ErrNoResources: %v", err)
			}
		})
	}

	t.Run("empty state is a distinct, tolerable error", func(t *testing.T) {
		rs, err := Load(ctx, []string{in("good.tfstate"), in("empty.tfstate")}, Options{})
		if !errors.Is(err, ErrNoResources) {
			t.Fatalf("want ErrNoResources, got %v", err)
		}
		var nr *NoResourcesError
		if !errors.As(err, &nr) || nr.Source != in("empty.tfstate") {
			t.Errorf("want a *NoResourcesError naming the file, got %#v", err)
		}
		if want := "state " + in("empty.tfstate") + " has no resources"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		if len(rs) != 1 || rs[0].ID != "vpc-good" {
			t.Errorf("the other states' resources should come back too, got %v", addresses(rs))
		}
	})

	t.Run("empty state alongside a hard error", func(t *testing.T) {
		rs, err := Load(ctx, []string{in("empty.tfstate"), in("broken.tfstate")}, Options{})
		if err == nil || rs != nil || !strings.Contains(err.Error(), "broken.tfstate") {
			t.Errorf("got %d resources, %v", len(rs), err)
		}
	})

	t.Run("file above the size limit is refused unread", func(t *testing.T) {
		p := in("huge.tfstate")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		// A sparse file: no disk or memory is used.
		if err := f.Truncate(MaxStateSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = Load(ctx, []string{p}, Options{})
		if err == nil || !strings.Contains(err.Error(), "read state "+p+": 512.0 MiB is above the 512 MiB limit") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Load(cctx, []string{in("good.tfstate")}, Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
}

func TestReadLimited(t *testing.T) {
	data := []byte(strings.Repeat("x", 10000))
	for _, hint := range []int64{-1, 0, 10, 10000, 1 << 40} {
		got, err := readLimited(strings.NewReader(string(data)), hint)
		if err != nil || string(got) != string(data) {
			t.Errorf("hint %d: got %d bytes, %v", hint, len(got), err)
		}
	}
}

func TestLoadFixtureOrder(t *testing.T) {
	rs, err := Load(context.Background(), []string{"testdata/*.tfstate"}, Options{})
	// v3.tfstate is in testdata too and must be refused by name.
	if err == nil || !strings.Contains(err.Error(), "read state testdata/v3.tfstate: unsupported state version 3") {
		t.Fatalf("got %d resources, %v", len(rs), err)
	}
	rs, err = Load(context.Background(), []string{"testdata/prod.tfstate", "testdata/legacy_flat.tfstate"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := addresses(rs)
	if len(got) != 14 || got[0] != "aws_iam_role.ci" || got[13] != "module.legacy.aws_security_group.ssh" {
		t.Errorf("order: %q", got)
	}
	if rs[0].Source != "testdata/prod.tfstate" || rs[13].Source != "testdata/legacy_flat.tfstate" {
		t.Errorf("sources %q, %q", rs[0].Source, rs[13].Source)
	}
}
