package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

// snsFixtures creates one tagged topic the way aws_sns_topic does.
func snsFixtures() []fixture {
	return []fixture{{
		typ: "aws_sns_topic",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			const name = "plumb-fixture-topic"
			tags := map[string]string{"env": "test"}
			o, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Tags: snsTestTags(tags)})
			storageIAMErr(t, "create topic", err)
			arn := aws.ToString(o.TopicArn)
			return map[string]any{
				"id": arn, "arn": arn, "name": name, "name_prefix": "", "display_name": "", "owner": arnField(arn, 4),
				"fifo_topic": false, "content_based_deduplication": false, "kms_master_key_id": "",
				"signature_version": float64(0), "tracing_config": "", "delivery_policy": "", "archive_policy": "",
				"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
			}, nil
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := sns.NewFromConfig(cfg).DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(str(attrs, "arn"))})
			storageIAMErr(t, "delete topic", err)
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			_, err := sns.NewFromConfig(cfg).TagResource(ctx, &sns.TagResourceInput{ResourceArn: aws.String(str(attrs, "arn")), Tags: snsTestTags(map[string]string{"env": "prod"})})
			storageIAMErr(t, "tag topic", err)
			return "tags.env"
		},
	}}
}

func snsTestTags(tags map[string]string) []snstypes.Tag {
	var out []snstypes.Tag
	for k, v := range tags {
		out = append(out, snstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func TestSNSFixtures(t *testing.T) {
	storageIAMFixtureRoundTrip(t, snsFixtures())
}

func TestSNSList(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	c := sns.NewFromConfig(m.Config(t, "us-east-1"))
	// More topics than one ListTopics page (100).
	names := storageIAMNames("plumb-topic", 120)
	want := map[string]model.Resource{}
	for i, name := range names {
		tags := map[string]string{}
		if i%4 == 0 {
			tags["n"] = name
		}
		o, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Tags: snsTestTags(tags)})
		storageIAMErr(t, "create topic", err)
		arn := aws.ToString(o.TopicArn)
		want[arn] = model.Resource{Provider: "aws", Type: "aws_sns_topic", ID: arn, Region: "us-east-1", Account: "123456789012",
			Name: name, ARN: arn, Tags: tags}
	}
	check := func(t *testing.T, res []model.Resource, tagsKnown bool) {
		t.Helper()
		if len(res) != len(want) {
			t.Fatalf("listed %d topics, want %d", len(res), len(want))
		}
		for _, r := range res {
			w := want[r.ID]
			if !tagsKnown {
				w.Tags = nil
			}
			if !reflect.DeepEqual(r, w) {
				t.Errorf("got  %+v\nwant %+v", r, w)
			}
		}
	}

	for _, tc := range []struct {
		name      string
		deny      []string // operations made to fail
		maxCalls  int64
		tagsKnown bool
	}{
		// STS, two ListTopics pages, one tagging page (30 tagged topics).
		{"tags from the tagging API", nil, 4, true},
		// Without the tagging API: one ListTagsForResource per topic.
		{"per-topic fallback", []string{"GetResources"}, 3 + 120, true},
		{"tags unreadable", []string{"GetResources", "ListTagsForResource"}, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deny := storageIAMDenyWhen(func(ctx context.Context) bool {
				op := awsmw.GetOperationName(ctx)
				for _, d := range tc.deny {
					if op == d {
						return true
					}
				}
				return false
			})
			res, calls := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_sns_topic"}, deny)
			check(t, res.Resources, tc.tagsKnown)
			if calls > tc.maxCalls {
				t.Errorf("%d API calls, want at most %d", calls, tc.maxCalls)
			}
		})
	}
}

func TestSNSTopicFromState(t *testing.T) {
	mapper := NewMapper()
	const arn = "arn:aws:sns:us-east-1:123456789012:tf-topic"
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  model.Resource
		ok    bool
	}{
		{"provider 5.100 state", map[string]any{
			"arn": arn, "id": arn, "name": "tf-topic", "owner": "123456789012",
			"tags": map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
		}, model.Resource{Provider: "aws", Type: "aws_sns_topic", ID: arn, Region: "us-east-1", Account: "123456789012",
			Name: "tf-topic", ARN: arn, Tags: map[string]string{"env": "dev", "managed_by": "terraform"}}, true},
		{"id only", map[string]any{"id": arn}, model.Resource{Provider: "aws", Type: "aws_sns_topic", ID: arn,
			Region: "us-east-1", Account: "123456789012", Name: "tf-topic", ARN: arn}, true},
		{"nothing", map[string]any{}, model.Resource{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapper.FromState("aws_sns_topic", tc.attrs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
