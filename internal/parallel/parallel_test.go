package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEach(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		limit   int
		failAt  int // -1: never
		wantErr bool
	}{
		{"all run", 50, 4, -1, false},
		{"zero items", 0, 4, -1, false},
		{"limit below one still runs", 3, 0, -1, false},
		{"first error returned", 50, 4, 10, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var running, peak, done atomic.Int64
			err := ForEach(context.Background(), tc.n, Limit(tc.limit), func(ctx context.Context, i int) error {
				cur := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if cur <= p || peak.CompareAndSwap(p, cur) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				done.Add(1)
				if i == tc.failAt {
					return errors.New("boom")
				}
				return nil
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if peak.Load() > int64(max(tc.limit, 1)) {
				t.Errorf("peak concurrency %d above limit %d", peak.Load(), tc.limit)
			}
			if !tc.wantErr && done.Load() != int64(tc.n) {
				t.Errorf("ran %d of %d", done.Load(), tc.n)
			}
			if tc.wantErr && done.Load() == int64(tc.n) {
				t.Errorf("error did not stop the remaining work")
			}
		})
	}
}

func TestForEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ForEach(ctx, 10, Limit(2), func(context.Context, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
