package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"plumb/internal/drift"
	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// TestEveryTypeThreeWays checks every supported type against a real
// moto_server: created and declared, it is in sync; created and not
// declared, it is unmanaged; declared and deleted, it is missing; and,
// where the type compares something, changed out of band it is changed.
func TestEveryTypeThreeWays(t *testing.T) {
	m := testenv.StartMoto(t)
	fixtures := allFixtures()

	covered := map[string]bool{}
	for _, f := range fixtures {
		covered[f.typ] = true
	}
	for _, l := range allListers() {
		if !covered[l.Name] {
			t.Errorf("type %s has no fixture: every supported type must be tested against moto", l.Name)
		}
	}
	if n := len(allListers()); n < 25 {
		t.Errorf("%d types supported, want at least 25", n)
	}

	mapper := NewMapper()
	for _, f := range fixtures {
		t.Run(f.typ, func(t *testing.T) {
			m.Reset(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cfg := m.Config(t, "us-east-1")
			attrs, extra := f.create(t, ctx, cfg)

			desiredAll := []model.DesiredResource{stateInstance(f.typ, "this", attrs)}
			for i, e := range extra {
				desiredAll = append(desiredAll, stateInstance(e.typ, fmt.Sprintf("extra%d", i), e.attrs))
			}
			scanTypes := scanTypesFor(mapper, desiredAll)

			// 1. Declared and present: in sync, nothing reported.
			res := diffNow(t, ctx, scanTypes, desiredAll, mapper)
			if len(res.Findings) != 0 {
				t.Fatalf("declared %s reported: %s", f.typ, findingsText(res.Findings))
			}
			if res.Summary.InSync != len(desiredAll) {
				t.Fatalf("in sync = %d, want %d (summary %+v)", res.Summary.InSync, len(desiredAll), res.Summary)
			}

			// 2. Not declared: exactly this resource is unmanaged.
			res = diffNow(t, ctx, scanTypes, desiredAll[1:], mapper)
			if len(res.Findings) != 1 || res.Findings[0].Kind != model.KindUnmanaged || res.Findings[0].Resource.Type != f.typ {
				t.Fatalf("undeclared %s: %s", f.typ, findingsText(res.Findings))
			}
			if want := str(attrs, "id"); f.typ != "aws_db_instance" && f.typ != "aws_sqs_queue" && res.Findings[0].Resource.ID != want {
				t.Errorf("unmanaged id = %q, want the import id %q", res.Findings[0].Resource.ID, want)
			}

			// 3. Changed out of band, where the type compares something.
			if f.change != nil {
				path := f.change(t, ctx, cfg, attrs)
				res = diffNow(t, ctx, scanTypes, desiredAll, mapper)
				if len(res.Findings) != 1 || res.Findings[0].Kind != model.KindChanged {
					t.Fatalf("changed %s: %s", f.typ, findingsText(res.Findings))
				}
				var paths []string
				for _, c := range res.Findings[0].Changes {
					paths = append(paths, c.Path)
				}
				if !contains(paths, path) {
					t.Errorf("changes %v lack %q", paths, path)
				}
			}

			// 4. Deleted out of band: missing.
			f.remove(t, ctx, cfg, attrs)
			res = diffNow(t, ctx, scanTypes, desiredAll, mapper)
			if len(res.Findings) != 1 || res.Findings[0].Kind != model.KindMissing || res.Findings[0].Resource.Type != f.typ {
				t.Fatalf("deleted %s: %s", f.typ, findingsText(res.Findings))
			}
		})
	}
}

// TestFreshAccountHasNothingUnmanaged scans an untouched moto account with
// an empty state in two regions: whatever AWS creates by itself must not
// be reported.
func TestFreshAccountHasNothingUnmanaged(t *testing.T) {
	testenv.StartMoto(t)
	ctx := context.Background()
	s, err := New(ctx, Options{Regions: []string{"us-east-1", "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Fatalf("scan errors on a fresh account: %+v", inv.Errors)
	}
	res := drift.Diff(nil, inv, NewMapper(), drift.Options{})
	if res.Summary.Unmanaged != 0 {
		t.Fatalf("fresh account: %d unmanaged: %s", res.Summary.Unmanaged, findingsText(res.Findings))
	}
	if len(inv.Resources) == 0 {
		t.Fatal("fresh account listed nothing at all; the defaults (VPC, subnets, security group) should be seen and skipped")
	}
	for _, r := range inv.Resources {
		if r.Default == "" {
			t.Errorf("fresh account resource without a default reason: %s %s", r.Type, r.ID)
		}
	}
}

func stateInstance(typ, name string, attrs map[string]any) model.DesiredResource {
	return model.DesiredResource{
		Resource: model.Resource{Provider: "aws", Type: typ, ID: str(attrs, "id")},
		Address:  typ + "." + name,
		Source:   "fixture.tfstate",
		Mode:     "managed",
		Raw:      attrs,
	}
}

// scanTypesFor lists the live types the desired resources map to.
func scanTypesFor(mapper *Mapper, desired []model.DesiredResource) []string {
	set := map[string]bool{}
	for _, d := range desired {
		if r, ok := mapper.FromState(d.Type, d.Raw); ok {
			set[r.Type] = true
		}
	}
	var out []string
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func diffNow(t *testing.T, ctx context.Context, types []string, desired []model.DesiredResource, mapper inventory.StateMapper) *drift.Result {
	t.Helper()
	// Policy-only types (account settings) are listed only when policy
	// attributes are read.
	policyOnly := false
	for _, l := range allListers() {
		if l.policyOnly && contains(types, l.Name) {
			policyOnly = true
		}
	}
	s, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: types, PolicyAttributes: policyOnly})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Fatalf("scan errors: %+v", inv.Errors)
	}
	return drift.Diff(desired, inv, mapper, drift.Options{Environment: "test"})
}

func findingsText(fs []model.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d finding(s)", len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s %s %v", f.Kind, f.Resource.Type, f.Resource.ID, f.Changes)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
