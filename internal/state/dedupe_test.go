package state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// versioned is a state of lineage declaring one VPC per id, at serial.
func versioned(lineage string, serial int, ids ...string) []byte {
	var rs []string
	for i, id := range ids {
		rs = append(rs, fmt.Sprintf(`{"mode":"managed","type":"aws_vpc","name":"v%d","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":%q}}]}`, i, id))
	}
	head := `{"version": 4, "terraform_version": "1.11.4", "serial": ` + fmt.Sprint(serial)
	if lineage != "" {
		head += `, "lineage": "` + lineage + `"`
	}
	return []byte(head + `, "outputs": {}, "resources": [` + strings.Join(rs, ",") + `]}`)
}

func TestParseDocumentIdentity(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		lineage string
		serial  int64
	}{
		{"terraform's fields", `{"version": 4, "serial": 12, "lineage": "5e1f0c2a-aaaa-bbbb-cccc-000000000001", "resources": []}`, "5e1f0c2a-aaaa-bbbb-cccc-000000000001", 12},
		{"no lineage, no serial", `{"version": 4, "resources": []}`, "", 0},
		{"null values", `{"version": 4, "serial": null, "lineage": null, "resources": []}`, "", 0},
		{"lineage not a string", `{"version": 4, "serial": 3, "lineage": 7, "resources": []}`, "", 3},
		{"serial not an integer", `{"version": 4, "serial": "3", "lineage": "x", "resources": []}`, "x", 0},
		{"fractional serial", `{"version": 4, "serial": 3.5, "lineage": "x", "resources": []}`, "x", 0},
		{"escaped lineage", `{"version": 4, "serial": 1, "lineage": "a\u002db", "resources": []}`, "a-b", 1},
		{"after resources, odd spacing", "{\"version\": 4, \"resources\": [] ,\"serial\"\n:\t9 , \"lineage\" :\"L\" }", "L", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !compareWithStdlib(t, []byte(tt.doc)) {
				t.Errorf("fast path declined a well-formed document")
			}
			doc, err := ParseDocument("s.tfstate", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if doc.Lineage != tt.lineage || doc.Serial != tt.serial {
				t.Errorf("lineage %q serial %d, want %q %d", doc.Lineage, doc.Serial, tt.lineage, tt.serial)
			}
			if !errors.Is(doc.Empty(), ErrNoResources) {
				t.Errorf("Empty() = %v for a document without resources", doc.Empty())
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	doc := func(t *testing.T, name string, data []byte) *Document {
		t.Helper()
		d, err := ParseDocument(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	type want struct {
		kept  string
		same  []string
		older []string
		ids   []string
		note  string
	}
	tests := []struct {
		name string
		docs [][2]string // name, data
		data map[string][]byte
		want []want
	}{
		{
			name: "newer serial second",
			data: map[string][]byte{"old": versioned("L", 3, "vpc-a"), "new": versioned("L", 4, "vpc-a", "vpc-b")},
			docs: [][2]string{{"old", ""}, {"new", ""}},
			want: []want{{kept: "new", older: []string{"old"}, ids: []string{"vpc-a", "vpc-b"},
				note: "State lineage L was reached through 2 sources and read once: serial 4, from new; older serials were not read: old (serial 3)."}},
		},
		{
			name: "newer serial first",
			data: map[string][]byte{"old": versioned("L", 3, "vpc-a"), "new": versioned("L", 4, "vpc-a", "vpc-b")},
			docs: [][2]string{{"new", ""}, {"old", ""}},
			want: []want{{kept: "new", older: []string{"old"}, ids: []string{"vpc-a", "vpc-b"},
				note: "State lineage L was reached through 2 sources and read once: serial 4, from new; older serials were not read: old (serial 3)."}},
		},
		{
			name: "equal lineage and serial are the same state, whatever the bytes; the first is read",
			data: map[string][]byte{"file": versioned("L", 7, "vpc-a"), "pull": []byte(strings.ReplaceAll(string(versioned("L", 7, "vpc-a")), "1.11.4", "1.12.0"))},
			docs: [][2]string{{"file", ""}, {"pull", ""}},
			want: []want{{kept: "file", same: []string{"pull"}, ids: []string{"vpc-a"},
				note: "State lineage L was reached through 2 sources and read once: serial 7, from file (also in pull)."}},
		},
		{
			name: "several copies and older serials, in source order",
			data: map[string][]byte{"a": versioned("L", 5, "vpc-a"), "b": versioned("L", 7, "vpc-b"), "c": versioned("L", 6, "vpc-c"), "d": versioned("L", 7, "vpc-b"), "e": versioned("L", 2, "vpc-e")},
			docs: [][2]string{{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}, {"e", ""}},
			want: []want{{kept: "b", same: []string{"d"}, older: []string{"a", "c", "e"}, ids: []string{"vpc-b"},
				note: "State lineage L was reached through 5 sources and read once: serial 7, from b (also in d); older serials were not read: a (serial 5), c (serial 6), e (serial 2)."}},
		},
		{
			name: "different lineages are different states, in source order",
			data: map[string][]byte{"web": versioned("W", 1, "vpc-shared"), "cdn": versioned("C", 9, "vpc-shared")},
			docs: [][2]string{{"web", ""}, {"cdn", ""}},
			want: []want{{kept: "web", ids: []string{"vpc-shared"}}, {kept: "cdn", ids: []string{"vpc-shared"}}},
		},
		{
			name: "no lineage: identical bytes are one state",
			data: map[string][]byte{"a": versioned("", 1, "vpc-a"), "copy": versioned("", 1, "vpc-a")},
			docs: [][2]string{{"a", ""}, {"copy", ""}},
			want: []want{{kept: "a", same: []string{"copy"}, ids: []string{"vpc-a"},
				note: "Identical state files without lineage were reached through 2 sources and read once, from a (also in copy)."}},
		},
		{
			name: "no lineage: different bytes are different states, whatever the serial",
			data: map[string][]byte{"a": versioned("", 1, "vpc-a"), "b": versioned("", 2, "vpc-a")},
			docs: [][2]string{{"a", ""}, {"b", ""}},
			want: []want{{kept: "a", ids: []string{"vpc-a"}}, {kept: "b", ids: []string{"vpc-a"}}},
		},
		{
			name: "an empty newest serial hides older resources",
			data: map[string][]byte{"old": versioned("L", 3, "vpc-a"), "destroyed": versioned("L", 4)},
			docs: [][2]string{{"old", ""}, {"destroyed", ""}},
			want: []want{{kept: "destroyed", older: []string{"old"},
				note: "State lineage L was reached through 2 sources and read once: serial 4, from destroyed; older serials were not read: old (serial 3)."}},
		},
	}
	names := func(ds []*Document) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Source)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs []*Document
			for _, d := range tt.docs {
				docs = append(docs, doc(t, d[0], tt.data[d[0]]))
			}
			groups := Dedupe(docs)
			if len(groups) != len(tt.want) {
				t.Fatalf("%d groups, want %d", len(groups), len(tt.want))
			}
			for i, w := range tt.want {
				g := groups[i]
				if g.Kept.Source != w.kept || !reflect.DeepEqual(names(g.Same), w.same) || !reflect.DeepEqual(names(g.Older), w.older) {
					t.Errorf("group %d: kept %s same %q older %q; want %s %q %q", i, g.Kept.Source, names(g.Same), names(g.Older), w.kept, w.same, w.older)
				}
				var ids []string
				for _, r := range g.Kept.Resources {
					ids = append(ids, r.ID)
				}
				if !reflect.DeepEqual(ids, w.ids) {
					t.Errorf("group %d ids %q, want %q", i, ids, w.ids)
				}
				if g.Note() != w.note {
					t.Errorf("group %d note\n got %q\nwant %q", i, g.Note(), w.note)
				}
				if n := len(g.Documents()); n != 1+len(w.same)+len(w.older) {
					t.Errorf("group %d holds %d documents", i, n)
				}
			}
		})
	}
}

// TestLoadCopies: a state reached through two globs, a copy elsewhere and
// an older backup is read once, newest serial; an empty newest serial is
// the one ErrNoResources, an empty older one is no error at all.
func TestLoadCopies(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"states/prod/terraform.tfstate": versioned("prod", 8, "vpc-1", "vpc-2"),
		"copies/prod.tfstate":           versioned("prod", 8, "vpc-1", "vpc-2"),
		"backups/prod.tfstate":          versioned("prod", 6, "vpc-1", "vpc-old"),
		"states/dev/terraform.tfstate":  versioned("dev", 2, "vpc-dev"),
		"gone/new.tfstate":              versioned("gone", 5),
		"gone/old.tfstate":              versioned("gone", 4, "vpc-gone"),
		"emptied/old.tfstate":           versioned("emptied", 1),
		"emptied/new.tfstate":           versioned("emptied", 2, "vpc-back"),
	})
	ctx := context.Background()
	ids := func(t *testing.T, sources ...string) []string {
		t.Helper()
		for i, s := range sources {
			sources[i] = dir + "/" + s
		}
		rs, err := Load(ctx, sources, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, strings.TrimPrefix(r.Source, dir+"/")+"="+r.ID)
		}
		return out
	}
	got := ids(t, "states/**.tfstate", "**/prod.tfstate", "copies/*.tfstate", "backups/prod.tfstate")
	want := []string{"states/dev/terraform.tfstate=vpc-dev", "states/prod/terraform.tfstate=vpc-1", "states/prod/terraform.tfstate=vpc-2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The backup first: the newer copy still wins.
	got = ids(t, "backups/prod.tfstate", "copies/prod.tfstate")
	want = []string{"copies/prod.tfstate=vpc-1", "copies/prod.tfstate=vpc-2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := ids(t, "emptied/*.tfstate"); !reflect.DeepEqual(got, []string{"emptied/new.tfstate=vpc-back"}) {
		t.Errorf("an empty older serial: got %q", got)
	}
	rs, err := Load(ctx, []string{dir + "/gone/*.tfstate", dir + "/states/dev/terraform.tfstate"}, Options{})
	var nr *NoResourcesError
	if !errors.As(err, &nr) || nr.Source != dir+"/gone/new.tfstate" {
		t.Errorf("want the newest, empty serial as the one empty state, got %v", err)
	}
	if len(rs) != 1 || rs[0].ID != "vpc-dev" {
		t.Errorf("resources %v, want vpc-dev alone (vpc-gone was destroyed)", addresses(rs))
	}
}
