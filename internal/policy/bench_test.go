package policy

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// The benchmark scenario: 20 Terraform types, 1,000 rules spread evenly
// over them (50 per type) and 100,000 resources spread evenly too, so each
// resource meets 50 rules: 5,000,000 evaluations per run. The rules mix
// the shapes the packs use: has() guards, comparisons, string functions,
// map membership and nested comprehensions over security group rules.
const (
	benchTypes     = 20
	benchRules     = 1000
	benchResources = 100_000
)

var benchTemplates = []string{
	`!has(resource.encrypted) || resource.encrypted != true`,
	`has(resource.size) && resource.size > %d`,
	`resource.name.startsWith("svc-%d")`,
	`!has(resource.tags) || !("owner" in resource.tags) || resource.tags.owner == "team-%d"`,
	`has(resource.ingress) && resource.ingress.exists(r, r.cidr_blocks.exists(c, c == "0.0.0.0/0") && r.from_port <= %d && r.to_port >= %d)`,
}

func benchSet(tb testing.TB) *Set {
	rules := make([]*Rule, 0, benchRules)
	for i := range benchRules {
		tmpl := benchTemplates[i%len(benchTemplates)]
		deny := tmpl
		switch tmpl {
		case benchTemplates[0]:
		case benchTemplates[4]:
			deny = fmt.Sprintf(tmpl, i%1024, i%1024)
		default:
			deny = fmt.Sprintf(tmpl, i)
		}
		rules = append(rules, &Rule{
			ID:        fmt.Sprintf("bench-%04d", i),
			Resources: []string{fmt.Sprintf("aws_type_%02d", i%benchTypes)},
			Deny:      deny,
			Severity:  "medium",
		})
	}
	s, err := Compile(rules)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func benchSubjects() []Subject {
	subs := make([]Subject, benchResources)
	for i := range subs {
		subs[i] = Subject{
			Provider: "aws",
			Type:     fmt.Sprintf("aws_type_%02d", i%benchTypes),
			ID:       fmt.Sprintf("id-%d", i),
			Attributes: map[string]any{
				"name":      fmt.Sprintf("svc-%d", i),
				"encrypted": i%3 == 0,
				"size":      float64(i % 500),
				"tags":      map[string]any{"owner": fmt.Sprintf("team-%d", i%7), "environment": "prod"},
				"ingress": []any{
					map[string]any{"protocol": "tcp", "from_port": float64(443), "to_port": float64(443), "cidr_blocks": []any{"0.0.0.0/0"}},
					map[string]any{"protocol": "tcp", "from_port": float64(22), "to_port": float64(22), "cidr_blocks": []any{"10.0.0.0/8", "192.168.0.0/16"}},
				},
			},
		}
	}
	return subs
}

func BenchmarkEvaluate1000x100k(b *testing.B) {
	set := benchSet(b)
	subs := benchSubjects()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var evals int
	for b.Loop() {
		out, err := set.Evaluate(ctx, subs)
		if err != nil {
			b.Fatal(err)
		}
		evals += len(out)
	}
	b.ReportMetric(float64(evals)/b.Elapsed().Seconds(), "evals/s")
	b.ReportMetric(float64(evals)/(cpuTime()-cpu0).Seconds(), "evals/cpu-s")
}

// cpuTime is the CPU time this process used so far: on a machine other
// jobs share, evaluations per CPU second compare runs that wall time
// cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuiltin100k evaluates every built-in rule (both packs,
// companion rules included) on 100,000 resources of the types they check,
// the way a large plan or estate holds them: a quarter of the buckets and
// VPCs lack their companion, and at plan time ids, ARNs and references
// are values known only after apply, paired through the configuration.
func BenchmarkBuiltin100k(b *testing.B) {
	set, err := LoadPacks(Packs(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"plan", "live"} {
		b.Run(mode, func(b *testing.B) {
			subs := builtinSubjects(benchResources, mode == "plan")
			opts := EvalOptions{}
			if mode == "live" {
				opts = EvalOptions{Live: true, Coverage: allCovered{}}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			var evals, gaps int
			for b.Loop() {
				out, err := set.EvaluateWith(ctx, subs, opts)
				if err != nil {
					b.Fatal(err)
				}
				evals += len(out)
				for i := range out {
					if out[i].Err != nil {
						b.Fatalf("%s on %s: %v", out[i].Rule.ID, out[i].Subject.Label(), out[i].Err)
					}
					if len(out[i].Gaps) > 0 {
						gaps++
					}
				}
			}
			b.ReportMetric(float64(evals)/b.Elapsed().Seconds(), "evals/s")
			b.ReportMetric(float64(evals)/(cpuTime()-cpu0).Seconds(), "evals/cpu-s")
			b.ReportMetric(float64(gaps)/float64(evals), "not-evaluated/eval")
		})
	}
}

type allCovered struct{}

func (allCovered) Covered(string, string) (bool, string) { return true, "" }
func (allCovered) Listed(string) (bool, string)          { return true, "" }

// builtinSubjects builds n resources in groups of ten: a bucket and (for
// three buckets in four) its public access block and a bucket policy, a
// VPC and (three in four) its flow log, a security group, a volume, an
// instance and a queue.
func builtinSubjects(n int, plan bool) []Subject {
	subs := make([]Subject, 0, n)
	tags := map[string]any{"owner": "team", "environment": "prod", "data-classification": "internal"}
	for g := 0; len(subs) < n; g++ {
		bucket := fmt.Sprintf("aws_s3_bucket.b%d", g)
		vpc := fmt.Sprintf("aws_vpc.v%d", g)
		id := func(addr, known string) any {
			if plan {
				return &Unknown{}
			}
			return known
		}
		ref := func(addr, known string) (any, map[string][]string) {
			if plan {
				return &Unknown{Configured: true, Refs: []string{addr}}, nil
			}
			return known, nil
		}
		bname := fmt.Sprintf("bucket-%d", g)
		vid := fmt.Sprintf("vpc-%d", g)
		add := func(typ, addr string, attrs map[string]any) {
			s := Subject{Provider: "aws", Type: typ, Region: "us-east-1", Attributes: attrs}
			if plan {
				s.Address = addr
			} else {
				s.ID = addr
			}
			subs = append(subs, s)
		}
		add("aws_s3_bucket", bucket, map[string]any{"id": id(bucket, bname), "bucket": bname, "tags": tags, "tags_all": tags,
			"server_side_encryption_configuration": id(bucket, "")})
		if g%4 != 0 {
			b, _ := ref(bucket, bname)
			add("aws_s3_bucket_public_access_block", bucket+"-pab", map[string]any{"bucket": b,
				"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": g%7 != 0})
			p, _ := ref(bucket, `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
			add("aws_s3_bucket_policy", bucket+"-policy", map[string]any{"bucket": b, "policy": p})
		}
		add("aws_vpc", vpc, map[string]any{"id": id(vpc, vid), "cidr_block": "10.0.0.0/16", "tags": tags, "tags_all": tags})
		if g%4 != 1 {
			v, _ := ref(vpc, vid)
			add("aws_flow_log", vpc+"-flow", map[string]any{"vpc_id": v, "traffic_type": "ALL"})
		}
		add("aws_security_group", fmt.Sprintf("aws_security_group.s%d", g), map[string]any{"name": "web", "tags": tags, "tags_all": tags,
			"ingress": []any{
				map[string]any{"protocol": "tcp", "from_port": 443.0, "to_port": 443.0, "cidr_blocks": []any{"0.0.0.0/0"}, "ipv6_cidr_blocks": []any{}},
				map[string]any{"protocol": "tcp", "from_port": 22.0, "to_port": 22.0, "cidr_blocks": []any{fmt.Sprintf("10.%d.0.0/16", g%250)}, "ipv6_cidr_blocks": []any{}},
			}})
		add("aws_ebs_volume", fmt.Sprintf("aws_ebs_volume.e%d", g), map[string]any{"size": 8.0, "encrypted": g%3 != 0, "tags": tags, "tags_all": tags})
		add("aws_instance", fmt.Sprintf("aws_instance.i%d", g), map[string]any{"ami": "ami-1", "associate_public_ip_address": false, "tags": tags, "tags_all": tags,
			"metadata_options": []any{map[string]any{"http_endpoint": "enabled", "http_tokens": "required"}}})
		k, _ := ref("aws_kms_key.k", "alias/q")
		add("aws_sqs_queue", fmt.Sprintf("aws_sqs_queue.q%d", g), map[string]any{"name": "q", "sqs_managed_sse_enabled": false, "kms_master_key_id": k, "tags": tags, "tags_all": tags})
	}
	return subs[:n]
}
