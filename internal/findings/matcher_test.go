package findings

import (
	"testing"

	"plumb/internal/model"
)

func TestMatcher(t *testing.T) {
	f := model.Finding{Kind: model.KindUnmanaged, Severity: model.SeverityHigh, Environment: "prod",
		Resource: model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "logs", Tags: map[string]string{"owner": "team-a"}}}
	labels := Labels(f, "open")
	tests := []struct {
		matcher string
		want    bool
	}{
		{`kind="drift.unmanaged"`, true},
		{`kind=drift.unmanaged`, true},
		{`kind="drift.missing"`, false},
		{`kind!="drift.missing"`, true},
		{`severity=~"high|critical"`, true},
		{`severity=~"crit.*"`, false},
		{`kind=~"drift"`, false}, // anchored
		{`kind=~"drift\\..*"`, true},
		{`tags.owner="team-a"`, true},
		{`tags.team=""`, true},
		{`tags.team!="x"`, true},
		{`type!~"aws_iam_.*"`, true},
		{` environment = "prod" `, true},
		{`security="false"`, true},
	}
	for _, tc := range tests {
		m, err := ParseMatcher(tc.matcher)
		if err != nil {
			t.Errorf("%s: %v", tc.matcher, err)
			continue
		}
		if got := m.Matches(labels); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.matcher, got, tc.want)
		}
	}
	for _, bad := range []string{``, `kind`, `=x`, `kind=~"("`, `kind="unterminated`, `kind<3`} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ParseMatchers([]string{`a=b`, `c`}); err == nil || err.Error()[:3] != "[1]" {
		t.Errorf("list error should name the index: %v", err)
	}
}

// TestOwnerLabel: the team a finding belongs to is a label routes and
// silences match on, so each team's findings can go to its own receiver.
func TestOwnerLabel(t *testing.T) {
	f := model.Finding{Kind: model.KindChanged, Owner: "team-a"}
	m, err := ParseMatcher(`owner="team-a"`)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Matches(Labels(f, StatusOpen)) {
		t.Error(`owner="team-a" does not match a finding of team-a`)
	}
	f.Owner = ""
	if m.Matches(Labels(f, StatusOpen)) {
		t.Error(`owner="team-a" matches a finding nobody owns`)
	}
	if none, _ := ParseMatcher(`owner=""`); !none.Matches(Labels(f, StatusOpen)) {
		t.Error(`owner="" does not select unowned findings`)
	}
}
