package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// client returns the S3 client for this Load, building it on first use.
func (l *loader) client(ctx context.Context) (S3API, error) {
	if l.s3 != nil {
		return l.s3, nil
	}
	build := l.opts.S3
	if build == nil {
		build = defaultS3
	}
	if l.cache != nil {
		// One client for the cache's life: building one reads the whole
		// AWS configuration chain.
		orig := build
		build = func(ctx context.Context) (S3API, error) { return l.cache.s3Client(ctx, orig) }
	}
	c, err := build(ctx)
	if err != nil {
		return nil, fmt.Errorf("S3 client: %w", err)
	}
	l.s3 = c
	return c, nil
}

// defaultS3 builds a client from the standard AWS configuration chain.
// Path-style addressing works with every endpoint, including moto, MinIO
// and buckets with dots in their names. Without a configured region it uses
// us-east-1, as the AWS CLI does for S3; a bucket elsewhere then needs
// AWS_REGION set to its region.
func defaultS3(ctx context.Context) (S3API, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), nil
}

// parseS3URL splits s3://bucket/key.
func parseS3URL(src string) (bucket, key string, err error) {
	rest := strings.TrimPrefix(src, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("no bucket name (expected s3://bucket/key)")
	}
	if key == "" {
		return "", "", fmt.Errorf("no object key (expected s3://%s/path/terraform.tfstate, or s3://%s/**.tfstate for every state in the bucket)", bucket, bucket)
	}
	return bucket, key, nil
}

// resolveS3 turns an s3:// source into objects: a plain key as is (its
// existence is checked when it is read), a pattern by listing the literal
// prefix before the first wildcard and matching every key.
func (l *loader) resolveS3(ctx context.Context, src string) ([]stateSource, error) {
	bucket, key, err := parseS3URL(src)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", src, err)
	}
	if !hasMeta(key) {
		if _, err := l.client(ctx); err != nil {
			return nil, fmt.Errorf("read state %s: %w", src, err)
		}
		return []stateSource{s3Source(bucket, key)}, nil
	}
	re, err := compileGlob(key)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", src, err)
	}
	client, err := l.client(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", src, err)
	}
	prefix, _ := splitGlob(key, false)
	var keys []string
	etags := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read state %s: list s3://%s/%s: %w", src, bucket, prefix, describeS3Error(err, bucket))
		}
		for _, obj := range page.Contents {
			if k := aws.ToString(obj.Key); re.MatchString(k) {
				keys = append(keys, k)
				etags[k] = aws.ToString(obj.ETag)
			}
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("read state %s: no objects match the pattern", src)
	}
	sort.Strings(keys)
	out := make([]stateSource, 0, len(keys))
	for _, k := range keys {
		src := s3Source(bucket, k)
		src.etag = etags[k]
		out = append(out, src)
	}
	return out, nil
}

func s3Source(bucket, key string) stateSource {
	name := "s3://" + bucket + "/" + key
	return stateSource{name: name, key: name, bucket: bucket, object: key}
}

// getS3 downloads one object, refusing it early when its size is above
// MaxStateSize.
func (l *loader) getS3(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := l.getS3Object(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if size > MaxStateSize {
		return nil, sizeError(size)
	}
	return readLimited(out.Body, size)
}

// getS3Object starts the download of one object.
func (l *loader) getS3Object(ctx context.Context, bucket, key string) (*s3.GetObjectOutput, error) {
	client, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		// Objects written without a checksum (older uploads, MinIO, moto)
		// would otherwise make the SDK print a warning on every read.
		func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	if err != nil {
		return nil, describeS3Error(err, bucket)
	}
	return out, nil
}

// describeS3Error puts the common S3 failures in plain words, keeping the
// original error wrapped for errors.As.
func describeS3Error(err error, bucket string) error {
	var noKey *types.NoSuchKey
	var noBucket *types.NoSuchBucket
	var api smithy.APIError
	code := ""
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	switch {
	case errors.As(err, &noKey), code == "NoSuchKey", code == "NotFound":
		return fmt.Errorf("no such object: %w", err)
	case errors.As(err, &noBucket), code == "NoSuchBucket":
		// GetObject does not model NoSuchBucket as a type; the code
		// still says it.
		return fmt.Errorf("bucket %s does not exist: %w", bucket, err)
	case code == "AccessDenied", code == "Forbidden":
		return fmt.Errorf("access denied (check s3:GetObject and s3:ListBucket on %s): %w", bucket, err)
	}
	return err
}
