package whatif

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden is what Findings produced for a fixture, as stored on disk.
type golden struct {
	Findings []model.Finding        `json:"findings"`
	Errors   []inventory.ScopeError `json:"errors"`
	Summary  model.Summary          `json:"summary"`
}

// TestFindingsGolden compares Findings for each fixture with a reviewed
// golden file (go test -run TestFindingsGolden -update rewrites them).
func TestFindingsGolden(t *testing.T) {
	for _, file := range []string{"rest.json", "cli.json", "bare.json"} {
		t.Run(file, func(t *testing.T) {
			fs, errs, sum := Findings(parseFixture(t, file), "prod")
			got, err := json.MarshalIndent(golden{fs, errs, sum}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", strings.TrimSuffix(file, ".json")+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Findings(%s) differ from %s; run with -update after reviewing:\n%s", file, path, got)
			}
		})
	}
}

// TestFindingsKinds spells out the mapping from change type to finding for
// every resource in the fixtures.
func TestFindingsKinds(t *testing.T) {
	type want struct {
		kind     model.Kind
		severity model.Severity
		message  string
		changes  int
	}
	tests := []struct {
		file string
		want map[string]want
	}{
		{"rest.json", map[string]want{
			"stshopaudit":    {model.KindMissing, model.SeverityHigh, "Defined resource doesn't exist (stshopaudit)", 0},
			"pip-debug-jump": {model.KindUnmanaged, model.SeverityMedium, "Undefined resource exists (pip-debug-jump)", 0},
			"nsg-frontend":   {model.KindChanged, model.SeverityHigh, "Resource changed outside code (nsg-frontend)", 6},
			"vnet-shop":      {model.KindChanged, model.SeverityMedium, "Resource changed outside code (vnet-shop)", 5},
			"vm-batch-01":    {model.KindChanged, model.SeverityMedium, "Resource changed outside code (vm-batch-01)", 6},
			"kv-shop-prod":   {model.KindChanged, model.SeverityHigh, "Resource changed outside code (kv-shop-prod)", 1},
			"redis-cart":     {model.KindChanged, model.SeverityMedium, "Resource changed outside code (redis-cart)", 1},
		}},
		{"cli.json", map[string]want{
			"vnet-hub":        {model.KindMissing, model.SeverityHigh, "Defined resource doesn't exist (vnet-hub)", 0},
			"sascratch":       {model.KindUnmanaged, model.SeverityMedium, "Undefined resource exists (sascratch)", 0},
			"sahubdata":       {model.KindChanged, model.SeverityHigh, "Resource changed outside code (sahubdata)", 2},
			"func-hub-events": {model.KindChanged, model.SeverityMedium, "Resource changed outside code (func-hub-events)", 1},
			"allow-https":     {model.KindChanged, model.SeverityHigh, "Resource changed outside code (allow-https)", 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseFixture(t, tt.file)
			fs, _, _ := Findings(res, "prod")
			if len(fs) != len(tt.want) {
				t.Errorf("%d findings, want %d", len(fs), len(tt.want))
			}
			for _, f := range fs {
				w, ok := tt.want[f.Resource.Name]
				if !ok {
					t.Errorf("unexpected finding %s %s", f.Kind, f.Resource.ID)
					continue
				}
				if f.Kind != w.kind || f.Severity != w.severity || f.Message != w.message || len(f.Changes) != w.changes {
					t.Errorf("%s: got %s/%s %q with %d changes; want %s/%s %q with %d",
						f.Resource.Name, f.Kind, f.Severity, f.Message, len(f.Changes), w.kind, w.severity, w.message, w.changes)
				}
				wantConfidence := ""
				if f.Kind == model.KindChanged {
					wantConfidence = "low"
				}
				if f.Confidence != wantConfidence {
					t.Errorf("%s: confidence %q, want %q", f.Resource.Name, f.Confidence, wantConfidence)
				}
				if f.Changes == nil || f.Address != nil || f.Resource.Provider != "azure" || f.Environment != "prod" {
					t.Errorf("%s: bad finding shape %+v", f.Resource.Name, f)
				}
				if f.Resource.Account == "" || !strings.Contains(f.Resource.ID, f.Resource.Account) {
					t.Errorf("%s: account %q", f.Resource.Name, f.Resource.Account)
				}
				wantSource := tt.file
				if f.Kind == model.KindUnmanaged {
					wantSource = ""
				}
				if f.Source != wantSource {
					t.Errorf("%s: source %q, want %q", f.Resource.Name, f.Source, wantSource)
				}
				wantFP := model.Fingerprint(f.Kind, "prod", "azure", f.Resource.Type, "", strings.ToLower(f.Resource.ID), "whatif")
				if f.Fingerprint != wantFP {
					t.Errorf("%s: fingerprint %s, want %s", f.Resource.Name, f.Fingerprint, wantFP)
				}
			}
		})
	}
}

// TestFindingsNotEvaluated checks that what what-if did not judge becomes
// a scope error with the reason, never a finding.
func TestFindingsNotEvaluated(t *testing.T) {
	const sub = "/subscriptions/0f3d9a51-2c6b-4e0a-8d7f-6a5b4c3d2e10/resourceGroups/rg-hub/providers/"
	_, errs, _ := Findings(parseFixture(t, "cli.json"), "prod")
	want := []inventory.ScopeError{
		{Scope: "azure/whatif/" + sub + "Microsoft.EventGrid/topics/egt-hub",
			Message: "not evaluated by what-if: Deploy (what-if could not tell whether properties change; run it with the default FullResourcePayloads result format)"},
		{Scope: "azure/whatif/" + sub + "Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net",
			Message: "not evaluated by what-if: Ignore (the resource exists but is not in the template as what-if expanded it)"},
		{Scope: "azure/whatif/" + sub + "Microsoft.Network/networkSecurityGroups/nsg-hub/securityRules/allow-bastion",
			Message: "not evaluated by what-if: Unsupported: The resource name depends on a runtime value."},
		// A change type a newer API might add is not guessed at.
		{Scope: "azure/whatif/" + sub + "Microsoft.Network/natGateways/ng-hub",
			Message: `not evaluated by what-if: unknown change type "Replace"`},
	}
	if len(errs) != len(want) {
		t.Fatalf("errors = %+v\nwant %+v", errs, want)
	}
	for i := range want {
		if !reflect.DeepEqual(errs[i], want[i]) {
			t.Errorf("error %d = %+v\nwant %+v", i, errs[i], want[i])
		}
	}

	_, errs, _ = Findings(parseFixture(t, "rest.json"), "prod")
	var scopes []string
	for _, e := range errs {
		scopes = append(scopes, e.Scope+" | "+e.Message)
	}
	all := strings.Join(scopes, "\n")
	for _, w := range []string{
		"plan-shop | not evaluated by what-if: Deploy",
		"redis-sessions | not evaluated by what-if: Ignore",
		"shared-monitoring | not evaluated by what-if: Unsupported: Template link points to a storage container what-if cannot read.",
		"sql-shop | not evaluated by what-if: potential Modify",
		"azure/whatif/ordersApp | not evaluated by what-if: Create of a resource without an Azure resource id (extension MicrosoftGraph 1.0)",
		"rg-shop-dr | what-if diagnostic ResourceGroupNotFound: Resource group 'rg-shop-dr' could not be found.",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("errors lack %q:\n%s", w, all)
		}
	}
	// Warnings, infos and the potential NoChange are not errors.
	for _, w := range []string{"NestedDeploymentSkipped", "Informational", "databases/orders"} {
		if strings.Contains(all, w) {
			t.Errorf("errors contain %q:\n%s", w, all)
		}
	}
	if len(errs) != 6 {
		t.Errorf("%d errors, want 6", len(errs))
	}
}

func TestFindingsSummary(t *testing.T) {
	tests := []struct {
		file string
		want model.Summary
	}{
		// managed: 9 definite (all but Delete, Ignore, Unsupported) + 2
		// potential + 1 without id. in sync: the NoEffect-only Modify,
		// NoChange and the potential NoChange. not evaluated: Deploy
		// without deltas, Ignore, Unsupported, potential Modify, the
		// change without id.
		{"rest.json", model.Summary{Managed: 12, InSync: 3, Changed: 5, Missing: 1, Unmanaged: 1, NotEvaluated: 5, Coverage: 12.0 / 13.0}},
		// managed: Create, Modify x2, Deploy x2, NoChange. not evaluated:
		// Deploy without deltas, Ignore, Unsupported, unknown.
		{"cli.json", model.Summary{Managed: 6, InSync: 1, Changed: 3, Missing: 1, Unmanaged: 1, NotEvaluated: 4, Coverage: 6.0 / 7.0}},
		{"bare.json", model.Summary{Managed: 1, Missing: 1, Unmanaged: 1, Coverage: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, _, sum := Findings(parseFixture(t, tt.file), "prod")
			if sum != tt.want {
				t.Errorf("summary = %+v\nwant %+v", sum, tt.want)
			}
		})
	}
}

// TestFindingsDecisions pins the less obvious rules with small documents.
func TestFindingsDecisions(t *testing.T) {
	const id = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app1"
	doc := func(change string) []byte {
		return []byte(`[{"resourceId": "` + id + `", ` + change + `}]`)
	}
	tests := []struct {
		name     string
		data     []byte
		kind     model.Kind // "" when no finding
		changes  int
		severity model.Severity
		sum      model.Summary
		errs     int
	}{
		{name: "Deploy without deltas is not evaluated", data: doc(`"changeType": "Deploy"`),
			sum: model.Summary{Managed: 1, NotEvaluated: 1, Coverage: 1}, errs: 1},
		{name: "Deploy with an empty delta list is not evaluated", data: doc(`"changeType": "Deploy", "delta": []`),
			sum: model.Summary{Managed: 1, NotEvaluated: 1, Coverage: 1}, errs: 1},
		{name: "Deploy with only NoEffect deltas is in sync", data: doc(`"changeType": "Deploy", "delta": [{"path": "sku.tier", "propertyChangeType": "NoEffect", "after": "x"}]`),
			sum: model.Summary{Managed: 1, InSync: 1, Coverage: 1}},
		{name: "Deploy with deltas is changed", data: doc(`"changeType": "Deploy", "delta": [{"path": "properties.httpsOnly", "propertyChangeType": "Modify", "before": false, "after": true}]`),
			kind: model.KindChanged, changes: 1, severity: model.SeverityMedium, sum: model.Summary{Managed: 1, Changed: 1, Coverage: 1}},
		{name: "Modify with only NoEffect deltas is in sync", data: doc(`"changeType": "Modify", "delta": [{"path": "a", "propertyChangeType": "Array", "children": [{"path": "0", "propertyChangeType": "NoEffect", "after": 1}]}]`),
			sum: model.Summary{Managed: 1, InSync: 1, Coverage: 1}},
		{name: "Modify without deltas is still changed", data: doc(`"changeType": "Modify"`),
			kind: model.KindChanged, changes: 0, severity: model.SeverityMedium, sum: model.Summary{Managed: 1, Changed: 1, Coverage: 1}},
		{name: "network exposure deep in a path is high", data: doc(`"changeType": "Modify", "delta": [{"path": "properties.siteConfig", "propertyChangeType": "Modify", "children": [{"path": "publicNetworkAccess", "propertyChangeType": "Modify", "before": "Disabled", "after": "Enabled"}]}]`),
			kind: model.KindChanged, changes: 1, severity: model.SeverityHigh, sum: model.Summary{Managed: 1, Changed: 1, Coverage: 1}},
		{name: "a name containing an exposure word is not exposure", data: doc(`"changeType": "Modify", "delta": [{"path": "tags.networkAclsOwner", "propertyChangeType": "Create", "after": "x"}]`),
			kind: model.KindChanged, changes: 1, severity: model.SeverityMedium, sum: model.Summary{Managed: 1, Changed: 1, Coverage: 1}},
		{name: "Ignore is neither managed nor unmanaged", data: doc(`"changeType": "Ignore"`),
			sum: model.Summary{NotEvaluated: 1, Coverage: 1}, errs: 1},
		{name: "Unsupported without a reason", data: doc(`"changeType": "Unsupported"`),
			sum: model.Summary{NotEvaluated: 1, Coverage: 1}, errs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse("t.json", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			fs, errs, sum := Findings(res, "dev")
			if sum != tt.sum {
				t.Errorf("summary = %+v, want %+v", sum, tt.sum)
			}
			if len(errs) != tt.errs {
				t.Errorf("errors = %+v, want %d", errs, tt.errs)
			}
			if tt.kind == "" {
				if len(fs) != 0 {
					t.Errorf("findings = %+v, want none", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Kind != tt.kind || len(fs[0].Changes) != tt.changes || fs[0].Severity != tt.severity {
				t.Fatalf("findings = %+v, want one %s/%s with %d changes", fs, tt.kind, tt.severity, tt.changes)
			}
			if fs[0].Changes == nil {
				t.Error("changes is nil, want []")
			}
		})
	}
	if _, errs, _ := Findings(mustParse(t, doc(`"changeType": "Unsupported"`)), ""); errs[0].Message != "not evaluated by what-if: Unsupported" {
		t.Errorf("message = %q", errs[0].Message)
	}
}

func mustParse(t *testing.T, data []byte) *Result {
	t.Helper()
	res, err := Parse("t.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestFingerprints checks that fingerprints are distinct across resources
// and kinds, stable across runs and id case, and specific to the
// environment.
func TestFingerprints(t *testing.T) {
	seen := map[string]string{}
	for _, file := range []string{"rest.json", "cli.json", "bare.json"} {
		fs, _, _ := Findings(parseFixture(t, file), "prod")
		again, _, _ := Findings(parseFixture(t, file), "prod")
		other, _, _ := Findings(parseFixture(t, file), "staging")
		for i, f := range fs {
			if len(f.Fingerprint) != 32 {
				t.Errorf("fingerprint %q is not 32 hex characters", f.Fingerprint)
			}
			if prev, dup := seen[f.Fingerprint]; dup {
				t.Errorf("fingerprint of %s repeats %s", f.Resource.ID, prev)
			}
			seen[f.Fingerprint] = f.Resource.ID
			if again[i].Fingerprint != f.Fingerprint {
				t.Errorf("%s: fingerprint changed between runs", f.Resource.Name)
			}
			if other[i].Fingerprint == f.Fingerprint {
				t.Errorf("%s: same fingerprint in two environments", f.Resource.Name)
			}
		}
	}
	// ARM ids are case-insensitive; a document that changes case does not
	// open a new finding. Further drift (other values) keeps it too.
	a := mustParse(t, []byte(`[{"resourceId": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV", "changeType": "Modify", "delta": [{"path": "x", "propertyChangeType": "Modify", "before": 1, "after": 2}]}]`))
	b := mustParse(t, []byte(`[{"resourceId": "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv", "changeType": "Modify", "delta": [{"path": "y", "propertyChangeType": "Modify", "before": 3, "after": 4}]}]`))
	fa, _, _ := Findings(a, "prod")
	fb, _, _ := Findings(b, "prod")
	if fa[0].Fingerprint != fb[0].Fingerprint {
		t.Errorf("fingerprints differ by id case or values: %s vs %s", fa[0].Fingerprint, fb[0].Fingerprint)
	}
	// Pinned value: a change here breaks every stored finding.
	if got, want := fa[0].Fingerprint, model.Fingerprint(model.KindChanged, "prod", "azure", "azurerm_key_vault", "", "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv", "whatif"); got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
}

func TestFindingsNil(t *testing.T) {
	fs, errs, sum := Findings(nil, "prod")
	if fs == nil || len(fs) != 0 || errs != nil || sum != (model.Summary{Coverage: 1}) {
		t.Errorf("Findings(nil) = %v, %v, %+v", fs, errs, sum)
	}
	fs, _, sum = Findings(&Result{}, "prod")
	if fs == nil || sum.Coverage != 1 {
		t.Errorf("Findings(empty) = %v, %+v", fs, sum)
	}
}
