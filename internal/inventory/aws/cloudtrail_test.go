package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/testenv"
)

// cloudtrailFixtures creates a single-region trail writing to a bucket of
// its own, as aws_cloudtrail with an aws_s3_bucket does.
func cloudtrailFixtures() []fixture {
	const name, bucket = "plumb-trail", "plumb-trail-logs"
	return []fixture{{
		typ: "aws_cloudtrail",
		create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
			tags := map[string]string{"env": "test"}
			bucketState := cloudtrailTestBucket(t, ctx, cfg, bucket)
			arn := cloudtrailCreate(t, ctx, cfg, &cloudtrail.CreateTrailInput{
				Name: aws.String(name), S3BucketName: aws.String(bucket),
				TagsList: []cttypes.Tag{{Key: aws.String("env"), Value: aws.String("test")}},
			})
			// Provider 5.x: id and arn are the trail ARN.
			return map[string]any{
				"id":                            arn,
				"arn":                           arn,
				"name":                          name,
				"home_region":                   cfg.Region,
				"s3_bucket_name":                bucket,
				"s3_key_prefix":                 "",
				"sns_topic_name":                "",
				"kms_key_id":                    "",
				"cloud_watch_logs_group_arn":    "",
				"cloud_watch_logs_role_arn":     "",
				"enable_logging":                true,
				"enable_log_file_validation":    false,
				"include_global_service_events": true,
				"is_multi_region_trail":         false,
				"is_organization_trail":         false,
				"tags":                          storageIAMAnyMap(tags),
				"tags_all":                      storageIAMAnyMap(tags),
			}, []extraResource{{typ: "aws_s3_bucket", attrs: bucketState}}
		},
		remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
			_, err := cloudtrail.NewFromConfig(cfg).DeleteTrail(ctx, &cloudtrail.DeleteTrailInput{Name: aws.String(str(attrs, "name"))})
			storageIAMErr(t, "delete trail", err)
		},
		change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
			_, err := cloudtrail.NewFromConfig(cfg).UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{
				Name: aws.String(str(attrs, "name")), EnableLogFileValidation: aws.Bool(true),
			})
			storageIAMErr(t, "update trail", err)
			return "enable_log_file_validation"
		},
	}}
}

// cloudtrailTestBucket creates the bucket a trail writes to and returns
// its state.
func cloudtrailTestBucket(t *testing.T, ctx context.Context, cfg aws.Config, bucket string) map[string]any {
	t.Helper()
	_, err := s3TestClient(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	storageIAMErr(t, "create trail bucket", err)
	return s3BucketState(bucket, cfg.Region, map[string]string{})
}

// cloudtrailCreate creates a trail and returns its ARN.
func cloudtrailCreate(t *testing.T, ctx context.Context, cfg aws.Config, in *cloudtrail.CreateTrailInput) string {
	t.Helper()
	out, err := cloudtrail.NewFromConfig(cfg).CreateTrail(ctx, in)
	storageIAMErr(t, "create trail", err)
	return aws.ToString(out.TrailARN)
}

func TestCloudTrailFixtures(t *testing.T) { appCheckFixtures(t, cloudtrailFixtures()) }

// TestCloudTrailListsTrailsInTheirHomeRegion: a multi-region trail shows
// in every region's DescribeTrails, but is one resource, listed where it
// was created, or it would be unmanaged (or missing) once per region.
func TestCloudTrailListsTrailsInTheirHomeRegion(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	east := m.Config(t, "us-east-1")
	cloudtrailTestBucket(t, ctx, east, "plumb-multi-logs")
	arn := cloudtrailCreate(t, ctx, east, &cloudtrail.CreateTrailInput{
		Name: aws.String("org-wide"), S3BucketName: aws.String("plumb-multi-logs"), IsMultiRegionTrail: aws.Bool(true),
	})
	res := appScan(t, ctx, []string{"us-east-1", "eu-west-1"}, "aws_cloudtrail")
	var where []string
	for _, r := range res.Resources {
		where = append(where, r.Region+" "+r.ID)
	}
	if len(where) != 1 || where[0] != "us-east-1 "+arn {
		t.Fatalf("listed %v, want the trail once, in us-east-1", where)
	}
}
