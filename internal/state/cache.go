package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/model"
)

// racyWindow is how recent a local file's modification time may be for
// its size and time not to vouch for its content: a file system that
// keeps times to the second (or coarser) can see a second write within
// the same tick, of the same size, leave both unchanged. Such a file is
// read again on every load until it is older than this.
const racyWindow = 2 * time.Second

// Cache keeps parsed state documents between loads and reads a document
// again only when it changed, so a caller that loads the same states per
// event (the declared-anywhere guard of event-time enforcement) pays for
// a check per document instead of a read and a parse: a stat for a local
// file (size and modification time), a HeadObject for a plain s3:// key
// (ETag), nothing more for the objects an S3 pattern matched (the listing
// the pattern needs gives their ETags). A change made a second ago is
// seen by the next load: nothing is served on age. Globs and patterns are
// resolved again on every load, so a new or removed state counts too.
// The S3 client is built once per Cache. Safe for concurrent use; the zero
// value is ready.
type Cache struct {
	mu   sync.Mutex
	docs map[string]cachedDoc
	s3   S3API
}

type cachedDoc struct {
	stamp string
	doc   *Document
}

func (c *Cache) get(key, stamp string) (*Document, bool) {
	if stamp == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.docs[key]
	return e.doc, ok && e.stamp == stamp
}

func (c *Cache) put(key, stamp string, d *Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil {
		c.docs = map[string]cachedDoc{}
	}
	if stamp == "" {
		delete(c.docs, key)
		return
	}
	c.docs[key] = cachedDoc{stamp: stamp, doc: d}
}

// LoadDocuments is the package's LoadDocuments through the cache: an
// unchanged document is the same *Document as on the previous load.
func (c *Cache) LoadDocuments(ctx context.Context, sources []string, opts Options) ([]*Document, error) {
	return loadDocuments(ctx, sources, opts, c)
}

// Load is the package's Load through the cache.
func (c *Cache) Load(ctx context.Context, sources []string, opts Options) ([]model.DesiredResource, error) {
	docs, err := c.LoadDocuments(ctx, sources, opts)
	if err != nil {
		return nil, err
	}
	out, empty := Resources(Dedupe(docs))
	if len(empty) > 0 {
		return out, errors.Join(empty...)
	}
	return out, nil
}

// s3Client returns the client kept by the cache, building it once.
func (c *Cache) s3Client(ctx context.Context, build func(ctx context.Context) (S3API, error)) (S3API, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s3 != nil {
		return c.s3, nil
	}
	cl, err := build(ctx)
	if err != nil {
		return nil, err
	}
	c.s3 = cl
	return cl, nil
}

// s3Header is the HeadObject call of *s3.Client; an S3API without it
// (a test double) has its objects read on every load.
type s3Header interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// readCached returns the cached document of f when its stamp is
// unchanged, else reads, parses and caches it.
func (l *loader) readCached(ctx context.Context, f stateSource) (*Document, error) {
	stamp, err := l.stamp(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", f.name, err)
	}
	if d, ok := l.cache.get(f.key, stamp); ok {
		return d, nil
	}
	var data []byte
	if f.path != "" {
		data, stamp, err = readLocalStamped(f.path)
	} else {
		data, stamp, err = l.getS3Stamped(ctx, f.bucket, f.object)
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", f.name, err)
	}
	d, err := ParseDocument(f.name, data)
	if err != nil {
		l.cache.put(f.key, "", nil)
		return nil, err
	}
	l.cache.put(f.key, stamp, d)
	return d, nil
}

// stamp tells the version of a document without reading it; "" means
// unknown (read it).
func (l *loader) stamp(ctx context.Context, f stateSource) (string, error) {
	if f.path != "" {
		info, err := os.Stat(f.path)
		if err != nil {
			return "", err
		}
		return fileStamp(info), nil
	}
	if f.etag != "" {
		return "etag:" + f.etag, nil
	}
	client, err := l.client(ctx)
	if err != nil {
		return "", err
	}
	h, ok := client.(s3Header)
	if !ok {
		return "", nil
	}
	out, err := h.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.object)})
	if err != nil {
		return "", describeS3Error(err, f.bucket)
	}
	if e := aws.ToString(out.ETag); e != "" {
		return "etag:" + e, nil
	}
	return "", nil
}

// fileStamp is a local file's size and modification time, or "" when
// the time is too recent to vouch for the content (racyWindow).
func fileStamp(info os.FileInfo) string {
	if time.Since(info.ModTime()) < racyWindow {
		return ""
	}
	return "file:" + strconv.FormatInt(info.Size(), 10) + ":" + strconv.FormatInt(info.ModTime().UnixNano(), 10)
}

// readLocalStamped reads a file and the stamp it had before the read: a
// write during the read gives the file a newer stamp, so the next load
// reads it again.
func readLocalStamped(path string) ([]byte, string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, "", err
	}
	if info.IsDir() {
		return nil, "", errors.New("is a directory")
	}
	if info.Size() > MaxStateSize {
		return nil, "", sizeError(info.Size())
	}
	data, err := readLimited(fh, info.Size())
	return data, fileStamp(info), err
}

// getS3Stamped downloads an object with the ETag of what was downloaded.
func (l *loader) getS3Stamped(ctx context.Context, bucket, key string) ([]byte, string, error) {
	out, err := l.getS3Object(ctx, bucket, key)
	if err != nil {
		return nil, "", err
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if size > MaxStateSize {
		return nil, "", sizeError(size)
	}
	data, err := readLimited(out.Body, size)
	stamp := ""
	if e := aws.ToString(out.ETag); e != "" {
		stamp = "etag:" + e
	}
	return data, stamp, err
}
