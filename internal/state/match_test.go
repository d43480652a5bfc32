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

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"prod/a.tfstate", "prod/net/b.tfstate", "prod/.terraform/terraform.tfstate", "notes.txt"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name    string
		source  string
		want    []string
		wantErr string
		is      error
	}{
		{"one file", j("prod/a.tfstate"), []string{j("prod/a.tfstate")}, "", nil},
		{"glob below a directory, hidden directories skipped", j("prod/**.tfstate"), []string{j("prod/a.tfstate"), j("prod/net/b.tfstate")}, "", nil},
		{"glob matching nothing", j("prod/**/*.json"), nil, "no files match the pattern", nil},
		{"glob below a missing directory", j("staging/**.tfstate"), nil, "directory " + j("staging") + " does not exist", nil},
		{"missing file", j("prod/c.tfstate"), nil, "no such file", nil},
		{"directory", j("prod"), nil, "is a directory (to read every state below it, use " + j("prod") + "/**.tfstate)", nil},
		{"s3 is not listed", "s3://bucket/prod/**.tfstate", nil, "", ErrRemote},
		{"empty", "", nil, "empty state path", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Match(context.Background(), tc.source)
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, tc.want):
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}
