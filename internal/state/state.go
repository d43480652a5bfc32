// Package state reads the desired side of a drift comparison: Terraform and
// OpenTofu state files (format version 4) from local paths, globs and S3.
//
// A state file is the most faithful record of what infrastructure code
// created: it holds the import id, the address and the attributes of every
// managed object, so plumb reads it rather than re-evaluating configuration.
//
// Sources are plain paths, globs (*, ?, [...] as in filepath.Match, plus **
// for any number of directories), s3://bucket/key, or an S3 glob such as
// s3://bucket/env/**.tfstate. A leading ~ is not expanded: the shell does
// that before plumb sees the argument.
package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/model"
)

// MaxStateSize is the largest state document plumb reads (512 MiB). Real
// states are far smaller; anything bigger is almost certainly the wrong file,
// and refusing it early keeps a typo from exhausting memory.
const MaxStateSize = 512 << 20

// loadParallel bounds how many states are fetched and parsed at once: parsing
// is CPU-bound and each state is held in memory while it is parsed.
const loadParallel = 4

// ErrNoResources is wrapped by the error for a state that declares no managed
// resources. Such a state is legitimate right after `terraform init` and an
// empty apply, but usually means the wrong file or workspace was named, so it
// is an error that callers can choose to tolerate with errors.Is.
var ErrNoResources = errors.New("state has no resources")

// NoResourcesError reports a state without managed resource instances. It
// matches ErrNoResources under errors.Is so callers need not know the type.
type NoResourcesError struct {
	// Source names the state (path or s3:// URL).
	Source string
	// DataSources counts the data sources the state held, which plumb skips.
	DataSources int
}

// Error says which state is empty, and whether it held only data sources
// (a hint that the resources live in another state).
func (e *NoResourcesError) Error() string {
	if e.DataSources > 0 {
		return fmt.Sprintf("state %s has no resources (only %d data sources)", e.Source, e.DataSources)
	}
	return fmt.Sprintf("state %s has no resources", e.Source)
}

// Is makes errors.Is(err, ErrNoResources) true.
func (e *NoResourcesError) Is(target error) bool { return target == ErrNoResources }

// Options configure where states are read from.
type Options struct {
	// S3 returns a client for reading s3:// sources; nil means build one from
	// the default AWS config chain (config.LoadDefaultConfig, which honours
	// AWS_ENDPOINT_URL) with path-style addressing. It is called at most once
	// per Load, and only when a source is an s3:// URL.
	S3 func(ctx context.Context) (S3API, error)
	// Environment is the plumb environment the states belong to. It is kept
	// for the callers' bookkeeping; the reader does not use it yet.
	Environment string
}

// S3API is the subset of *s3.Client the reader uses, so tests can pass a real
// client pointed at moto and callers can wrap it (metrics, retries).
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Load reads every source (paths, globs with **, s3://bucket/key,
// s3://bucket/prefix/**.tfstate) and returns the desired resources in a
// stable order: sources in the order given, the files a glob matched sorted
// by name, and within one state the order the state lists them (Terraform
// keeps it sorted by module, type, name and key). A file matched by several
// sources is read once, and so is a state reached through several files
// or objects (copies with one lineage): only its newest serial counts (see
// Dedupe).
//
// Any source that matches nothing, cannot be read or does not parse is an
// error naming it; all such errors are reported together (errors.Join) and no
// resources are returned. States that parse but hold no managed resources
// produce an error wrapping ErrNoResources; when those are the only problem,
// Load returns the resources of the other states along with that error, so a
// caller that accepts empty states checks errors.Is(err, ErrNoResources) and
// carries on with the result.
func Load(ctx context.Context, sources []string, opts Options) ([]model.DesiredResource, error) {
	docs, err := LoadDocuments(ctx, sources, opts)
	if err != nil {
		return nil, err
	}
	out, empty := Resources(Dedupe(docs))
	if len(empty) > 0 {
		return out, errors.Join(empty...)
	}
	return out, nil
}

// LoadDocuments reads every source like Load but returns the documents
// themselves, empty ones included and copies of one state not yet merged,
// so a caller can add documents from elsewhere (`terraform state pull`)
// before calling Dedupe. Errors are Load's, except that empty documents
// are an error only alongside another error.
func LoadDocuments(ctx context.Context, sources []string, opts Options) ([]*Document, error) {
	return loadDocuments(ctx, sources, opts, nil)
}

// loadDocuments is LoadDocuments, through cache when it is not nil.
func loadDocuments(ctx context.Context, sources []string, opts Options, cache *Cache) ([]*Document, error) {
	if len(sources) == 0 {
		return nil, errors.New("read state: no state sources given")
	}
	l := &loader{opts: opts, cache: cache}
	var (
		files []stateSource
		errs  []error
		seen  = map[string]bool{}
	)
	for _, src := range sources {
		matched, err := l.resolve(ctx, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range matched {
			if !seen[f.key] {
				seen[f.key] = true
				files = append(files, f)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	docs := make([]*Document, len(files))
	fileErrs := make([]error, len(files))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(loadParallel, len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				docs[i], fileErrs[i] = l.read(ctx, files[i])
			}
		}()
	}
	for i := range files {
		work <- i
	}
	close(work)
	wg.Wait()

	for _, err := range fileErrs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		for _, d := range docs {
			if d != nil && d.Empty() != nil {
				errs = append(errs, d.Empty())
			}
		}
		return nil, errors.Join(errs...)
	}
	return docs, nil
}

// stateSource is one resolved state document.
type stateSource struct {
	// name is what the user sees in errors and in DesiredResource.Source.
	name string
	// key identifies the document for de-duplication.
	key string
	// path is set for local files; bucket and object for S3.
	path           string
	bucket, object string
	// etag is the object's ETag when a listing gave it.
	etag string
}

// loader carries the per-Load state: the options and the S3 client, built
// lazily so that purely local loads never touch AWS configuration.
type loader struct {
	opts  Options
	s3    S3API
	cache *Cache
}

// resolve turns one source argument into the documents it names.
func (l *loader) resolve(ctx context.Context, src string) ([]stateSource, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read state %s: %w", src, err)
	}
	if strings.HasPrefix(src, "s3://") {
		return l.resolveS3(ctx, src)
	}
	if src == "" {
		return nil, errors.New("read state: empty source path")
	}
	if hasMeta(src) {
		paths, err := globLocal(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("read state %s: %w", src, err)
		}
		out := make([]stateSource, 0, len(paths))
		for _, p := range paths {
			out = append(out, localSource(p))
		}
		return out, nil
	}
	info, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", src, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("read state %s: is a directory (to read every state below it, use %s)", src, filepath.Join(src, "**.tfstate"))
	}
	return []stateSource{localSource(src)}, nil
}

func localSource(p string) stateSource {
	key := filepath.Clean(p)
	if abs, err := filepath.Abs(key); err == nil {
		key = abs
	}
	return stateSource{name: p, key: "file:" + key, path: p}
}

// read fetches and parses one resolved document.
func (l *loader) read(ctx context.Context, f stateSource) (*Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read state %s: %w", f.name, err)
	}
	if l.cache != nil {
		return l.readCached(ctx, f)
	}
	var (
		data []byte
		err  error
	)
	if f.path != "" {
		data, err = readLocal(f.path)
	} else {
		data, err = l.getS3(ctx, f.bucket, f.object)
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", f.name, err)
	}
	return ParseDocument(f.name, data)
}

// readLocal reads a state file, refusing files above MaxStateSize before
// reading a byte of them.
func readLocal(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, errors.New("is a directory")
	}
	if info.Size() > MaxStateSize {
		return nil, sizeError(info.Size())
	}
	return readLimited(fh, info.Size())
}

// readLimited reads at most MaxStateSize bytes, failing if there are more
// (the size hint can be wrong for pipes and for objects still being written).
func readLimited(r io.Reader, sizeHint int64) ([]byte, error) {
	if sizeHint < 0 || sizeHint > MaxStateSize {
		sizeHint = 0
	}
	buf := make([]byte, 0, sizeHint+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > MaxStateSize {
			return nil, sizeError(int64(len(buf)))
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func sizeError(size int64) error {
	return fmt.Errorf("%s is above the %d MiB limit for a state file", humanSize(size), MaxStateSize>>20)
}

func humanSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
