package handler

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// AWSReader reads one AWS resource back through plumb's own inventory,
// so the resource a policy is evaluated on at event time has exactly the
// attributes, shapes and id the nightly scan gives it; a separate Describe
// call per type would drift from the listers and break "same resource,
// same verdict".
//
// The price is one listing of the resource's type in its region per
// event (plus the per-resource detail calls that type makes with policy
// attributes on: GetQueueAttributes per queue, GetTopicAttributes per
// topic, DescribeTable per table, GetKeyRotationStatus per key), and one
// STS GetCallerIdentity. For an event stream that is acceptable: events
// arrive per write, not per resource in the estate.
type AWSReader struct {
	loadOpts []func(*config.LoadOptions) error
	types    map[string]bool // types the inventory lists
	global   map[string]bool
}

// NewAWSReader builds a reader from an SDK configuration. The inventory
// loads its own configuration (it installs its retryer and call
// counters), so the region, credentials, base endpoint and HTTP client of
// cfg are handed to it; other settings come from the default chain, as for
// `plumb scan`.
func NewAWSReader(cfg aws.Config) *AWSReader {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.BaseEndpoint != nil {
		opts = append(opts, config.WithBaseEndpoint(*cfg.BaseEndpoint))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	rd := &AWSReader{loadOpts: opts, types: map[string]bool{}, global: map[string]bool{}}
	for _, t := range awsinv.NewMapper().Types() {
		rd.types[t.Name] = true
		rd.global[t.Name] = t.Global
	}
	return rd
}

// Read lists r.Type in r.Region and returns the resource whose import id
// (or ARN) is r's. A type the inventory does not list is reported as not
// found: the scan cannot judge it either. A listing that failed (access
// denied, throttled past the retries) is an error, never "not found":
// calling a resource deleted because it could not be read would drop a
// violation silently.
func (a *AWSReader) Read(ctx context.Context, r model.Resource) (model.Resource, bool, error) {
	if r.ID == "" || !a.types[r.Type] {
		return model.Resource{}, false, nil
	}
	opts := awsinv.Options{
		Types:            []string{r.Type},
		Concurrency:      1,
		PolicyAttributes: true,
		// Per-resource tag reads (IAM policies, SNS, ECR, ...) are made
		// only for the resource asked about.
		Declared: func(typ, id string) bool { return typ == r.Type && matchesID(id, r) },
	}
	if r.Region != "" && !a.global[r.Type] {
		opts.Regions = []string{r.Region}
	}
	sc, err := awsinv.New(ctx, opts, a.loadOpts...)
	if err != nil {
		return model.Resource{}, false, err
	}
	res, err := sc.Scan(ctx)
	if err != nil {
		return model.Resource{}, false, err
	}
	if len(res.Errors) > 0 {
		msgs := make([]string, 0, len(res.Errors))
		for _, e := range res.Errors {
			msgs = append(msgs, e.Scope+": "+e.Message)
		}
		return model.Resource{}, false, errors.New(strings.Join(msgs, "; "))
	}
	for _, x := range res.Resources {
		if x.Type == r.Type && (matchesID(x.ID, r) || (r.ARN != "" && x.ARN == r.ARN)) {
			return x, true, nil
		}
	}
	return model.Resource{}, false, nil
}

func matchesID(id string, r model.Resource) bool {
	return id == r.ID || (r.ARN != "" && id == r.ARN)
}
