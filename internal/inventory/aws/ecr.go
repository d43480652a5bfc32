package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// ecrListers covers private ECR repositories.
func ecrListers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_ecr_repository",
				Service:  "ecr",
				Compared: []string{"image_tag_mutability"},
			},
			list:      listECRRepositories,
			fromState: ecrRepositoryFromState,
		},
	}
}

// ecrPageSize is the largest MaxResults DescribeRepositories accepts.
const ecrPageSize = 1000

// listECRRepositories pages through DescribeRepositories (a thousand per
// call). Repository tags are not in that answer, and the session's tag
// index does not cover ECR (nor does moto's tagging API), so they are read
// with one ListTagsForResource per repository, at most s.parallel at a
// time.
func listECRRepositories(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := ecr.NewFromConfig(s.config(region))
	p := ecr.NewDescribeRepositoriesPaginator(client, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(ecrPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ecr DescribeRepositories in %s: %w", region, err)
		}
		for _, repo := range page.Repositories {
			name := aws.ToString(repo.RepositoryName)
			if name == "" {
				continue
			}
			out = append(out, model.Resource{
				ID:   name,
				Name: name,
				ARN:  aws.ToString(repo.RepositoryArn),
				Attributes: map[string]any{
					"image_tag_mutability": string(repo.ImageTagMutability),
				},
			})
		}
	}

	kept, err := s.readTagsEach(ctx, "aws_ecr_repository", "RepositoryNotFoundException", out,
		func(ctx context.Context, r *model.Resource) (map[string]string, error) {
			resp, err := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(r.ARN)})
			if err != nil {
				return nil, err
			}
			return ecrTags(resp.Tags), nil
		})
	if err != nil {
		return nil, fmt.Errorf("ecr ListTagsForResource in %s: %w", region, err)
	}
	return kept, nil
}

// ecrRepositoryFromState maps aws_ecr_repository, whose import id is the
// repository name.
func ecrRepositoryFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         name,
		Name:       name,
		ARN:        str(attrs, "arn"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "image_tag_mutability")
	return r, true
}

// ecrTags converts an ECR tag list to user tags.
func ecrTags(in []ecrtypes.Tag) map[string]string {
	out := make(map[string]string, len(in))
	for _, t := range in {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return userTags(out)
}
