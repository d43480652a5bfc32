package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"plumb/internal/testenv"
)

func ecrFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_ecr_repository",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				repo := ecrCreateRepository(t, ctx, cfg, "plumb/app", ecrtypes.ImageTagMutabilityMutable, map[string]string{"env": "dev"})
				tags := map[string]any{"env": "dev"}
				return map[string]any{
					"id":                   aws.ToString(repo.RepositoryName),
					"name":                 aws.ToString(repo.RepositoryName),
					"arn":                  aws.ToString(repo.RepositoryArn),
					"registry_id":          aws.ToString(repo.RegistryId),
					"repository_url":       aws.ToString(repo.RepositoryUri),
					"image_tag_mutability": string(repo.ImageTagMutability),
					"force_delete":         nil,
					"encryption_configuration": []any{
						map[string]any{"encryption_type": "AES256", "kms_key": ""},
					},
					"image_scanning_configuration": []any{
						map[string]any{"scan_on_push": false},
					},
					"tags":     tags,
					"tags_all": tags,
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := ecr.NewFromConfig(cfg).DeleteRepository(ctx, &ecr.DeleteRepositoryInput{
					RepositoryName: aws.String(str(attrs, "name")),
					Force:          true,
				})
				if err != nil {
					t.Fatalf("delete repository: %v", err)
				}
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := ecr.NewFromConfig(cfg).TagResource(ctx, &ecr.TagResourceInput{
					ResourceArn: aws.String(str(attrs, "arn")),
					Tags:        []ecrtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
				})
				if err != nil {
					t.Fatalf("tag repository: %v", err)
				}
				return "tags.env"
			},
		},
	}
}

func ecrCreateRepository(t *testing.T, ctx context.Context, cfg aws.Config, name string, mutability ecrtypes.ImageTagMutability, tags map[string]string) *ecrtypes.Repository {
	t.Helper()
	in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: mutability}
	for k, v := range tags {
		in.Tags = append(in.Tags, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := ecr.NewFromConfig(cfg).CreateRepository(ctx, in)
	if err != nil {
		t.Fatalf("create repository %s: %v", name, err)
	}
	return out.Repository
}

func TestECRFixtures(t *testing.T) { appCheckFixtures(t, ecrFixtures()) }

func TestECRListers(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	regions := []string{"us-east-1", "eu-west-1"}

	t.Run("fresh account lists nothing", func(t *testing.T) {
		if got := appNonDefault(appScan(t, ctx, regions, "aws_ecr_repository")); len(got) != 0 {
			t.Fatalf("want no repositories, got %v", appIDs(got))
		}
	})

	east, west := m.Config(t, "us-east-1"), m.Config(t, "eu-west-1")
	ecrCreateRepository(t, ctx, east, "web", ecrtypes.ImageTagMutabilityImmutable, map[string]string{"team": "web", "aws:cloudformation:stack-id": "x"})
	ecrCreateRepository(t, ctx, east, "team/api", ecrtypes.ImageTagMutabilityMutable, nil)
	ecrCreateRepository(t, ctx, east, "jobs", ecrtypes.ImageTagMutabilityMutable, map[string]string{"env": "dev"})
	ecrCreateRepository(t, ctx, west, "web", ecrtypes.ImageTagMutabilityMutable, map[string]string{"team": "eu"})

	s, err := New(ctx, Options{Regions: regions, Types: []string{"aws_ecr_repository"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(ctx)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, res.Errors)
	}
	tests := []struct {
		region, id string
		tags       map[string]string
		mutability string
	}{
		{"us-east-1", "web", map[string]string{"team": "web"}, "IMMUTABLE"},
		{"us-east-1", "team/api", map[string]string{}, "MUTABLE"},
		{"us-east-1", "jobs", map[string]string{"env": "dev"}, "MUTABLE"},
		{"eu-west-1", "web", map[string]string{"team": "eu"}, "MUTABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.id, func(t *testing.T) {
			r, ok := appFind(res, "aws_ecr_repository", tt.region, tt.id)
			if !ok {
				t.Fatalf("%s not listed; have %v", tt.id, appIDs(res.Resources))
			}
			appCheckResource(t, r, tt.tags, map[string]any{"image_tag_mutability": tt.mutability})
			if want := "arn:aws:ecr:" + tt.region + ":123456789012:repository/" + tt.id; r.ARN != want {
				t.Errorf("ARN = %q, want %q", r.ARN, want)
			}
		})
	}
	if len(res.Resources) != len(tests) {
		t.Errorf("want %d repositories, got %v", len(tests), appIDs(res.Resources))
	}
	// STS; per region one DescribeRepositories page plus one
	// ListTagsForResource per repository (ECR is not in the tag index).
	if want := int64(1 + (1 + 3) + (1 + 1)); res.APICalls != want {
		t.Errorf("API calls = %d, want %d", res.APICalls, want)
	}
}

func TestECRFromState(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		name   string
		attrs  map[string]any
		wantOK bool
		wantID string
		want   map[string]any
		tags   map[string]string
	}{
		{
			name: "repository with default tags",
			attrs: map[string]any{
				"id": "team/api", "name": "team/api", "arn": "arn:aws:ecr:eu-west-1:123456789012:repository/team/api",
				"image_tag_mutability": "IMMUTABLE", "tags": nil, "tags_all": map[string]any{"owner": "ops"},
			},
			wantOK: true, wantID: "team/api",
			want: map[string]any{"image_tag_mutability": "IMMUTABLE"},
			tags: map[string]string{"owner": "ops"},
		},
		{
			name:   "id only",
			attrs:  map[string]any{"id": "bare"},
			wantOK: true, wantID: "bare",
			want: map[string]any{},
		},
		{name: "empty", attrs: map[string]any{}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.FromState("aws_ecr_repository", tt.attrs)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if r.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", r.ID, tt.wantID)
			}
			if !reflect.DeepEqual(r.Attributes, tt.want) || !reflect.DeepEqual(r.Tags, tt.tags) {
				t.Errorf("Attributes %#v tags %#v, want %#v %#v", r.Attributes, r.Tags, tt.want, tt.tags)
			}
		})
	}
}

// TestDetailCallsOnlyForDeclared checks the API economy rule: types that
// need one call per resource for their tags make it only for resources the
// code declares, and leave the others' tags unknown rather than empty.
func TestDetailCallsOnlyForDeclared(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, "us-east-1")
	for _, name := range []string{"declared", "stray-1", "stray-2", "stray-3"} {
		ecrCreateRepository(t, ctx, cfg, name, ecrtypes.ImageTagMutabilityMutable, map[string]string{"env": "dev"})
	}
	tests := []struct {
		name      string
		declared  func(typ, id string) bool
		wantCalls int64 // STS + DescribeRepositories + tag calls
		withTags  []string
	}{
		{"no declared set reads every repository", nil, 2 + 4, []string{"declared", "stray-1", "stray-2", "stray-3"}},
		{"declared set reads one", func(typ, id string) bool { return typ == "aws_ecr_repository" && id == "declared" }, 2 + 1, []string{"declared"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(ctx, Options{Regions: []string{"us-east-1"}, Types: []string{"aws_ecr_repository"}, Declared: tc.declared})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := s.Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var withTags []string
			for _, r := range inv.Resources {
				if r.Tags != nil {
					withTags = append(withTags, r.ID)
				}
			}
			if !reflect.DeepEqual(withTags, tc.withTags) {
				t.Errorf("resources with tags = %v, want %v", withTags, tc.withTags)
			}
			if inv.APICalls != tc.wantCalls {
				t.Errorf("API calls = %d, want %d", inv.APICalls, tc.wantCalls)
			}
		})
	}
}
