// Command plumb-image builds plumb's container image without a container
// daemon (make image runs it): an OCI image from scratch with the static
// plumb binary, CA certificates and a non-root user, written as an OCI
// image layout tar (load it with podman load -i, push it with
// skopeo copy oci-archive:FILE docker://REPO:TAG).
//
//	plumb-image -binary dist/plumb-linux-amd64 -arch amd64 -version v1.2.0 \
//	  -revision $(git rev-parse HEAD) -out dist/plumb-image-linux-amd64.oci.tar
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"plumb/internal/ociimage"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("plumb-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("binary", "", "static Linux plumb binary (required), e.g. dist/plumb-linux-amd64")
	arch := fs.String("arch", "", "the binary's architecture: amd64 or arm64 (required)")
	out := fs.String("out", "", "OCI archive to write (required), e.g. dist/plumb-image-linux-amd64.oci.tar")
	version := fs.String("version", "", "version label; the manifest's ref name is plumb:VERSION (required)")
	revision := fs.String("revision", "", "git commit for the org.opencontainers.image.revision label")
	source := fs.String("source", "", "repository URL for the org.opencontainers.image.source label")
	certs := fs.String("ca-certs", ociimage.CABundle, "PEM bundle of CA certificates to ship")
	created := fs.String("created", "", "creation time, RFC 3339 (default: SOURCE_DATE_EPOCH; required if that is unset)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *binary == "" || *arch == "" || *out == "" || *version == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "plumb-image: -binary, -arch, -out and -version are required, and nothing else")
		return 2
	}
	when, err := creationTime(*created, getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintf(stderr, "plumb-image: %v\n", err)
		return 2
	}
	img, err := ociimage.Build(ociimage.Options{Binary: *binary, Arch: *arch, CACerts: *certs, Version: *version, Revision: *revision, Source: *source, Created: when})
	if err != nil {
		fmt.Fprintf(stderr, "plumb-image: %v\n", err)
		return 1
	}
	if err := ociimage.WriteArchive(img, "plumb:"+*version, *out, when); err != nil {
		fmt.Fprintf(stderr, "plumb-image: write %s: %v\n", *out, err)
		return 1
	}
	digest, err := img.Digest()
	if err != nil {
		fmt.Fprintf(stderr, "plumb-image: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s  %s (linux/%s)\n", digest, *out, *arch)
	return 0
}

// creationTime reads -created, else SOURCE_DATE_EPOCH (seconds since the
// epoch, the reproducible-builds convention).
func creationTime(flagValue, epoch string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return t, fmt.Errorf("-created %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", flagValue)
		}
		return t, nil
	}
	if epoch != "" {
		n, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("no creation time: pass -created or set SOURCE_DATE_EPOCH (make image uses the commit time)")
}
