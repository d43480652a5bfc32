package aws

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"plumb/internal/testenv"
)

func logsFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_cloudwatch_log_group",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				const name = "/plumb/app"
				logsCreateGroup(t, ctx, cfg, name, 30, map[string]string{"env": "dev"})
				tags := map[string]any{"env": "dev"}
				// Provider 5.x keeps the ARN without DescribeLogGroups' ":*".
				return map[string]any{
					"id":                name,
					"name":              name,
					"name_prefix":       "",
					"arn":               "arn:aws:logs:us-east-1:123456789012:log-group:" + name,
					"retention_in_days": float64(30),
					"kms_key_id":        "",
					"log_group_class":   "STANDARD",
					"skip_destroy":      false,
					"tags":              tags,
					"tags_all":          tags,
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				if _, err := cloudwatchlogs.NewFromConfig(cfg).DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(str(attrs, "name"))}); err != nil {
					t.Fatalf("delete log group: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := cloudwatchlogs.NewFromConfig(cfg).PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
					LogGroupName:    aws.String(str(attrs, "name")),
					RetentionInDays: aws.Int32(7),
				})
				if err != nil {
					t.Fatalf("put retention: %v", err)
				}
				return "retention_in_days"
			},
		},
	}
}

// logsCreateGroup creates a log group; retention 0 means never expire.
func logsCreateGroup(t *testing.T, ctx context.Context, cfg aws.Config, name string, retention int32, tags map[string]string) {
	t.Helper()
	client := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: tags}); err != nil {
		t.Fatalf("create log group %s: %v", name, err)
	}
	if retention > 0 {
		if _, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: aws.Int32(retention)}); err != nil {
			t.Fatalf("put retention %s: %v", name, err)
		}
	}
}

func TestLogsFixtures(t *testing.T) { appCheckFixtures(t, logsFixtures()) }

func TestLogsListers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	regions := []string{"us-east-1", "eu-west-1"}

	t.Run("fresh account lists nothing", func(t *testing.T) {
		if got := appNonDefault(appScan(t, ctx, regions, "aws_cloudwatch_log_group")); len(got) != 0 {
			t.Fatalf("want no log groups, got %v", appIDs(got))
		}
	})

	east, west := m.Config(t, "us-east-1"), m.Config(t, "eu-west-1")
	// 60 groups: two DescribeLogGroups pages of 50. Every third is tagged.
	for i := range 60 {
		var tags map[string]string
		if i%3 == 0 {
			tags = map[string]string{"n": fmt.Sprint(i)}
		}
		var retention int32
		if i == 1 {
			retention = 14
		}
		logsCreateGroup(t, ctx, east, fmt.Sprintf("/app/g%02d", i), retention, tags)
	}
	logsCreateGroup(t, ctx, east, "/aws/lambda/worker", 0, nil)
	logsCreateGroup(t, ctx, west, "/app/west", 365, map[string]string{"env": "prod", "aws:cloudformation:stack-id": "x"})

	s, err := New(ctx, Options{Regions: regions, Types: []string{"aws_cloudwatch_log_group"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(ctx)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, res.Errors)
	}
	if n := len(res.Resources); n != 62 {
		t.Fatalf("want 62 log groups, got %d", n)
	}
	tests := []struct {
		region, id string
		tags       map[string]string
		retention  float64
		dflt       bool
	}{
		{"us-east-1", "/app/g00", map[string]string{"n": "0"}, 0, false},
		{"us-east-1", "/app/g01", map[string]string{}, 14, false},
		{"us-east-1", "/app/g57", map[string]string{"n": "57"}, 0, false},
		{"us-east-1", "/aws/lambda/worker", map[string]string{}, 0, true},
		{"eu-west-1", "/app/west", map[string]string{"env": "prod"}, 365, false},
	}
	for _, tt := range tests {
		t.Run(tt.region+tt.id, func(t *testing.T) {
			r, ok := appFind(res, "aws_cloudwatch_log_group", tt.region, tt.id)
			if !ok {
				t.Fatalf("%s not listed", tt.id)
			}
			appCheckResource(t, r, tt.tags, map[string]any{"retention_in_days": tt.retention, "kms_key_id": ""})
			if want := fmt.Sprintf("arn:aws:logs:%s:123456789012:log-group:%s", tt.region, tt.id); r.ARN != want {
				t.Errorf("ARN = %q, want %q (no :*)", r.ARN, want)
			}
			if (r.Default != "") != tt.dflt {
				t.Errorf("Default = %q, want default %v", r.Default, tt.dflt)
			}
		})
	}
	// STS; us-east-1: two DescribeLogGroups pages and one tagging page;
	// eu-west-1: one page of each.
	if want := int64(1 + (2 + 1) + (1 + 1)); res.APICalls != want {
		t.Errorf("API calls = %d, want %d", res.APICalls, want)
	}

	t.Run("tag index unavailable", func(t *testing.T) {
		out, err := listLogGroups(ctx, appFailedTagSession(west, "eu-west-1"), "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].ID != "/app/west" || out[0].Tags != nil {
			t.Fatalf("want /app/west with unknown (nil) tags, got %+v", out)
		}
	})
}

func TestLogsFromState(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		name    string
		attrs   map[string]any
		wantID  string
		wantARN string
		want    map[string]any
	}{
		{
			name: "never expires",
			attrs: map[string]any{
				"id": "/app/web", "name": "/app/web", "arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/app/web",
				"retention_in_days": float64(0), "kms_key_id": "", "tags": nil, "tags_all": map[string]any{"owner": "ops"},
			},
			wantID: "/app/web", wantARN: "arn:aws:logs:eu-west-1:123456789012:log-group:/app/web",
			want: map[string]any{"retention_in_days": float64(0), "kms_key_id": ""},
		},
		{
			name: "older state with the :* ARN",
			attrs: map[string]any{
				"id": "/app/old", "arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/app/old:*",
				"retention_in_days": float64(90),
			},
			wantID: "/app/old", wantARN: "arn:aws:logs:eu-west-1:123456789012:log-group:/app/old",
			want: map[string]any{"retention_in_days": float64(90)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState("aws_cloudwatch_log_group", tt.attrs)
			if !ok {
				t.Fatal("not ok")
			}
			if r.ID != tt.wantID || r.ARN != tt.wantARN || r.Region != "eu-west-1" {
				t.Errorf("got %q %q %q", r.ID, r.ARN, r.Region)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) {
				t.Errorf("Attributes = %#v, want %#v", r.Attributes, tt.want)
			}
		})
	}
	if _, ok := m.FromState("aws_cloudwatch_log_group", map[string]any{}); ok {
		t.Error("state without name mapped")
	}
}
