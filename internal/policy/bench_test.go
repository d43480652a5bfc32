package policy

import (
	"context"
	"fmt"
	"testing"
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
	var evals int
	for b.Loop() {
		out, err := set.Evaluate(ctx, subs)
		if err != nil {
			b.Fatal(err)
		}
		evals += len(out)
	}
	b.ReportMetric(float64(evals)/b.Elapsed().Seconds(), "evals/s")
}
