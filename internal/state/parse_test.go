package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"plumb/internal/model"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func addresses(rs []model.DesiredResource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Address
	}
	return out
}

func TestParseFixture(t *testing.T) {
	rs, err := Parse("prod.tfstate", readFixture(t, "prod.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	wantAddrs := []string{
		"aws_iam_role.ci",
		"aws_instance.web[0]",
		"aws_instance.web[1]",
		"aws_instance.web[1]", // deposed
		"aws_s3_bucket.logs",
		"aws_vpc.main",
		"random_id.suffix",
		"terraform_data.bootstrap",
		`module.app["api"].module.queue[0].aws_sqs_queue.this`,
		`module.network.aws_subnet.private["a"]`,
		`module.network.aws_subnet.private["b"]`,
		"module.network.aws_subnet.public[0]",
		"module.network.aws_subnet.public[1]",
	}
	if got := addresses(rs); !reflect.DeepEqual(got, wantAddrs) {
		t.Fatalf("addresses:\n got %q\nwant %q", got, wantAddrs)
	}

	byID := map[string]model.DesiredResource{}
	for _, r := range rs {
		if r.Source != "prod.tfstate" || r.Mode != "managed" {
			t.Errorf("%s: source %q mode %q", r.Address, r.Source, r.Mode)
		}
		byID[r.ID] = r
	}
	tests := []struct {
		id                          string
		provider, typ, region, acct string
		name, arn                   string
		tags                        map[string]string
		tainted                     bool
		deposed                     string
	}{
		{id: "ci-deployer", provider: "aws", typ: "aws_iam_role", acct: "123456789012", name: "ci-deployer",
			arn: "arn:aws:iam::123456789012:role/ci-deployer", tags: map[string]string{"ManagedBy": "terraform"}},
		{id: "i-0a3f9c1b2d4e5f607", provider: "aws", typ: "aws_instance", region: "us-east-1", acct: "123456789012",
			arn:  "arn:aws:ec2:us-east-1:123456789012:instance/i-0a3f9c1b2d4e5f607",
			tags: map[string]string{"ManagedBy": "terraform", "Name": "web-0"}, tainted: true},
		{id: "i-0c5d6e7f8091a2b3c", provider: "aws", typ: "aws_instance", region: "us-east-1", acct: "123456789012",
			arn:  "arn:aws:ec2:us-east-1:123456789012:instance/i-0c5d6e7f8091a2b3c",
			tags: map[string]string{"ManagedBy": "terraform", "Name": "web-1"}},
		{id: "i-09f8e7d6c5b4a3921", provider: "aws", typ: "aws_instance", region: "us-east-1", acct: "123456789012",
			arn:  "arn:aws:ec2:us-east-1:123456789012:instance/i-09f8e7d6c5b4a3921",
			tags: map[string]string{"ManagedBy": "terraform", "Name": "web-1"}, deposed: "7f3a2c1d"},
		// The region attribute wins over the region-less S3 ARN; tags_all
		// wins over a null tags.
		{id: "acme-prod-logs", provider: "aws", typ: "aws_s3_bucket", region: "eu-west-1",
			arn: "arn:aws:s3:::acme-prod-logs", tags: map[string]string{"ManagedBy": "terraform"}},
		{id: "q83vEg", provider: "random", typ: "random_id"},
		{id: "9f0c2d6e-1b7a-4c3e-8d5f-2a6b7c8d9e0f", provider: "terraform", typ: "terraform_data"},
		{id: "https://sqs.us-east-1.amazonaws.com/123456789012/api-jobs", provider: "aws", typ: "aws_sqs_queue",
			region: "us-east-1", acct: "123456789012", name: "api-jobs", arn: "arn:aws:sqs:us-east-1:123456789012:api-jobs",
			tags: map[string]string{"ManagedBy": "terraform", "Service": "api"}},
		{id: "subnet-0d1e2f3a4b5c6d7e8", provider: "aws", typ: "aws_subnet", region: "us-east-1", acct: "123456789012",
			arn:  "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0d1e2f3a4b5c6d7e8",
			tags: map[string]string{"ManagedBy": "terraform", "Name": "private-a"}},
	}
	for _, tt := range tests {
		r, ok := byID[tt.id]
		if !ok {
			t.Errorf("no resource with id %s", tt.id)
			continue
		}
		if r.Provider != tt.provider || r.Type != tt.typ || r.Region != tt.region || r.Account != tt.acct ||
			r.Name != tt.name || r.ARN != tt.arn || r.Tainted != tt.tainted || r.Deposed != tt.deposed {
			t.Errorf("%s: got provider=%q type=%q region=%q account=%q name=%q arn=%q tainted=%v deposed=%q",
				tt.id, r.Provider, r.Type, r.Region, r.Account, r.Name, r.ARN, r.Tainted, r.Deposed)
		}
		if !reflect.DeepEqual(r.Tags, tt.tags) {
			t.Errorf("%s: tags %v, want %v", tt.id, r.Tags, tt.tags)
		}
	}
	// Raw keeps JSON types: numbers are float64, nested blocks are lists of
	// maps.
	web0 := byID["i-0a3f9c1b2d4e5f607"].Raw
	rbd, _ := web0["root_block_device"].([]any)
	if len(rbd) != 1 || rbd[0].(map[string]any)["volume_size"] != float64(20) {
		t.Errorf("root_block_device = %#v", web0["root_block_device"])
	}
	if byID["q83vEg"].Tags != nil {
		t.Errorf("random_id has no tags attribute, want nil Tags, got %v", byID["q83vEg"].Tags)
	}
}

// state builds a v4 state document around the given resources JSON.
func state(resources string) []byte {
	return []byte(`{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": [` + resources + `]}`)
}

func TestParseAddresses(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		want      []string
	}{
		{"root single", `{"mode":"managed","type":"aws_vpc","name":"main","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"vpc-1"}}]}`,
			[]string{"aws_vpc.main"}},
		{"count", `{"mode":"managed","type":"aws_instance","name":"web","each":"list","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"index_key":0,"attributes":{"id":"i-1"}},{"index_key":1,"attributes":{"id":"i-2"}},{"index_key":10,"attributes":{"id":"i-3"}}]}`,
			[]string{"aws_instance.web[0]", "aws_instance.web[1]", "aws_instance.web[10]"}},
		{"for_each", `{"mode":"managed","type":"aws_subnet","name":"s","each":"map","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"index_key":"eu-west-1a","attributes":{"id":"subnet-1"}},{"index_key":"team/platform","attributes":{"id":"subnet-2"}}]}`,
			[]string{`aws_subnet.s["eu-west-1a"]`, `aws_subnet.s["team/platform"]`}},
		{"for_each keys needing escapes", `{"mode":"managed","type":"aws_s3_bucket","name":"b","each":"map","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"index_key":"say \"hi\"\\now","attributes":{"id":"b1"}},{"index_key":"${var}%{x}$5","attributes":{"id":"b2"}},{"index_key":"","attributes":{"id":"b3"}},{"index_key":"tab\tbell\u0007","attributes":{"id":"b4"}}]}`,
			[]string{`aws_s3_bucket.b["say \"hi\"\\now"]`, `aws_s3_bucket.b["$${var}%%{x}$5"]`, `aws_s3_bucket.b[""]`, `aws_s3_bucket.b["tab\tbell\u0007"]`}},
		{"nested modules with indexes", `{"module":"module.a[\"x\"].module.b[0]","mode":"managed","type":"aws_sqs_queue","name":"q","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"https://sqs/q"}}]}`,
			[]string{`module.a["x"].module.b[0].aws_sqs_queue.q`}},
		{"data sources skipped", `{"mode":"data","type":"aws_ami","name":"ubuntu","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"ami-1"}}]},
			{"module":"module.net","mode":"data","type":"aws_availability_zones","name":"all","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"us-east-1"}}]},
			{"module":"module.net","mode":"managed","type":"aws_vpc","name":"this","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"vpc-1"}}]}`,
			[]string{"module.net.aws_vpc.this"}},
		{"resource without instances is skipped", `{"mode":"managed","type":"aws_vpc","name":"gone","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[]},{"mode":"managed","type":"aws_vpc","name":"main","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"vpc-1"}}]}`,
			[]string{"aws_vpc.main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse("t.tfstate", state(tt.resources))
			if err != nil {
				t.Fatal(err)
			}
			if got := addresses(rs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseInstanceFlags(t *testing.T) {
	rs, err := Parse("t.tfstate", state(`{"mode":"managed","type":"aws_instance","name":"web","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[
		{"status":"tainted","attributes":{"id":"i-new"}},
		{"deposed":"00000001","attributes":{"id":"i-old"}},
		{"deposed":"00000002","status":"tainted","attributes":{"id":"i-older"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      string
		tainted bool
		deposed string
	}{{"i-new", true, ""}, {"i-old", false, "00000001"}, {"i-older", true, "00000002"}}
	if len(rs) != len(want) {
		t.Fatalf("got %d resources", len(rs))
	}
	for i, w := range want {
		r := rs[i]
		if r.Address != "aws_instance.web" || r.ID != w.id || r.Tainted != w.tainted || r.Deposed != w.deposed {
			t.Errorf("%d: got %s id=%s tainted=%v deposed=%q", i, r.Address, r.ID, r.Tainted, r.Deposed)
		}
	}
}

func TestParseAttributeExtraction(t *testing.T) {
	tests := []struct {
		name   string
		attrs  string
		id     string
		region string
		tags   map[string]string
	}{
		{"numeric id has no exponent", `{"id": 123456789012345}`, "123456789012345", "", nil},
		{"fractional id", `{"id": 1.5}`, "1.5", "", nil},
		{"region from availability zone", `{"id": "x", "availability_zone": "eu-central-1c"}`, "x", "eu-central-1", nil},
		{"region attribute first", `{"id": "x", "region": "ap-south-1", "arn": "arn:aws:sqs:us-east-1:1:q"}`, "x", "ap-south-1", nil},
		{"tags when tags_all absent", `{"id": "x", "tags": {"a": "b"}}`, "x", "", map[string]string{"a": "b"}},
		{"null tags mean none", `{"id": "x", "tags": null, "tags_all": null}`, "x", "", map[string]string{}},
		{"no id", `{}`, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse("t.tfstate", state(`{"mode":"managed","type":"aws_thing","name":"n","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":`+tt.attrs+`}]}`))
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.ID != tt.id || r.Region != tt.region || !reflect.DeepEqual(r.Tags, tt.tags) {
				t.Errorf("got id=%q region=%q tags=%#v", r.ID, r.Region, r.Tags)
			}
		})
	}
}

func TestProviderType(t *testing.T) {
	tests := []struct {
		addr string
		want string
		ok   bool
	}{
		{`provider["registry.terraform.io/hashicorp/aws"]`, "aws", true},
		{`provider["registry.terraform.io/hashicorp/aws"].west`, "aws", true},
		{`module.net.provider["registry.terraform.io/hashicorp/aws"]`, "aws", true},
		{`module.a["x"].module.b[0].provider["registry.terraform.io/hashicorp/aws"].east`, "aws", true},
		{`provider["registry.terraform.io/hashicorp/azurerm"]`, "azurerm", true},
		{`provider["registry.opentofu.org/hashicorp/aws"]`, "aws", true},
		{`provider["registry.terraform.io/integrations/github"]`, "github", true},
		{`provider["terraform.io/builtin/terraform"]`, "terraform", true},
		{`provider["example.com/acme/widgets"]`, "widgets", true},
		{`provider.aws`, "aws", true},
		{`provider.aws.west`, "aws", true},
		{`module.legacy.provider.aws.west`, "aws", true},
		{``, "", true},
		{`provider["registry.terraform.io/hashicorp/aws"`, "", false},
		{`provider["registry.terraform.io/hashicorp/aws"]west`, "", false},
		{`provider["registry.terraform.io/hashicorp/"]`, "", false},
		{`aws`, "", false},
		{`xprovider.aws`, "", false},
	}
	for _, tt := range tests {
		got, ok := providerType(tt.addr)
		if got != tt.want || ok != tt.ok {
			t.Errorf("providerType(%q) = %q, %v; want %q, %v", tt.addr, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseFlatmapFixture(t *testing.T) {
	rs, err := Parse("legacy_flat.tfstate", readFixture(t, "legacy_flat.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d resources", len(rs))
	}
	r := rs[0]
	if r.Address != "module.legacy.aws_security_group.ssh" || r.Provider != "aws" || r.ID != "sg-0f1e2d3c4b5a69788" || r.Region != "eu-west-1" {
		t.Errorf("got %s provider=%s id=%s region=%s", r.Address, r.Provider, r.ID, r.Region)
	}
	if want := map[string]string{"Name": "ssh", "kubernetes.io/cluster/prod": "owned"}; !reflect.DeepEqual(r.Tags, want) {
		t.Errorf("tags = %v, want %v", r.Tags, want)
	}
	wantIngress := []any{
		map[string]any{"cidr_blocks": []any{}, "from_port": "443", "protocol": "tcp", "self": "true", "to_port": "443"},
		map[string]any{"cidr_blocks": []any{"203.0.113.0/24"}, "from_port": "22", "protocol": "tcp", "self": "false", "to_port": "22"},
	}
	if !reflect.DeepEqual(r.Raw["ingress"], wantIngress) {
		t.Errorf("ingress = %#v\nwant %#v", r.Raw["ingress"], wantIngress)
	}
	if !reflect.DeepEqual(r.Raw["egress"], []any{}) {
		t.Errorf("egress = %#v", r.Raw["egress"])
	}
}

func TestUnflatten(t *testing.T) {
	tests := []struct {
		name string
		flat map[string]string
		want map[string]any
	}{
		{"scalars stay strings", map[string]string{"id": "x", "port": "22", "enabled": "true"},
			map[string]any{"id": "x", "port": "22", "enabled": "true"}},
		{"map with dotted keys", map[string]string{"tags.%": "2", "tags.Name": "a", "tags.a.b.c": "d"},
			map[string]any{"tags": map[string]any{"Name": "a", "a.b.c": "d"}}},
		{"empty map", map[string]string{"tags.%": "0"}, map[string]any{"tags": map[string]any{}}},
		{"list of scalars in index order", map[string]string{"l.#": "11", "l.0": "a", "l.1": "b", "l.10": "k", "l.2": "c"},
			map[string]any{"l": []any{"a", "b", "c", "k"}}},
		{"nested blocks", map[string]string{
			"root_block_device.#": "1", "root_block_device.0.volume_size": "20",
			"root_block_device.0.tags.%": "1", "root_block_device.0.tags.x": "y",
			"root_block_device.0.ids.#": "1", "root_block_device.0.ids.0": "vol-1",
		}, map[string]any{"root_block_device": []any{map[string]any{
			"volume_size": "20", "tags": map[string]any{"x": "y"}, "ids": []any{"vol-1"},
		}}}},
		{"object without markers", map[string]string{"a.b": "1", "a.c": "2"},
			map[string]any{"a": map[string]any{"b": "1", "c": "2"}}},
		{"odd keys do not panic", map[string]string{"": "e", ".": "dot", "x.": "1", "#": "h", "y.#": "z", "y.q": "w"},
			map[string]any{"": map[string]any{"": "dot"}, "x": map[string]any{"": "1"}, "#": "h", "y": []any{"w"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unflatten(tt.flat)
			if tt.name == "odd keys do not panic" {
				// "" is both a scalar and a prefix; only check it did not
				// panic and kept the rest.
				delete(got, "")
				delete(tt.want, "")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
	// A pathological depth is bounded instead of recursing per dot.
	deep := map[string]string{strings.Repeat("a.", 10000) + "b": "v"}
	if got := unflatten(deep); len(got) != 1 {
		t.Errorf("deep key: %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	managed := `{"mode":"managed","type":"aws_vpc","name":"main","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]","instances":[{"attributes":{"id":"vpc-1"}}]}`
	tests := []struct {
		name string
		data string
		// want are substrings the message must contain.
		want []string
		is   error
	}{
		{"syntax error with line and column", "{\n  \"version\": 4,\n  \"resources\": [\n    {\"mode\": \"managed\",}\n  ]\n}",
			[]string{"read state prod.tfstate: invalid JSON at line 4, column 24 (byte offset 58)", "invalid character '}'"}, nil},
		{"truncated document", "{\n  \"version\": 4,\n  \"resources\": [",
			[]string{"read state prod.tfstate: invalid JSON at line 3, column 17 (byte offset 34)", "unexpected end of JSON input"}, nil},
		{"syntax error after multibyte characters counts columns in characters", "{\"version\": 4, \"x\": \"héllo\" ]",
			[]string{"line 1, column 29 (byte offset 29)"}, nil},
		{"trailing garbage", `{"version": 4} x`, []string{"line 1, column 16", "after top-level value"}, nil},
		{"wrong type with field path", "{\n  \"version\": 4,\n  \"resources\": [\n    " + managed + ",\n    {\"mode\": \"managed\", \"type\": \"aws_vpc\", \"name\": \"b\", \"instances\": [{}, {\"attributes\": [1, 2]}]}\n  ]\n}",
			[]string{"read state prod.tfstate: line 5, column 90: resources[1].instances[1].attributes: expected an object, found an array"}, nil},
		{"wrong type for a string field", `{"version": 4, "resources": [{"mode": 7}]}`,
			[]string{"line 1, column 39: resources[0].mode: expected a string, found a number"}, nil},
		{"document is not an object", `[1, 2]`, []string{`line 1, column 1: expected a Terraform state (a JSON object with "version" and "resources"), found an array`}, nil},
		{"version as string", `{"version": "4", "resources": []}`, []string{"line 1, column 13: version: expected an integer, found a string"}, nil},
		{"version 3", string(readFixture(t, "v3.tfstate")),
			[]string{"read state prod.tfstate: unsupported state version 3 (plumb reads version 4, written by Terraform 0.12 and later; run terraform state pull with a current Terraform)"}, nil},
		{"version 3 with a shape that breaks v4 decoding", `{"version": 3, "resources": {"aws_vpc.main": {}}}`,
			[]string{"unsupported state version 3"}, nil},
		{"future version", `{"version": 5, "resources": []}`, []string{"unsupported state version 5", "newer Terraform or OpenTofu"}, nil},
		{"missing version", `{"terraform_version": "1.11.4", "resources": []}`, []string{`read state prod.tfstate: no "version" field`}, nil},
		{"null document", `null`, []string{`no "version" field`}, nil},
		{"empty file", ``, []string{"read state prod.tfstate: file is empty"}, nil},
		{"utf-16", "\xff\xfe{\x00", []string{"read state prod.tfstate: file is UTF-16 encoded"}, nil},
		{"no resources", `{"version": 4, "serial": 1, "resources": []}`, []string{"state prod.tfstate has no resources"}, ErrNoResources},
		{"only data sources", `{"version": 4, "resources": [{"mode": "data", "type": "aws_ami", "name": "a", "instances": [{"attributes": {}}]}]}`,
			[]string{"state prod.tfstate has no resources (only 1 data sources)"}, ErrNoResources},
		{"unknown mode", `{"version": 4, "resources": [{"mode": "ephemeral", "type": "aws_vpc", "name": "m", "instances": []}]}`,
			[]string{`line 1, column 39: resources[0].mode: unknown mode "ephemeral"`}, nil},
		{"missing type", `{"version": 4, "resources": [{"mode": "managed", "name": "m"}]}`,
			[]string{`line 1, column 30: resources[0]: resource has no "type"`}, nil},
		{"bad index key", `{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "m", "instances": [{"index_key": true}]}]}`,
			[]string{"resources[0].instances[0].index_key: aws_vpc.m: index key must be a number or a string, found a boolean"}, nil},
		{"fractional index key", `{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "m", "instances": [{"index_key": 1.5}]}]}`,
			[]string{"index key 1.5 is not a valid count index"}, nil},
		{"unknown status", `{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "m", "instances": [{"status": "gone"}]}]}`,
			[]string{`resources[0].instances[0].status: aws_vpc.m: unknown instance status "gone"`}, nil},
		{"bad provider", `{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "m", "provider": "aws", "instances": []}]}`,
			[]string{`resources[0].provider: invalid provider address "aws"`}, nil},
		{"bad module path", `{"version": 4, "resources": [{"module": "net", "mode": "managed", "type": "aws_vpc", "name": "m", "instances": []}]}`,
			[]string{`resources[0].module: invalid module path "net"`}, nil},
		{"flatmap value not a string", `{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "m", "instances": [{"attributes_flat": {"id": 1}}]}]}`,
			[]string{"resources[0].instances[0].attributes_flat.id: expected a string, found a number"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse("prod.tfstate", []byte(tt.data))
			if err == nil {
				t.Fatalf("no error; got %d resources", len(rs))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "prod.tfstate") {
				t.Errorf("error %q does not name the file", err)
			}
			// The reader of the message knows the state format, not
			// plumb's Go types.
			for _, leak := range []string{"Go value", "Go struct", "state.state", "cannot unmarshal", "interface {}"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q speaks of Go types (%q)", err, leak)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if tt.is == nil && errors.Is(err, ErrNoResources) {
				t.Errorf("error %q wrongly matches ErrNoResources", err)
			}
		})
	}
}

func TestParseBOM(t *testing.T) {
	data := append([]byte{0xEF, 0xBB, 0xBF}, readFixture(t, "prod.tfstate")...)
	rs, err := Parse("bom.tfstate", data)
	if err != nil || len(rs) != 13 {
		t.Fatalf("got %d resources, %v", len(rs), err)
	}
}

func TestHCLQuote(t *testing.T) {
	tests := map[string]string{
		"plain":      `"plain"`,
		"":           `""`,
		`a"b`:        `"a\"b"`,
		`a\b`:        `"a\\b"`,
		"l1\nl2\r":   `"l1\nl2\r"`,
		"${x}":       `"$${x}"`,
		"%{if}":      `"%%{if}"`,
		"$x %y $":    `"$x %y $"`,
		"\x00":       `"\u0000"`,
		"\U0001F600": "\"\U0001F600\"",
		"\U000E0001": `"\U000e0001"`,
		"héllo":      `"héllo"`,
	}
	for in, want := range tests {
		if got := hclQuote(in); got != want {
			t.Errorf("hclQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
