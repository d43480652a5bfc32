package aws_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"plumb/internal/enforce"
	"plumb/internal/model"
)

// TestReadByID checks the live read by id of the types that have one:
// each resource read back equals what the inventory's listing gives for
// it (id, ARN, account, tags, Default marking), a terminated or unknown
// id is gone, and the read costs one call per type and region when all
// exist (one more per id when one is gone), however many resources the
// region holds.
func TestReadByID(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg)
	inst := setupInstance(t, ctx, cfg)
	other := setupInstance(t, ctx, cfg)
	gone := setupInstance(t, ctx, cfg)
	_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{gone}})
	must(t, err, "TerminateInstances")
	group := setupGroup(t, ctx, cfg)
	def := defaultSecurityGroup(t, cfg)
	createBucket(t, ctx, cfg, "read-by-id")
	tagBucket(t, ctx, cfg, "read-by-id", "team")
	createBucket(t, ctx, cfg, "read-by-id-untagged")

	res := func(typ, id string) model.Resource {
		return model.Resource{Provider: "aws", Type: typ, ID: id, Region: region}
	}
	cases := []struct {
		name      string
		ask       []model.Resource
		found     []string // ids read back, each equal to its listing
		gone      []string
		wantReads int64
	}{
		{name: "instances that exist, one call", ask: []model.Resource{res("aws_instance", inst), res("aws_instance", other)},
			found: []string{inst, other}, wantReads: 1},
		{name: "a terminated instance is gone", ask: []model.Resource{res("aws_instance", gone)}, gone: []string{gone}, wantReads: 1},
		{name: "an unknown id among existing ones", ask: []model.Resource{res("aws_instance", inst), res("aws_instance", "i-0123456789abcdef0")},
			found: []string{inst}, gone: []string{"i-0123456789abcdef0"}, wantReads: 3},
		{name: "security groups, the default one marked", ask: []model.Resource{res("aws_security_group", group), res("aws_security_group", def)},
			found: []string{group, def}, wantReads: 1},
		{name: "buckets, tagged or not", ask: []model.Resource{res("aws_s3_bucket", "read-by-id"), res("aws_s3_bucket", "read-by-id-untagged")},
			found: []string{"read-by-id", "read-by-id-untagged"}, wantReads: 4},
		{name: "an unknown bucket", ask: []model.Resource{res("aws_s3_bucket", "read-by-id-none")}, gone: []string{"read-by-id-none"}, wantReads: 1},
		{name: "an unknown group", ask: []model.Resource{res("aws_security_group", "sg-0123456789abcdef0")},
			gone: []string{"sg-0123456789abcdef0"}, wantReads: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := newExecutor(t)
			if _, _, err := ex.Read(ctx, tc.ask[:1]); err != nil { // the getter is made once: leave it out of the count
				t.Fatal(err)
			}
			r0, _ := ex.Calls()
			found, unknown, err := ex.Read(ctx, tc.ask)
			if err != nil {
				t.Fatal(err)
			}
			r1, w1 := ex.Calls()
			if len(unknown) > 0 {
				t.Fatalf("unknown: %v", unknown)
			}
			if got := r1 - r0; got != tc.wantReads || w1 != 0 {
				t.Errorf("calls: %d reads, %d writes; want %d reads, no write", got, w1, tc.wantReads)
			}
			for _, id := range tc.found {
				want := listed(t, tc.ask[0].Type, byID(id))
				got, ok := found[enforce.ResourceKey(res(tc.ask[0].Type, id))]
				if !ok {
					t.Fatalf("%s not read back: found %v", id, found)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s read by id:\n%+v\nlisted:\n%+v", id, got, want)
				}
			}
			for _, id := range tc.gone {
				if r, ok := found[enforce.ResourceKey(res(tc.ask[0].Type, id))]; ok {
					t.Errorf("%s should be gone, read back %+v", id, r)
				}
			}
			if len(found) != len(tc.found) {
				t.Errorf("found %d resources, want %d", len(found), len(tc.found))
			}
		})
	}
}
