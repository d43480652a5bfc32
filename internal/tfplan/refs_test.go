package tfplan

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/policy"
)

// TestReferencesOnOrdinaryPlan follows the configuration's references in
// a real plan of Terraform written the ordinary way: for_each with
// each.key and each.value, a module called with for_each, module outputs,
// and a reference into a module's resource from the root.
func TestReferencesOnOrdinaryPlan(t *testing.T) {
	name := filepath.Join("testdata", "ordinary", "compliant", "plan.json")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := Read(name, data, "")
	if err != nil {
		t.Fatal(err)
	}
	subs := byAddress(subjects)
	tests := []struct {
		address, attr string
		refs          []string
		configured    bool
	}{
		// bucket = aws_s3_bucket.exports[each.key].id: the instance of the
		// same key.
		{`aws_s3_bucket_public_access_block.exports["daily"]`, "bucket", []string{`aws_s3_bucket.exports["daily"]`}, true},
		// Inside a module instance, bucket = aws_s3_bucket.this.id.
		{`module.data["raw"].aws_s3_bucket_public_access_block.this`, "bucket", []string{`module.data["raw"].aws_s3_bucket.this`}, true},
		{"module.logs.aws_s3_bucket_policy.this", "policy", []string{"module.logs.aws_s3_bucket.this"}, true},
		// Through a module output.
		{"aws_cloudtrail.main", "s3_bucket_name", []string{"module.logs.aws_s3_bucket.this"}, true},
		{"aws_cloudtrail.main", "cloud_watch_logs_group_arn", []string{"aws_cloudwatch_log_group.trail"}, true},
		{"aws_flow_log.main", "vpc_id", []string{"aws_vpc.main"}, true},
		// A computed id: no configuration, computed from the resource.
		{`aws_s3_bucket.exports["daily"]`, "id", nil, false},
	}
	for _, tt := range tests {
		s, ok := subs[tt.address]
		if !ok {
			t.Errorf("no subject %s", tt.address)
			continue
		}
		u, ok := s.Attributes[tt.attr].(*policy.Unknown)
		if !ok {
			t.Errorf("%s.%s = %#v, want an Unknown", tt.address, tt.attr, s.Attributes[tt.attr])
			continue
		}
		if u.Configured != tt.configured || u.Untraced || !slices.Equal(u.Refs, tt.refs) {
			t.Errorf("%s.%s = %+v, want configured=%v refs=%v", tt.address, tt.attr, *u, tt.configured, tt.refs)
		}
	}
	// A known value keeps its references: module "data" passes
	// aws_kms_key.main.arn into the module's variable.
	enc := subs[`module.data["curated"].aws_s3_bucket_server_side_encryption_configuration.this`]
	if got := enc.Refs["bucket"]; !slices.Equal(got, []string{`module.data["curated"].aws_s3_bucket.this`}) {
		t.Errorf("Refs[bucket] = %v", got)
	}
	// tags_all = default_tags (a constant) merged with tags.
	vpc := subs["aws_vpc.main"]
	if all, ok := vpc.Attributes["tags_all"].(map[string]any); !ok || all["owner"] != "payments" || all["data-classification"] != "confidential" {
		t.Errorf("tags_all = %#v, want the provider's default_tags", vpc.Attributes["tags_all"])
	}
}

// TestResolveReferences covers the reference forms one by one on a small
// plan: what can be followed is, and what cannot (a local, a data source,
// a whole collection) is marked untraced rather than guessed.
func TestResolveReferences(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzRead", "references"))
	if err != nil {
		t.Fatal(err)
	}
	// The corpus file holds the plan as a Go string literal.
	subjects, err := Read("plan.json", unquoteCorpus(t, data), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	subs := byAddress(subjects)
	pab := subs[`aws_s3_bucket_public_access_block.data["a"]`].Attributes["bucket"].(*policy.Unknown)
	if !slices.Equal(pab.Refs, []string{`aws_s3_bucket.data["a"]`}) || pab.Untraced {
		t.Errorf("each.value.id = %+v", *pab)
	}
	flow := subs[`module.m[0].aws_flow_log.x`].Attributes["vpc_id"].(*policy.Unknown)
	if !slices.Equal(flow.Refs, []string{"aws_vpc.main"}) || flow.Untraced {
		t.Errorf("var.vpc through the module call = %+v", *flow)
	}

	ix := newRefIndex(mustDecode(t, unquoteCorpus(t, data)))
	root := scope{}
	keyed := scope{key: "a", hasKey: true}
	cases := []struct {
		name     string
		sc       scope
		refs     []string
		want     []string
		untraced bool
	}{
		{"literal key", root, []string{`aws_s3_bucket.data["a"].id`, `aws_s3_bucket.data["a"]`, "aws_s3_bucket.data"}, []string{`aws_s3_bucket.data["a"]`}, false},
		{"each.key", keyed, []string{"aws_s3_bucket.data", "each.key"}, []string{`aws_s3_bucket.data["a"]`}, false},
		{"whole collection", root, []string{"aws_s3_bucket.data"}, []string{`aws_s3_bucket.data["a"]`}, false},
		{"missing key", root, []string{`aws_s3_bucket.data["zz"].id`}, nil, true},
		{"local", root, []string{"local.names"}, nil, true},
		{"data source", root, []string{"data.aws_caller_identity.me.account_id"}, nil, true},
		{"root variable is known", root, []string{"var.prefix"}, nil, false},
		{"module output", root, []string{"module.m[0].id", "module.m[0]"}, []string{"module.m[0].aws_flow_log.x"}, false},
		{"unknown resource", root, []string{"aws_vpc.nope.id"}, nil, true},
	}
	for _, c := range cases {
		got, untraced := ix.resolve(c.sc, c.refs, 0)
		if !slices.Equal(got, c.want) || untraced != c.untraced {
			t.Errorf("%s: resolve(%v) = %v, untraced=%v; want %v, %v", c.name, c.refs, got, untraced, c.want, c.untraced)
		}
	}
}

func unquoteCorpus(t *testing.T, data []byte) []byte {
	t.Helper()
	lines := strings.SplitN(string(data), "\n", 3)
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("not a fuzz corpus file: %q", data)
	}
	lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func mustDecode(t *testing.T, data []byte) *tfjson.Plan {
	t.Helper()
	p, err := decode("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
