package ownership

import (
	"testing"

	"plumb/internal/model"
)

func res(typ, id, name string, tags map[string]string) model.Finding {
	return model.Finding{Environment: "prod", Resource: model.Resource{Type: typ, ID: id, Name: name, Tags: tags}}
}

func TestOwner(t *testing.T) {
	rules := []Rule{
		{Type: "aws_s3_bucket", Name: "billing-*", Owner: "billing"},
		{Type: "aws_iam_*", Owner: "identity"},
		{Name: "*/payments/*", Owner: "payments"},
		{Environment: "sandbox", Owner: "platform"},
	}
	r, err := New(nil, rules)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := New([]string{"squad"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sandbox := res("aws_instance", "i-1", "", nil)
	sandbox.Environment = "sandbox"
	for _, tc := range []struct {
		name string
		r    *Resolver
		f    model.Finding
		want string
	}{
		{"owner tag", r, res("aws_instance", "i-1", "", map[string]string{"owner": "team-a"}), "team-a"},
		{"team tag", r, res("aws_instance", "i-1", "", map[string]string{"team": "team-b"}), "team-b"},
		{"owner before team", r, res("aws_instance", "i-1", "", map[string]string{"team": "b", "owner": "a"}), "a"},
		{"tag key case", r, res("aws_instance", "i-1", "", map[string]string{"Owner": " team-c "}), "team-c"},
		{"empty tag falls through", r, res("aws_s3_bucket", "billing-x", "", map[string]string{"owner": " "}), "billing"},
		{"tag before rule", r, res("aws_s3_bucket", "billing-x", "", map[string]string{"owner": "team-a"}), "team-a"},
		{"rule on type and name", r, res("aws_s3_bucket", "billing-exports", "", nil), "billing"},
		{"rule needs both", r, res("aws_s3_bucket", "logs", "", nil), ""},
		{"rule on name tag", r, res("aws_s3_bucket", "b-123", "", map[string]string{"Name": "billing-old"}), "billing"},
		{"type glob", r, res("aws_iam_role", "deploy", "", nil), "identity"},
		{"star crosses slashes", r, res("aws_iam_policy", "arn:aws:iam::1:policy/payments/x", "", nil), "identity"},
		{"first rule wins", r, res("aws_sqs_queue", "https://sqs/1/payments/q", "", nil), "payments"},
		{"environment rule", r, sandbox, "platform"},
		{"nobody", r, res("aws_vpc", "vpc-1", "", nil), ""},
		{"configured tags replace the defaults", custom, res("aws_vpc", "vpc-1", "", map[string]string{"owner": "x", "squad": "y"}), "y"},
		{"nil resolver reads the default tags", nil, res("aws_vpc", "vpc-1", "", map[string]string{"team": "z"}), "z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Owner(tc.f); got != tc.want {
				t.Errorf("Owner = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewRejectsRuleWithoutOwner(t *testing.T) {
	if _, err := New(nil, []Rule{{Type: "aws_*"}}); err == nil {
		t.Fatal("want an error for a rule without owner")
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "abbc", false}, {"a.c", "abc", false},
		{"(x)", "(x)", true}, {"[ab]", "a", false}, {"[ab]", "[ab]", true}, {"*", "", true},
	} {
		if got := Glob(tc.pat).MatchString(tc.s); got != tc.want {
			t.Errorf("Glob(%q).Match(%q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}
