package codify

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestResourceName(t *testing.T) {
	taken := map[string]bool{"aws_s3_bucket.logs": true}
	tests := []struct {
		r    model.Resource
		want string
	}{
		{model.Resource{Type: "aws_instance", ID: "i-0abc", Tags: map[string]string{"Name": "Redis (hotfix) #2"}}, "redis_hotfix_2"},
		{model.Resource{Type: "aws_s3_bucket", ID: "logs", Name: "logs"}, "logs_2"},
		{model.Resource{Type: "aws_s3_bucket", ID: "logs", Name: "logs"}, "logs_3"},
		{model.Resource{Type: "aws_sqs_queue", ID: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}, "jobs"},
		{model.Resource{Type: "aws_security_group", ID: "sg-0123", Tags: map[string]string{}}, "sg_0123"},
		{model.Resource{Type: "aws_iam_role", ID: "2fast", Name: "2fast"}, "r_2fast"},
		{model.Resource{Type: "aws_iam_role", ID: "---", Name: "---"}, "adopted"},
		{model.Resource{Type: "aws_kms_key", ID: "k", Tags: map[string]string{"Name": "Ünïcode only ✓"}}, "n_code_only"},
	}
	for _, tt := range tests {
		if got := resourceName(tt.r, taken); got != tt.want {
			t.Errorf("resourceName(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

var testSchema = &schemaBlock{
	Attributes: map[string]schemaAttribute{
		"name":          {Required: true},
		"description":   {Optional: true},
		"delay_seconds": {Optional: true},
		"fifo_queue":    {Optional: true},
		"policy":        {Optional: true, Computed: true},
		"vpc_id":        {Optional: true, Computed: true},
		"subnet_ids":    {Optional: true, Computed: true},
		"ipv6_count":    {Optional: true, Computed: true},
		"tags":          {Optional: true},
		"tags_all":      {Optional: true, Computed: true},
		"kms_key_arn":   {Optional: true, Computed: true},
	},
}

func init() {
	testSchema.BlockTypes = map[string]struct {
		NestingMode string      `json:"nesting_mode"`
		Block       schemaBlock `json:"block"`
		MinItems    int         `json:"min_items"`
	}{
		"metadata": {NestingMode: "list", Block: schemaBlock{Attributes: map[string]schemaAttribute{
			"tokens": {Optional: true, Computed: true}, "hops": {Optional: true},
		}}},
		"volume": {NestingMode: "list", Block: schemaBlock{Attributes: map[string]schemaAttribute{
			"size": {Optional: true, Computed: true}, "encrypted": {Optional: true, Computed: true},
		}}},
	}
}

const generatedBlock = `resource "aws_thing" "web" {
  name          = "web"
  description   = "web servers"
  delay_seconds = 0
  fifo_queue    = false
  policy        = jsonencode({ Version = "2012-10-17" })
  vpc_id        = "vpc-1"
  subnet_ids    = ["subnet-1", "subnet-unmanaged"]
  ipv6_count    = 0
  kms_key_arn   = "arn:aws:kms:us-east-1:1:key/k"
  other_null    = null
  tags          = {}
  tags_all      = {}
  metadata {
    tokens = "optional"
    hops   = 1
  }
  volume {
    size      = 0
    encrypted = false
  }
}
`

// TestCleanAndRender applies the cleaning rules to a generated block and
// renders it with references.
func TestCleanAndRender(t *testing.T) {
	a := &adoption{typ: "aws_thing", name: "web", importID: "thing-1", generated: []byte(generatedBlock)}
	if err := a.clean(testSchema); err != nil {
		t.Fatal(err)
	}
	var dropped []string
	for k := range a.drops {
		dropped = append(dropped, k)
	}
	sort.Strings(dropped)
	want := []string{"delay_seconds", "description", "fifo_queue", "ipv6_count", "metadata", "other_null", "tags", "tags_all", "volume"}
	if !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if got := a.drops["metadata"]; !reflect.DeepEqual(got, []string{"metadata.0.hops"}) {
		t.Errorf("metadata drops = %v: the computed token stays, the optional hop count is a default candidate", got)
	}
	if got := a.drops["volume"]; !reflect.DeepEqual(got, []string{"volume.0"}) {
		t.Errorf("volume drops = %v: a block left empty goes whole", got)
	}

	refs := newRefIndex()
	refs.add("aws_vpc.main", "vpc-1", "arn:aws:ec2:vpc/vpc-1")
	refs.add("aws_subnet.a", "subnet-1", "")
	refs.add("aws_kms_key.k", "k", "arn:aws:kms:us-east-1:1:key/k")
	refs.add("aws_thing.web", "thing-1", "")
	out, referenced, err := a.render(refs)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, w := range []string{
		`vpc_id = aws_vpc.main.id`,
		`subnet_ids = [aws_subnet.a.id, "subnet-unmanaged"]`,
		`kms_key_arn = aws_kms_key.k.arn`,
		`policy = jsonencode({ Version = "2012-10-17" })`,
		`metadata { tokens = "optional" }`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("rendered block lacks %q:\n%s", w, out)
		}
	}
	for _, nw := range []string{"description", "delay_seconds", "other_null", "tags", "volume", "hops"} {
		if strings.Contains(text, nw) {
			t.Errorf("rendered block still has %q:\n%s", nw, out)
		}
	}
	if !reflect.DeepEqual(referenced, []string{"kms_key_arn", "subnet_ids", "vpc_id"}) {
		t.Errorf("referenced = %v", referenced)
	}

	// Proof rounds: put description back, keep vpc_id literal.
	a.restored["description"] = "description from x to y"
	a.literal["vpc_id"] = true
	a.errorDrops["kms_key_arn"] = "rejected"
	out, _, err = a.render(refs)
	if err != nil {
		t.Fatal(err)
	}
	text = strings.Join(strings.Fields(string(out)), " ")
	for _, w := range []string{`description = "web servers"`, `vpc_id = "vpc-1"`} {
		if !strings.Contains(text, w) {
			t.Errorf("after adjustments the block lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(text, "kms_key_arn") {
		t.Errorf("an argument Terraform rejected is still written:\n%s", out)
	}
}

func TestRefIndexAmbiguous(t *testing.T) {
	x := newRefIndex()
	x.add("aws_vpc.a", "vpc-1", "")
	x.add("aws_default_vpc.b", "vpc-1", "")
	if got := x.lookup("vpc_id", "vpc-1", "aws_subnet.s"); got != "" {
		t.Errorf("an id two resources share became %q", got)
	}
	x.add("aws_subnet.s", "subnet-1", "")
	if got := x.lookup("name", "subnet-1", "aws_x.y"); got != "" {
		t.Errorf("a non-id argument got a reference %q", got)
	}
	if got := x.lookup("subnet_id", "subnet-1", "aws_subnet.s"); got != "" {
		t.Errorf("a resource refers to itself: %q", got)
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want parsedAddress
		err  bool
	}{
		{in: "aws_s3_bucket.logs", want: parsedAddress{typ: "aws_s3_bucket", name: "logs"}},
		{in: `aws_subnet.private["a"]`, want: parsedAddress{typ: "aws_subnet", name: "private", indexed: true}},
		{in: "aws_subnet.private[0]", want: parsedAddress{typ: "aws_subnet", name: "private", indexed: true}},
		{in: "module.net.aws_vpc.main", want: parsedAddress{module: "module.net", typ: "aws_vpc", name: "main"}},
		{in: `module.net["eu"].module.sub.aws_vpc.main`, want: parsedAddress{module: "module.net.module.sub", typ: "aws_vpc", name: "main"}},
		{in: "data.aws_ami.ubuntu", want: parsedAddress{data: true, typ: "aws_ami", name: "ubuntu"}},
		{in: "aws_s3_bucket", err: true},
		{in: "aws_s3_bucket.a.b", err: true},
		{in: "not an address", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := parseAddress(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("parseAddress(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestLocateLine(t *testing.T) {
	src := []byte(`import {
  to = aws_sqs_queue.q
  id = "u"
}

resource "aws_sqs_queue" "q" {
  name = "q"
  max_message_size = 1048576
  nested {
    a = 1
  }
}

removed {
  from = aws_s3_bucket.old
  lifecycle {
    destroy = false
  }
}
`)
	tests := []struct {
		line      int
		addr, key string
	}{
		{2, "aws_sqs_queue.q", ""}, {8, "aws_sqs_queue.q", "max_message_size"}, {10, "aws_sqs_queue.q", "nested"},
		{6, "aws_sqs_queue.q", ""}, {17, "aws_s3_bucket.old", ""}, {5, "", ""},
	}
	for _, tt := range tests {
		addr, key := locateLine(src, tt.line)
		if addr != tt.addr || key != tt.key {
			t.Errorf("line %d: %q %q, want %q %q", tt.line, addr, key, tt.addr, tt.key)
		}
	}
}

func TestDiffKeys(t *testing.T) {
	rc := &plannedChange{}
	rc.Change.Before = map[string]any{"description": "web", "id": "sg-1", "name": "x"}
	rc.Change.After = map[string]any{"description": "Managed by Terraform", "name": "x"}
	rc.Change.AfterUnknown = map[string]any{"id": true, "arn": true, "ingress": []any{}}
	if got := diffKeys(rc); !reflect.DeepEqual(got, []string{"description"}) {
		t.Errorf("diffKeys = %v: known differences first, their unknown consequences left out", got)
	}
	rc.Change.After["description"] = "web"
	if got := diffKeys(rc); !reflect.DeepEqual(got, []string{"arn", "id"}) {
		t.Errorf("diffKeys = %v, want the unknown keys when nothing known differs", got)
	}
}

// BenchmarkCleanRender50 is plumb's own work for 50 adopted resources:
// cleaning generated blocks, rendering them with references and writing
// the import blocks (Terraform's runs are measured by bench/codify).
func BenchmarkCleanRender50(b *testing.B) {
	refs := newRefIndex()
	refs.add("aws_vpc.main", "vpc-1", "")
	refs.add("aws_subnet.a", "subnet-1", "")
	for b.Loop() {
		for i := 0; i < 50; i++ {
			a := &adoption{typ: "aws_thing", name: "web", importID: "thing-1", generated: []byte(generatedBlock)}
			if err := a.clean(testSchema); err != nil {
				b.Fatal(err)
			}
			if _, _, err := a.render(refs); err != nil {
				b.Fatal(err)
			}
			_ = a.importBlock()
		}
	}
}
