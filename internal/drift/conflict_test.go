package drift

import (
	"reflect"
	"strings"
	"testing"

	"plumb/internal/model"
)

// declared is desired() with an explicit address and state.
func declared(typ, id, address, source string, attrs map[string]any) model.DesiredResource {
	d := desired(typ, id, attrs)
	d.Address, d.Source = address, source
	return d
}

func TestConflicts(t *testing.T) {
	east := []string{"us-east-1"}
	all := []scopeFail{{"box", "us-east-1"}, {"box", "eu-west-1"}, {"acct", ""}}
	inEast := map[string]any{"region": "us-east-1", "size": 2.0, "tags": map[string]string{"owner": "a"}}
	inEastB := map[string]any{"region": "us-east-1", "size": 4.0, "tags": map[string]string{"owner": "b"}}
	tests := []struct {
		name    string
		desired []model.DesiredResource
		live    []model.Resource
		ignore  string
		want    []string // "kind id"
		decls   [][2]string
		sum     model.Summary
	}{
		{
			name: "two states declaring one box: one conflict, counted once, not compared",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "module.m.box.b", "b.tfstate", inEastB),
			},
			// Live matches b's declaration and differs from a's: neither
			// a drift.changed nor an unmanaged finding may appear.
			live:  []model.Resource{live("box", "b-1", "us-east-1", 4.0, map[string]string{"owner": "b"})},
			want:  []string{"drift.conflict b-1"},
			decls: [][2]string{{"box.a", "a.tfstate"}, {"module.m.box.b", "b.tfstate"}},
			sum:   model.Summary{Managed: 1, Conflicting: 1, Coverage: 1},
		},
		{
			name: "three declarations, two in one state: still one finding",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "box.a2", "a.tfstate", inEast),
				declared("box", "b-1", "box.c", "c.tfstate", inEast),
			},
			live:  []model.Resource{live("box", "b-1", "us-east-1", 2.0, map[string]string{"owner": "a"})},
			want:  []string{"drift.conflict b-1"},
			decls: [][2]string{{"box.a", "a.tfstate"}, {"box.a2", "a.tfstate"}, {"box.c", "c.tfstate"}},
			sum:   model.Summary{Managed: 1, Conflicting: 1, Coverage: 1},
		},
		{
			name: "gone live: the conflict is still the one finding",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "box.b", "b.tfstate", inEastB),
			},
			want:  []string{"drift.conflict b-1"},
			decls: [][2]string{{"box.a", "a.tfstate"}, {"box.b", "b.tfstate"}},
			sum:   model.Summary{Managed: 1, Conflicting: 1, Coverage: 1},
		},
		{
			name: "the same address from the same state twice is one declaration",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
			},
			live: []model.Resource{live("box", "b-1", "us-east-1", 2.0, map[string]string{"owner": "a"})},
			sum:  model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name: "same id in two regions is two objects",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "box.b", "b.tfstate", map[string]any{"region": "eu-west-1", "size": 2.0, "tags": map[string]string{"owner": "a"}}),
			},
			live: []model.Resource{
				live("box", "b-1", "us-east-1", 2.0, map[string]string{"owner": "a"}),
				live("box", "b-1", "eu-west-1", 2.0, map[string]string{"owner": "a"}),
			},
			sum: model.Summary{Managed: 2, InSync: 2, Coverage: 1},
		},
		{
			name: "an alias and its type name one object",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("default_box", "b-1", "default_box.main", "b.tfstate", inEast),
			},
			live:  []model.Resource{live("box", "b-1", "us-east-1", 2.0, map[string]string{"owner": "a"})},
			want:  []string{"drift.conflict b-1"},
			decls: [][2]string{{"box.a", "a.tfstate"}, {"default_box.main", "b.tfstate"}},
			sum:   model.Summary{Managed: 1, Conflicting: 1, Coverage: 1},
		},
		{
			name: "global type: region does not split the identity",
			desired: []model.DesiredResource{
				declared("acct", "ci", "acct.ci", "a.tfstate", nil),
				declared("acct", "ci", "acct.deploy", "b.tfstate", nil),
			},
			live:  []model.Resource{{Provider: "test", Type: "acct", ID: "ci"}},
			want:  []string{"drift.conflict ci"},
			decls: [][2]string{{"acct.ci", "a.tfstate"}, {"acct.deploy", "b.tfstate"}},
			sum:   model.Summary{Managed: 1, Conflicting: 1, Coverage: 1},
		},
		{
			name: "deposed objects are not declarations",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				func() model.DesiredResource {
					d := declared("box", "b-1", "box.a", "a.tfstate", inEast)
					d.Deposed = "00000001"
					return d
				}(),
			},
			live: []model.Resource{live("box", "b-1", "us-east-1", 2.0, map[string]string{"owner": "a"})},
			sum:  model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name: "types the inventory cannot map never conflict",
			desired: []model.DesiredResource{
				declared("random_password", "none", "random_password.a", "a.tfstate", nil),
				declared("random_password", "none", "random_password.b", "b.tfstate", nil),
			},
			sum: model.Summary{Unsupported: 2, Coverage: 1},
		},
		{
			name: "ignored: counted once as ignored, no finding, live not unmanaged",
			desired: []model.DesiredResource{
				declared("box", "b-1", "box.a", "a.tfstate", inEast),
				declared("box", "b-1", "box.b", "b.tfstate", inEastB),
			},
			live:   []model.Resource{live("box", "b-1", "us-east-1", 4.0, map[string]string{"owner": "b"})},
			ignore: "box.b-1\n",
			sum:    model.Summary{Ignored: 1, Coverage: 1},
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
			res := Diff(tc.desired, inv(east, all, tc.live...), catalog{}, Options{Environment: "test", Ignore: ig})
			var got []string
			var decls [][2]string
			for _, f := range res.Findings {
				got = append(got, string(f.Kind)+" "+f.Resource.ID)
				for _, d := range f.Declarations {
					decls = append(decls, [2]string{d.Address, d.Source})
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(decls, tc.decls) {
				t.Errorf("declarations = %q, want %q", decls, tc.decls)
			}
			if res.Summary != tc.sum {
				t.Errorf("summary = %+v, want %+v", res.Summary, tc.sum)
			}
		})
	}
}

// TestConflictFindingShape: severity high, the operators' title, address
// and source of the first declaration, the live object as resource, and
// a fingerprint from the declared identity that does not change when the
// object disappears or the declarations come in another order.
func TestConflictFindingShape(t *testing.T) {
	a := declared("box", "b-1", "box.a", "a.tfstate", map[string]any{"region": "us-east-1", "size": 2.0})
	b := declared("box", "b-1", "box.b", "b.tfstate", map[string]any{"region": "us-east-1", "size": 4.0})
	scopes := []scopeFail{{"box", "us-east-1"}}
	liveBox := live("box", "b-1", "us-east-1", 4.0, map[string]string{"Name": "shared"})
	res := Diff([]model.DesiredResource{a, b}, inv([]string{"us-east-1"}, scopes, liveBox), catalog{}, Options{Environment: "prod"})
	if len(res.Findings) != 1 {
		t.Fatalf("want one finding, got %+v", res.Findings)
	}
	f := res.Findings[0]
	if f.Kind != model.KindConflict || f.Severity != model.SeverityHigh {
		t.Errorf("kind %s severity %s", f.Kind, f.Severity)
	}
	if f.Message != "Resource defined more than once (shared)" {
		t.Errorf("message %q", f.Message)
	}
	if f.Address == nil || *f.Address != "box.a" || f.Source != "a.tfstate" {
		t.Errorf("address %v source %q, want the first declaration", f.Address, f.Source)
	}
	if f.Resource.Tags["Name"] != "shared" || f.Resource.Attributes != nil {
		t.Errorf("resource = %+v, want the live object without attributes", f.Resource)
	}
	if len(f.Changes) != 0 || f.Changes == nil {
		t.Errorf("changes = %#v, want []", f.Changes)
	}
	want := model.Fingerprint(model.KindConflict, "prod", "test", "box", "us-east-1", "b-1", "")
	if f.Fingerprint != want {
		t.Errorf("fingerprint %s, want %s", f.Fingerprint, want)
	}
	gone := Diff([]model.DesiredResource{b, a}, inv([]string{"us-east-1"}, scopes), catalog{}, Options{Environment: "prod"})
	if len(gone.Findings) != 1 || gone.Findings[0].Fingerprint != want {
		t.Errorf("without the live object, in the other order: %+v", gone.Findings)
	}
	if *gone.Findings[0].Address != "box.b" {
		t.Errorf("address follows the input order: got %s", *gone.Findings[0].Address)
	}
}

// TestMergeConflict: Terraform's refresh of one owner reports the other
// owner's apply as drift; the conflict finding stands alone and the
// summary is unchanged.
func TestMergeConflict(t *testing.T) {
	a := declared("box", "b-1", "box.a", "a.tfstate", map[string]any{"region": "us-east-1", "tags": map[string]string{"owner": "a"}})
	b := declared("box", "b-1", "box.b", "/work/b", map[string]any{"region": "us-east-1", "tags": map[string]string{"owner": "b"}})
	opts := Options{Environment: "test", Mergeable: true}
	in := inv([]string{"us-east-1"}, []scopeFail{{"box", "us-east-1"}}, live("box", "b-1", "us-east-1", nil, map[string]string{"owner": "a"}))
	res := Diff([]model.DesiredResource{a, b}, in, catalog{}, opts)
	Merge(res, []External{
		{Desired: b, Changes: []model.Change{{Path: "tags.owner", Before: "b", After: "a"}}},
		{Desired: b, Missing: true},
	}, []model.DesiredResource{b}, catalog{}, opts)
	if len(res.Findings) != 1 || res.Findings[0].Kind != model.KindConflict || len(res.Findings[0].Changes) != 0 {
		t.Errorf("findings = %+v, want the conflict alone", res.Findings)
	}
	if want := (model.Summary{Managed: 1, Conflicting: 1, Coverage: 1}); res.Summary != want {
		t.Errorf("summary = %+v, want %+v", res.Summary, want)
	}
}
