// Package parallel runs per-item work (one API call per resource, one
// read per file) with a bound on how much runs at once, so a scan of a large
// estate neither serialises nor floods a cloud API.
package parallel

import (
	"context"
	"sync"
)

// ForEach calls fn for every i in [0, n), each call holding a slot of sem
// (a buffered channel whose capacity is the bound; share one channel to
// bound several loops together). The first error cancels the calls still
// waiting and is returned; a cancelled ctx returns its error.
func ForEach(ctx context.Context, n int, sem chan struct{}, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Limit returns a semaphore for ForEach allowing n calls at once (at
// least one).
func Limit(n int) chan struct{} {
	return make(chan struct{}, max(n, 1))
}
