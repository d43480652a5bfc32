package aws

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

func rdsFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_db_instance",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				db := rdsCreateInstance(t, ctx, cfg, "plumb-db", map[string]string{"env": "dev"})
				tags := map[string]any{"env": "dev"}
				// Provider 5.x: id is the DbiResourceId, identifier the name.
				return map[string]any{
					"id":                      aws.ToString(db.DbiResourceId),
					"resource_id":             aws.ToString(db.DbiResourceId),
					"identifier":              aws.ToString(db.DBInstanceIdentifier),
					"identifier_prefix":       "",
					"arn":                     aws.ToString(db.DBInstanceArn),
					"instance_class":          aws.ToString(db.DBInstanceClass),
					"engine":                  aws.ToString(db.Engine),
					"engine_version":          aws.ToString(db.EngineVersion),
					"allocated_storage":       float64(aws.ToInt32(db.AllocatedStorage)),
					"username":                aws.ToString(db.MasterUsername),
					"db_name":                 "",
					"multi_az":                false,
					"publicly_accessible":     false,
					"skip_final_snapshot":     true,
					"backup_retention_period": float64(0),
					"vpc_security_group_ids":  []any{},
					"tags":                    tags,
					"tags_all":                tags,
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := rds.NewFromConfig(cfg).DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{
					DBInstanceIdentifier: aws.String(str(attrs, "identifier")),
					SkipFinalSnapshot:    aws.Bool(true),
				})
				if err != nil {
					t.Fatalf("delete DB instance: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := rds.NewFromConfig(cfg).ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
					DBInstanceIdentifier: aws.String(str(attrs, "identifier")),
					DBInstanceClass:      aws.String("db.t3.small"),
					ApplyImmediately:     aws.Bool(true),
				})
				if err != nil {
					t.Fatalf("modify DB instance: %v", err)
				}
				return "instance_class"
			},
		},
		{
			typ: "aws_db_subnet_group",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				// The default VPC's subnets are defaults of the account, so
				// the fixture needs no prerequisites of its own.
				subnets, vpc := rdsDefaultSubnets(t, ctx, cfg)
				g := rdsCreateSubnetGroup(t, ctx, cfg, "plumb-subnets", subnets, map[string]string{"env": "dev"})
				ids := make([]any, len(subnets))
				for i, s := range subnets {
					ids[i] = s
				}
				tags := map[string]any{"env": "dev"}
				return map[string]any{
					"id":                      aws.ToString(g.DBSubnetGroupName),
					"name":                    aws.ToString(g.DBSubnetGroupName),
					"name_prefix":             "",
					"arn":                     aws.ToString(g.DBSubnetGroupArn),
					"description":             aws.ToString(g.DBSubnetGroupDescription),
					"subnet_ids":              ids,
					"supported_network_types": []any{"IPV4"},
					"vpc_id":                  vpc,
					"tags":                    tags,
					"tags_all":                tags,
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := rds.NewFromConfig(cfg).DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{
					DBSubnetGroupName: aws.String(str(attrs, "name")),
				})
				if err != nil {
					t.Fatalf("delete DB subnet group: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := rds.NewFromConfig(cfg).AddTagsToResource(ctx, &rds.AddTagsToResourceInput{
					ResourceName: aws.String(str(attrs, "arn")),
					Tags:         []rdstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
				})
				if err != nil {
					t.Fatalf("tag DB subnet group: %v", err)
				}
				return "tags.env"
			},
		},
	}
}

func rdsCreateInstance(t *testing.T, ctx context.Context, cfg aws.Config, id string, tags map[string]string) *rdstypes.DBInstance {
	t.Helper()
	out, err := rds.NewFromConfig(cfg).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id),
		DBInstanceClass:      aws.String("db.t3.micro"),
		Engine:               aws.String("postgres"),
		AllocatedStorage:     aws.Int32(20),
		MasterUsername:       aws.String("plumb"),
		MasterUserPassword:   aws.String("not-a-secret-1"),
		Tags:                 rdsTagList(tags),
	})
	if err != nil {
		t.Fatalf("create DB instance %s: %v", id, err)
	}
	return out.DBInstance
}

func rdsCreateSubnetGroup(t *testing.T, ctx context.Context, cfg aws.Config, name string, subnets []string, tags map[string]string) *rdstypes.DBSubnetGroup {
	t.Helper()
	out, err := rds.NewFromConfig(cfg).CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{
		DBSubnetGroupName:        aws.String(name),
		DBSubnetGroupDescription: aws.String("Managed by Terraform"),
		SubnetIds:                subnets,
		Tags:                     rdsTagList(tags),
	})
	if err != nil {
		t.Fatalf("create DB subnet group %s: %v", name, err)
	}
	return out.DBSubnetGroup
}

// rdsDefaultSubnets returns two subnets of the region's default VPC.
func rdsDefaultSubnets(t *testing.T, ctx context.Context, cfg aws.Config) ([]string, string) {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}},
	})
	if err != nil {
		t.Fatalf("describe default subnets: %v", err)
	}
	if len(out.Subnets) < 2 {
		t.Fatalf("want at least 2 default subnets, got %d", len(out.Subnets))
	}
	ids := []string{aws.ToString(out.Subnets[0].SubnetId), aws.ToString(out.Subnets[1].SubnetId)}
	return ids, aws.ToString(out.Subnets[0].VpcId)
}

func rdsTagList(tags map[string]string) []rdstypes.Tag {
	var out []rdstypes.Tag
	for k, v := range tags {
		out = append(out, rdstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func TestRDSFixtures(t *testing.T) { appCheckFixtures(t, rdsFixtures()) }

func TestRDSListers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	types := []string{"aws_db_instance", "aws_db_subnet_group"}
	regions := []string{"us-east-1", "eu-west-1"}

	t.Run("fresh account lists nothing", func(t *testing.T) {
		res := appScan(t, ctx, regions, types...)
		if got := appNonDefault(res); len(got) != 0 {
			t.Fatalf("fresh account: want no resources, got %v", appIDs(got))
		}
	})

	east, west := m.Config(t, "us-east-1"), m.Config(t, "eu-west-1")
	rdsCreateInstance(t, ctx, east, "orders", map[string]string{"env": "prod", "aws:cloudformation:stack-name": "x"})
	rdsCreateInstance(t, ctx, west, "orders-replica", nil)
	// An Aurora member instance comes back from DescribeDBInstances too.
	rc := rds.NewFromConfig(east)
	if _, err := rc.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("aurora"),
		Engine:              aws.String("aurora-postgresql"),
		MasterUsername:      aws.String("plumb"),
		MasterUserPassword:  aws.String("not-a-secret-1"),
	}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	if _, err := rc.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("aurora-1"),
		DBClusterIdentifier:  aws.String("aurora"),
		DBInstanceClass:      aws.String("db.r6g.large"),
		Engine:               aws.String("aurora-postgresql"),
	}); err != nil {
		t.Fatalf("create cluster instance: %v", err)
	}
	eastSubnets, _ := rdsDefaultSubnets(t, ctx, east)
	westSubnets, _ := rdsDefaultSubnets(t, ctx, west)
	rdsCreateSubnetGroup(t, ctx, east, "db-private", []string{eastSubnets[1], eastSubnets[0]}, map[string]string{"team": "data"})
	rdsCreateSubnetGroup(t, ctx, west, "db-west", westSubnets, nil)

	res := appScan(t, ctx, regions, types...)
	sortedEast := append([]string(nil), eastSubnets...)
	sort.Strings(sortedEast)
	tests := []struct {
		typ, region, id string
		tags            map[string]string
		attrs           map[string]any
	}{
		{"aws_db_instance", "us-east-1", "orders", map[string]string{"env": "prod"}, map[string]any{"instance_class": "db.t3.micro"}},
		{"aws_db_instance", "us-east-1", "aurora-1", map[string]string{}, map[string]any{"instance_class": "db.r6g.large"}},
		{"aws_db_instance", "eu-west-1", "orders-replica", map[string]string{}, map[string]any{"instance_class": "db.t3.micro"}},
		{"aws_db_subnet_group", "us-east-1", "db-private", map[string]string{"team": "data"}, map[string]any{"description": "Managed by Terraform", "subnet_ids": sortedEast}},
		{"aws_db_subnet_group", "eu-west-1", "db-west", map[string]string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.id, func(t *testing.T) {
			r, ok := appFind(res, tt.typ, tt.region, tt.id)
			if !ok {
				t.Fatalf("%s %s not listed in %s; have %v", tt.typ, tt.id, tt.region, appIDs(res.Resources))
			}
			appCheckResource(t, r, tt.tags, tt.attrs)
			if !strings.HasPrefix(r.ARN, "arn:aws:rds:"+tt.region+":") {
				t.Errorf("ARN = %q", r.ARN)
			}
		})
	}
	if n := len(appNonDefault(res)); n != len(tests) {
		t.Errorf("want %d resources, got %v", len(tests), appIDs(res.Resources))
	}
}

func TestRDSFromState(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		name   string
		typ    string
		attrs  map[string]any
		wantOK bool
		wantID string
		want   map[string]any
	}{
		{
			name: "provider 5 instance: identifier, not the resource id",
			typ:  "aws_db_instance",
			attrs: map[string]any{
				"id": "db-ABCDEFGHIJKLMNOP", "identifier": "orders", "resource_id": "db-ABCDEFGHIJKLMNOP",
				"arn": "arn:aws:rds:eu-west-1:123456789012:db:orders", "instance_class": "db.t3.micro",
				"tags": map[string]any{"env": "prod"}, "tags_all": map[string]any{"env": "prod", "owner": "ops"},
			},
			wantOK: true, wantID: "orders",
			want: map[string]any{"instance_class": "db.t3.micro"},
		},
		{
			name:   "provider 4 instance: id is the identifier",
			typ:    "aws_db_instance",
			attrs:  map[string]any{"id": "legacy", "instance_class": "db.m5.large"},
			wantOK: true, wantID: "legacy",
			want: map[string]any{"instance_class": "db.m5.large"},
		},
		{
			name:   "aurora cluster instance is a DB instance",
			typ:    "aws_rds_cluster_instance",
			attrs:  map[string]any{"id": "aurora-1", "identifier": "aurora-1", "instance_class": "db.r6g.large", "arn": "arn:aws:rds:us-east-1:123456789012:db:aurora-1"},
			wantOK: true, wantID: "aurora-1",
			want: map[string]any{"instance_class": "db.r6g.large"},
		},
		{
			name: "subnet group ids sorted",
			typ:  "aws_db_subnet_group",
			attrs: map[string]any{
				"id": "db-private", "name": "db-private", "description": "Managed by Terraform",
				"subnet_ids": []any{"subnet-b", "subnet-a"}, "arn": "arn:aws:rds:us-east-1:123456789012:subgrp:db-private",
			},
			wantOK: true, wantID: "db-private",
			want: map[string]any{"description": "Managed by Terraform", "subnet_ids": []string{"subnet-a", "subnet-b"}},
		},
		{
			name:   "neptune subnet group is a DB subnet group",
			typ:    "aws_neptune_subnet_group",
			attrs:  map[string]any{"id": "graph", "name": "graph", "subnet_ids": []any{"subnet-1"}},
			wantOK: true, wantID: "graph",
			want: map[string]any{"subnet_ids": []string{"subnet-1"}},
		},
		{name: "no identifier", typ: "aws_db_instance", attrs: map[string]any{}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState(tt.typ, tt.attrs)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if r.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", r.ID, tt.wantID)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) {
				t.Errorf("Attributes = %#v, want %#v", r.Attributes, tt.want)
			}
			if r.Type != "aws_db_instance" && r.Type != "aws_db_subnet_group" {
				t.Errorf("Type = %q", r.Type)
			}
		})
	}
	r, _ := m.FromState("aws_db_instance", tests[0].attrs)
	if r.Region != "eu-west-1" || !reflect.DeepEqual(r.Tags, map[string]string{"env": "prod", "owner": "ops"}) {
		t.Errorf("region %q tags %v: want eu-west-1 and tags_all", r.Region, r.Tags)
	}
}

func TestRDSDefaultSubnetGroup(t *testing.T) {
	for name, want := range map[string]bool{"default": true, "default-vpc-0abc": true, "db-private": false, "defaults": false} {
		if got := rdsDefaultSubnetGroup(name) != ""; got != want {
			t.Errorf("rdsDefaultSubnetGroup(%q) default = %v, want %v", name, got, want)
		}
	}
}

// The helpers below are shared by the tests of the rds, lambda, kms, ecr,
// logs and route53 listers.

// appScan runs a real scan of some types and fails on any scope error.
func appScan(t *testing.T, ctx context.Context, regions []string, types ...string) *inventory.Result {
	t.Helper()
	s, err := New(ctx, Options{Regions: regions, Types: types})
	if err != nil {
		t.Fatalf("new scanner: %v", err)
	}
	res, err := s.Scan(ctx)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("scan errors: %+v", res.Errors)
	}
	for _, typ := range types {
		if l, ok := appLister(typ); ok && l.Global {
			if !res.Complete(typ, "") {
				t.Fatalf("%s not complete", typ)
			}
			continue
		}
		for _, r := range regions {
			if !res.Complete(typ, r) {
				t.Fatalf("%s not complete in %s", typ, r)
			}
		}
	}
	return res
}

// appLister finds the lister of a type.
func appLister(typ string) (lister, bool) {
	for _, l := range allListers() {
		if l.Name == typ {
			return l, true
		}
	}
	return lister{}, false
}

// appFind returns the listed resource of a type, region and id.
func appFind(res *inventory.Result, typ, region, id string) (model.Resource, bool) {
	for _, r := range res.Resources {
		if r.Type == typ && r.Region == region && r.ID == id {
			return r, true
		}
	}
	return model.Resource{}, false
}

// appNonDefault drops the resources the cloud created itself.
func appNonDefault(res *inventory.Result) []model.Resource {
	var out []model.Resource
	for _, r := range res.Resources {
		if r.Default == "" {
			out = append(out, r)
		}
	}
	return out
}

func appIDs(rs []model.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%s/%s", r.Type, r.Region, r.ID))
	}
	return out
}

// appCheckResource checks a listed resource's tags (nil want: skip) and
// the given attributes.
func appCheckResource(t *testing.T, r model.Resource, tags map[string]string, attrs map[string]any) {
	t.Helper()
	if r.Provider != "aws" {
		t.Errorf("%s: Provider = %q", r.ID, r.Provider)
	}
	if tags != nil && !reflect.DeepEqual(r.Tags, tags) {
		t.Errorf("%s: Tags = %v, want %v", r.ID, r.Tags, tags)
	}
	for k, v := range attrs {
		if !reflect.DeepEqual(r.Attributes[k], v) {
			t.Errorf("%s: %s = %#v, want %#v", r.ID, k, r.Attributes[k], v)
		}
	}
}

// appDiff lists the paths in which the live resource differs from the
// desired one, the way the drift engine compares: tags when both sides
// know them, compared attributes both sides fill in.
func appDiff(want, got model.Resource, compared []string) []string {
	var paths []string
	if want.Tags != nil && got.Tags != nil {
		keys := map[string]bool{}
		for k := range want.Tags {
			keys[k] = true
		}
		for k := range got.Tags {
			keys[k] = true
		}
		for k := range keys {
			w, wok := want.Tags[k]
			g, gok := got.Tags[k]
			if w != g || wok != gok {
				paths = append(paths, "tags."+k)
			}
		}
	}
	for _, k := range compared {
		w, wok := want.Attributes[k]
		g, gok := got.Attributes[k]
		if wok && gok && !reflect.DeepEqual(w, g) {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	return paths
}

// appCheckFixtures runs each fixture through the checks the end-to-end
// tests rely on: its state maps to the same id, tags and compared
// attributes a live scan reports (with every compared attribute present on
// both sides); change makes the named path differ; remove makes it vanish.
func appCheckFixtures(t *testing.T, fixtures []fixture) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	mapper := NewMapper()
	for _, f := range fixtures {
		t.Run(f.typ, func(t *testing.T) {
			m.Reset(t)
			cfg := m.Config(t, "us-east-1")
			l, ok := appLister(f.typ)
			if !ok {
				t.Fatalf("no lister for %s", f.typ)
			}
			region := "us-east-1"
			if l.Global {
				region = ""
			}
			attrs, extra := f.create(t, ctx, cfg)
			for _, e := range extra {
				if e.typ == "" || str(e.attrs, "id") == "" {
					t.Errorf("extra resource without type or id: %+v", e)
				}
			}
			if str(attrs, "id") == "" {
				t.Errorf("state lacks an id")
			}
			want, ok := mapper.FromState(f.typ, attrs)
			if !ok {
				t.Fatalf("FromState(%s) not ok", f.typ)
			}
			if want.Region != region {
				t.Errorf("state region = %q, want %q", want.Region, region)
			}
			live := func() (model.Resource, bool) {
				res := appScan(t, ctx, []string{"us-east-1"}, f.typ)
				return appFind(res, f.typ, region, want.ID)
			}
			got, ok := live()
			if !ok {
				t.Fatalf("%s %s not listed", f.typ, want.ID)
			}
			if got.Default != "" {
				t.Errorf("fixture is marked default: %s", got.Default)
			}
			for _, k := range l.Compared {
				_, wok := want.Attributes[k]
				_, gok := got.Attributes[k]
				if !wok || !gok {
					t.Errorf("compared attribute %q: in state %v, live %v", k, wok, gok)
				}
			}
			if want.Tags == nil || got.Tags == nil {
				t.Errorf("tags unknown: state %v, live %v", want.Tags, got.Tags)
			}
			if d := appDiff(want, got, l.Compared); len(d) > 0 {
				t.Fatalf("in-sync fixture differs in %v\nstate %+v\nlive  %+v", d, want, got)
			}
			if f.change != nil {
				path := f.change(t, ctx, cfg, attrs)
				got, ok = live()
				if !ok {
					t.Fatalf("%s vanished after change", want.ID)
				}
				if d := appDiff(want, got, l.Compared); !reflect.DeepEqual(d, []string{path}) {
					t.Errorf("after change: diff %v, want [%s]", d, path)
				}
			}
			f.remove(t, ctx, cfg, attrs)
			if _, ok := live(); ok {
				t.Errorf("%s still listed after remove", want.ID)
			}
		})
	}
}
