//go:build !windows

package queue

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on DataDir/plumb.lock for the life of
// the queue, so a second plumb serve on the same data directory fails at
// start instead of corrupting the first one's view of running work.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "plumb.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open queue: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("open queue: %s is in use by another plumb serve (lock %s): %w", dir, path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
