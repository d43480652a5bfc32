package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"plumb/internal/state"
	"plumb/internal/tfdrift"
)

// stateDoc is a Terraform state of lineage at serial declaring buckets.
func stateDoc(lineage string, serial int, buckets ...string) string {
	var rs []string
	for _, b := range buckets {
		rs = append(rs, `{"mode":"managed","type":"aws_s3_bucket","name":"`+b+`","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"`+b+`","bucket":"`+b+`","region":"us-east-1"}}]}`)
	}
	return `{"version":4,"terraform_version":"1.11.4","serial":` + strconv.Itoa(serial) + `,"lineage":"` + lineage + `","outputs":{},"resources":[` + strings.Join(rs, ",") + `]}`
}

// TestReadDesired: copies of one state (two globs, a copy, an older
// backup) are declared once with a note naming them; an empty state is an
// error unless AllowEmptyState.
func TestReadDesired(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("states/prod/terraform.tfstate", stateDoc("prod-lineage", 4, "assets", "logs"))
	write("states/copy/prod.tfstate", stateDoc("prod-lineage", 4, "assets", "logs"))
	write("backup/prod.tfstate", stateDoc("prod-lineage", 3, "assets"))
	write("empty/terraform.tfstate", stateDoc("empty-lineage", 1))
	ctx := context.Background()

	side, err := readDesired(ctx, Options{States: []string{dir + "/states/**.tfstate", dir + "/backup/*.tfstate"}}, tfdrift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range side.resources {
		got = append(got, strings.TrimPrefix(r.Source, dir+"/")+" "+r.Address)
	}
	want := []string{"states/copy/prod.tfstate aws_s3_bucket.assets", "states/copy/prod.tfstate aws_s3_bucket.logs"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resources %q, want %q", got, want)
	}
	if len(side.byDir) != 0 {
		t.Errorf("byDir = %d directories without --terraform-dir", len(side.byDir))
	}
	wantNote := "State lineage prod-lineage was reached through 3 sources and read once: serial 4, from " + dir + "/states/copy/prod.tfstate (also in " + dir + "/states/prod/terraform.tfstate); older serials were not read: " + dir + "/backup/prod.tfstate (serial 3)."
	if !reflect.DeepEqual(side.notes, []string{wantNote}) {
		t.Errorf("notes %q\nwant %q", side.notes, wantNote)
	}

	_, err = readDesired(ctx, Options{States: []string{dir + "/states/prod/terraform.tfstate", dir + "/empty/terraform.tfstate"}}, tfdrift.Options{})
	if !errors.Is(err, state.ErrNoResources) {
		t.Errorf("empty state without AllowEmptyState: %v", err)
	}
	side, err = readDesired(ctx, Options{States: []string{dir + "/states/prod/terraform.tfstate", dir + "/empty/terraform.tfstate"}, AllowEmptyState: true}, tfdrift.Options{})
	if err != nil || len(side.resources) != 2 {
		t.Errorf("AllowEmptyState: %v, %d resources", err, len(side.resources))
	}
}
