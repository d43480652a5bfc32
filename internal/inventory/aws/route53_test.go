package aws

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"plumb/internal/testenv"
)

func route53Fixtures() []fixture {
	return []fixture{
		{
			typ: "aws_route53_zone",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				zone, ns := route53CreateZone(t, ctx, cfg, "Plumb-Fixture.example.", nil, map[string]string{"env": "dev"})
				id := hostedZoneID(aws.ToString(zone.Id))
				servers := make([]any, len(ns))
				for i, s := range ns {
					servers[i] = s
				}
				primary := ""
				if len(ns) > 0 {
					primary = ns[0]
				}
				tags := map[string]any{"env": "dev"}
				// Provider 5.x: bare zone id, name lower case without the
				// trailing dot.
				return map[string]any{
					"id":                  id,
					"zone_id":             id,
					"name":                "plumb-fixture.example",
					"arn":                 "arn:aws:route53:::hostedzone/" + id,
					"comment":             "Managed by Terraform",
					"delegation_set_id":   "",
					"force_destroy":       false,
					"name_servers":        servers,
					"primary_name_server": primary,
					"vpc":                 []any{},
					"tags":                tags,
					"tags_all":            tags,
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				if _, err := route53.NewFromConfig(cfg).DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(str(attrs, "zone_id"))}); err != nil {
					t.Fatalf("delete hosted zone: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := route53.NewFromConfig(cfg).ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{
					ResourceType: r53types.TagResourceTypeHostedzone,
					ResourceId:   aws.String(str(attrs, "zone_id")),
					AddTags:      []r53types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
				})
				if err != nil {
					t.Fatalf("tag hosted zone: %v", err)
				}
				return "tags.env"
			},
		},
	}
}

// route53CreateZone creates a hosted zone as Terraform does (comment
// "Managed by Terraform"), private when vpc is set, then tags it.
func route53CreateZone(t *testing.T, ctx context.Context, cfg aws.Config, name string, vpc *r53types.VPC, tags map[string]string) (*r53types.HostedZone, []string) {
	t.Helper()
	client := route53.NewFromConfig(cfg)
	out, err := client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name:             aws.String(name),
		CallerReference:  aws.String("plumb-" + name),
		HostedZoneConfig: &r53types.HostedZoneConfig{Comment: aws.String("Managed by Terraform"), PrivateZone: vpc != nil},
		VPC:              vpc,
	})
	if err != nil {
		t.Fatalf("create hosted zone %s: %v", name, err)
	}
	if len(tags) > 0 {
		in := &route53.ChangeTagsForResourceInput{ResourceType: r53types.TagResourceTypeHostedzone, ResourceId: aws.String(hostedZoneID(aws.ToString(out.HostedZone.Id)))}
		for k, v := range tags {
			in.AddTags = append(in.AddTags, r53types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := client.ChangeTagsForResource(ctx, in); err != nil {
			t.Fatalf("tag hosted zone %s: %v", name, err)
		}
	}
	var ns []string
	if out.DelegationSet != nil {
		ns = out.DelegationSet.NameServers
	}
	return out.HostedZone, ns
}

func TestRoute53Fixtures(t *testing.T) { appCheckFixtures(t, route53Fixtures()) }

func TestRoute53Listers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	// Route 53 is global: scanning two regions must still list each zone
	// once.
	regions := []string{"us-east-1", "eu-west-1"}

	t.Run("fresh account lists nothing", func(t *testing.T) {
		if got := appNonDefault(appScan(t, ctx, regions, "aws_route53_zone")); len(got) != 0 {
			t.Fatalf("want no zones, got %v", appIDs(got))
		}
	})

	cfg := m.Config(t, "us-east-1")
	// 12 public zones and a private one: two ListTagsForResources batches.
	ids := map[string]string{}
	for i := range 12 {
		var tags map[string]string
		if i%2 == 0 {
			tags = map[string]string{"n": fmt.Sprint(i)}
		}
		z, _ := route53CreateZone(t, ctx, cfg, fmt.Sprintf("Z%02d.Example.com.", i), nil, tags)
		ids[fmt.Sprintf("z%02d.example.com", i)] = hostedZoneID(aws.ToString(z.Id))
	}
	vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("describe VPCs: %v", err)
	}
	z, _ := route53CreateZone(t, ctx, cfg, "internal.example.", &r53types.VPC{VPCId: vpcs.Vpcs[0].VpcId, VPCRegion: r53types.VPCRegionUsEast1}, map[string]string{"scope": "private"})
	ids["internal.example"] = hostedZoneID(aws.ToString(z.Id))

	s, err := New(ctx, Options{Regions: regions, Types: []string{"aws_route53_zone"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(ctx)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, res.Errors)
	}
	if !res.Complete("aws_route53_zone", "") {
		t.Error("zones not marked complete globally")
	}
	if n := len(res.Resources); n != 13 {
		t.Fatalf("want 13 zones listed once each, got %v", appIDs(res.Resources))
	}
	tests := []struct {
		name string
		tags map[string]string
	}{
		{"z00.example.com", map[string]string{"n": "0"}},
		{"z01.example.com", map[string]string{}},
		{"z10.example.com", map[string]string{"n": "10"}},
		{"z11.example.com", map[string]string{}},
		{"internal.example", map[string]string{"scope": "private"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ids[tt.name]
			r, ok := appFind(res, "aws_route53_zone", "", id)
			if !ok {
				t.Fatalf("zone %s (%s) not listed without region", tt.name, id)
			}
			if strings.Contains(r.ID, "/") || r.Name != tt.name || r.ARN != "arn:aws:route53:::hostedzone/"+id {
				t.Errorf("ID %q Name %q ARN %q", r.ID, r.Name, r.ARN)
			}
			appCheckResource(t, r, tt.tags, map[string]any{"comment": "Managed by Terraform"})
		})
	}
	// STS, one ListHostedZones page, two tag batches of up to ten zones.
	if want := int64(1 + 1 + 2); res.APICalls != want {
		t.Errorf("API calls = %d, want %d", res.APICalls, want)
	}
}

func TestRoute53FromState(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		name   string
		attrs  map[string]any
		wantOK bool
		wantID string
		want   map[string]any
	}{
		{
			name: "public zone",
			attrs: map[string]any{
				"id": "Z0123456789ABC", "zone_id": "Z0123456789ABC", "name": "example.com",
				"arn": "arn:aws:route53:::hostedzone/Z0123456789ABC", "comment": "Managed by Terraform",
				"tags": map[string]any{"env": "prod"}, "tags_all": map[string]any{"env": "prod"},
			},
			wantOK: true, wantID: "Z0123456789ABC",
			want: map[string]any{"comment": "Managed by Terraform"},
		},
		{
			name:   "id with the API's prefix",
			attrs:  map[string]any{"id": "/hostedzone/Z999", "name": "Example.org.", "comment": ""},
			wantOK: true, wantID: "Z999",
			want: map[string]any{"comment": ""},
		},
		{name: "no id", attrs: map[string]any{"name": "example.net"}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState("aws_route53_zone", tt.attrs)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if r.ID != tt.wantID || r.Region != "" {
				t.Errorf("ID %q region %q, want %q global", r.ID, r.Region, tt.wantID)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) {
				t.Errorf("Attributes = %#v, want %#v", r.Attributes, tt.want)
			}
		})
	}
	r, _ := m.FromState("aws_route53_zone", tests[1].attrs)
	if r.Name != "example.org" {
		t.Errorf("Name = %q, want example.org", r.Name)
	}
}

func TestRoute53Partition(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "": "aws"} {
		if got := route53Partition(region); got != want {
			t.Errorf("route53Partition(%q) = %q, want %q", region, got, want)
		}
	}
}
