package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Synthetic returns a realistic Terraform state (format version 4) holding
// exactly n managed AWS resource instances, for benchmarks and load tests
// that need a large estate without applying one. The same n always yields
// the same bytes.
//
// The mix follows what real estates look like: aws_instance, aws_s3_bucket,
// aws_sqs_queue, aws_security_group, aws_iam_role, aws_vpc and aws_subnet,
// spread over the root module, a plain module, for_each and count modules
// and a nested one; single resources, count and for_each; an aliased
// provider in another region; ids, ARNs and tags shaped like AWS's; and two
// data sources (which readers skip) on top of the n instances.
func Synthetic(n int) []byte {
	g := &synth{rng: uint64(n)*0x9E3779B97F4A7C15 + 0x706c756d62}
	head := synthHead{
		Version:          4,
		TerraformVersion: "1.11.4",
		Serial:           int64(n) + 1,
		Lineage:          g.uuid(),
		Outputs: map[string]synthOutput{
			"vpc_id": {Value: "vpc-" + g.hex(17), Type: "string"},
		},
	}
	resources := []synthResource{
		g.dataSource("aws_caller_identity", "current", map[string]any{
			"account_id": synthAccount, "arn": "arn:aws:iam::" + synthAccount + ":user/ci", "id": synthAccount, "user_id": "AIDA" + g.upper(17),
		}),
		g.dataSource("aws_region", "current", map[string]any{
			"description": "US East (N. Virginia)", "endpoint": "ec2.us-east-1.amazonaws.com", "id": "us-east-1", "name": "us-east-1",
		}),
	}
	// Written one resource at a time, indented as Terraform writes state,
	// so a large n never holds the whole document as Go values.
	var buf bytes.Buffer
	buf.Grow(n * 1900)
	h, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		// Only plain strings, numbers, maps and slices go in.
		panic(fmt.Sprintf("state: Synthetic: %v", err))
	}
	buf.Write(h[:len(h)-2]) // reopen the object: drop "\n}"
	buf.WriteString(",\n  \"resources\": [")
	write := func(r synthResource) {
		if buf.Bytes()[buf.Len()-1] == '}' {
			buf.WriteByte(',')
		}
		out, err := json.MarshalIndent(r, "    ", "  ")
		if err != nil {
			panic(fmt.Sprintf("state: Synthetic: %v", err))
		}
		buf.WriteString("\n    ")
		buf.Write(out)
	}
	for _, r := range resources {
		write(r)
	}
	for block := 0; n > 0; block++ {
		r := g.resource(block, n)
		n -= len(r.Instances)
		write(r)
	}
	buf.WriteString("\n  ],\n  \"check_results\": null\n}\n")
	return buf.Bytes()
}

const synthAccount = "123456789012"

// synthHead is the top of the document; resources are appended to it.
type synthHead struct {
	Version          int                    `json:"version"`
	TerraformVersion string                 `json:"terraform_version"`
	Serial           int64                  `json:"serial"`
	Lineage          string                 `json:"lineage"`
	Outputs          map[string]synthOutput `json:"outputs"`
}

type synthOutput struct {
	Value any    `json:"value"`
	Type  string `json:"type"`
}

type synthResource struct {
	Module    string          `json:"module,omitempty"`
	Mode      string          `json:"mode"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	EachMode  string          `json:"each,omitempty"`
	Provider  string          `json:"provider"`
	Instances []synthInstance `json:"instances"`
}

type synthInstance struct {
	IndexKey            any            `json:"index_key,omitempty"`
	SchemaVersion       int            `json:"schema_version"`
	Attributes          map[string]any `json:"attributes"`
	SensitiveAttributes []any          `json:"sensitive_attributes"`
	Private             string         `json:"private,omitempty"`
	Dependencies        []string       `json:"dependencies,omitempty"`
}

// synth is a splitmix64 generator: tiny, fast and, unlike a library
// generator, guaranteed never to change its sequence.
type synth struct{ rng uint64 }

func (g *synth) next() uint64 {
	g.rng += 0x9E3779B97F4A7C15
	z := g.rng
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (g *synth) intn(n int) int { return int(g.next() % uint64(n)) }

func (g *synth) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.intn(16)]
	}
	return string(b)
}

func (g *synth) upper(n int) string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.intn(len(digits))]
	}
	return string(b)
}

func (g *synth) uuid() string {
	h := g.hex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const awsProvider = `provider["registry.terraform.io/hashicorp/aws"]`

func (g *synth) dataSource(typ, name string, attrs map[string]any) synthResource {
	return synthResource{Mode: "data", Type: typ, Name: name, Provider: awsProvider,
		Instances: []synthInstance{{Attributes: attrs, SensitiveAttributes: []any{}}}}
}

var (
	synthTypes   = []string{"aws_instance", "aws_s3_bucket", "aws_sqs_queue", "aws_security_group", "aws_iam_role", "aws_vpc", "aws_subnet"}
	synthModules = []string{"", "", "", "module.network", `module.app["api"]`, `module.app["worker"]`, "module.data[0]", `module.app["web"].module.queue[0]`}
	synthNames   = []string{"main", "web", "api", "worker", "logs", "events", "private", "public", "batch", "cache"}
	synthKeys    = []string{"a", "b", "c", "eu-west-1a", "orders", "payments", "team/platform", "blue"}
	synthEnvs    = []string{"prod", "staging", "dev"}
)

// resource builds resource block number block, with at most limit instances.
func (g *synth) resource(block, limit int) synthResource {
	typ := synthTypes[g.intn(len(synthTypes))]
	r := synthResource{
		Module:   synthModules[g.intn(len(synthModules))],
		Mode:     "managed",
		Type:     typ,
		Name:     synthNames[g.intn(len(synthNames))] + "_" + strconv.Itoa(block),
		Provider: awsProvider,
	}
	region := "us-east-1"
	switch {
	case r.Module == "" && g.intn(8) == 0:
		r.Provider += ".west"
		region = "eu-west-1"
	case r.Module == "module.network" && g.intn(2) == 0:
		r.Provider = "module.network." + awsProvider
	}
	var keys []any
	switch g.intn(5) {
	case 0, 1, 2:
		keys = []any{nil}
	case 3:
		r.EachMode = "list"
		for i := range 1 + g.intn(4) {
			keys = append(keys, i)
		}
	default:
		r.EachMode = "map"
		start := g.intn(len(synthKeys))
		for i := range 1 + g.intn(4) {
			keys = append(keys, synthKeys[(start+i)%len(synthKeys)])
		}
	}
	if len(keys) > limit {
		keys = keys[:limit]
	}
	for _, k := range keys {
		name := r.Name
		if k != nil {
			name += "-" + fmt.Sprint(k)
		}
		attrs, schema := g.attributes(typ, name, region)
		inst := synthInstance{
			IndexKey:            k,
			SchemaVersion:       schema,
			Attributes:          attrs,
			SensitiveAttributes: []any{},
			Private:             "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ==",
		}
		if typ == "aws_subnet" || typ == "aws_security_group" || typ == "aws_instance" {
			inst.Dependencies = []string{"aws_vpc.main_0"}
		}
		r.Instances = append(r.Instances, inst)
	}
	return r
}

// attributes returns the attributes of one instance in the shape the AWS
// provider 5.x writes them, and the type's schema version.
func (g *synth) attributes(typ, name, region string) (map[string]any, int) {
	env := synthEnvs[g.intn(len(synthEnvs))]
	tags := map[string]any{"Name": name, "Environment": env, "Team": "platform", "CostCenter": strconv.Itoa(1000 + g.intn(9000))}
	tagsAll := map[string]any{"ManagedBy": "terraform"}
	for k, v := range tags {
		tagsAll[k] = v
	}
	az := region + string(rune('a'+g.intn(3)))
	vpc := "vpc-" + g.hex(17)
	switch typ {
	case "aws_instance":
		id := "i-" + g.hex(17)
		ip := fmt.Sprintf("10.%d.%d.%d", g.intn(256), g.intn(256), 1+g.intn(254))
		return map[string]any{
			"id": id, "arn": "arn:aws:ec2:" + region + ":" + synthAccount + ":instance/" + id,
			"ami": "ami-" + g.hex(17), "instance_type": []string{"t3.micro", "t3.large", "m6i.xlarge", "c7g.2xlarge"}[g.intn(4)],
			"availability_zone": az, "subnet_id": "subnet-" + g.hex(17), "private_ip": ip,
			"private_dns":            "ip-" + ip + "." + region + ".compute.internal",
			"vpc_security_group_ids": []any{"sg-" + g.hex(17)}, "key_name": nil, "monitoring": false,
			"ebs_optimized": true, "instance_state": "running", "tenancy": "default", "user_data": nil,
			"associate_public_ip_address": false, "iam_instance_profile": "",
			"metadata_options": []any{map[string]any{"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2, "instance_metadata_tags": "disabled"}},
			"root_block_device": []any{map[string]any{
				"delete_on_termination": true, "device_name": "/dev/xvda", "encrypted": true, "iops": 3000,
				"kms_key_id": "", "throughput": 125, "volume_id": "vol-" + g.hex(17), "volume_size": 20 + g.intn(100), "volume_type": "gp3", "tags": nil, "tags_all": map[string]any{},
			}},
			"tags": tags, "tags_all": tagsAll, "timeouts": nil,
		}, 1
	case "aws_s3_bucket":
		// Bucket names allow only lower-case letters, digits, dots and
		// hyphens.
		bucket := strings.NewReplacer("_", "-", "/", "-").Replace(fmt.Sprintf("%s-%s-%s", env, name, g.hex(6)))
		return map[string]any{
			"id": bucket, "bucket": bucket, "bucket_prefix": "", "arn": "arn:aws:s3:::" + bucket,
			"bucket_domain_name": bucket + ".s3.amazonaws.com", "bucket_regional_domain_name": bucket + ".s3." + region + ".amazonaws.com",
			"hosted_zone_id": "Z3AQBSTGFYJSTF", "region": region, "force_destroy": false, "object_lock_enabled": false,
			"acceleration_status": "", "request_payer": "BucketOwner", "policy": "",
			"versioning": []any{map[string]any{"enabled": g.intn(2) == 0, "mfa_delete": false}},
			"server_side_encryption_configuration": []any{map[string]any{"rule": []any{map[string]any{
				"apply_server_side_encryption_by_default": []any{map[string]any{"kms_master_key_id": "", "sse_algorithm": "AES256"}},
				"bucket_key_enabled":                      false,
			}}}},
			"tags": tags, "tags_all": tagsAll, "timeouts": nil,
		}, 0
	case "aws_sqs_queue":
		queue := strings.ReplaceAll(env+"-"+name, "/", "-")
		return map[string]any{
			"id":  "https://sqs." + region + ".amazonaws.com/" + synthAccount + "/" + queue,
			"arn": "arn:aws:sqs:" + region + ":" + synthAccount + ":" + queue, "name": queue, "name_prefix": "",
			"url":                        "https://sqs." + region + ".amazonaws.com/" + synthAccount + "/" + queue,
			"visibility_timeout_seconds": 30, "message_retention_seconds": 345600, "max_message_size": 262144,
			"delay_seconds": 0, "receive_wait_time_seconds": 20, "fifo_queue": false, "content_based_deduplication": false,
			"sqs_managed_sse_enabled": true, "kms_master_key_id": "", "kms_data_key_reuse_period_seconds": 300,
			"policy": "", "redrive_policy": "", "redrive_allow_policy": "",
			"tags": tags, "tags_all": tagsAll, "timeouts": nil,
		}, 0
	case "aws_security_group":
		id := "sg-" + g.hex(17)
		return map[string]any{
			"id": id, "arn": "arn:aws:ec2:" + region + ":" + synthAccount + ":security-group/" + id,
			"name": name, "name_prefix": "", "description": "Managed by Terraform", "vpc_id": vpc, "owner_id": synthAccount,
			"revoke_rules_on_delete": false,
			"ingress": []any{map[string]any{
				"cidr_blocks": []any{"10.0.0.0/8"}, "description": "https", "from_port": 443, "to_port": 443, "protocol": "tcp",
				"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "security_groups": []any{}, "self": false,
			}},
			"egress": []any{map[string]any{
				"cidr_blocks": []any{"0.0.0.0/0"}, "description": "", "from_port": 0, "to_port": 0, "protocol": "-1",
				"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "security_groups": []any{}, "self": false,
			}},
			"tags": tags, "tags_all": tagsAll, "timeouts": nil,
		}, 1
	case "aws_iam_role":
		role := strings.ReplaceAll(env+"-"+name, "/", "-")
		return map[string]any{
			"id": role, "name": role, "name_prefix": "", "arn": "arn:aws:iam::" + synthAccount + ":role/" + role,
			"unique_id": "AROA" + g.upper(17), "path": "/", "description": "", "max_session_duration": 3600,
			"force_detach_policies": false, "permissions_boundary": "", "create_date": "2024-03-14T09:26:53Z",
			"assume_role_policy":  `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`,
			"managed_policy_arns": []any{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, "inline_policy": []any{},
			"tags": tags, "tags_all": tagsAll,
		}, 0
	case "aws_vpc":
		return map[string]any{
			"id": vpc, "arn": "arn:aws:ec2:" + region + ":" + synthAccount + ":vpc/" + vpc,
			"cidr_block": fmt.Sprintf("10.%d.0.0/16", g.intn(256)), "instance_tenancy": "default",
			"enable_dns_hostnames": true, "enable_dns_support": true, "enable_network_address_usage_metrics": false,
			"main_route_table_id": "rtb-" + g.hex(17), "default_route_table_id": "rtb-" + g.hex(17),
			"default_network_acl_id": "acl-" + g.hex(17), "default_security_group_id": "sg-" + g.hex(17),
			"dhcp_options_id": "dopt-" + g.hex(17), "owner_id": synthAccount,
			"assign_generated_ipv6_cidr_block": false, "ipv6_cidr_block": "", "ipv6_association_id": "", "ipv4_ipam_pool_id": nil,
			"tags": tags, "tags_all": tagsAll,
		}, 1
	default: // aws_subnet
		id := "subnet-" + g.hex(17)
		return map[string]any{
			"id": id, "arn": "arn:aws:ec2:" + region + ":" + synthAccount + ":subnet/" + id,
			"vpc_id": vpc, "cidr_block": fmt.Sprintf("10.%d.%d.0/24", g.intn(256), g.intn(256)),
			"availability_zone": az, "availability_zone_id": "use1-az" + strconv.Itoa(1+g.intn(6)),
			"map_public_ip_on_launch": false, "assign_ipv6_address_on_creation": false, "ipv6_cidr_block": "",
			"private_dns_hostname_type_on_launch": "ip-name", "enable_resource_name_dns_a_record_on_launch": false,
			"owner_id": synthAccount, "outpost_arn": "", "customer_owned_ipv4_pool": "",
			"tags": tags, "tags_all": tagsAll, "timeouts": nil,
		}, 1
	}
}
