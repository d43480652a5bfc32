package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrRemote is Match's answer for an s3:// source: listing it needs
// credentials and the network, so it is left to the scan that reads it.
var ErrRemote = errors.New("remote state source: not listed without reading it")

// Match returns the local files a state source names (a path or a glob
// with **), without reading them, so plumb can warn at start-up about an
// environment whose pattern matches nothing instead of failing at the
// first scheduled scan. A source that matches nothing is an error saying
// why (no such directory, no file matches).
func Match(ctx context.Context, source string) ([]string, error) {
	switch {
	case strings.HasPrefix(source, "s3://"):
		return nil, ErrRemote
	case source == "":
		return nil, errors.New("empty state path")
	case hasMeta(source):
		return globLocal(ctx, source)
	}
	info, err := os.Stat(source)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("is a directory (to read every state below it, use %s/**.tfstate)", strings.TrimRight(source, "/"))
	}
	return []string{source}, nil
}
