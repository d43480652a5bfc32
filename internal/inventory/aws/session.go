package aws

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"plumb/internal/model"
	"plumb/internal/parallel"
)

// session is shared by all listers of one scan: the base configuration,
// the account id, and per-region caches that let several listers reuse one
// bulk call (the tag index) instead of asking once per resource.
type session struct {
	cfg     aws.Config
	account string
	// parallel bounds per-resource calls inside one lister.
	parallel int
	// declared, when set, tells whether the code declares a resource.
	// Listers that need one call per resource for details (tags of IAM
	// policies, ECR repositories, ...) make it only for declared
	// resources: those are the ones whose details are compared.
	declared func(typ, id string) bool
	// policyAttrs asks listers for the attributes only policy rules read
	// (see Options.PolicyAttributes), at one detail call per resource.
	policyAttrs bool

	mu   sync.Mutex
	tags map[string]*tagIndex
}

func newSession(cfg aws.Config, parallel int) *session {
	return &session{cfg: cfg, parallel: parallel, tags: map[string]*tagIndex{}}
}

// config returns the AWS configuration for a region. Global services use
// us-east-1 when no region is given, as the AWS CLI does.
func (s *session) config(region string) aws.Config {
	c := s.cfg.Copy()
	if region != "" {
		c.Region = region
	} else if c.Region == "" {
		c.Region = "us-east-1"
	}
	return c
}

// wantsDetail reports whether a per-resource detail call is worth making
// for a resource. Without a declared set every resource qualifies.
func (s *session) wantsDetail(typ, id string) bool {
	return s.declared == nil || s.declared(typ, id)
}

// tagIndex holds the tags of every tagged resource of one service in a
// region, read in pages of 100 through the Resource Groups Tagging API.
// Services whose list calls do not return tags (SQS, Lambda, DynamoDB,
// KMS, CloudWatch Logs, S3) look their tags up here, which costs one call
// per hundred resources instead of one per resource. There is one index
// per (region, service) rather than one per region: the pages of one
// index follow each other (each needs the last one's token), so with an
// API answering in tens of milliseconds one shared index of thousands of
// resources was the longest wait of a scan; per service, the indexes load
// side by side, each when its lister needs it, for at most one more call
// per service listed.
type tagIndex struct {
	once   sync.Once
	byARN  map[string]map[string]string
	err    error
	region string
}

// Tagging API resource type filters of the services that read their tags
// from an index.
const (
	tagsSQS      = "sqs"
	tagsLambda   = "lambda"
	tagsDynamoDB = "dynamodb"
	tagsKMS      = "kms"
	tagsLogs     = "logs"
	tagsS3       = "s3"
)

// tagsFor returns the tag index of a service in a region, loading it on
// first use.
func (s *session) tagsFor(ctx context.Context, region, service string) (*tagIndex, error) {
	key := region + "|" + service
	s.mu.Lock()
	ti, ok := s.tags[key]
	if !ok {
		ti = &tagIndex{region: region}
		s.tags[key] = ti
	}
	s.mu.Unlock()
	ti.once.Do(func() {
		ti.byARN, ti.err = loadTagIndex(ctx, s.config(region), service)
	})
	return ti, ti.err
}

// Tags returns the user tags of a resource. A resource the index does not
// hold has no tags (the tagging API omits never-tagged resources).
func (t *tagIndex) Tags(arn string) map[string]string {
	if tags, ok := t.byARN[arn]; ok {
		return tags
	}
	return map[string]string{}
}

func loadTagIndex(ctx context.Context, cfg aws.Config, service string) (map[string]map[string]string, error) {
	client := resourcegroupstaggingapi.NewFromConfig(cfg)
	out := map[string]map[string]string{}
	p := resourcegroupstaggingapi.NewGetResourcesPaginator(client, &resourcegroupstaggingapi.GetResourcesInput{
		ResourcesPerPage:    aws.Int32(100),
		ResourceTypeFilters: []string{service},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("tagging GetResources (%s) in %s: %w", service, cfg.Region, describeErr(err))
		}
		for _, m := range page.ResourceTagMappingList {
			tags := map[string]string{}
			for _, t := range m.Tags {
				k, v := aws.ToString(t.Key), aws.ToString(t.Value)
				if strings.HasPrefix(k, "aws:") {
					continue
				}
				tags[k] = v
			}
			out[aws.ToString(m.ResourceARN)] = tags
		}
	}
	return out, nil
}

// userTags drops the aws: prefixed tags AWS adds itself (CloudFormation,
// Auto Scaling): they are never in the code and never drift.
func userTags(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if strings.HasPrefix(k, "aws:") {
			continue
		}
		out[k] = v
	}
	return out
}

// readTagsEach fills in, with one call per resource, the tags of listed
// resources whose service has no bulk tag source (ECR, RDS subnet groups).
// Only declared resources are read (see wantsDetail). A resource the tag
// call reports as not found (notFound error code) was deleted between the
// list and the tag call and is dropped; any other error (typically
// AccessDenied) leaves its tags nil, unknown and never compared, rather
// than losing the resource.
func (s *session) readTagsEach(ctx context.Context, typ, notFound string, out []model.Resource,
	read func(ctx context.Context, r *model.Resource) (map[string]string, error)) ([]model.Resource, error) {
	gone := make([]bool, len(out))
	err := parallelDo(ctx, len(out), s.parallel, func(ctx context.Context, i int) error {
		if out[i].ARN == "" || !s.wantsDetail(typ, out[i].ID) {
			return nil
		}
		tags, err := read(ctx, &out[i])
		switch {
		case err == nil:
			out[i].Tags = tags
		case ctx.Err() != nil:
			return ctx.Err()
		case apiErrorCode(err) == notFound:
			gone[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for i, r := range out {
		if !gone[i] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// parallelDo runs fn for every index in [0, n) with at most limit calls at
// once and returns the first error.
func parallelDo(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	return parallel.ForEach(ctx, n, parallel.Limit(limit), fn)
}
