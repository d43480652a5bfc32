package routing

import (
	"reflect"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// routingYAML is a tree as an operator writes it: defaults at the root,
// security to its own team (continuing so the default also sees it),
// drift routed per owner tag with a nested override, alerts to on-call.
const routingYAML = `
receivers:
  - name: default
    alertmanager: {url: "http://am.example/"}
  - name: security
    alertmanager: {url: "http://am.example/"}
  - name: team-a
    alertmanager: {url: "http://am.example/"}
  - name: team-a-prod
    alertmanager: {url: "http://am.example/"}
  - name: oncall
    alertmanager: {url: "http://am.example/"}
route:
  receiver: default
  group_by: [environment]
  group_wait: 10s
  routes:
    - matchers: ['security="true"']
      receiver: security
      continue: true
    - matchers: ['kind=~"drift\\..*"', 'tags.owner="team-a"']
      receiver: team-a
      group_by: [environment, type]
      repeat_interval: 1h
      routes:
        - matchers: ['environment="prod"', 'severity=~"high|critical"']
          receiver: team-a-prod
          group_wait: 0s
        - matchers: ['environment="prod"']
    - matchers: ['kind="event.alert"']
      receiver: oncall
      group_by: ["..."]
`

func loadRoute(t *testing.T, yaml string) *config.Route {
	t.Helper()
	cfg, err := config.Parse("plumb.yaml", []byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg.Route
}

func labelsOf(kind model.Kind, sev model.Severity, env string, security bool, tags map[string]string) map[string]string {
	return findings.Labels(model.Finding{Kind: kind, Severity: sev, Environment: env, Security: security,
		Resource: model.Resource{Type: "aws_s3_bucket", ID: "x", Tags: tags}}, findings.StatusOpen)
}

func TestRouter(t *testing.T) {
	r := NewRouter(loadRoute(t, routingYAML))
	teamA := map[string]string{"owner": "team-a"}
	type want struct {
		receiver, routeID string
		groupBy           []string
		wait, repeat      time.Duration
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   []want
	}{
		{"no child matches: root", labelsOf(model.KindChanged, "low", "dev", false, nil),
			[]want{{"default", "0", []string{"environment"}, 10 * time.Second, config.DefaultRepeatInterval}}},
		{"owner tag to team, nested default", labelsOf(model.KindChanged, "low", "dev", false, teamA),
			[]want{{"team-a", "0.1", []string{"environment", "type"}, 10 * time.Second, time.Hour}}},
		{"first matching child wins", labelsOf(model.KindUnmanaged, "critical", "prod", false, teamA),
			[]want{{"team-a-prod", "0.1.0", []string{"environment", "type"}, 0, time.Hour}}},
		{"child without receiver inherits it", labelsOf(model.KindUnmanaged, "low", "prod", false, teamA),
			[]want{{"team-a", "0.1.1", []string{"environment", "type"}, 10 * time.Second, time.Hour}}},
		{"continue goes on to siblings", labelsOf(model.KindUnmanaged, "critical", "prod", true, teamA),
			[]want{
				{"security", "0.0", []string{"environment"}, 10 * time.Second, config.DefaultRepeatInterval},
				{"team-a-prod", "0.1.0", []string{"environment", "type"}, 0, time.Hour},
			}},
		{"continue with no later match: root does not also take it", labelsOf(model.KindChanged, "low", "dev", true, nil),
			[]want{{"security", "0.0", []string{"environment"}, 10 * time.Second, config.DefaultRepeatInterval}}},
		{"other team's drift falls to default", labelsOf(model.KindChanged, "low", "dev", false, map[string]string{"owner": "team-b"}),
			[]want{{"default", "0", []string{"environment"}, 10 * time.Second, config.DefaultRepeatInterval}}},
		{"alerts to oncall, own groups", labelsOf(model.KindAlert, "high", "prod", false, teamA),
			[]want{{"oncall", "0.2", []string{"..."}, 10 * time.Second, config.DefaultRepeatInterval}}},
	}
	for _, tc := range tests {
		got := r.Match(tc.labels)
		var g []want
		for _, m := range got {
			if m.Receiver != m.Route.Receiver {
				t.Errorf("%s: receiver %q but route says %q", tc.name, m.Receiver, m.Route.Receiver)
			}
			g = append(g, want{m.Receiver, m.RouteID, m.Route.GroupBy, *m.Route.GroupWait, *m.Route.RepeatInterval})
		}
		if !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, g, tc.want)
		}
	}
}

// TestRouterHandBuilt: a tree that did not go through the loader gets the
// same inheritance and defaults; a broken matcher matches nothing.
func TestRouterHandBuilt(t *testing.T) {
	ten := 10 * time.Minute
	r := NewRouter(&config.Route{
		Receiver: "root",
		GroupBy:  []string{"kind"},
		Routes: []config.Route{
			{Matchers: []string{`kind=~"(`}, Receiver: "broken"},
			{Matchers: []string{`environment="prod"`}, GroupInterval: &ten},
		},
	})
	tests := []struct {
		name     string
		labels   map[string]string
		receiver string
		routeID  string
		interval time.Duration
	}{
		{"prod", map[string]string{"environment": "prod"}, "root", "0.1", ten},
		{"dev", map[string]string{"environment": "dev", "kind": "("}, "root", "0", config.DefaultGroupInterval},
	}
	for _, tc := range tests {
		ms := r.Match(tc.labels)
		if len(ms) != 1 || ms[0].Receiver != tc.receiver || ms[0].RouteID != tc.routeID ||
			*ms[0].Route.GroupInterval != tc.interval || *ms[0].Route.GroupWait != config.DefaultGroupWait ||
			!reflect.DeepEqual(ms[0].Route.GroupBy, []string{"kind"}) {
			t.Errorf("%s: %+v", tc.name, ms)
		}
	}
	if ms := NewRouter(nil).Match(map[string]string{}); ms != nil {
		t.Errorf("nil tree routes: %+v", ms)
	}
}

func TestGroupKey(t *testing.T) {
	base := GroupKey("0.1", "team-a", map[string]string{"environment": "prod", "type": "aws_s3_bucket"})
	tests := []struct {
		name   string
		key    string
		sameAs bool
	}{
		{"same input", GroupKey("0.1", "team-a", map[string]string{"type": "aws_s3_bucket", "environment": "prod"}), true},
		{"other route", GroupKey("0.2", "team-a", map[string]string{"environment": "prod", "type": "aws_s3_bucket"}), false},
		{"other receiver", GroupKey("0.1", "team-b", map[string]string{"environment": "prod", "type": "aws_s3_bucket"}), false},
		{"other value", GroupKey("0.1", "team-a", map[string]string{"environment": "dev", "type": "aws_s3_bucket"}), false},
		{"no ambiguity in joins", GroupKey("0.1", "team-a", map[string]string{"environment": "prod\x00type=aws_s3_bucket"}), false},
	}
	for _, tc := range tests {
		if (tc.key == base) != tc.sameAs {
			t.Errorf("%s: key %s vs %s", tc.name, tc.key, base)
		}
	}
	if len(base) != 32 {
		t.Errorf("key %q is not 32 hex chars", base)
	}
}
