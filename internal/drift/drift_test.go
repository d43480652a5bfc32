package drift

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// catalog is a small StateMapper over two made-up types, so the engine's
// rules are tested apart from any cloud: "box" is regional and compares
// "size"; "acct" is global; "box_rule" folds into a box's "rules".
type catalog struct{}

func (catalog) Types() []inventory.Type {
	return []inventory.Type{
		{Name: "box", Service: "boxes", Compared: []string{"size", "rules"}},
		{Name: "acct", Service: "accts", Global: true},
	}
}

func (catalog) FromState(typ string, attrs map[string]any) (model.Resource, bool) {
	switch typ {
	case "box", "default_box":
		r := model.Resource{Provider: "test", Type: "box", ID: attrs["id"].(string), Attributes: map[string]any{}}
		if reg, ok := attrs["region"].(string); ok {
			r.Region = reg
		}
		if s, ok := attrs["size"]; ok {
			r.Attributes["size"] = s
		}
		if t, ok := attrs["tags"].(map[string]string); ok {
			r.Tags = t
		}
		return r, true
	case "acct":
		return model.Resource{Provider: "test", Type: "acct", ID: attrs["id"].(string)}, true
	}
	return model.Resource{}, false
}

func (catalog) Fold(typ string, attrs map[string]any) (string, string, map[string][]string, bool) {
	if typ != "box_rule" {
		return "", "", nil, false
	}
	return "box", attrs["box"].(string), map[string][]string{"rules": {attrs["rule"].(string)}}, true
}

func desired(typ, id string, attrs map[string]any) model.DesiredResource {
	a := map[string]any{"id": id}
	for k, v := range attrs {
		a[k] = v
	}
	return model.DesiredResource{
		Resource: model.Resource{Type: typ, ID: id},
		Address:  typ + "." + strings.ReplaceAll(id, "-", "_"),
		Source:   "test.tfstate",
		Mode:     "managed",
		Raw:      a,
	}
}

func live(typ, id, region string, size any, tags map[string]string) model.Resource {
	r := model.Resource{Provider: "test", Type: typ, ID: id, Region: region, Tags: tags}
	if size != nil {
		r.Attributes = map[string]any{"size": size}
	}
	return r
}

type scopeFail struct {
	typ, region string
}

func inv(regions []string, complete []scopeFail, res ...model.Resource) *inventory.Result {
	out := inventory.NewResult(regions)
	for _, c := range complete {
		out.Add(c.typ, c.region, nil)
	}
	for _, r := range res {
		out.Add(r.Type, r.Region, []model.Resource{r})
	}
	return out
}

func TestDiff(t *testing.T) {
	east := []string{"us-east-1"}
	all := []scopeFail{{"box", "us-east-1"}, {"acct", ""}}
	tests := []struct {
		name    string
		desired []model.DesiredResource
		inv     *inventory.Result
		ignore  string
		want    []string // "kind type id" per finding, in order
		changes map[string][]string
		sum     model.Summary
	}{
		{
			name:    "in sync",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1", "size": 2.0, "tags": map[string]string{"env": "prod"}})},
			inv:     inv(east, all, live("box", "b-1", "us-east-1", 2, map[string]string{"env": "prod"})),
			sum:     model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name:    "tag and attribute changed",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1", "size": 2.0, "tags": map[string]string{"env": "prod", "gone": "x"}})},
			inv:     inv(east, all, live("box", "b-1", "us-east-1", 4, map[string]string{"env": "dev", "new": "y"})),
			want:    []string{"drift.changed box b-1"},
			changes: map[string][]string{"b-1": {"tags.env", "tags.gone", "tags.new", "size"}},
			sum:     model.Summary{Managed: 1, Changed: 1, Coverage: 1},
		},
		{
			name:    "unknown live tags are not compared",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1", "tags": map[string]string{"env": "prod"}})},
			inv:     inv(east, all, live("box", "b-1", "us-east-1", nil, nil)),
			sum:     model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name:    "missing and unmanaged",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1"})},
			inv:     inv(east, all, live("box", "b-2", "us-east-1", nil, map[string]string{})),
			want:    []string{"drift.unmanaged box b-2", "drift.missing box b-1"},
			sum:     model.Summary{Managed: 1, Missing: 1, Unmanaged: 1, Coverage: 0.5},
		},
		{
			name:    "failed scope never reports missing",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1"})},
			inv:     inv(east, []scopeFail{{"acct", ""}}),
			sum:     model.Summary{Managed: 1, NotEvaluated: 1, Coverage: 0}, // nothing read: no coverage established
		},
		{
			name:    "region outside the scan is not evaluated",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "eu-west-1"})},
			inv:     inv(east, all),
			sum:     model.Summary{Managed: 1, NotEvaluated: 1, Coverage: 0},
		},
		{
			name:    "unknown region is missing only when every region was read",
			desired: []model.DesiredResource{desired("box", "b-1", nil)},
			inv:     inv([]string{"us-east-1", "eu-west-1"}, all),
			sum:     model.Summary{Managed: 1, NotEvaluated: 1, Coverage: 0},
		},
		{
			name:    "unknown region, all regions read",
			desired: []model.DesiredResource{desired("box", "b-1", nil)},
			inv:     inv(east, all),
			want:    []string{"drift.missing box b-1"},
			sum:     model.Summary{Managed: 1, Missing: 1, Coverage: 1},
		},
		{
			name:    "same id in another region is not a match",
			desired: []model.DesiredResource{desired("box", "b-1", map[string]any{"region": "us-east-1"})},
			inv:     inv([]string{"us-east-1", "eu-west-1"}, []scopeFail{{"box", "us-east-1"}, {"box", "eu-west-1"}}, live("box", "b-1", "eu-west-1", nil, nil)),
			want:    []string{"drift.unmanaged box b-1", "drift.missing box b-1"},
			sum:     model.Summary{Managed: 1, Missing: 1, Unmanaged: 1, Coverage: 0.5},
		},
		{
			name: "cloud defaults are never unmanaged",
			inv: inv(east, all, func() model.Resource {
				r := live("box", "b-default", "us-east-1", nil, nil)
				r.Default = "default box"
				return r
			}()),
			sum: model.Summary{Coverage: 1},
		},
		{
			name:    "alias type matches live type",
			desired: []model.DesiredResource{desired("default_box", "b-default", map[string]any{"region": "us-east-1"})},
			inv: inv(east, all, func() model.Resource {
				r := live("box", "b-default", "us-east-1", nil, nil)
				r.Default = "default box"
				return r
			}()),
			sum: model.Summary{Managed: 1, InSync: 1, Coverage: 1},
		},
		{
			name: "global types ignore region",
			desired: []model.DesiredResource{
				desired("acct", "a-1", nil),
				desired("acct", "a-2", nil),
			},
			inv:  inv(east, all, live("acct", "a-1", "", nil, nil)),
			want: []string{"drift.missing acct a-2"},
			sum:  model.Summary{Managed: 2, InSync: 1, Missing: 1, Coverage: 1},
		},
		{
			name: "data sources and unsupported types",
			desired: []model.DesiredResource{
				func() model.DesiredResource { d := desired("box", "b-data", nil); d.Mode = "data"; return d }(),
				desired("widget", "w-1", nil),
			},
			inv: inv(east, all),
			sum: model.Summary{Unsupported: 1, Coverage: 1},
		},
		{
			name: "deposed objects are neither missing nor unmanaged",
			desired: []model.DesiredResource{
				func() model.DesiredResource {
					d := desired("box", "b-old", map[string]any{"region": "us-east-1"})
					d.Deposed = "00000001"
					return d
				}(),
				func() model.DesiredResource {
					d := desired("box", "b-older", map[string]any{"region": "us-east-1"})
					d.Deposed = "00000002"
					return d
				}(),
			},
			inv: inv(east, all, live("box", "b-old", "us-east-1", nil, nil)),
			sum: model.Summary{Coverage: 1},
		},
		{
			name: "folded children are part of their parent",
			desired: []model.DesiredResource{
				desired("box", "b-1", map[string]any{"region": "us-east-1"}),
				desired("box_rule", "r-1", map[string]any{"box": "b-1", "rule": "tcp 22"}),
			},
			inv: inv(east, all, func() model.Resource {
				r := live("box", "b-1", "us-east-1", nil, nil)
				r.Attributes = map[string]any{"rules": []string{"tcp 22", "tcp 3389"}}
				return r
			}()),
			want:    []string{"drift.changed box b-1"},
			changes: map[string][]string{"b-1": {"rules"}},
			sum:     model.Summary{Managed: 1, Changed: 1, Coverage: 1},
		},
		{
			name: "ignore rules",
			desired: []model.DesiredResource{
				desired("box", "b-1", map[string]any{"region": "us-east-1", "tags": map[string]string{"LastScanned": "mon", "env": "prod"}}),
			},
			inv: inv(east, all,
				live("box", "b-1", "us-east-1", nil, map[string]string{"LastScanned": "tue", "env": "prod"}),
				live("box", "tmp-1", "us-east-1", nil, map[string]string{}),
				live("box", "tmp-keep", "us-east-1", nil, map[string]string{}),
			),
			ignore: "# scratch boxes\nbox.tmp-*\n!box.tmp-keep\nbox.*.tags.LastScanned\n",
			want:   []string{"drift.unmanaged box tmp-keep"},
			sum:    model.Summary{Managed: 1, InSync: 1, Unmanaged: 1, Ignored: 1, Coverage: 0.5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ig *Ignore
			if tc.ignore != "" {
				var err error
				ig, err = ParseIgnore(strings.NewReader(tc.ignore))
				if err != nil {
					t.Fatal(err)
				}
			}
			got := Diff(tc.desired, tc.inv, catalog{}, Options{Environment: "test", Ignore: ig})
			var kinds []string
			for _, f := range got.Findings {
				kinds = append(kinds, string(f.Kind)+" "+f.Resource.Type+" "+f.Resource.ID)
				if f.Changes == nil {
					t.Errorf("%s: changes is nil, want empty slice", f.Message)
				}
				if want, ok := tc.changes[f.Resource.ID]; ok {
					var paths []string
					for _, c := range f.Changes {
						paths = append(paths, c.Path)
					}
					if !reflect.DeepEqual(paths, want) {
						t.Errorf("changes of %s = %v, want %v", f.Resource.ID, paths, want)
					}
				}
			}
			if !reflect.DeepEqual(kinds, tc.want) {
				t.Errorf("findings = %v, want %v", kinds, tc.want)
			}
			if got.Summary != tc.sum {
				t.Errorf("summary = %+v, want %+v", got.Summary, tc.sum)
			}
		})
	}
}

func TestFindingShape(t *testing.T) {
	d := desired("box", "b-1", map[string]any{"region": "us-east-1"})
	d.Address = "module.net.box.b_1"
	got := Diff([]model.DesiredResource{d}, inv([]string{"us-east-1"}, []scopeFail{{"box", "us-east-1"}},
		live("box", "logs-tmp", "us-east-1", nil, map[string]string{})), catalog{}, Options{Environment: "prod"})
	if len(got.Findings) != 2 {
		t.Fatalf("want 2 findings, got %d", len(got.Findings))
	}
	un, miss := got.Findings[0], got.Findings[1]
	if un.Message != "Undefined resource exists (logs-tmp)" || un.Address != nil || un.Severity != model.SeverityMedium {
		t.Errorf("unmanaged finding = %+v", un)
	}
	if miss.Message != "Defined resource doesn't exist (b-1)" || miss.Address == nil || *miss.Address != "module.net.box.b_1" || miss.Source != "test.tfstate" {
		t.Errorf("missing finding = %+v", miss)
	}
	if un.Fingerprint == miss.Fingerprint || len(un.Fingerprint) != 32 {
		t.Errorf("fingerprints %q %q", un.Fingerprint, miss.Fingerprint)
	}
	again := Diff([]model.DesiredResource{d}, inv([]string{"us-east-1"}, []scopeFail{{"box", "us-east-1"}},
		live("box", "logs-tmp", "us-east-1", nil, map[string]string{"new": "tag"})), catalog{}, Options{Environment: "prod"})
	if again.Findings[0].Fingerprint != un.Fingerprint {
		t.Error("fingerprint changed between runs for the same problem")
	}
	other := Diff(nil, inv([]string{"us-east-1"}, nil, live("box", "logs-tmp", "us-east-1", nil, nil)), catalog{}, Options{Environment: "staging"})
	if other.Findings[0].Fingerprint == un.Fingerprint {
		t.Error("fingerprint must differ between environments")
	}
}

func TestScopeErrorsPassThrough(t *testing.T) {
	in := inventory.NewResult([]string{"us-east-1"})
	in.Fail(inventory.Scope{Provider: "aws", Region: "us-east-1", Service: "boxes"}, errors.New("AccessDenied: no"))
	got := Diff(nil, in, catalog{}, Options{})
	if len(got.Errors) != 1 || got.Errors[0].Scope != "aws/us-east-1/boxes" {
		t.Fatalf("errors = %+v", got.Errors)
	}
}

// azCatalog has one Azure-like type: ids ignore case and completeness is
// judged per subscription (account), not per region.
type azCatalog struct{}

func (azCatalog) Types() []inventory.Type {
	return []inventory.Type{{Name: "az_vm", Service: "compute", ScopeByAccount: true, CaseInsensitiveID: true}}
}

func (azCatalog) FromState(typ string, attrs map[string]any) (model.Resource, bool) {
	if typ != "az_vm" {
		return model.Resource{}, false
	}
	return model.Resource{Provider: "azure", Type: typ, ID: attrs["id"].(string), Account: attrs["sub"].(string), Region: "westeurope"}, true
}

func (azCatalog) Fold(string, map[string]any) (string, string, map[string][]string, bool) {
	return "", "", nil, false
}

func TestAccountScopedCaseInsensitiveTypes(t *testing.T) {
	id := "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1"
	in := inventory.NewResult([]string{"s1", "s2"})
	in.Add("az_vm", "s1", []model.Resource{{Provider: "azure", Type: "az_vm", ID: strings.ToLower(id), Account: "s1", Region: "westeurope"}})
	desired := []model.DesiredResource{
		desired("az_vm", id, map[string]any{"sub": "s1"}),
		desired("az_vm", "/subscriptions/s2/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2", map[string]any{"sub": "s2"}),
		desired("az_vm", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/gone", map[string]any{"sub": "s1"}),
	}
	got := Diff(desired, in, azCatalog{}, Options{})
	want := model.Summary{Managed: 3, InSync: 1, Missing: 1, NotEvaluated: 1, Coverage: 1}
	if got.Summary != want {
		t.Fatalf("summary = %+v, want %+v (s2 was never read, so vm2 is not evaluated)", got.Summary, want)
	}
	if len(got.Findings) != 1 || !strings.HasSuffix(got.Findings[0].Resource.ID, "/gone") {
		t.Fatalf("findings = %+v", got.Findings)
	}
}

// TestAddress: the address of the desired resource matched to a live one,
// for live findings (policy violations) to point back at the code; none
// for a live resource nothing declares, and ids folded where the cloud
// ignores case.
func TestAddress(t *testing.T) {
	in := inv([]string{"r1"}, nil,
		live("box", "b-1", "r1", 1.0, nil),
		live("box", "b-2", "r1", 1.0, nil))
	res := Diff([]model.DesiredResource{
		desired("box", "b-1", map[string]any{"region": "r1", "size": 1.0}),
		desired("box", "b-gone", map[string]any{"region": "r1"}),
	}, in, catalog{}, Options{})
	for _, c := range []struct{ typ, id, want string }{
		{"box", "b-1", "box.b_1"},
		{"box", "b-2", ""},    // unmanaged
		{"box", "b-gone", ""}, // declared, not live
		{"acct", "b-1", ""},   // another type
	} {
		if got := res.Address(c.typ, c.id); got != c.want {
			t.Errorf("Address(%s, %s) = %q, want %q", c.typ, c.id, got, c.want)
		}
	}

	id := "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1"
	az := inventory.NewResult([]string{"s1"})
	az.Add("az_vm", "s1", []model.Resource{{Provider: "azure", Type: "az_vm", ID: strings.ToLower(id), Account: "s1"}})
	res = Diff([]model.DesiredResource{desired("az_vm", id, map[string]any{"sub": "s1"})}, az, azCatalog{}, Options{})
	if got := res.Address("az_vm", strings.ToUpper(id)); got != desired("az_vm", id, nil).Address {
		t.Errorf("case-insensitive Address = %q", got)
	}
}
