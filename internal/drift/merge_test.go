package drift

import (
	"reflect"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestMerge(t *testing.T) {
	box := func(id string, tags map[string]string) model.DesiredResource {
		return desired("box", id, map[string]any{"region": "us-east-1", "tags": tags})
	}
	ext := func(d model.DesiredResource, missing bool, paths ...string) External {
		e := External{Desired: d, Missing: missing}
		for _, p := range paths {
			e.Changes = append(e.Changes, model.Change{Path: p, Before: "a", After: "b"})
		}
		return e
	}
	file := func(id string) model.DesiredResource {
		d := desired("local_file", id, nil)
		d.Provider = "local"
		return d
	}
	tests := []struct {
		name    string
		desired []model.DesiredResource
		live    []model.Resource
		ext     []External
		covered []model.DesiredResource
		ignore  string
		want    []string // "kind id paths..."
		sum     model.Summary
	}{
		{
			name:    "same resource from both sources is one finding with the union of changes",
			desired: []model.DesiredResource{box("b-1", map[string]string{"env": "demo"})},
			live:    []model.Resource{live("box", "b-1", "us-east-1", nil, map[string]string{"env": "prod"})},
			ext:     []External{ext(box("b-1", nil), false, "tags.env", "tags_all.env", "retention_in_days")},
			want:    []string{"drift.changed b-1 retention_in_days tags.env"},
			sum:     model.Summary{Managed: 1, Changed: 1, Coverage: 1},
		},
		{
			name:    "drift only Terraform sees moves the resource out of in sync",
			desired: []model.DesiredResource{box("b-1", map[string]string{})},
			live:    []model.Resource{live("box", "b-1", "us-east-1", nil, map[string]string{})},
			ext:     []External{ext(box("b-1", nil), false, "retention_in_days")},
			want:    []string{"drift.changed b-1 retention_in_days"},
			sum:     model.Summary{Managed: 1, Changed: 1, Coverage: 1},
		},
		{
			name:    "Terraform says gone",
			desired: []model.DesiredResource{box("b-1", map[string]string{"env": "a"})},
			live:    []model.Resource{live("box", "b-1", "us-east-1", nil, map[string]string{"env": "b"})},
			ext:     []External{ext(box("b-1", nil), true)},
			want:    []string{"drift.missing b-1"},
			sum:     model.Summary{Managed: 1, Missing: 1, Coverage: 1},
		},
		{
			name:    "both say gone: one finding",
			desired: []model.DesiredResource{box("b-1", nil)},
			ext:     []External{ext(box("b-1", nil), true)},
			want:    []string{"drift.missing b-1"},
			sum:     model.Summary{Managed: 1, Missing: 1, Coverage: 1},
		},
		{
			name:    "types only Terraform evaluates count as managed",
			desired: []model.DesiredResource{file("f-1"), file("f-2"), file("f-3")},
			covered: []model.DesiredResource{file("f-1"), file("f-2"), file("f-3")},
			ext:     []External{ext(file("f-2"), true)},
			want:    []string{"drift.missing f-2"},
			sum:     model.Summary{Managed: 3, InSync: 2, Missing: 1, Coverage: 1},
		},
		{
			name:    "Terraform's paths count where the engine could not judge",
			desired: []model.DesiredResource{box("b-1", nil)},
			live: []model.Resource{func() model.Resource {
				r := live("box", "b-1", "us-east-1", nil, nil)
				r.Attributes = map[string]any{"rules": []string{"tcp 22"}}
				return r
			}()},
			ext:  []External{ext(box("b-1", nil), false, "rules[0].cidr")},
			want: []string{"drift.changed b-1 rules[0].cidr"},
			sum:  model.Summary{Managed: 1, Changed: 1, Coverage: 1},
		},
		{
			name: "the engine's verdict stands on attributes it judged",
			desired: []model.DesiredResource{func() model.DesiredResource {
				d := box("b-1", map[string]string{"env": "a"})
				d.Raw["size"] = 2.0
				return d
			}()},
			live: []model.Resource{live("box", "b-1", "us-east-1", 2.0, map[string]string{"env": "a"})},
			ext:  []External{ext(box("b-1", nil), false, "size", "tags_all.env", "tags.env")},
			sum:  model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name:    "ignore rules apply to Terraform's paths",
			desired: []model.DesiredResource{box("b-1", map[string]string{})},
			live:    []model.Resource{live("box", "b-1", "us-east-1", nil, map[string]string{})},
			ext:     []External{ext(box("b-1", nil), false, "tags_all.LastScanned")},
			ignore:  "box.*.tags.LastScanned\n",
			sum:     model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ig *Ignore
			if tc.ignore != "" {
				var err error
				if ig, err = ParseIgnore(strings.NewReader(tc.ignore)); err != nil {
					t.Fatal(err)
				}
			}
			in := inv([]string{"us-east-1"}, []scopeFail{{"box", "us-east-1"}}, tc.live...)
			opts := Options{Environment: "test", Ignore: ig, Mergeable: true}
			res := Diff(tc.desired, in, catalog{}, opts)
			Merge(res, tc.ext, tc.covered, catalog{}, opts)
			var got []string
			for _, f := range res.Findings {
				line := string(f.Kind) + " " + f.Resource.ID
				for _, c := range f.Changes {
					line += " " + c.Path
				}
				got = append(got, line)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings = %q, want %q", got, tc.want)
			}
			if res.Summary != tc.sum {
				t.Errorf("summary = %+v, want %+v", res.Summary, tc.sum)
			}
		})
	}
}
