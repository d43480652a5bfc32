// Command plumb-release builds plumb's release artifacts into a directory
// (make release runs it): static binaries plumb-OS-ARCH for Linux, macOS
// and Windows on amd64 and arm64 with the version and commit stamped in, a
// CycloneDX SBOM per binary (plumb-OS-ARCH.cdx.json) and SHA256SUMS.
//
//	plumb-release -version v1.2.0 -commit $(git rev-parse HEAD) -out dist
//	plumb-release -verify dist
//	plumb-release -checksums dist
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"plumb/internal/release"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type targetList []release.Target

func (l *targetList) String() string { return fmt.Sprint(*l) }

func (l *targetList) Set(s string) error {
	t, err := release.ParseTarget(s)
	if err != nil {
		return err
	}
	*l = append(*l, t)
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plumb-release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "dist", "directory for the artifacts (created; earlier artifacts in it are replaced, anything else is refused)")
	version := fs.String("version", "", "version stamped into the binaries, e.g. v1.2.0 (required)")
	commit := fs.String("commit", "", "git commit stamped into the binaries (hexadecimal)")
	module := fs.String("module", ".", "the plumb repository root")
	verify := fs.String("verify", "", "only check the SHA256SUMS of this directory")
	checksums := fs.String("checksums", "", "only (re)write the SHA256SUMS of this directory over every file in it (after make image adds the images)")
	var targets targetList
	fs.Var(&targets, "target", "OS/ARCH to build (repeatable; default: linux, darwin and windows on amd64 and arm64)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "plumb-release: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *verify != "" {
		if err := release.VerifyChecksums(*verify); err != nil {
			fmt.Fprintf(stderr, "plumb-release: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: every file matches SHA256SUMS\n", *verify)
		return 0
	}
	if *checksums != "" {
		arts, err := release.WriteChecksums(*checksums)
		if err != nil {
			fmt.Fprintf(stderr, "plumb-release: %v\n", err)
			return 1
		}
		for _, a := range arts {
			fmt.Fprintf(stdout, "%s  %s\n", a.SHA256, a.Name)
		}
		return 0
	}
	if *version == "" {
		fmt.Fprintln(stderr, "plumb-release: -version is required (make release sets it from git describe)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	arts, err := release.Build(ctx, release.Options{ModuleDir: *module, OutDir: *out, Version: *version, Commit: *commit, Targets: targets, Log: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "plumb-release: %v\n", err)
		return 1
	}
	for _, a := range arts {
		fmt.Fprintf(stdout, "%s  %s\n", a.SHA256, a.Name)
	}
	return 0
}
