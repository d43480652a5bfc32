package state

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/testenv"
)

// docIDs returns the ids of the documents' resources, in order.
func docIDs(docs []*Document) []string {
	var out []string
	for _, d := range docs {
		for _, r := range d.Resources {
			out = append(out, r.ID)
		}
	}
	return out
}

// TestCacheLocal: an unchanged file is not read again (the same
// document comes back); a change is seen on the next load, whatever its
// age, including one of the same size made within the same second as the
// previous write; a new file matched by a glob counts at once.
func TestCacheLocal(t *testing.T) {
	dir := t.TempDir()
	prod := filepath.Join(dir, "prod.tfstate")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(t *testing.T, path string, body []byte, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(t, prod, stateWith("vpc-aaaa"), old)
	var c Cache
	ctx := context.Background()
	load := func(t *testing.T, srcs ...string) []*Document {
		t.Helper()
		docs, err := c.LoadDocuments(ctx, srcs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return docs
	}
	first := load(t, prod)
	steps := []struct {
		name    string
		change  func(t *testing.T)
		srcs    []string
		wantIDs []string
		same    bool // the very documents of the previous load
	}{
		{name: "unchanged: not read again", srcs: []string{prod}, wantIDs: []string{"vpc-aaaa"}, same: true},
		{name: "rewritten a second ago, same size", change: func(t *testing.T) { write(t, prod, stateWith("vpc-bbbb"), time.Time{}) },
			srcs: []string{prod}, wantIDs: []string{"vpc-bbbb"}},
		{name: "rewritten again within the racy window, same size", change: func(t *testing.T) { write(t, prod, stateWith("vpc-cccc"), time.Time{}) },
			srcs: []string{prod}, wantIDs: []string{"vpc-cccc"}},
		{name: "same size and time as the cached copy, but racy: read", srcs: []string{prod}, wantIDs: []string{"vpc-cccc"}},
		{name: "settled: cached again", change: func(t *testing.T) { write(t, prod, stateWith("vpc-dddd"), old.Add(time.Minute)) },
			srcs: []string{prod}, wantIDs: []string{"vpc-dddd"}},
		{name: "settled and unchanged", srcs: []string{prod}, wantIDs: []string{"vpc-dddd"}, same: true},
		{name: "a new state under a glob", change: func(t *testing.T) { write(t, filepath.Join(dir, "z.tfstate"), stateWith("vpc-zzzz"), old) },
			srcs: []string{filepath.Join(dir, "*.tfstate")}, wantIDs: []string{"vpc-dddd", "vpc-zzzz"}},
		{name: "glob unchanged", srcs: []string{filepath.Join(dir, "*.tfstate")}, wantIDs: []string{"vpc-dddd", "vpc-zzzz"}, same: true},
	}
	prev := first
	for _, st := range steps {
		if st.change != nil {
			st.change(t)
		}
		got := load(t, st.srcs...)
		if g := docIDs(got); len(g) != len(st.wantIDs) || (len(g) > 0 && g[0] != st.wantIDs[0]) || g[len(g)-1] != st.wantIDs[len(st.wantIDs)-1] {
			t.Errorf("%s: ids %v, want %v", st.name, g, st.wantIDs)
		}
		same := len(got) == len(prev)
		for i := range got {
			if same && got[i] != prev[i] {
				same = false
			}
		}
		if same != st.same {
			t.Errorf("%s: same documents as the previous load = %v, want %v", st.name, same, st.same)
		}
		prev = got
	}
}

// countingS3 counts the calls the cache makes to S3.
type countingS3 struct {
	*s3.Client
	gets, heads, lists atomic.Int32
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	return c.Client.GetObject(ctx, in, o...)
}

func (c *countingS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	return c.Client.HeadObject(ctx, in, o...)
}

func (c *countingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.lists.Add(1)
	return c.Client.ListObjectsV2(ctx, in, o...)
}

// TestCacheS3: against moto, an unchanged object costs a HeadObject (a
// plain key) or nothing beyond the listing (a pattern); an object
// rewritten a moment ago is read again on the next load; the client is
// built once.
func TestCacheS3(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	raw := s3.NewFromConfig(m.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	const bucket = "plumb-cached-states"
	if _, err := raw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(t *testing.T, key string, body []byte) {
		t.Helper()
		if _, err := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put(t, "prod.tfstate", stateWith("vpc-p1"))
	put(t, "env/a.tfstate", stateWith("vpc-a1"))
	client := &countingS3{Client: raw}
	var built atomic.Int32
	opts := Options{S3: func(context.Context) (S3API, error) { built.Add(1); return client, nil }}
	var c Cache
	plain, pattern := "s3://"+bucket+"/prod.tfstate", "s3://"+bucket+"/env/*.tfstate"
	steps := []struct {
		name               string
		change             func(t *testing.T)
		src                string
		wantID             string
		gets, heads, lists int32
	}{
		{name: "plain key, first load", src: plain, wantID: "vpc-p1", gets: 1, heads: 1},
		{name: "plain key, unchanged", src: plain, wantID: "vpc-p1", heads: 1},
		{name: "plain key, rewritten", change: func(t *testing.T) { put(t, "prod.tfstate", stateWith("vpc-p2")) }, src: plain, wantID: "vpc-p2", gets: 1, heads: 1},
		{name: "pattern, first load", src: pattern, wantID: "vpc-a1", gets: 1, lists: 1},
		{name: "pattern, unchanged", src: pattern, wantID: "vpc-a1", lists: 1},
		{name: "pattern, rewritten", change: func(t *testing.T) { put(t, "env/a.tfstate", stateWith("vpc-a2")) }, src: pattern, wantID: "vpc-a2", gets: 1, lists: 1},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change(t)
		}
		g0, h0, l0 := client.gets.Load(), client.heads.Load(), client.lists.Load()
		docs, err := c.LoadDocuments(ctx, []string{st.src}, opts)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := docIDs(docs); len(got) != 1 || got[0] != st.wantID {
			t.Errorf("%s: ids %v, want %s", st.name, got, st.wantID)
		}
		g, h, l := client.gets.Load()-g0, client.heads.Load()-h0, client.lists.Load()-l0
		if g != st.gets || h != st.heads || l != st.lists {
			t.Errorf("%s: %d GetObject, %d HeadObject, %d ListObjectsV2; want %d, %d, %d", st.name, g, h, l, st.gets, st.heads, st.lists)
		}
	}
	if n := built.Load(); n != 1 {
		t.Errorf("S3 client built %d times, want once per cache", n)
	}
}
