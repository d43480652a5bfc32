package whatif

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"plumb/internal/model"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseFixture(t testing.TB, name string) *Result {
	t.Helper()
	res, err := Parse(name, readFixture(t, name))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return res
}

func changeTypes(cs []Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ChangeType)
	}
	return out
}

// TestParseShapes reads the three accepted shapes and checks what lands
// where: definite changes, potential changes, changes without an id and
// diagnostics.
func TestParseShapes(t *testing.T) {
	tests := []struct {
		file         string
		status       string
		changes      []string
		potential    []string
		unidentified []Unidentified
		diagnostics  int
	}{
		{
			file:   "rest.json",
			status: "Succeeded",
			changes: []string{"Create", "Delete", "Modify", "Modify", "Modify", "Modify", "Modify",
				"NoChange", "Deploy", "Ignore", "Unsupported", "Modify"},
			potential: []string{"Modify", "NoChange"},
			unidentified: []Unidentified{{Path: "properties.changes[12]", ChangeType: "Create",
				SymbolicName: "ordersApp", Extension: "MicrosoftGraph 1.0"}},
			diagnostics: 3,
		},
		{
			file:   "cli.json",
			status: "Succeeded",
			changes: []string{"Create", "Delete", "Modify", "Deploy", "Deploy", "NoChange",
				"Ignore", "Unsupported", "Replace", "Modify"},
			potential: []string{},
		},
		{
			file:      "bare.json",
			changes:   []string{"Create", "Delete"},
			potential: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseFixture(t, tt.file)
			if res.Source != tt.file || res.Status != tt.status {
				t.Errorf("source, status = %q, %q; want %q, %q", res.Source, res.Status, tt.file, tt.status)
			}
			if got := changeTypes(res.Changes); !reflect.DeepEqual(got, tt.changes) {
				t.Errorf("changes = %v\nwant %v", got, tt.changes)
			}
			if got := changeTypes(res.Potential); !reflect.DeepEqual(got, tt.potential) {
				t.Errorf("potential = %v, want %v", got, tt.potential)
			}
			if !reflect.DeepEqual(res.Unidentified, tt.unidentified) {
				t.Errorf("unidentified = %+v, want %+v", res.Unidentified, tt.unidentified)
			}
			if len(res.Diagnostics) != tt.diagnostics {
				t.Errorf("%d diagnostics, want %d", len(res.Diagnostics), tt.diagnostics)
			}
			for _, c := range append(append([]Change{}, res.Changes...), res.Potential...) {
				if c.ResourceID == "" || c.Name == "" || c.ARMType == "" {
					t.Errorf("incomplete change %+v", c)
				}
			}
		})
	}
}

// TestParseResourceFields checks how a change is named: ARM type from the
// id, azurerm type when known, name, subscription, and location and tags
// from the live side (the template side for Create).
func TestParseResourceFields(t *testing.T) {
	res := parseFixture(t, "rest.json")
	byName := map[string]Change{}
	for _, c := range res.Changes {
		byName[c.Name] = c
	}
	tests := []struct {
		name    string
		armType string
		typ     string
		region  string
		tags    map[string]string
	}{
		{"stshopaudit", "Microsoft.Storage/storageAccounts", "azurerm_storage_account", "northeurope", map[string]string{"team": "payments", "tier": "audit"}},
		{"pip-debug-jump", "Microsoft.Network/publicIPAddresses", "azurerm_public_ip", "northeurope", map[string]string{"createdBy": "oncall"}},
		// Modify: the live tags, not the template's extra "review" tag.
		{"nsg-frontend", "Microsoft.Network/networkSecurityGroups", "azurerm_network_security_group", "northeurope", map[string]string{"team": "platform"}},
		// An empty tag object means "no tags", not "unknown".
		{"vnet-shop", "Microsoft.Network/virtualNetworks", "azurerm_virtual_network", "northeurope", map[string]string{}},
		// No tags in the payload: unknown.
		{"kv-shop-prod", "Microsoft.KeyVault/vaults", "azurerm_key_vault", "northeurope", nil},
		// ResourceIdOnly-style entry: nothing but the id.
		{"plan-shop", "Microsoft.Web/serverFarms", "azurerm_service_plan", "", nil},
		// A type plumb has no azurerm name for.
		{"redis-cart", "Microsoft.Cache/redis", "", "northeurope", map[string]string{"team": "cart"}},
		{"shared-monitoring", "Microsoft.Resources/deployments", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := byName[tt.name]
			if !ok {
				t.Fatalf("no change named %s", tt.name)
			}
			if c.ARMType != tt.armType || c.Type != tt.typ || c.Region != tt.region {
				t.Errorf("arm, type, region = %q, %q, %q; want %q, %q, %q", c.ARMType, c.Type, c.Region, tt.armType, tt.typ, tt.region)
			}
			if !reflect.DeepEqual(c.Tags, tt.tags) || (c.Tags == nil) != (tt.tags == nil) {
				t.Errorf("tags = %#v, want %#v", c.Tags, tt.tags)
			}
		})
	}
	if got := byName["shared-monitoring"].UnsupportedReason; !strings.Contains(got, "storage container") {
		t.Errorf("unsupported reason = %q", got)
	}
}

// TestParseDeltas checks the flattening of nested property changes:
// array indexes, objects inside array elements, arrays inside arrays (with
// and without an empty intermediate path), dropped NoEffect entries, the
// code/live orientation and redaction.
func TestParseDeltas(t *testing.T) {
	res := parseFixture(t, "rest.json")
	deltas := map[string][]model.Change{}
	for _, c := range res.Changes {
		deltas[c.Name] = c.Deltas
	}
	tests := []struct {
		name string
		want []model.Change
	}{
		{"nsg-frontend", []model.Change{
			{Path: "tags.review", Before: "2026-q2", After: nil},
			{Path: "properties.securityRules[0].properties.sourceAddressPrefix", Before: "AzureFrontDoor.Backend", After: "*"},
			{Path: "properties.securityRules[1].properties.access", Before: "Deny", After: "Allow"},
			{Path: "properties.securityRules[1].properties.priority", Before: 300.0, After: 310.0},
			{Path: "properties.securityRules[2]", Before: map[string]any{"name": "deny-inbound-rest",
				"properties": map[string]any{"access": "Deny", "direction": "Inbound", "priority": 4000.0, "protocol": "*"}}, After: nil},
			{Path: "properties.securityRules[3]", Before: nil, After: map[string]any{"name": "allow-rdp-temp",
				"properties": map[string]any{"access": "Allow", "destinationPortRange": "3389", "direction": "Inbound", "priority": 150.0}}},
		}},
		{"vnet-shop", []model.Change{
			// A Delete and a Create of the same index read as one change.
			{Path: "properties.addressSpace.addressPrefixes[0]", Before: "10.20.0.0/15", After: "10.20.0.0/16"},
			{Path: "properties.subnets[1].properties.serviceEndpoints[0]", Before: nil,
				After: map[string]any{"service": "Microsoft.Sql", "locations": []any{"northeurope"}}},
			{Path: "properties.routeGroups[0][2]", Before: "10.40.0.0/24", After: nil},
			{Path: "properties.routeGroups[0][0]", Before: "10.31.0.0/24", After: "10.30.0.0/24"},
			{Path: "properties.routeGroups[1][0]", Before: nil, After: 7.0},
		}},
		{"vm-batch-01", []model.Change{
			{Path: "properties.hardwareProfile.vmSize", Before: "Standard_D2s_v5", After: "Standard_D4s_v5"},
			{Path: "properties.osProfile.adminPassword", Before: "(sensitive)", After: nil},
			{Path: "properties.diagnosticsProfile", Before: map[string]any{"bootDiagnostics": map[string]any{"enabled": true, "storageUri": nil}}, After: nil},
			{Path: "properties.extensionSettings", Before: map[string]any{"mode": "b", "clientSecret": "(sensitive)"},
				After: map[string]any{"mode": "a", "clientSecret": "(sensitive)"}},
			{Path: "properties.priority", Before: nil, After: "Spot"},
			{Path: "properties.licenseType", Before: false, After: nil},
		}},
		{"kv-shop-prod", []model.Change{{Path: "properties.publicNetworkAccess", Before: "Disabled", After: "Enabled"}}},
		// Only NoEffect entries: nothing left.
		{"sb-shop-prod", nil},
		{"log-shop-prod", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deltas[tt.name]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("deltas:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
	// The secret in the template must not survive anywhere.
	for _, c := range res.Changes {
		for _, d := range c.Deltas {
			for _, v := range []any{d.Before, d.After} {
				if s := strings.ToLower(strings.Join(strings.Fields(fmtValue(v)), "")); strings.Contains(s, "hunter2") || strings.Contains(s, "s3cr3t") {
					t.Errorf("secret leaked in %s: %v", d.Path, v)
				}
			}
		}
	}
}

func fmtValue(v any) string {
	var b bytes.Buffer
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				b.WriteString(k + "=")
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			b.WriteString(v + " ")
		}
	}
	walk(v)
	return b.String()
}

func TestJoinPath(t *testing.T) {
	tests := []struct {
		parent  string
		inArray bool
		child   string
		want    string
	}{
		{"", false, "properties.a", "properties.a"},
		{"properties.a", false, "b", "properties.a.b"},
		{"properties.a", true, "3", "properties.a[3]"},
		{"properties.a", true, "", "properties.a"},
		{"properties.a", true, "name", "properties.a.name"},
		{"properties.a[0]", true, "12", "properties.a[0][12]"},
		{"properties.a", false, "0", "properties.a.0"},
	}
	for _, tt := range tests {
		if got := joinPath(tt.parent, tt.inArray, tt.child); got != tt.want {
			t.Errorf("joinPath(%q, %v, %q) = %q, want %q", tt.parent, tt.inArray, tt.child, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	in := map[string]any{"mode": "x", "nested": []any{map[string]any{"sasToken": "abc", "keep": 1.0}}, "adminPassword": nil}
	got := redact(in)
	want := map[string]any{"mode": "x", "nested": []any{map[string]any{"sasToken": "(sensitive)", "keep": 1.0}}, "adminPassword": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("redact = %#v, want %#v", got, want)
	}
	if in["nested"].([]any)[0].(map[string]any)["sasToken"] != "abc" {
		t.Error("redact modified its input")
	}
	plain := map[string]any{"a": []any{"b"}}
	if got := redact(plain); !reflect.DeepEqual(got, plain) {
		t.Errorf("redact changed a value without secrets: %#v", got)
	}
}

// TestParseErrors checks that every rejected document gets an error that
// names the file and says what is wrong, with a position for bad JSON.
func TestParseErrors(t *testing.T) {
	const id = `"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"`
	tests := []struct {
		name string
		file string // fixture; data is used when empty
		data string
		want []string
	}{
		{name: "failed what-if", file: "failed.json",
			want: []string{"failed.json", "status Failed", "InvalidTemplateDeployment", "failed validation", "InvalidTemplate: Parameter 'sku'", "target parameters.sku"}},
		{name: "ARM error response", file: "cloud_error.json",
			want: []string{"cloud_error.json", "AuthorizationFailed", "does not have authorization"}},
		{name: "malformed", file: "malformed.json",
			want: []string{"malformed.json:6:7 (byte 157)", "malformed JSON", "after object key:value pair"}},
		{name: "wrong type from file", file: "wrongtype.json",
			want: []string{"wrongtype.json:7:23", "properties.changes.changeType", "JSON number where the what-if schema has a string"}},
		{name: "empty", data: " \n", want: []string{"empty document"}},
		{name: "scalar", data: `42`, want: []string{"expected a JSON object or array"}},
		{name: "null", data: `null`, want: []string{"expected a JSON object or array"}},
		{name: "other JSON", data: `{"version": 4, "resources": []}`, want: []string{"not an ARM what-if result"}},
		{name: "ARM resource", data: `{"id": ` + id + `, "properties": {}}`, want: []string{"not an ARM what-if result"}},
		{name: "truncated", data: `{"status": "Succeeded", "changes": [`, want: []string{"t.json:1:37", "unexpected end of JSON input", "truncated"}},
		{name: "trailing garbage", data: `[] x`, want: []string{"t.json:1:4 (byte 3)", "after top-level value"}},
		{name: "changes is an object", data: `{"changes": {}}`, want: []string{"t.json:1:13", "changes has the wrong type", "JSON object where the what-if schema has an array"}},
		{name: "delta is an object", data: `[{"resourceId": ` + id + `, "changeType": "Modify", "delta": {}}]`, want: []string{"delta has the wrong type", "an array"}},
		{name: "children is a string", data: `[{"resourceId": ` + id + `, "changeType": "Modify", "delta": [{"path": "a", "propertyChangeType": "Array", "children": "0"}]}]`, want: []string{"delta.children has the wrong type"}},
		{name: "tags is a list", data: `[{"resourceId": ` + id + `, "changeType": "Delete", "before": {"tags": ["a"]}}]`, want: []string{"before.tags has the wrong type", "an object"}},
		{name: "location is a number", data: `[{"resourceId": ` + id + `, "changeType": "Delete", "before": {"location": 1}}]`, want: []string{"before.location has the wrong type"}},
		{name: "before is a string", data: `[{"resourceId": ` + id + `, "changeType": "Delete", "before": "x"}]`, want: []string{"before has the wrong type"}},
		{name: "status is a number", data: `{"status": 1, "changes": []}`, want: []string{"status has the wrong type"}},
		{name: "missing changeType", data: `{"status": "Succeeded", "changes": [{"resourceId": ` + id + `}]}`, want: []string{"t.json: changes[0]: changeType is missing"}},
		{name: "missing resourceId", data: `{"status": "Succeeded", "properties": {"changes": [{"changeType": "Create"}, {"changeType": "Create"}]}}`, want: []string{"properties.changes[0]: resourceId is missing"}},
		{name: "missing resourceId in potential", data: `{"changes": [], "potentialChanges": [{"changeType": "Modify"}]}`, want: []string{"potentialChanges[0]: resourceId is missing"}},
		{name: "missing resourceId in bare array", data: `[{"changeType": "Create"}]`, want: []string{"t.json: [0]: resourceId is missing"}},
		{name: "both shapes", data: `{"changes": [], "properties": {"changes": []}}`, want: []string{"both \"changes\" and \"properties.changes\""}},
		{name: "still running", data: `{"status": "Running"}`, want: []string{"status Running", "no error code or message"}},
		{name: "succeeded with an error", data: `{"status": "Succeeded", "error": {"code": "X", "message": "y"}, "changes": []}`, want: []string{"X: y"}},
		{name: "odd UTF-16", data: "\xff\xfe{\x00}", want: []string{"odd number of bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data := "t.json", []byte(tt.data)
			if tt.file != "" {
				name, data = tt.file, readFixture(t, tt.file)
			}
			res, err := Parse(name, data)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			if res != nil {
				t.Errorf("result returned with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), name) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestFailedError(t *testing.T) {
	_, err := Parse("failed.json", readFixture(t, "failed.json"))
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FailedError", err)
	}
	if fe.Status != "Failed" || fe.Code != "InvalidTemplateDeployment" || fe.Source != "failed.json" {
		t.Errorf("FailedError = %+v", fe)
	}
	_, err = Parse("m.json", readFixture(t, "malformed.json"))
	if errors.As(err, &fe) {
		t.Errorf("malformed JSON reported as a failed what-if: %v", err)
	}
}

// TestParseAccepts covers documents that are unusual but valid.
func TestParseAccepts(t *testing.T) {
	utf16le := func(s string) []byte {
		out := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	utf16be := func(s string) []byte {
		out := []byte{0xFE, 0xFF}
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u>>8), byte(u))
		}
		return out
	}
	const doc = `{"status": "Succeeded", "changes": [{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/dönerstore", "changeType": "Create"}]}`
	tests := []struct {
		name    string
		data    []byte
		changes int
		status  string
	}{
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, doc...), 1, "Succeeded"},
		{"UTF-16LE from PowerShell", utf16le(doc), 1, "Succeeded"},
		{"UTF-16BE", utf16be(doc), 1, "Succeeded"},
		{"no changes at all", []byte(`{"status": "Succeeded", "properties": {}}`), 0, "Succeeded"},
		{"CLI without changes", []byte(`{"status": "Succeeded", "error": null}`), 0, "Succeeded"},
		{"empty bare array", []byte(` [ ] `), 0, ""},
		{"lowercase enums", []byte(`{"status": "succeeded", "changes": [{"resourceId": "/subscriptions/s", "changeType": "nochange"}]}`), 1, "succeeded"},
		{"unknown fields", []byte(`{"status": "Succeeded", "nextLink": "x", "properties": {"changes": [], "somethingNew": {"a": [1]}}}`), 0, "Succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse("ok.json", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) != tt.changes || res.Status != tt.status {
				t.Errorf("changes, status = %d, %q; want %d, %q", len(res.Changes), res.Status, tt.changes, tt.status)
			}
		})
	}
	res, err := Parse("u.json", utf16le(doc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes[0].Name != "dönerstore" {
		t.Errorf("UTF-16 name = %q", res.Changes[0].Name)
	}
}

func TestParseDeepDelta(t *testing.T) {
	nest := func(levels int) []byte {
		var b strings.Builder
		b.WriteString(`[{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/A.B/c/d", "changeType": "Modify", "delta": [`)
		for range levels {
			b.WriteString(`{"path": "0", "propertyChangeType": "Array", "children": [`)
		}
		b.WriteString(`{"path": "1", "propertyChangeType": "Create", "after": 1}`)
		for range levels {
			b.WriteString(`]}`)
		}
		b.WriteString(`]}]`)
		return []byte(b.String())
	}
	res, err := Parse("deep.json", nest(maxDepth))
	if err != nil {
		t.Fatalf("nesting at the limit: %v", err)
	}
	if got := res.Changes[0].Deltas[0].Path; !strings.HasPrefix(got, "0[0][0]") || !strings.HasSuffix(got, "[0][1]") {
		t.Errorf("path = %q", got)
	}
	_, err = Parse("deep.json", nest(maxDepth+1))
	if err == nil || !strings.Contains(err.Error(), "deep.json: [0].delta[0]: property changes nest deeper than 64 levels") {
		t.Errorf("error = %v", err)
	}
}

// TestParseTagsSide checks that tags describe the live resource: the
// template's tags never stand in for a live payload without tags.
func TestParseTagsSide(t *testing.T) {
	const id = `"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"`
	tests := []struct {
		name   string
		change string
		tags   map[string]string
		region string
	}{
		{"Modify, live without tags", `"changeType": "Modify", "before": {"location": "a"}, "after": {"location": "a", "tags": {"x": "1"}}`, nil, "a"},
		{"Modify, live tags", `"changeType": "Modify", "before": {"tags": {"x": "0"}}, "after": {"location": "b", "tags": {"x": "1"}}`, map[string]string{"x": "0"}, "b"},
		{"Create uses the template", `"changeType": "Create", "after": {"location": "c", "tags": {"y": "2", "n": null, "num": 3}}`, map[string]string{"y": "2", "n": "", "num": "3"}, "c"},
		{"Delete uses live", `"changeType": "Delete", "before": {"location": "d", "tags": {}}`, map[string]string{}, "d"},
		{"identifiers null is no identifiers", `"changeType": "NoChange", "identifiers": null, "before": {"tags": null}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustParse(t, []byte(`[{"resourceId": `+id+`, `+tt.change+`}]`))
			c := res.Changes[0]
			if !reflect.DeepEqual(c.Tags, tt.tags) || (c.Tags == nil) != (tt.tags == nil) || c.Region != tt.region {
				t.Errorf("tags, region = %#v, %q; want %#v, %q", c.Tags, c.Region, tt.tags, tt.region)
			}
		})
	}
	if _, err := Parse("t.json", []byte(`[{"changeType": "Create", "identifiers": null}]`)); err == nil || !strings.Contains(err.Error(), "resourceId is missing") {
		t.Errorf("null identifiers accepted as an identity: %v", err)
	}
}
