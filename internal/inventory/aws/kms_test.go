package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"plumb/internal/testenv"
)

func kmsFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_kms_key",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				md := kmsCreateKey(t, ctx, cfg, "plumb fixture key", map[string]string{"env": "dev"})
				return kmsKeyState(md, map[string]any{"env": "dev"}), nil
			},
			// terraform destroy schedules deletion; the key must then count
			// as gone although KMS still lists it.
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := kms.NewFromConfig(cfg).ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
					KeyId:               aws.String(str(attrs, "key_id")),
					PendingWindowInDays: aws.Int32(7),
				})
				if err != nil {
					t.Fatalf("schedule key deletion: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := kms.NewFromConfig(cfg).TagResource(ctx, &kms.TagResourceInput{
					KeyId: aws.String(str(attrs, "key_id")),
					Tags:  []kmstypes.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}},
				})
				if err != nil {
					t.Fatalf("tag key: %v", err)
				}
				return "tags.env"
			},
		},
		{
			typ: "aws_kms_alias",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				// Two keys, so change can point the alias at the other one.
				k1 := kmsCreateKey(t, ctx, cfg, "plumb alias target", nil)
				k2 := kmsCreateKey(t, ctx, cfg, "plumb alias other target", nil)
				kmsCreateAlias(t, ctx, cfg, "alias/plumb-fixture", aws.ToString(k1.KeyId))
				return map[string]any{
						"id":             "alias/plumb-fixture",
						"name":           "alias/plumb-fixture",
						"name_prefix":    "",
						"arn":            "arn:aws:kms:us-east-1:123456789012:alias/plumb-fixture",
						"target_key_id":  aws.ToString(k1.KeyId),
						"target_key_arn": aws.ToString(k1.Arn),
					}, []extraResource{
						{typ: "aws_kms_key", attrs: kmsKeyState(k1, nil)},
						{typ: "aws_kms_key", attrs: kmsKeyState(k2, nil)},
					}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				if _, err := kms.NewFromConfig(cfg).DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(str(attrs, "name"))}); err != nil {
					t.Fatalf("delete alias: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				client := kms.NewFromConfig(cfg)
				out, err := client.ListKeys(ctx, &kms.ListKeysInput{})
				if err != nil {
					t.Fatalf("list keys: %v", err)
				}
				for _, k := range out.Keys {
					if id := aws.ToString(k.KeyId); id != str(attrs, "target_key_id") {
						if _, err := client.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(str(attrs, "name")), TargetKeyId: aws.String(id)}); err != nil {
							t.Fatalf("update alias: %v", err)
						}
						return "target_key_id"
					}
				}
				t.Fatal("no other key to retarget the alias to")
				return ""
			},
		},
	}
}

// kmsKeyState is the state provider 5.x writes for a key created with
// default settings.
func kmsKeyState(md *kmstypes.KeyMetadata, tags map[string]any) map[string]any {
	if tags == nil {
		tags = map[string]any{}
	}
	return map[string]any{
		"id":                                 aws.ToString(md.KeyId),
		"key_id":                             aws.ToString(md.KeyId),
		"arn":                                aws.ToString(md.Arn),
		"description":                        aws.ToString(md.Description),
		"is_enabled":                         md.Enabled,
		"enable_key_rotation":                false,
		"key_usage":                          string(md.KeyUsage),
		"customer_master_key_spec":           "SYMMETRIC_DEFAULT",
		"multi_region":                       false,
		"deletion_window_in_days":            nil,
		"bypass_policy_lockout_safety_check": false,
		"custom_key_store_id":                "",
		"xks_key_id":                         "",
		"rotation_period_in_days":            float64(0),
		"tags":                               tags,
		"tags_all":                           tags,
	}
}

func kmsCreateKey(t *testing.T, ctx context.Context, cfg aws.Config, description string, tags map[string]string) *kmstypes.KeyMetadata {
	t.Helper()
	in := &kms.CreateKeyInput{Description: aws.String(description)}
	for k, v := range tags {
		in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(k), TagValue: aws.String(v)})
	}
	out, err := kms.NewFromConfig(cfg).CreateKey(ctx, in)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return out.KeyMetadata
}

func kmsCreateAlias(t *testing.T, ctx context.Context, cfg aws.Config, name, keyID string) {
	t.Helper()
	if _, err := kms.NewFromConfig(cfg).CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatalf("create alias %s: %v", name, err)
	}
}

func TestKMSFixtures(t *testing.T) { appCheckFixtures(t, kmsFixtures()) }

func TestKMSListers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	regions := []string{"us-east-1", "eu-west-1"}
	east, west := m.Config(t, "us-east-1"), m.Config(t, "eu-west-1")
	ce := kms.NewFromConfig(east)

	// Using an AWS managed key makes moto create it on the spot (reported,
	// unlike AWS, with KeyManager CUSTOMER); its alias/aws/s3 alias is what
	// marks it as AWS's.
	if _, err := ce.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")}); err != nil {
		t.Fatalf("describe AWS managed key: %v", err)
	}
	t.Run("fresh account lists nothing", func(t *testing.T) {
		res := appScan(t, ctx, regions, "aws_kms_key", "aws_kms_alias")
		if got := appNonDefault(res); len(got) != 0 {
			t.Fatalf("want no keys or aliases, got %v", appIDs(got))
		}
	})

	orders := kmsCreateKey(t, ctx, east, "orders", map[string]string{"env": "prod", "aws:cloudformation:stack-id": "x"})
	kmsCreateAlias(t, ctx, east, "alias/orders", aws.ToString(orders.KeyId))
	kmsCreateAlias(t, ctx, east, "alias/a-orders", aws.ToString(orders.KeyId))
	disabled := kmsCreateKey(t, ctx, east, "", nil)
	if _, err := ce.DisableKey(ctx, &kms.DisableKeyInput{KeyId: disabled.KeyId}); err != nil {
		t.Fatal(err)
	}
	doomed := kmsCreateKey(t, ctx, east, "doomed", nil)
	if _, err := ce.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: doomed.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	westKey := kmsCreateKey(t, ctx, west, "west", map[string]string{"team": "eu"})

	s, err := New(ctx, Options{Regions: regions, Types: []string{"aws_kms_key"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(ctx)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, res.Errors)
	}
	tests := []struct {
		region string
		key    *kmstypes.KeyMetadata
		name   string
		tags   map[string]string
		attrs  map[string]any
	}{
		{"us-east-1", orders, "alias/a-orders", map[string]string{"env": "prod"}, map[string]any{"description": "orders", "is_enabled": true}},
		{"us-east-1", disabled, "", map[string]string{}, map[string]any{"description": "", "is_enabled": false}},
		{"eu-west-1", westKey, "", map[string]string{"team": "eu"}, map[string]any{"description": "west", "is_enabled": true}},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+aws.ToString(tt.key.Description), func(t *testing.T) {
			r, ok := appFind(res, "aws_kms_key", tt.region, aws.ToString(tt.key.KeyId))
			if !ok {
				t.Fatalf("key not listed; have %v", appIDs(res.Resources))
			}
			appCheckResource(t, r, tt.tags, tt.attrs)
			if r.Name != tt.name || r.ARN != aws.ToString(tt.key.Arn) {
				t.Errorf("Name %q ARN %q, want %q %q", r.Name, r.ARN, tt.name, aws.ToString(tt.key.Arn))
			}
		})
	}
	if len(res.Resources) != len(tests) {
		t.Errorf("want %d keys (no AWS managed, none pending deletion), got %v", len(tests), appIDs(res.Resources))
	}
	// STS; us-east-1: ListAliases, ListKeys, DescribeKey for the three
	// customer keys (none for the AWS managed one), tagging; eu-west-1:
	// ListAliases, ListKeys, one DescribeKey, tagging.
	if want := int64(1 + (1 + 1 + 3 + 1) + (1 + 1 + 1 + 1)); res.APICalls != want {
		t.Errorf("API calls = %d, want %d", res.APICalls, want)
	}

	t.Run("aliases", func(t *testing.T) {
		res := appScan(t, ctx, regions, "aws_kms_alias")
		var ids []string
		for _, r := range res.Resources {
			ids = append(ids, r.ID)
			if r.Attributes["target_key_id"] != aws.ToString(orders.KeyId) || r.Tags == nil || len(r.Tags) != 0 {
				t.Errorf("%s: target %v tags %v", r.ID, r.Attributes["target_key_id"], r.Tags)
			}
		}
		if want := []string{"alias/a-orders", "alias/orders"}; !reflect.DeepEqual(ids, want) {
			t.Errorf("aliases = %v, want %v (no alias/aws/*)", ids, want)
		}
	})

	t.Run("tag index unavailable", func(t *testing.T) {
		out, err := listKMSKeys(ctx, appFailedTagSession(west, "eu-west-1"), "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].ID != aws.ToString(westKey.KeyId) || out[0].Tags != nil {
			t.Fatalf("want the west key with unknown (nil) tags, got %+v", out)
		}
	})
}

func TestKMSFromState(t *testing.T) {
	m := NewMapper()
	const arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name     string
		typ      string
		attrs    map[string]any
		wantType string
		wantID   string
		want     map[string]any
	}{
		{
			name:     "key",
			typ:      "aws_kms_key",
			attrs:    map[string]any{"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "key_id": "1234abcd-12ab-34cd-56ef-1234567890ab", "arn": arn, "description": "orders", "is_enabled": true, "tags": nil, "tags_all": map[string]any{}},
			wantType: "aws_kms_key", wantID: "1234abcd-12ab-34cd-56ef-1234567890ab",
			want: map[string]any{"description": "orders", "is_enabled": true},
		},
		{
			name:     "external key says enabled",
			typ:      "aws_kms_external_key",
			attrs:    map[string]any{"id": "ext-1", "arn": arn, "description": "", "enabled": false},
			wantType: "aws_kms_key", wantID: "ext-1",
			want: map[string]any{"description": "", "is_enabled": false},
		},
		{
			name:     "multi-region replica key",
			typ:      "aws_kms_replica_key",
			attrs:    map[string]any{"id": "mrk-1", "key_id": "mrk-1", "arn": arn, "enabled": true},
			wantType: "aws_kms_key", wantID: "mrk-1",
			want: map[string]any{"is_enabled": true},
		},
		{
			name:     "alias",
			typ:      "aws_kms_alias",
			attrs:    map[string]any{"id": "alias/orders", "name": "alias/orders", "arn": "arn:aws:kms:eu-west-1:123456789012:alias/orders", "target_key_id": "1234abcd"},
			wantType: "aws_kms_alias", wantID: "alias/orders",
			want: map[string]any{"target_key_id": "1234abcd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState(tt.typ, tt.attrs)
			if !ok {
				t.Fatal("not ok")
			}
			if r.Type != tt.wantType || r.ID != tt.wantID || r.Region != "eu-west-1" {
				t.Errorf("got %s %q in %q, want %s %q in eu-west-1", r.Type, r.ID, r.Region, tt.wantType, tt.wantID)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) {
				t.Errorf("Attributes = %#v, want %#v", r.Attributes, tt.want)
			}
			_, hasTags := tt.attrs["tags_all"]
			if known := r.Tags != nil; known != (hasTags || tt.typ == "aws_kms_alias") {
				t.Errorf("tags known = %v (tags %v)", known, r.Tags)
			}
		})
	}
	if _, ok := m.FromState("aws_kms_key", map[string]any{"description": "no id"}); ok {
		t.Error("state without id mapped")
	}
}
